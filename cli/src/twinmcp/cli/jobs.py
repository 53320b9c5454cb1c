"""`twinmcp ingest`, `sync`, `jobs`, `job`, `cancel`, `refresh`, `follow`, `follows`: ingest's
sources, jobs and followed libraries."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from twinmcp.cli.config import CliSettings
from twinmcp.cli.output import console, job_detail
from twinmcp.cli.sync import run_sync
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel

FINISHED = {
    ingest_pb2.JOB_STATE_SUCCEEDED,
    ingest_pb2.JOB_STATE_FAILED,
    ingest_pb2.JOB_STATE_CANCELLED,
}


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = sub.add_parser("ingest", help="ingest a documentation source")
    ingest.add_argument(
        "source",
        help="pypi:<name>[==<version>], npm:<name>[@<version>], folder, archive, "
        "GitHub/git URL, website or llms.txt URL",
    )
    ingest.add_argument("--library-id", default="", help="e.g. /owner/repo (required for folders)")
    ingest.add_argument("--version", default="")
    ingest.add_argument("--ref", default="", help="git branch, tag or commit")
    ingest.add_argument("--max-pages", type=int, default=0)
    ingest.add_argument("--max-depth", type=int, default=0)
    ingest.add_argument("--no-wait", action="store_true", help="submit and return")
    ingest.set_defaults(handler=ingest_source)

    sync = sub.add_parser(
        "sync", help="ingest every direct dependency of a project at its locked version"
    )
    sync.add_argument("path", type=Path, nargs="?", default=Path("."), help="the project folder")
    sync.add_argument(
        "--transitive", action="store_true", help="also every package the lockfiles pin"
    )
    sync.add_argument(
        "--project",
        default="",
        help="register the locked versions under this name: agents pass it as query-docs' project",
    )
    sync.set_defaults(handler=sync_project)
    jobs = sub.add_parser("jobs", help="list ingest jobs")
    jobs.add_argument("--library-id", default="")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(handler=list_jobs)
    job = sub.add_parser("job", help="show one job")
    job.add_argument("job_id")
    job.set_defaults(handler=show_job)
    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(handler=cancel_job)
    refresh = sub.add_parser("refresh", help="re-ingest a library from its source")
    refresh.add_argument("library_id")
    refresh.set_defaults(handler=refresh_library)
    follow = sub.add_parser(
        "follow", help="ingest a registry library's new releases on a schedule from now on"
    )
    follow.add_argument("library_id")
    follow.add_argument("--stop", action="store_true", help="stop following the library")
    follow.set_defaults(handler=follow_library)
    sub.add_parser("follows", help="list followed libraries").set_defaults(handler=list_follows)


async def watch_job(
    stub: ingest_pb2_grpc.IngestServiceAsyncStub,
    job: ingest_pb2.Job,
    settings: CliSettings,
    label: str,
) -> ingest_pb2.Job:
    """Polls a job until it finishes, drawing a progress bar over its files with what it is
    doing (how many snippets embedded so far), the time taken and the time left."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=None, detail="queued")
        while job.state not in FINISHED:
            await asyncio.sleep(0.3)
            job = (
                await stub.GetJob(
                    ingest_pb2.GetJobRequest(job_id=job.job_id), timeout=settings.deadline_seconds
                )
            ).job
            p = job.progress
            progress.update(
                task, total=p.files_total or None, completed=p.files_done, detail=job_detail(job)
            )
    state = ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    colour = "green" if job.state == ingest_pb2.JOB_STATE_SUCCEEDED else "red"
    console.print(
        f"[{colour}]{state}[/{colour}] {job.library_id} {job.version} "
        f"({job.progress.snippets} snippets){' - ' + job.error if job.error else ''}"
    )
    return job


