"""Hostile sources are refused with a clear error and the previous version keeps serving."""

from __future__ import annotations

import asyncio
import errno
import io
import socket
import tarfile
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twinmcp.ingest.errors import HostileInput
from twinmcp.ingest.fetching import archives, materialise
from twinmcp.ingest.netguard import SafeHttp
from twinmcp.ingest.v1 import ingest_pb2

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED
FAILED = ingest_pb2.JOB_STATE_FAILED


def _docs(folder: Path, text: str = "Hello") -> Path:
    (folder / "docs").mkdir(parents=True)
    (folder / "docs/index.md").write_text(
        f"# Widgets\n\n{text} widgets.\n\n```python\nimport w\n```\n"
    )
    return folder


def _zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("docs/index.md", "# ok\n")
        zf.writestr("docs/bomb.md", b"\0" * (50 * 1024 * 1024))
    return path


def _tar(path: Path, build: Callable[[tarfile.TarFile], None]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = b"# Title\n\nText.\n"
        info = tarfile.TarInfo("docs/index.md")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        build(tar)
    return path


def _traversal(tar: tarfile.TarFile) -> None:
    data = b"owned"
    info = tarfile.TarInfo("../../escaped.md")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _symlink_out(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("docs/passwd.md")
    info.type = tarfile.SYMTYPE
    info.linkname = "../../../../etc/passwd"
    tar.addfile(info)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("bomb.zip", lambda p: _zip_bomb(p), "bomb"),
        ("traversal.tar.gz", lambda p: _tar(p, _traversal), "escaping"),
        ("symlink.tgz", lambda p: _tar(p, _symlink_out), "links outside"),
    ],
)
async def test_hostile_archives_fail_clearly_and_the_previous_version_keeps_serving(
    harness: Callable[..., Any], tmp_path: Path, name: str, make: Any, message: str
) -> None:
    h = await harness()
    good = await h.ingest(str(_docs(tmp_path / "good")), library_id="/acme/widgets")
    assert good.state == SUCCEEDED, good.error
    before = [s.snippet.content for s in h.fake.snippets("/acme/widgets")]
    archive = make(tmp_path / name)
    job = await h.ingest(str(archive), library_id="/acme/widgets", version="2.0")
    assert job.state == FAILED
    assert message in job.error
    assert not (tmp_path / "escaped.md").exists()
    assert h.fake.defaults["/acme/widgets"] == "latest"
    assert [s.snippet.content for s in h.fake.snippets("/acme/widgets")] == before


def _corrupt_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("docs/index.md", "# Title\n\n" + "Some text. " * 500)
    data = bytearray(path.read_bytes())
    data[60:90] = bytes(30)  # inside the member's compressed bytes: CRC or inflate fails
    path.write_bytes(bytes(data))
    return path


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated_tar(path: Path) -> Path:
    _tar(path, lambda tar: None)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("garbage.zip", lambda p: _written(p, b"not a zip at all" * 10)),
        ("garbage.tar.gz", lambda p: _written(p, b"\x1f\x8b\x08garbage" * 10)),
        ("empty.tgz", lambda p: _written(p, b"")),
        ("truncated.tar.gz", _truncated_tar),
        ("damaged.zip", _corrupt_zip),
    ],
)
async def test_a_corrupt_archive_fails_as_an_invalid_source_naming_no_server_path(
    harness: Callable[..., Any], tmp_path: Path, name: str, make: Any
) -> None:
    h = await harness()
    archive = make(tmp_path / name)
    job = await h.ingest(str(archive), library_id="/acme/widgets")
    assert job.state == FAILED
    assert f"{name}: the archive is corrupt or not a .tar.gz/.zip" in job.error
    assert "internal error" not in job.error and "retrying" not in job.error
    assert str(tmp_path) not in job.error and "/tmp" not in job.error
    assert job.attempts == 1  # a bad file is not retried


def test_a_full_disk_while_extracting_is_not_blamed_on_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archives, "_copy_limited", full_disk)
    limits = archives.ArchiveLimits(
        max_total_bytes=10**8, max_files=100, max_file_bytes=10**6, max_ratio=200
    )
    archive = _tar(tmp_path / "docs.tar.gz", lambda tar: None)
    # An OSError with an errno: the runner retries the job instead of failing it as corrupt.
    with pytest.raises(OSError) as caught:
        archives.extract_archive(archive, tmp_path / "out", limits)
    assert caught.value.errno == errno.ENOSPC
    assert not (tmp_path / "out").exists()


