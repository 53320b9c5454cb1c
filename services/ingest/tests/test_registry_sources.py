"""pypi:/npm: sources against a loopback stand-in for the PyPI JSON API and the npm registry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from twinmcp.ingest.errors import InvalidSource, SourceUnavailable
from twinmcp.ingest.fetching import registry as registry_module
from twinmcp.ingest.fetching.registry import resolve_release
from twinmcp.ingest.registries import Registry
from twinmcp.ingest.v1 import ingest_pb2

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED
FAILED = ingest_pb2.JOB_STATE_FAILED


def tar_gz(files: Mapping[str, str | bytes], *, links: Mapping[str, str] | None = None) -> bytes:
    """A .tar.gz holding `files` (path -> text) and symlinks (path -> target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for path, target in (links or {}).items():
            info = tarfile.TarInfo(path)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


@dataclass
class StandIn:
    """What the registry serves; tests add projects, then read `requests`."""

    base_url: str = ""
    pypi: dict[str, dict[str, Any]] = field(default_factory=dict)
    npm: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    delay: float = 0.0  # seconds before each metadata answer

    def add_pypi(
        self,
        name: str,
        releases: Mapping[str, bytes | None],
        *,
        yanked: tuple[str, ...] = (),
        project_urls: Mapping[str, str] | None = None,
        summary: str = "",
        wrong_hash: tuple[str, ...] = (),
        suffix: str = ".tar.gz",
        files_base: str = "",
    ) -> None:
        """`releases`: version -> sdist bytes (None: a release listed without files).
        `files_base`: the archives' links are absolute, on that base (as PyPI names another
        host for its files); relative otherwise."""
        listing: dict[str, list[dict[str, Any]]] = {}
        for version, data in releases.items():
            if data is None:
                listing[version] = []
                continue
            filename = f"{name}-{version}{suffix}"
            self.files[filename] = data
            digest = hashlib.sha256(data).hexdigest()
            if version in wrong_hash:
                digest = hashlib.sha256(data + b"tampered").hexdigest()
            listing[version] = [
                {
                    "filename": filename,
                    "packagetype": "sdist",
                    # Relative, as mirrors answer: resolved against the answer's URL.
                    "url": f"{files_base}/files/{filename}"
                    if files_base
                    else f"../../../files/{filename}",
                    "digests": {"sha256": digest},
                    "size": len(data),
                    "yanked": version in yanked,
                    "upload_time_iso_8601": "2026-01-01T00:00:00Z",
                }
            ]
        newest = list(releases)[-1]
        self.pypi[name] = {
            "info": {
                "name": name,
                "version": newest,
                "summary": summary,
                "description": f"# {name}\n\nThe newest release's long description.",
                "description_content_type": "text/markdown",
                "project_urls": dict(project_urls or {}),
                "home_page": "",
            },
            "releases": listing,
        }

    def add_npm(
        self,
        name: str,
        releases: Mapping[str, bytes],
        *,
        latest: str,
        deprecated: tuple[str, ...] = (),
        repository: object = None,
        description: str = "",
    ) -> None:
        versions: dict[str, Any] = {}
        for version, data in releases.items():
            filename = f"{name.rsplit('/', 1)[-1]}-{version}.tgz"
            self.files[filename] = data
            integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
            manifest: dict[str, Any] = {
                "name": name,
                "version": version,
                "description": description,
                "dist": {
                    "tarball": f"{self.base_url}/files/{filename}",
                    "integrity": integrity,
                    "shasum": hashlib.sha1(data).hexdigest(),
                },
            }
            if repository is not None:
                manifest["repository"] = repository
            if version in deprecated:
                manifest["deprecated"] = "use a newer release"
            versions[version] = manifest
        self.npm[name] = {
            "name": name,
            "dist-tags": {"latest": latest},
            "versions": versions,
            "time": {v: "2026-01-01T00:00:00Z" for v in releases},
            "description": description,
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/pypi/{name}/json", self._pypi)
        app.router.add_get("/files/{filename}", self._file)
        app.router.add_get("/moved/{filename}", self._moved)
        app.router.add_get("/{name:.+}", self._npm)
        return app

    async def _pypi(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        await asyncio.sleep(self.delay)
        project = self.pypi.get(request.match_info["name"])
        if project is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(project)

    async def _file(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        data = self.files.get(request.match_info["filename"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")

    async def _moved(self, request: web.Request) -> web.Response:
        """A files host that sends the download on to another loopback address."""
        self.requests.append(request.path)
        port = request.url.port
        raise web.HTTPFound(f"http://127.0.0.2:{port}/files/{request.match_info['filename']}")

    async def _npm(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        document = self.npm.get(request.match_info["name"])
        if document is None:
            return web.json_response({"error": "Not found"}, status=404)
        return web.Response(text=json.dumps(document), content_type="application/json")


# --- packages the tests build ----------------------------------------------------------------

WIDGET_MODULE = '''"""Widgets and the engine that turns them."""

import os


class Widget:
    """A widget holds a size and turns at a speed."""

    def turn(self, speed: int = 3) -> int:
        """Turns the widget at `speed` revolutions per second."""
        return speed

    def _hidden(self) -> None:
        """Not public."""


def make_widget(size: int) -> Widget:
    """Builds a widget of the given size."""
    return Widget()
'''


def docpkg_sdist(version: str) -> bytes:
    top = f"docpkg-{version}"
    return tar_gz(
        {
            f"{top}/PKG-INFO": "Metadata-Version: 2.1\nName: docpkg\n\nLong description.\n",
            f"{top}/README.md": f"# docpkg\n\nDocpkg {version} turns widgets.\n",
            f"{top}/pyproject.toml": '[project]\nname = "docpkg"\n',
            f"{top}/docs/index.md": f"# Docpkg guide\n\nRelease {version}: install and turn.\n",
            f"{top}/docs/turning.md": "# Turning\n\n```python\nmake_widget(3).turn()\n```\n",
            f"{top}/docs/changelog.md": "# Changelog\n\n- everything\n",
            f"{top}/src/docpkg/__init__.py": (
                '"""Docpkg: widgets."""\nfrom docpkg.core import Widget\n'
            ),
            f"{top}/src/docpkg/core.py": WIDGET_MODULE,
            f"{top}/src/docpkg.egg-info/SOURCES.txt": "src/docpkg/core.py\n",
            f"{top}/tests/test_core.py": "def test_x():\n    assert True\n",
            f"{top}/tests/notes.md": "# Test notes\n",
        }
    )


def nodocs_sdist() -> bytes:
    return tar_gz(
        {
            "nodocs-0.3.0/PKG-INFO": (
                "Metadata-Version: 2.1\nName: nodocs\nVersion: 0.3.0\n"
                "Description-Content-Type: text/markdown\n\n"
                "# nodocs\n\nNodocs runs engines; see the API reference.\n"
            ),
            "nodocs-0.3.0/setup.py": "from setuptools import setup\nsetup()\n",
            "nodocs-0.3.0/nodocs/__init__.py": '"""Nodocs runs engines."""\n',
            "nodocs-0.3.0/nodocs/engine.py": (
                '"""The engine module."""\n\n\nclass Engine:\n'
                '    """An engine that runs jobs in order."""\n\n'
                "    def start(self) -> None:\n"
                '        """Starts the engine."""\n\n\n'
                "def run(engine: Engine, jobs: list[str]) -> int:\n"
                '    """Runs the jobs on the engine; returns how many ran."""\n'
                "    return len(jobs)\n"
            ),
            "nodocs-0.3.0/nodocs/_private.py": (
                '"""Internal helpers."""\n\n\ndef helper() -> None:\n    """Secret."""\n'
            ),
        }
    )


WIDGETS_DTS = """import { Readable } from "stream";

/**
 * Creates a widget that spins.
 * @param size - how large the widget is
 * @returns the new widget
 * @example
 * const w = createWidget(3);
 */
export declare function createWidget(size: number): Widget;

/** Options a widget is made with. */
export interface WidgetOptions {
  /** Revolutions per second. */
  speed?: number;
  label: string;
}

/** A spinning widget. */
export declare class Widget {
  constructor(options: WidgetOptions);
  /** Spins once. */
  spin(): Promise<void>;
}

export type WidgetEvent = "spin" | "stop";

export declare const DEFAULT_SPEED = 3;
"""


def widgets_tarball(version: str) -> bytes:
    return tar_gz(
        {
            "package/package.json": json.dumps(
                {"name": "@acme/widgets", "version": version, "types": "index.d.ts"}
            ),
            "package/README.md": f"# @acme/widgets\n\nWidgets {version} for the browser.\n",
            "package/index.js": "module.exports = {};\n",
            "package/index.d.ts": WIDGETS_DTS,
        }
    )


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
async def standin() -> AsyncIterator[tuple[StandIn, web.AppRunner]]:
    registry = StandIn()
    runner = web.AppRunner(registry.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    registry.base_url = f"http://127.0.0.1:{port}"
    yield registry, runner
    await runner.cleanup()


async def _harness(harness: Callable[..., Any], registry: StandIn) -> Any:
    return await harness(PYPI_INDEX_URL=registry.base_url, NPM_REGISTRY_URL=registry.base_url)


async def _guarded_harness(harness: Callable[..., Any], registry: StandIn) -> Any:
    """As a server runs: private networks refused, the loopback registry trusted as configured."""
    return await harness(
        PYPI_INDEX_URL=registry.base_url,
        NPM_REGISTRY_URL=registry.base_url,
        INGEST_ALLOW_PRIVATE_NETWORKS="false",
    )


def _titles(snippets: list[Any]) -> list[str]:
    return [s.snippet.title for s in snippets]


# --- PyPI ------------------------------------------------------------------------------------


async def test_pypi_release_with_docs_folder_lands_in_its_repository_library_at_the_release(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi(
        "docpkg",
        {
            "1.0.0": docpkg_sdist("1.0.0"),
            "1.1.0": docpkg_sdist("1.1.0"),
            "1.2.0": docpkg_sdist("1.2.0"),
            "2.0.0rc1": docpkg_sdist("2.0.0rc1"),
        },
        yanked=("1.2.0",),
        project_urls={
            "Documentation": "https://docs.example/",
            "Source": "https://github.com/acme/docpkg",
        },
        summary="Turns widgets",
    )
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:docpkg")
    assert job.state == SUCCEEDED, job.error
    # The newest release that is neither yanked (1.2.0) nor a pre-release (2.0.0rc1).
    assert (job.library_id, job.version, job.source) == ("/acme/docpkg", "1.1.0", "pypi:docpkg")
    docs = h.fake.published("/acme/docpkg", "1.1.0").docs
    assert {"README.md", "docs/index.md", "docs/turning.md", "api/docpkg.core.md"} <= set(docs)
    # Changelogs, tests and build metadata stay out, as for any other source.
    assert not {p for p in docs if "changelog" in p or "tests/" in p or "egg-info" in p}
    snippets = h.fake.snippets("/acme/docpkg", "1.1.0")
    assert any("Release 1.1.0" in s.snippet.content for s in snippets)
    api = [s.snippet for s in snippets if s.snippet.source_path.startswith("api/")]
    assert api and all(s.title.startswith("API reference: ") for s in api)
    assert any(
        "def turn(self, speed: int = 3) -> int" in s.content or "turn(" in s.content for s in api
    )
    assert not any("_hidden" in s.content for s in api)
    build = next(b for b in h.fake.builds.values() if b.library_id == "/acme/docpkg")
    assert build.library.title == "docpkg" or build.library.title
    assert build.library.source_url == "pypi:docpkg"


async def test_pinned_pypi_release_is_ingested_and_an_unknown_one_is_refused_with_the_newest(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi(
        "docpkg",
        {"1.0.0": docpkg_sdist("1.0.0"), "1.1.0": docpkg_sdist("1.1.0")},
        project_urls={"Source": "https://github.com/acme/docpkg"},
    )
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:docpkg==1.0.0")
    assert job.state == SUCCEEDED, job.error
    assert job.version == "1.0.0"
    snippets = h.fake.snippets("/acme/docpkg", "1.0.0")
    assert any("Release 1.0.0" in s.snippet.content for s in snippets)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await h.submit("pypi:docpkg==3.0.3")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no release '3.0.3'" in (refused.value.details() or "")
    assert "1.1.0, 1.0.0" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await h.submit("pypi:no-such-project")
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no PyPI project 'no-such-project'" in (unknown.value.details() or "")


async def test_release_without_docs_folder_gets_its_description_and_an_api_page_per_module(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi("nodocs", {"0.3.0": nodocs_sdist()})
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:nodocs")
    assert job.state == SUCCEEDED, job.error
    assert job.library_id == "/pypi/nodocs"
    snippets = h.fake.snippets("/pypi/nodocs", "0.3.0")
    paths = {s.snippet.source_path for s in snippets}
    assert paths == {"README.md", "api/nodocs.md", "api/nodocs.engine.md"}
    readme = " ".join(s.snippet.content for s in snippets if s.snippet.source_path == "README.md")
    assert "Nodocs runs engines; see the API reference." in readme
    text = "\n".join(
        f"{s.snippet.title}\n{s.snippet.description}\n{s.snippet.content}" for s in snippets
    )
    # One snippet at least for each public module and class with a docstring.
    for docstring in (
        "Nodocs runs engines.",
        "The engine module.",
        "An engine that runs jobs in order.",
        "Runs the jobs on the engine; returns how many ran.",
    ):
        assert docstring in text
    assert "Internal helpers" not in text and "Secret." not in text


async def test_download_that_does_not_match_the_published_hash_is_refused_and_nothing_stored(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi("tampered", {"1.0.0": docpkg_sdist("1.0.0")}, wrong_hash=("1.0.0",))
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:tampered")
    assert job.state == FAILED
    assert "does not match the sha256 the registry publishes" in job.error
    assert "/pypi/tampered" not in h.fake.versions
    assert h.fake.count("BeginBuild") == 0


async def test_an_archive_on_the_host_the_registry_names_for_files_is_downloaded(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    # PyPI's answers link the files on another host; here "localhost" beside the registry's
    # 127.0.0.1: a loopback address that only the registry's own naming of it makes trusted.
    registry, _ = standin
    port = registry.base_url.rsplit(":", 1)[1]
    registry.add_pypi(
        "filed", {"1.0.0": docpkg_sdist("1.0.0")}, files_base=f"http://localhost:{port}"
    )
    h = await _guarded_harness(harness, registry)
    job = await h.ingest("pypi:filed")
    assert job.state == SUCCEEDED, job.error
    assert "/files/filed-1.0.0.tar.gz" in registry.requests


async def test_a_redirect_from_the_files_host_to_another_private_host_is_refused(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    port = registry.base_url.rsplit(":", 1)[1]
    registry.add_pypi(
        "moved", {"1.0.0": docpkg_sdist("1.0.0")}, files_base=f"http://localhost:{port}"
    )
    registry.pypi["moved"]["releases"]["1.0.0"][0]["url"] = (
        f"http://localhost:{port}/moved/moved-1.0.0.tar.gz"
    )
    h = await _guarded_harness(harness, registry)
    job = await h.ingest("pypi:moved")
    assert job.state == FAILED
    assert "127.0.0.2" in job.error and "private" in job.error
    assert h.fake.count("BeginBuild") == 0


async def test_hostile_release_archive_is_refused_before_anything_is_written(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner], tmp_path: Path
) -> None:
    registry, _ = standin
    evil = tar_gz(
        {"evil-1.0/README.md": "# evil\n", "evil-1.0/../../escaped.txt": "out"},
        links={"evil-1.0/docs/passwd.md": "/etc/passwd"},
    )
    registry.add_pypi("evil", {"1.0": evil})
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:evil")
    assert job.state == FAILED
    assert "refused" in job.error
    assert "/pypi/evil" not in h.fake.versions
    assert not list(tmp_path.rglob("escaped.txt"))


async def test_refreshing_a_registry_library_ingests_the_newest_usable_release(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    releases = {"1.0.0": docpkg_sdist("1.0.0")}
    urls = {"Source": "https://github.com/acme/docpkg"}
    registry.add_pypi("docpkg", releases, project_urls=urls)
    h = await _harness(harness, registry)
    assert (await h.ingest("pypi:docpkg")).version == "1.0.0"
    registry.add_pypi(
        "docpkg",
        {**releases, "1.1.0": docpkg_sdist("1.1.0"), "1.2.0b1": docpkg_sdist("1.2.0b1")},
        project_urls=urls,
    )
    reply = await h.stub.RefreshLibrary(
        ingest_pb2.RefreshLibraryRequest(library_id="/acme/docpkg"), timeout=10
    )
    job = await h.finish(reply.job.job_id)
    assert (job.state, job.version) == (SUCCEEDED, "1.1.0")
    assert h.fake.defaults["/acme/docpkg"] == "1.1.0"


async def test_release_with_nothing_readable_fails_naming_the_release_and_what_to_do(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_pypi("oldpkg", {"1.0": b"BZh91AY&SY"}, suffix=".tar.bz2")
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:oldpkg")
    assert job.state == FAILED
    assert "pypi:oldpkg==1.0 has no source archive or pure-Python wheel to read" in job.error
    assert "ingest the project's repository instead" in job.error


async def test_a_registry_slower_than_the_submission_bound_is_unavailable_with_the_reason(
    harness: Callable[..., Any],
    standin: tuple[StandIn, web.AppRunner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, _ = standin
    registry.add_pypi("docpkg", {"1.0.0": docpkg_sdist("1.0.0")})
    registry.delay = 2.0
    monkeypatch.setattr(registry_module, "SUBMIT_TIMEOUT_SECONDS", 0.3)
    h = await _harness(harness, registry)
    with pytest.raises(grpc.aio.AioRpcError) as slow:
        await h.submit("pypi:docpkg")
    assert slow.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "cannot be reached" in (slow.value.details() or "")
    assert "timed out" in (slow.value.details() or "")


async def test_registry_that_is_down_is_a_clear_error_and_keeps_what_is_indexed(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, runner = standin
    registry.add_pypi(
        "docpkg",
        {"1.0.0": docpkg_sdist("1.0.0"), "1.1.0": docpkg_sdist("1.1.0")},
        project_urls={"Source": "https://github.com/acme/docpkg"},
    )
    h = await _harness(harness, registry)
    job = await h.ingest("pypi:docpkg")
    assert job.state == SUCCEEDED, job.error
    before = len(h.fake.snippets("/acme/docpkg"))
    await runner.cleanup()
    with pytest.raises(grpc.aio.AioRpcError) as down:
        await h.submit("pypi:docpkg==1.0.0")
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "the package registry cannot be reached" in (down.value.details() or "")
    assert h.fake.defaults["/acme/docpkg"] == "1.1.0"
    assert len(h.fake.snippets("/acme/docpkg")) == before


# --- npm -------------------------------------------------------------------------------------


async def test_scoped_npm_package_is_ingested_with_its_declarations_and_readme(
    harness: Callable[..., Any], standin: tuple[StandIn, web.AppRunner]
) -> None:
    registry, _ = standin
    registry.add_npm(
        "@acme/widgets",
        {
            "1.0.0": widgets_tarball("1.0.0"),
            "1.1.0": widgets_tarball("1.1.0"),
            "1.2.0": widgets_tarball("1.2.0"),
            "2.0.0-beta.1": widgets_tarball("2.0.0-beta.1"),
        },
        latest="1.2.0",
        deprecated=("1.2.0",),
        repository={"type": "git", "url": "git+https://github.com/acme/widgets.git"},
        description="Spinning widgets",
    )
    h = await _harness(harness, registry)
    job = await h.ingest("npm:@acme/widgets")
    assert job.state == SUCCEEDED, job.error
    # latest points at a deprecated release: the newest usable one is taken instead.
    assert (job.library_id, job.version) == ("/acme/widgets", "1.1.0")
    snippets = h.fake.snippets("/acme/widgets", "1.1.0")
    assert {s.snippet.source_path for s in snippets} == {"README.md", "api/index.md"}
    api = [s.snippet for s in snippets if s.snippet.source_path == "api/index.md"]
    assert all(s.title.startswith("API reference: @acme/widgets") for s in api)
    text = "\n".join(f"{s.description}\n{s.content}" for s in api)
    assert "export declare function createWidget(size: number): Widget;" in text
    assert "Creates a widget that spins." in text and "`size`: how large the widget is" in text
    assert "export interface WidgetOptions" in text and "Options a widget is made with." in text
    assert "export declare class Widget" in text and "A spinning widget." in text
    assert "export type WidgetEvent" in text
    pinned = await h.ingest("npm:@acme/widgets@2.0.0-beta.1")
    assert (pinned.state, pinned.version) == (SUCCEEDED, "2.0.0-beta.1")


# --- the real registries ---------------------------------------------------------------------


@pytest.mark.network
async def test_a_real_small_release_is_ingested_through_the_configured_index(
    harness: Callable[..., Any], make_settings: Callable[..., Any]
) -> None:
    # No registry URL is given: the index comes from pip's own configuration, as on a laptop.
    settings = make_settings("127.0.0.1:1")
    try:
        release = await resolve_release(Registry.PYPI, "iniconfig", "2.0.0", settings, timeout=10.0)
    except (SourceUnavailable, InvalidSource) as exc:
        pytest.skip(f"the configured package index cannot be reached: {exc}")
    assert release.artifact is not None and release.artifact.algorithm == "sha256"
    h = await harness()
    job = await h.ingest("pypi:iniconfig==2.0.0")
    assert job.state == SUCCEEDED, job.error
    assert (job.library_id, job.version) == ("/pytest-dev/iniconfig", "2.0.0")
    snippets = h.fake.snippets("/pytest-dev/iniconfig", "2.0.0")
    paths = {s.snippet.source_path for s in snippets}
    assert any(p.startswith("README") for p in paths)
    assert any(p.startswith("api/iniconfig") for p in paths)