async def ingest_source(args: argparse.Namespace, settings: CliSettings) -> int:
    source = args.source
    if Path(source).exists():
        source = str(Path(source).resolve())
    async with open_channel(settings.ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        reply = await stub.SubmitSource(
            ingest_pb2.SubmitSourceRequest(
                source=source,
                library_id=args.library_id,
                version=args.version,
                ref=args.ref,
                max_pages=args.max_pages,
                max_depth=args.max_depth,
                make_default=True,
            ),
            timeout=settings.deadline_seconds,
        )
        if args.no_wait:
            console.print(f"submitted job {reply.job.job_id} for {reply.job.library_id}")
            return 0
        job = await watch_job(stub, reply.job, settings, f"Ingesting {reply.job.library_id}")
    return 0 if job.state == ingest_pb2.JOB_STATE_SUCCEEDED else 1


async def sync_project(args: argparse.Namespace, settings: CliSettings) -> int:
    async with (
        open_channel(settings.ingest_addr) as ingest,
        open_channel(settings.search_addr) as search,
    ):
        return await run_sync(
            args.path.resolve(),
            ingest,
            search,
            console,
            deadline=settings.deadline_seconds,
            transitive=args.transitive,
            project=args.project.strip(),
        )


def _job_row(table: Table, job: ingest_pb2.Job) -> None:
    p = job.progress
    table.add_row(
        job.job_id,
        job.library_id,
        job.version,
        ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower(),
        # files_done counts the unchanged files (files_skipped) too.
        f"{p.files_done}/{p.files_total}",
        str(p.snippets),
        job.created_at,
        job.error[:60],
    )


def _jobs_table() -> Table:
    table = Table("job", "library", "version", "state", "files", "snippets", "created", "error")
    return table


async def list_jobs(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).ListJobs(
            ingest_pb2.ListJobsRequest(library_id=args.library_id, limit=args.limit),
            timeout=settings.deadline_seconds,
        )
    table = _jobs_table()
    for job in reply.jobs:
        _job_row(table, job)
    console.print(table)
    return 0


async def show_job(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).GetJob(
            ingest_pb2.GetJobRequest(job_id=args.job_id), timeout=settings.deadline_seconds
        )
    table = _jobs_table()
    _job_row(table, reply.job)
    console.print(table)
    return 0


async def cancel_job(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).CancelJob(
            ingest_pb2.CancelJobRequest(job_id=args.job_id), timeout=settings.deadline_seconds
        )
    console.print(
        f"job {reply.job.job_id}: "
        f"{ingest_pb2.JobState.Name(reply.job.state).removeprefix('JOB_STATE_').lower()}"
    )
    return 0


async def refresh_library(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        reply = await stub.RefreshLibrary(
            ingest_pb2.RefreshLibraryRequest(library_id=args.library_id),
            timeout=settings.deadline_seconds,
        )
        job = await watch_job(stub, reply.job, settings, f"Refreshing {args.library_id}")
    return 0 if job.state == ingest_pb2.JOB_STATE_SUCCEEDED else 1


async def follow_library(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        if args.stop:
            await stub.UnfollowLibrary(
                ingest_pb2.UnfollowLibraryRequest(library_id=args.library_id),
                timeout=settings.deadline_seconds,
            )
            console.print(f"{args.library_id} is no longer followed")
            return 0
        reply = await stub.FollowLibrary(
            ingest_pb2.FollowLibraryRequest(library_id=args.library_id),
            timeout=settings.deadline_seconds,
        )
    followed = reply.library
    console.print(
        f"following {followed.library_id} ({followed.source}): newest release "
        f"{followed.newest_release or 'none yet'}; each new release is ingested at the next "
        "check (INGEST_FOLLOW_INTERVAL_SECONDS)"
    )
    return 0


async def list_follows(args: argparse.Namespace, settings: CliSettings) -> int:
    async with open_channel(settings.ingest_addr) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).ListFollowedLibraries(
            ingest_pb2.ListFollowedLibrariesRequest(), timeout=settings.deadline_seconds
        )
    table = Table("library", "source", "newest release", "last check", "queued", "last error")
    for f in reply.libraries:
        table.add_row(
            f.library_id,
            f.source,
            f.newest_release,
            f.checked_at or "not yet",
            ", ".join(f.queued_versions),
            f.last_error,
        )
    console.print(table)
    return 0
