"""Followed libraries: each new usable release of a registry package becomes one job, once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from twinmcp.ingest.fetching.registry import list_releases
from twinmcp.ingest.follows import Follower, FollowStore
from twinmcp.ingest.registries import Registry, ReleaseInfo
from twinmcp.ingest.v1 import ingest_pb2

from .conftest import wait_until
from .test_registry_sources import StandIn, docpkg_sdist, standin

__all__ = ["standin"]  # the stand-in registry fixture, shared with test_registry_sources

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED
URLS = {"Source": "https://github.com/acme/docpkg"}


async def _harness(harness: Callable[..., Any], registry: StandIn, interval: str = "0") -> Any:
    """An ingest server on the stand-in registry; its own follower off unless `interval`."""
    return await harness(
        PYPI_INDEX_URL=registry.base_url,
        NPM_REGISTRY_URL=registry.base_url,
        INGEST_FOLLOW_INTERVAL_SECONDS=interval,
    )


def _follower(h: Any, interval: float) -> Follower:
    """A replica's follower over the harness's job database, asking the stand-in registry."""
    store = h.server.wiring.store

    async def releases(registry: Registry, name: str) -> list[ReleaseInfo]:
        return await list_releases(registry, name, h.settings)

    return Follower(FollowStore(store.engine, store), releases, interval)


async def _follow(h: Any, library_id: str) -> Any:
    reply = await h.stub.FollowLibrary(
        ingest_pb2.FollowLibraryRequest(library_id=library_id), timeout=10
    )
    return reply.library


async def _versions(h: Any, library_id: str) -> list[str]:
    reply = await h.stub.ListJobs(ingest_pb2.ListJobsRequest(library_id=library_id), timeout=5)
    return sorted(job.version for job in reply.jobs)


async def test_new_usable_releases_are_queued_once_across_replicas_and_the_newest_is_default(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    releases = {"1.0.0": docpkg_sdist("1.0.0")}
    registry.add_pypi("docpkg", releases, project_urls=URLS)
    h = await _harness(harness, registry)
    assert (await h.ingest("pypi:docpkg")).state == SUCCEEDED
    followed = await _follow(h, "/acme/docpkg")
    assert (followed.source, followed.newest_release) == ("pypi:docpkg", "1.0.0")
    first, second = _follower(h, 0.0), _follower(h, 0.0)
    # Nothing new yet: the release followed from is indexed.
    assert [c.queued for c in await first.run_once()] == [()]
    registry.add_pypi(
        "docpkg",
        {
            **releases,
            "1.1.0": docpkg_sdist("1.1.0"),
            "1.2.0": docpkg_sdist("1.2.0"),
            "1.3.0rc1": docpkg_sdist("1.3.0rc1"),
            "1.4.0": docpkg_sdist("1.4.0"),
        },
        yanked=("1.2.0",),
        project_urls=URLS,
    )
    # Two replicas tick together: one claims the check, the other finds nothing due.
    checks = await asyncio.gather(first.run_once(), second.run_once())
    queued = [c.queued for batch in checks for c in batch]
    assert queued == [("1.1.0", "1.4.0")]
    assert await _versions(h, "/acme/docpkg") == ["1.0.0", "1.1.0", "1.4.0"]
    jobs = (await h.stub.ListJobs(ingest_pb2.ListJobsRequest(library_id="/acme/docpkg"))).jobs
    for job in jobs:
        assert (await h.finish(job.job_id)).state == SUCCEEDED
    assert h.fake.defaults["/acme/docpkg"] == "1.4.0"
    # A later check finds nothing new; the listing says what the last check saw.
    assert [c.queued for c in await second.run_once()] == [()]
    assert await _versions(h, "/acme/docpkg") == ["1.0.0", "1.1.0", "1.4.0"]
    listed = await h.stub.ListFollowedLibraries(ingest_pb2.ListFollowedLibrariesRequest())
    assert [(f.library_id, f.newest_release, f.last_error) for f in listed.libraries] == [
        ("/acme/docpkg", "1.4.0", "")
    ]
    assert listed.libraries[0].checked_at


async def test_a_check_waits_out_the_interval_and_an_unfollowed_library_is_left_alone(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi("docpkg", {"1.0.0": docpkg_sdist("1.0.0")}, project_urls=URLS)
    h = await _harness(harness, registry)
    await h.ingest("pypi:docpkg")
    await _follow(h, "/acme/docpkg")
    hourly = _follower(h, 3600.0)
    assert len(await hourly.run_once()) == 1
    registry.add_pypi(
        "docpkg",
        {"1.0.0": docpkg_sdist("1.0.0"), "1.1.0": docpkg_sdist("1.1.0")},
        project_urls=URLS,
    )
    assert await hourly.run_once() == []  # checked a moment ago
    await h.stub.UnfollowLibrary(ingest_pb2.UnfollowLibraryRequest(library_id="/acme/docpkg"))
    assert await _follower(h, 0.0).run_once() == []
    assert await _versions(h, "/acme/docpkg") == ["1.0.0"]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await h.stub.UnfollowLibrary(ingest_pb2.UnfollowLibraryRequest(library_id="/acme/docpkg"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_following_an_unindexed_newest_release_queues_it_at_the_first_check(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi(
        "docpkg",
        {"1.0.0": docpkg_sdist("1.0.0"), "2.0.0": docpkg_sdist("2.0.0")},
        project_urls=URLS,
    )
    h = await _harness(harness, registry)
    await h.ingest("pypi:docpkg==1.0.0")
    assert (await _follow(h, "/acme/docpkg")).newest_release == "2.0.0"
    checks = await _follower(h, 0.0).run_once()
    assert [c.queued for c in checks] == [("2.0.0",)]


async def test_a_registry_that_is_down_is_recorded_on_the_follow_and_nothing_is_queued(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, runner = standin
    registry.add_pypi("docpkg", {"1.0.0": docpkg_sdist("1.0.0")}, project_urls=URLS)
    h = await _harness(harness, registry)
    await h.ingest("pypi:docpkg")
    await _follow(h, "/acme/docpkg")
    await runner.cleanup()
    checks = await _follower(h, 0.0).run_once()
    assert len(checks) == 1 and checks[0].queued == ()
    assert checks[0].last_error
    assert await _versions(h, "/acme/docpkg") == ["1.0.0"]


async def test_only_libraries_ingested_from_a_registry_can_be_followed(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner], tmp_path: Path
) -> None:
    registry, _ = standin
    h = await _harness(harness, registry)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _follow(h, "/acme/never")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "never ingested" in (error.value.details() or "")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "index.md").write_text("# Local\n\nSome local documentation about widgets.\n")
    job = await h.ingest(str(folder), library_id="/acme/local")
    assert job.state == SUCCEEDED, job.error
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _follow(h, "/acme/local")
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "only registry libraries can be followed" in (error.value.details() or "")


async def test_the_servers_follower_ingests_a_new_release_on_its_schedule(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    releases = {"1.0.0": docpkg_sdist("1.0.0")}
    registry.add_pypi("docpkg", releases, project_urls=URLS)
    h = await _harness(harness, registry, interval="0.2")
    await h.ingest("pypi:docpkg")
    await _follow(h, "/acme/docpkg")
    registry.add_pypi("docpkg", {**releases, "1.1.0": docpkg_sdist("1.1.0")}, project_urls=URLS)

    async def ingested() -> bool | None:
        return h.fake.defaults.get("/acme/docpkg") == "1.1.0" or None

    await wait_until(ingested, limit=30.0)
    assert await _versions(h, "/acme/docpkg") == ["1.0.0", "1.1.0"]
