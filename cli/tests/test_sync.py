"""`twinmcp sync`: ingests what a project locks, skips what is indexed, one table of outcomes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from rich.console import Console
from twinmcp.cli.sync import run_sync
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.search.v1 import search_pb2, search_pb2_grpc

REPOSITORIES = {"flask": "/pallets/flask", "fastify": "/fastify/fastify", "click": "/pallets/click"}


class FakeStack(ingest_pb2_grpc.IngestServiceServicer, search_pb2_grpc.SearchServiceServicer):
    """Ingest settles a registry source to a repository library; jobs finish on the next poll."""

    def __init__(self) -> None:
        self.libraries: dict[str, search_pb2.Library] = {}
        self.jobs: dict[str, ingest_pb2.Job] = {}
        self.submitted: list[str] = []
        self.projects: dict[str, list[tuple[str, str, str]]] = {}

    def add_library(self, library_id: str, version: str, package: tuple[str, str]) -> None:
        library = self.libraries.setdefault(
            library_id,
            search_pb2.Library(
                library_id=library_id,
                packages=[search_pb2.PackageRef(registry=package[0], name=package[1])],
            ),
        )
        library.versions.append(search_pb2.LibraryVersion(version=version, snippet_count=40))

    async def SubmitSource(self, request: Any, context: Any) -> Any:
        self.submitted.append(request.source)
        registry, _, rest = request.source.partition(":")
        name, _, version = rest.partition("==" if registry == "pypi" else "@")
        if name not in REPOSITORIES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the registry has no PyPI project {name!r}; check the name's spelling",
            )
        job = ingest_pb2.Job(
            job_id=f"j{len(self.jobs) + 1}",
            library_id=REPOSITORIES[name],
            version=version,
            source=f"{registry}:{name}",
            state=ingest_pb2.JOB_STATE_QUEUED,
        )
        self.jobs[job.job_id] = job
        return ingest_pb2.SubmitSourceResponse(job=job)

    async def GetJob(self, request: Any, context: Any) -> Any:
        job = self.jobs[request.job_id]
        if job.state == ingest_pb2.JOB_STATE_QUEUED:
            job.state = ingest_pb2.JOB_STATE_SUCCEEDED
            job.progress.snippets = 25
            self.add_library(job.library_id, job.version, ("", ""))
        return ingest_pb2.GetJobResponse(job=job)

    async def ListJobs(self, request: Any, context: Any) -> Any:
        jobs = [j for j in self.jobs.values() if j.state in request.states or not request.states]
        return ingest_pb2.ListJobsResponse(jobs=jobs)

    async def RegisterProject(self, request: Any, context: Any) -> Any:
        self.projects[request.name] = [(p.registry, p.name, p.version) for p in request.packages]
        return search_pb2.RegisterProjectResponse()

    async def ListLibraries(self, request: Any, context: Any) -> Any:
        return search_pb2.ListLibrariesResponse(libraries=list(self.libraries.values()))


@pytest.fixture
async def stack() -> AsyncIterator[tuple[FakeStack, grpc.aio.Channel]]:
    fake = FakeStack()
    server = grpc.aio.server()
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(fake, server)
    search_pb2_grpc.add_SearchServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield fake, channel
    await channel.close()
    await server.stop(0)


async def _sync(root: Path, channel: grpc.aio.Channel) -> tuple[int, str]:
    console = Console(record=True, width=200, force_terminal=False)
    code = await run_sync(root, channel, channel, console, deadline=10.0, transitive=False)
    return code, console.export_text()


def _rows(text: str) -> dict[str, list[str]]:
    """The table's rows by package: locked version, library id, snippets, status."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) == 5 and cells[0].startswith(("pypi:", "npm:")):
            rows[cells[0]] = cells[1:]
    return rows


async def test_sync_ingests_locked_versions_skips_indexed_ones_and_says_why_others_failed(
    stack: tuple[FakeStack, grpc.aio.Channel], tmp_path: Path
) -> None:
    fake, channel = stack
    fake.add_library("/fastify/fastify", "4.28.1", ("npm", "fastify"))
    (tmp_path / "requirements.txt").write_text("flask==3.1.3\nno-such-package==1.0\n")
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"fastify": "^4.0.0"}}))
    lock = {"lockfileVersion": 3, "packages": {"node_modules/fastify": {"version": "4.28.1"}}}
    (tmp_path / "package-lock.json").write_text(json.dumps(lock))

    code, text = await _sync(tmp_path, channel)
    assert code == 1
    assert sorted(fake.submitted) == ["pypi:flask==3.1.3", "pypi:no-such-package==1.0"]
    rows = _rows(text)
    assert rows["pypi:flask"] == ["3.1.3", "/pallets/flask", "25", "indexed"]
    assert rows["npm:fastify"] == ["4.28.1", "/fastify/fastify", "40", "already indexed"]
    assert rows["pypi:no-such-package"][:3] == ["1.0", "-", "-"]
    assert rows["pypi:no-such-package"][3].startswith(
        "not ingested: the registry has no PyPI project 'no-such-package'"
    )

    # The second run finds flask indexed through its finished job and submits nothing new.
    code, text = await _sync(tmp_path, channel)
    assert sorted(fake.submitted) == [
        "pypi:flask==3.1.3",
        "pypi:no-such-package==1.0",
        "pypi:no-such-package==1.0",
    ]
    assert _rows(text)["pypi:flask"] == ["3.1.3", "/pallets/flask", "40", "already indexed"]


async def test_a_locked_version_that_is_not_indexed_is_ingested_even_if_another_is(
    stack: tuple[FakeStack, grpc.aio.Channel], tmp_path: Path
) -> None:
    fake, channel = stack
    fake.add_library("/pallets/click", "8.1.7", ("pypi", "click"))
    (tmp_path / "requirements.txt").write_text("click==8.1.8\n")
    code, text = await _sync(tmp_path, channel)
    assert code == 0
    assert fake.submitted == ["pypi:click==8.1.8"]
    assert _rows(text)["pypi:click"] == ["8.1.8", "/pallets/click", "25", "indexed"]


async def test_a_folder_without_manifests_says_which_files_sync_reads(
    stack: tuple[FakeStack, grpc.aio.Channel], tmp_path: Path
) -> None:
    _, channel = stack
    code, text = await _sync(tmp_path, channel)
    assert code == 1
    assert "No dependencies found" in text and "pnpm-lock.yaml" in text


async def test_sync_with_a_project_name_registers_the_locked_versions_for_agents(
    stack: tuple[FakeStack, grpc.aio.Channel], tmp_path: Path
) -> None:
    fake, channel = stack
    fake.add_library("/pallets/click", "8.1.8", ("pypi", "click"))
    (tmp_path / "requirements.txt").write_text("flask==3.1.3\nclick>=8\n")
    console = Console(record=True, width=200, force_terminal=False)
    code = await run_sync(
        tmp_path, channel, channel, console, deadline=10.0, transitive=False, project="shop"
    )
    assert code == 0
    # Only what the project locks: an unpinned range says nothing about the version in use.
    assert fake.projects == {"shop": [("pypi", "flask", "3.1.3")]}
    assert "Registered project 'shop' (1 locked packages)" in console.export_text()
