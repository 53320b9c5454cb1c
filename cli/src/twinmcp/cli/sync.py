"""`twinmcp sync <path>`: ingest every direct dependency of a project at its locked version."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import grpc
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from twinmcp.cli.output import job_detail
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.lockfiles import Dependency, ManifestError, normalise, read_project
from twinmcp.search.v1 import search_pb2, search_pb2_grpc

FINISHED = {
    ingest_pb2.JOB_STATE_SUCCEEDED,
    ingest_pb2.JOB_STATE_FAILED,
    ingest_pb2.JOB_STATE_CANCELLED,
}
SUBMIT_CONCURRENCY = 4  # each submission asks the registry once; a handful at a time is plenty
POLL_SECONDS = 0.5


@dataclass
class Row:
    dependency: Dependency
    library_id: str = ""
    version: str = ""
    snippets: int = 0
    status: str = ""
    job_id: str = ""
    is_ok: bool = False


@dataclass(frozen=True)
class Indexed:
    """What the stack already serves: versions per library, libraries per package, past jobs."""

    versions: dict[str, dict[str, int]]  # library id -> version -> snippets
    by_package: dict[tuple[str, str], list[str]]  # (registry, normalised name) -> library ids
    by_source: dict[tuple[str, str, str], str]  # (registry, name, version) -> library id

    def find(self, dependency: Dependency) -> tuple[str, str, int] | None:
        """(library id, version, snippets) when the dependency's version is already served."""
        key = (dependency.registry, normalise(dependency.registry, dependency.name))
        candidates: list[str] = []
        if dependency.is_locked:
            job_library = self.by_source.get((*key, dependency.version))
            if job_library:
                candidates.append(job_library)
        candidates.extend(self.by_package.get(key, []))
        for library_id in candidates:
            versions = self.versions.get(library_id, {})
            if not dependency.is_locked and versions:
                # Nothing pins it: any indexed release will do; the newest indexed one is shown.
                newest = max(versions, key=_version_key)
                return library_id, newest, versions[newest]
            for version, snippets in versions.items():
                if version.removeprefix("v") == dependency.version.removeprefix("v"):
                    return library_id, version, snippets
        return None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:4])


async def load_indexed(
    ingest: ingest_pb2_grpc.IngestServiceAsyncStub,
    search: search_pb2_grpc.SearchServiceAsyncStub,
    deadline: float,
) -> Indexed:
    versions: dict[str, dict[str, int]] = {}
    by_package: dict[tuple[str, str], list[str]] = {}
    token = ""
    while True:
        reply = await search.ListLibraries(
            search_pb2.ListLibrariesRequest(page_size=100, page_token=token), timeout=deadline
        )
        for library in reply.libraries:
            versions[library.library_id] = {v.version: v.snippet_count for v in library.versions}
            for package in library.packages:
                registry = package.registry.lower()
                key = (registry, normalise(registry, package.name))
                by_package.setdefault(key, []).append(library.library_id)
        token = reply.next_page_token
        if not token:
            break
    jobs = await ingest.ListJobs(
        ingest_pb2.ListJobsRequest(states=[ingest_pb2.JOB_STATE_SUCCEEDED], limit=500),
        timeout=deadline,
    )
    by_source: dict[tuple[str, str, str], str] = {}
    for job in jobs.jobs:
        registry, _, name = job.source.partition(":")
        if registry in {"pypi", "npm"} and name:
            by_source.setdefault((registry, normalise(registry, name), job.version), job.library_id)
    return Indexed(versions, by_package, by_source)


