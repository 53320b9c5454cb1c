"""The worker loop: claim a job, fetch its source, run the pipeline, heartbeat, finish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from twinmcp.embedding import Embedder, EmbeddingError
from twinmcp.ingest.config import Settings
from twinmcp.ingest.errors import HostileInput, InvalidSource, SourceUnavailable
from twinmcp.ingest.fetching.materialise import materialise
from twinmcp.ingest.jobs import Job, JobState, JobStore, Progress
from twinmcp.ingest.pipeline import BuildTarget, Documents, Enricher, Index, Pipeline
from twinmcp.ingest.rawstore import RawStore
from twinmcp.ingest.sources import parse_source

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker took the job over (ours looked dead); stop without touching it."""


class CancelRequested(Exception):
    pass


@dataclass
class Collaborators:
    index: Index
    documents: Documents
    raw_store: RawStore
    embedder: Embedder | None
    enricher: Enricher | None = None


class Worker:
    """One worker; run several (threads of work are asyncio tasks) or many processes."""

    def __init__(self, store: JobStore, settings: Settings, parts: Collaborators) -> None:
        self.store = store
        self.settings = settings
        self.parts = parts
        self.worker_id = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            job = await self.store.claim(self.worker_id)
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.poll_seconds)
                continue
            await self.run_job(job)

    async def run_once(self) -> bool:
        """Claims and runs one job if there is one; for tests and the CLI."""
        job = await self.store.claim(self.worker_id)
        if job is None:
            return False
        await self.run_job(job)
        return True

    async def run_job(self, job: Job) -> None:
        logger.info("job %s: attempt %d for %s", job.job_id, job.attempts, job.source)
        progress = Progress(phase="fetching")
        pipeline = Pipeline(
            self.parts.index,
            self.parts.documents,
            self.parts.raw_store,
            self.parts.embedder,
            enricher=self.parts.enricher,
            max_file_bytes=self.settings.limits.max_file_bytes,
        )
        workdir = self.settings.data_dir / "work" / f"{job.job_id}-{self.worker_id}"
        work = asyncio.create_task(self._work(job, pipeline, progress, workdir))
        hide = _path_hider(job, workdir, self.settings)
        stop_reason: list[BaseException] = []
        beat = asyncio.create_task(self._heartbeat(job, progress, work, stop_reason))
        try:
            await work
        except asyncio.CancelledError:
            if not stop_reason:
                raise  # the worker itself is shutting down; the lease will expire
            reason = stop_reason[0]
            if isinstance(reason, LeaseLost):
                logger.warning("job %s: lease lost to another worker; stopping", job.job_id)
                return
            await self._abort(pipeline)
            await self.store.finish(
                job.job_id,
                self.worker_id,
                JobState.CANCELLED,
                progress=progress,
                error="cancelled by request",
            )
            logger.info("job %s cancelled", job.job_id)
        except (InvalidSource, HostileInput, EmbeddingError) as exc:
            await self._abort(pipeline)
            progress.phase = "failed"
            await self.store.finish(
                job.job_id, self.worker_id, JobState.FAILED, progress=progress, error=hide(str(exc))
            )
            logger.warning("job %s failed: %s", job.job_id, exc)
        except (SourceUnavailable, grpc.aio.AioRpcError, OSError) as exc:
            message = (exc.details() if isinstance(exc, grpc.aio.AioRpcError) else None) or str(exc)
            if job.attempts < job.max_attempts:
                # The build stays open: the retry resumes it through the idempotency key.
                await self.store.finish(
                    job.job_id,
                    self.worker_id,
                    JobState.QUEUED,
                    progress=progress,
                    error=f"retrying: {hide(message)}",
                )
                logger.warning("job %s will be retried: %s", job.job_id, message)
            else:
                await self._abort(pipeline)
                await self.store.finish(
                    job.job_id,
                    self.worker_id,
                    JobState.FAILED,
                    progress=progress,
                    error=hide(message),
                )
        except Exception as exc:
            logger.exception("job %s crashed", job.job_id)
            await self._abort(pipeline)
            await self.store.finish(
                job.job_id,
                self.worker_id,
                JobState.FAILED,
                progress=progress,
                error=hide(f"internal error: {exc}"),
            )
        else:
            progress.phase = "done"
            await self.store.finish(
                job.job_id, self.worker_id, JobState.SUCCEEDED, progress=progress
            )
            logger.info("job %s succeeded: %d snippets", job.job_id, progress.snippets)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _work(self, job: Job, pipeline: Pipeline, progress: Progress, workdir: Path) -> None:
        spec = parse_source(
            job.source,
            library_id=job.library_id,
            ref=job.options.ref,
            local_roots=self.settings.local_roots,
        )
        fetched = await materialise(spec, job.options, workdir, self.settings)
        if fetched.version != job.version:
            await self.store.set_version(job.job_id, self.worker_id, fetched.version)
        progress.notes.extend(fetched.notes)
        target = BuildTarget(
            library_id=spec.library_id,
            version=fetched.version,
            idempotency_key=job.job_id,
            make_default=job.options.make_default,
            title=fetched.title,
            description=fetched.description,
            source_type=fetched.source_type,
            source_url=fetched.source_url,
            stars=fetched.stars,
            base_url=fetched.base_url,
            registry_source=fetched.registry_source,
            registry_releases=fetched.registry_releases,
        )

        async def report() -> None:
            await self.store.heartbeat(job.job_id, self.worker_id, progress)

        result = await pipeline.run(fetched.root, target, progress, report)
        progress.notes.extend(result.notes)

    async def _heartbeat(
        self,
        job: Job,
        progress: Progress,
        work: asyncio.Task[None],
        stop_reason: list[BaseException],
    ) -> None:
        while not work.done():
            await asyncio.sleep(self.settings.heartbeat_seconds)
            beat = await self.store.heartbeat(job.job_id, self.worker_id, progress)
            if not beat.is_owner:
                stop_reason.append(LeaseLost())
                work.cancel()
                return
            if beat.cancel_requested:
                stop_reason.append(CancelRequested())
                work.cancel()
                return

    async def _abort(self, pipeline: Pipeline) -> None:
        if not pipeline.build_id:
            return
        try:
            await self.parts.index.abort(pipeline.build_id)
        except grpc.aio.AioRpcError as exc:
            logger.warning("could not abort build %s: %s", pipeline.build_id, exc.details())


def _path_hider(job: Job, workdir: Path, settings: Settings) -> Callable[[str], str]:
    """Replaces server paths in a job's error with placeholders: errors are stored and shown."""
    places: dict[str, str] = {}
    # Only folders and archives are server paths; URLs and pypi:/npm: sources are not.
    if "://" not in job.source and not job.source.startswith(("local:", "pypi:", "npm:")):
        source = Path(job.source.strip()).expanduser()
        places[str(source.resolve())] = "<source>"
        places[job.source.strip()] = "<source>"
    for root in settings.local_roots:
        places[str(root)] = "<local root>"
    places[str(workdir.resolve())] = "<work folder>"
    places[str(workdir)] = "<work folder>"
    places[str(settings.data_dir.resolve())] = "<data folder>"
    places[str(settings.data_dir)] = "<data folder>"
    # Longest first, so a source inside a root is named as the source, not the root.
    ordered = sorted((p for p in places if len(p) > 1), key=len, reverse=True)

    def hide(message: str) -> str:
        for path in ordered:
            message = message.replace(path, places[path])
        return message

    return hide