def test_an_archive_is_bounded_by_the_bytes_it_writes_not_only_by_what_it_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Declared sizes believed to be zero, as a lying header would have them.
    monkeypatch.setattr(archives, "_check_totals", lambda *args: None)
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(5):
            zf.writestr(f"docs/page{i}.md", "x" * 40_000)
    limits = archives.ArchiveLimits(
        max_total_bytes=100_000, max_files=100, max_file_bytes=50_000, max_ratio=200
    )
    with pytest.raises(HostileInput, match="expands to more than 100000 bytes"):
        archives.extract_archive(path, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()


async def test_the_service_answers_at_once_while_an_archive_is_extracted(
    harness: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = materialise.extract_archive

    def slow_disk(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)  # a large archive on a slow disk
        return real(*args, **kwargs)

    monkeypatch.setattr(materialise, "extract_archive", slow_disk)
    h = await harness()
    job = await h.submit(str(_tar(tmp_path / "docs.tar.gz", lambda tar: None)), library_id="/a/b")
    started = time.monotonic()
    slowest = 0.0
    while time.monotonic() - started < 1.2:
        # GetJob is served on the event loop the workers share (the health service is not).
        asked = time.monotonic()
        reply = await h.stub.GetJob(ingest_pb2.GetJobRequest(job_id=job.job_id), timeout=5)
        slowest = max(slowest, time.monotonic() - asked)
        await asyncio.sleep(0.05)
    assert reply.job.state == ingest_pb2.JOB_STATE_RUNNING
    assert slowest < 0.5
    assert (await h.finish(job.job_id)).state == SUCCEEDED


async def test_a_binary_file_named_md_is_skipped_and_the_rest_is_ingested(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    folder = _docs(tmp_path / "src")
    (folder / "docs/logo.md").write_bytes(bytes(range(256)) * 64)
    job = await h.ingest(str(folder), library_id="/acme/binary")
    assert job.state == SUCCEEDED, job.error
    docs = h.fake.published("/acme/binary").docs
    assert "docs/index.md" in docs and "docs/logo.md" not in docs


async def test_a_missing_library_id_for_a_folder_is_invalid_argument(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await h.submit(str(_docs(tmp_path / "x")))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "library_id is required" in (caught.value.details() or "")


@pytest.fixture
async def loopback_site() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /docs/private/\n")
        if request.path.startswith("/loop"):
            raise web.HTTPFound(f"/loop{len(seen)}")
        if request.path == "/docs/":
            return web.Response(
                content_type="text/html",
                text='<html><body><h1>Docs</h1><p>Intro text.</p><a href="guide.html">g</a>'
                '<a href="private/x.html">p</a><a href="/other/">o</a>'
                '<a href="logo.png">l</a></body></html>',
            )
        if request.path == "/docs/guide.html":
            return web.Response(
                content_type="text/html",
                text="<html><body><h1>Guide</h1><p>Use it.</p><pre><code>x = 1</code></pre>"
                "</body></html>",
            )
        if request.path == "/docs/logo.png":
            return web.Response(body=b"\x89PNG", content_type="image/png")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", seen
    await server.close()


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/docs/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/"],
)
async def test_private_addresses_are_refused_before_any_connection(url: str) -> None:
    http = SafeHttp(allow_private=False)
    try:
        with pytest.raises(HostileInput, match="private"):
            await http.get(url, max_bytes=1000)
    finally:
        await http.close()


async def test_localhost_is_refused_without_a_request_reaching_it(
    loopback_site: tuple[str, list[str]],
) -> None:
    base, seen = loopback_site
    port = base.rsplit(":", 1)[1]
    http = SafeHttp(allow_private=False)
    try:
        with pytest.raises(HostileInput):
            await http.get(f"http://localhost:{port}/docs/", max_bytes=1000)
    finally:
        await http.close()
    assert seen == []
    assert socket.gethostbyname("localhost").startswith("127.")


async def test_endless_redirects_are_cut_off(loopback_site: tuple[str, list[str]]) -> None:
    base, seen = loopback_site
    http = SafeHttp(allow_private=True, max_redirects=5)
    try:
        with pytest.raises(HostileInput, match="redirected more than 5"):
            await http.get(f"{base}/loop", max_bytes=1000)
    finally:
        await http.close()
    assert len(seen) == 6


async def test_a_crawl_stays_in_scope_honours_robots_and_skips_non_html(
    harness: Callable[..., Any], loopback_site: tuple[str, list[str]]
) -> None:
    base, seen = loopback_site
    h = await harness()
    job = await h.ingest(f"{base}/docs/", max_pages=10, max_depth=2)
    assert job.state == SUCCEEDED, job.error
    assert job.library_id.startswith("/websites/127-0-0-1")
    assert "/docs/private/x.html" not in seen and "/other/" not in seen
    docs = h.fake.published(job.library_id).docs
    assert set(docs) == {"docs/index.html", "docs/guide.html"}


async def test_a_crawl_of_a_private_address_fails_with_a_clear_error(
    harness: Callable[..., Any],
) -> None:
    h = await harness(INGEST_ALLOW_PRIVATE_NETWORKS="false")
    job = await h.ingest("http://169.254.169.254/latest/")
    assert job.state == FAILED
    assert "link-local" in job.error or "private" in job.error
