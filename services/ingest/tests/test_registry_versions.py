"""A registry release's build tells search the registry's releases, for honest version answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from twinmcp.ingest.v1 import ingest_pb2

from .test_registry_sources import StandIn, _harness, docpkg_sdist, standin, widgets_tarball

__all__ = ["standin"]  # the stand-in registry fixture, shared with test_registry_sources

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED


async def test_a_pypi_build_carries_the_source_and_the_usable_releases_newest_first(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi(
        "docpkg",
        {
            "1.0.0": docpkg_sdist("1.0.0"),
            "1.1.0": docpkg_sdist("1.1.0"),
            "1.2.0": docpkg_sdist("1.2.0"),
            "1.10.0": docpkg_sdist("1.10.0"),
        },
        yanked=("1.2.0",),
        project_urls={"Source": "https://github.com/acme/docpkg"},
    )
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:docpkg==1.0.0")
    assert job.state == SUCCEEDED, job.error
    build = next(b for b in h.fake.builds.values() if b.library_id == "/acme/docpkg")
    assert build.library.registry_source == "pypi:docpkg"
    # Yanked releases are left out: search never suggests ingesting one.
    assert list(build.library.registry_releases) == ["1.10.0", "1.1.0", "1.0.0"]


async def test_a_scoped_npm_build_carries_its_npm_source(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_npm(
        "@acme/widgets",
        {"1.0.0": widgets_tarball("1.0.0"), "1.1.0": widgets_tarball("1.1.0")},
        latest="1.1.0",
    )
    h = await _harness(harness, registry)
    job = await h.ingest("npm:@acme/widgets")
    assert job.state == SUCCEEDED, job.error
    build = next(b for b in h.fake.builds.values() if b.library_id == job.library_id)
    assert build.library.registry_source == "npm:@acme/widgets"
    assert list(build.library.registry_releases) == ["1.1.0", "1.0.0"]
