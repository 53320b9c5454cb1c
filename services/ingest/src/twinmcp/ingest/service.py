"""The IngestService servicer: proto <-> domain, and the one table of error -> status code."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import grpc
from twinmcp.grpcserver import ErrorTable
from twinmcp.ingest.config import Settings
from twinmcp.ingest.errors import (
    HostileInput,
    IngestError,
    InvalidSource,
    JobNotFound,
    LibraryNotFound,
    QueueFull,
    SourceUnavailable,
)
from twinmcp.ingest.fetching.materialise import newest_tag
from twinmcp.ingest.fetching.registry import (
    SUBMIT_TIMEOUT_SECONDS,
    list_releases,
    newest_release,
    settle_release,
)
from twinmcp.ingest.follows import Follow, FollowStore
from twinmcp.ingest.jobs import Job, JobState, JobStore, SourceOptions, rfc3339
from twinmcp.ingest.registries import Registry, ReleaseInfo
from twinmcp.ingest.sources import REGISTRY_KINDS, SourceKind, check_library_id, parse_source
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]

ERRORS = ErrorTable(
    {
        HostileInput: grpc.StatusCode.INVALID_ARGUMENT,
        InvalidSource: grpc.StatusCode.INVALID_ARGUMENT,
        JobNotFound: grpc.StatusCode.NOT_FOUND,
        LibraryNotFound: grpc.StatusCode.NOT_FOUND,
        QueueFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
        SourceUnavailable: grpc.StatusCode.UNAVAILABLE,
        IngestError: grpc.StatusCode.FAILED_PRECONDITION,
    }
)

# The longest strings a submission may carry: the columns hold them, and no real source,
# version or ref comes near.
_MAX_LENGTHS = {"source": 2048, "library_id": 256, "version": 128, "ref": 256}

_STATES = {
    JobState.QUEUED: ingest_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: ingest_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: ingest_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: ingest_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: ingest_pb2.JOB_STATE_CANCELLED,
}
_FROM_PROTO = {value: key for key, value in _STATES.items()}


def job_to_proto(job: Job) -> ingest_pb2.Job:
    p = job.progress
    return ingest_pb2.Job(
        job_id=job.job_id,
        library_id=job.library_id,
        version=job.version,
        source=job.source,
        state=_STATES[job.state],
        progress=ingest_pb2.JobProgress(
            files_total=p.files_total,
            files_done=p.files_done,
            files_skipped=p.files_skipped,
            snippets=p.snippets,
            embeddings=p.embeddings,
            phase=p.phase,
        ),
        error=job.error,
        created_at=rfc3339(job.created_at),
        started_at=rfc3339(job.started_at),
        finished_at=rfc3339(job.finished_at),
        attempts=job.attempts,
    )


def follow_to_proto(follow: Follow) -> ingest_pb2.FollowedLibrary:
    return ingest_pb2.FollowedLibrary(
        library_id=follow.library_id,
        source=follow.source,
        followed_at=rfc3339(follow.followed_at),
        checked_at=rfc3339(follow.checked_at),
        newest_release=follow.newest_release,
        last_error=follow.last_error,
        queued_versions=list(follow.queued),
    )


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, store: JobStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.follows = FollowStore(store.engine, store)

    async def _releases_now(self, registry: Registry, name: str) -> list[ReleaseInfo]:
        # The caller waits: bounded as a submission's registry lookup is.
        return await list_releases(registry, name, self.settings, timeout=SUBMIT_TIMEOUT_SECONDS)

    async def SubmitSource(
        self, request: ingest_pb2.SubmitSourceRequest, context: Context
    ) -> ingest_pb2.SubmitSourceResponse:
        self._check_options(request)
        spec = parse_source(
            request.source,
            library_id=request.library_id,
            ref=request.ref,
            local_roots=self.settings.local_roots,
        )
        is_local = spec.kind in {SourceKind.LOCAL, SourceKind.ARCHIVE}
        # A folder is stored resolved, so the same folder spelled twice is one job.
        source = spec.location if is_local else request.source.strip()
        version = request.version.strip()
        if spec.kind in REGISTRY_KINDS:
            # The registry settles the version and the library id (its repository) now,
            # so the job, its merging with equal jobs and the reader all see the real ones.
            release = await settle_release(spec, version, self.settings, request.library_id)
            spec = replace(spec, library_id=check_library_id(release.library_id))
            source, version = spec.location, release.version
        options = SourceOptions(
            ref=request.ref or spec.ref,
            version=version,
            max_pages=request.max_pages,
            max_depth=request.max_depth,
            make_default=request.make_default or not await self._has_library(spec.library_id),
        )
        job = await self.store.submit(spec.library_id, source, options)
        return ingest_pb2.SubmitSourceResponse(job=job_to_proto(job))

    def _check_options(self, request: ingest_pb2.SubmitSourceRequest) -> None:
        limits = self.settings.limits
        for name, rest_name, maximum in (
            ("max_pages", "maxPages", limits.max_pages),
            ("max_depth", "maxDepth", limits.max_depth),
        ):
            value = getattr(request, name)
            if not 0 <= value <= maximum:
                # Both spellings: the gateway's admin API passes this message on as it is.
                raise InvalidSource(
                    f"{name} ({rest_name}) must be from 0 (the default, {maximum}) to "
                    f"{maximum}; got {value} (the operator sets the maximum with "
                    f"INGEST_{name.upper()})"
                )
        for name, longest in _MAX_LENGTHS.items():
            if len(getattr(request, name)) > longest:
                raise InvalidSource(f"{name} is longer than {longest} characters; shorten it")

    async def _has_library(self, library_id: str) -> bool:
        jobs = await self.store.list(library_id=library_id, states=[JobState.SUCCEEDED], limit=1)
        return bool(jobs)

    async def GetJob(
        self, request: ingest_pb2.GetJobRequest, context: Context
    ) -> ingest_pb2.GetJobResponse:
        job = await self.store.get(request.job_id)
        return ingest_pb2.GetJobResponse(job=job_to_proto(job))

    async def ListJobs(
        self, request: ingest_pb2.ListJobsRequest, context: Context
    ) -> ingest_pb2.ListJobsResponse:
        if request.limit < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "limit must not be negative")
        states = [_FROM_PROTO[s] for s in request.states if s in _FROM_PROTO]
        jobs = await self.store.list(
            library_id=request.library_id, states=states, limit=min(request.limit or 50, 500)
        )
        return ingest_pb2.ListJobsResponse(jobs=[job_to_proto(job) for job in jobs])

    async def CancelJob(
        self, request: ingest_pb2.CancelJobRequest, context: Context
    ) -> ingest_pb2.CancelJobResponse:
        job = await self.store.cancel(request.job_id)
        return ingest_pb2.CancelJobResponse(job=job_to_proto(job))

    async def RefreshLibrary(
        self, request: ingest_pb2.RefreshLibraryRequest, context: Context
    ) -> ingest_pb2.RefreshLibraryResponse:
        last = await self.store.last_for_library(request.library_id)
        if last is None:
            raise LibraryNotFound(
                f"{request.library_id!r} was never ingested here; submit its source first"
            )
        spec = parse_source(last.source, library_id=last.library_id, ref=last.options.ref)
        options = last.options
        version = request.version.strip()
        if version:
            options = SourceOptions(
                ref="",
                version=version,
                max_pages=options.max_pages,
                max_depth=options.max_depth,
                make_default=options.make_default,
            )
        elif spec.kind in REGISTRY_KINDS:
            # A registry library follows the registry's newest usable release.
            newest = await newest_release(spec, self.settings)
            options = replace(options, version=newest)
        elif options.ref and spec.kind in {SourceKind.GITHUB, SourceKind.GIT}:
            # A library pinned to a release follows the newest release on refresh.
            newest = await newest_tag(spec, self.settings)
            if newest and newest != options.ref and options.ref == last.version:
                options = SourceOptions(
                    ref=newest,
                    version=newest,
                    max_pages=options.max_pages,
                    max_depth=options.max_depth,
                    make_default=options.make_default,
                )
        job = await self.store.submit(last.library_id, last.source, options)
        return ingest_pb2.RefreshLibraryResponse(job=job_to_proto(job))

    async def FollowLibrary(
        self, request: ingest_pb2.FollowLibraryRequest, context: Context
    ) -> ingest_pb2.FollowLibraryResponse:
        library_id = check_library_id(request.library_id.strip())
        follow = await self.follows.follow(library_id, self._releases_now)
        return ingest_pb2.FollowLibraryResponse(library=follow_to_proto(follow))

    async def UnfollowLibrary(
        self, request: ingest_pb2.UnfollowLibraryRequest, context: Context
    ) -> ingest_pb2.UnfollowLibraryResponse:
        await self.follows.unfollow(check_library_id(request.library_id.strip()))
        return ingest_pb2.UnfollowLibraryResponse()

    async def ListFollowedLibraries(
        self, request: ingest_pb2.ListFollowedLibrariesRequest, context: Context
    ) -> ingest_pb2.ListFollowedLibrariesResponse:
        follows = await self.follows.all()
        return ingest_pb2.ListFollowedLibrariesResponse(
            libraries=[follow_to_proto(f) for f in follows]
        )