async def _submit(
    stub: ingest_pb2_grpc.IngestServiceAsyncStub, row: Row, gate: asyncio.Semaphore, deadline: float
) -> None:
    async with gate:
        try:
            reply = await stub.SubmitSource(
                ingest_pb2.SubmitSourceRequest(source=row.dependency.source, make_default=False),
                timeout=deadline,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE and "registry" not in (
                exc.details() or ""
            ):
                raise  # the stack itself is down: one message for the whole run
            row.status = f"not ingested: {exc.details()}"
            return
    row.job_id = reply.job.job_id
    row.library_id = reply.job.library_id
    row.version = reply.job.version
    row.status = "queued"


async def sync_project(
    root: Path,
    ingest: ingest_pb2_grpc.IngestServiceAsyncStub,
    search: search_pb2_grpc.SearchServiceAsyncStub,
    console: Console,
    *,
    deadline: float = 30.0,
    transitive: bool = False,
) -> list[Row]:
    """Ingests what is missing, drawing one progress bar over the whole set; the table's rows."""
    dependencies = read_project(root, transitive=transitive)
    indexed = await load_indexed(ingest, search, deadline)
    rows = [Row(dependency) for dependency in dependencies]
    todo: list[Row] = []
    for row in rows:
        found = indexed.find(row.dependency)
        if found is None:
            todo.append(row)
            continue
        row.library_id, row.version, row.snippets = found
        row.status, row.is_ok = "already indexed", True
    if not todo:
        return rows
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
        task = progress.add_task(
            f"Syncing {len(todo)} dependencies", total=len(todo), detail="submitting"
        )
        gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)
        await asyncio.gather(*(_submit(ingest, row, gate, deadline) for row in todo))
        pending = [row for row in todo if row.job_id]
        progress.update(task, completed=len(todo) - len(pending))
        while pending:
            await asyncio.sleep(POLL_SECONDS)
            # A running job counts for the share of its files done: the bar (and the time left
            # it implies) moves while a large library embeds, not only when one finishes.
            share = 0.0
            detail = ""
            for row in list(pending):
                job = (
                    await ingest.GetJob(
                        ingest_pb2.GetJobRequest(job_id=row.job_id), timeout=deadline
                    )
                ).job
                row.snippets, row.version = job.progress.snippets, job.version or row.version
                if job.state not in FINISHED:
                    if job.progress.files_total:
                        share += min(job.progress.files_done / job.progress.files_total, 1.0)
                    if not detail and job.state == ingest_pb2.JOB_STATE_RUNNING:
                        detail = f"{row.dependency.name}: {job_detail(job)}"
                    continue
                pending.remove(row)
                if job.state == ingest_pb2.JOB_STATE_SUCCEEDED:
                    row.status, row.is_ok = "indexed", True
                else:
                    state = ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
                    row.status = f"{state}: {job.error or 'no reason given'}"
            progress.update(
                task,
                completed=len(todo) - len(pending) + share,
                detail=detail or (f"{pending[0].dependency.name} queued" if pending else "done"),
            )
    return rows


def table(rows: list[Row]) -> Table:
    out = Table("package", "locked version", "library id", "snippets", "status")
    for row in rows:
        dependency = row.dependency
        locked = (
            dependency.version
            if dependency.is_locked
            else f"{dependency.version or '*'} (not locked)"
        )
        colour = "green" if row.is_ok else "red"
        out.add_row(
            f"{dependency.registry}:{dependency.name}",
            locked,
            row.library_id or "-",
            str(row.snippets) if row.is_ok else "-",
            f"[{colour}]{row.status}[/{colour}]",
        )
    return out


async def register_project(
    name: str,
    dependencies: list[Dependency],
    search: search_pb2_grpc.SearchServiceAsyncStub,
    deadline: float,
) -> search_pb2.RegisterProjectResponse:
    """Registers the project's locked packages under `name` with search."""
    request = search_pb2.RegisterProjectRequest(
        name=name,
        packages=[
            search_pb2.LockedPackage(registry=d.registry, name=d.name, version=d.version)
            for d in dependencies
            if d.is_locked
        ],
    )
    return await search.RegisterProject(request, timeout=deadline)


async def run_sync(
    root: Path,
    ingest_channel: grpc.aio.Channel,
    search_channel: grpc.aio.Channel,
    console: Console,
    *,
    deadline: float,
    transitive: bool,
    project: str = "",
) -> int:
    try:
        dependencies = read_project(root, transitive=transitive)
    except (ManifestError, OSError) as exc:
        console.print(f"[red]cannot read the project:[/red] {exc}")
        return 2
    if not dependencies:
        console.print(
            f"No dependencies found in {root}: sync reads requirements*.txt, pyproject.toml, "
            "Pipfile, uv.lock, poetry.lock, Pipfile.lock, package.json, package-lock.json, "
            "pnpm-lock.yaml and yarn.lock."
        )
        return 1
    rows = await sync_project(
        root,
        ingest_pb2_grpc.IngestServiceStub(ingest_channel),
        search_pb2_grpc.SearchServiceStub(search_channel),
        console,
        deadline=deadline,
        transitive=transitive,
    )
    console.print(table(rows))
    if project:
        await register_project(
            project, dependencies, search_pb2_grpc.SearchServiceStub(search_channel), deadline
        )
        console.print(
            f"Registered project '{project}' ({sum(d.is_locked for d in dependencies)} locked "
            f"packages): agents that pass project '{project}' to query-docs or "
            "resolve-library-id get the versions it locks."
        )
    failed = [row for row in rows if not row.is_ok]
    if failed:
        console.print(f"{len(failed)} of {len(rows)} dependencies have no documentation indexed.")
    return 1 if failed else 0
