"""Local folders and archives: allowed roots, no kernel trees, bounded reads, stoppable copies."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import grpc
import pytest
from twinmcp.ingest.errors import InvalidSource
from twinmcp.ingest.fetching import folders
from twinmcp.ingest.fetching.folders import CopyLimits, copy_folder
from twinmcp.ingest.fetching.materialise import materialise
from twinmcp.ingest.jobs import SourceOptions
from twinmcp.ingest.runner import Worker
from twinmcp.ingest.sources import parse_source
from twinmcp.ingest.v1 import ingest_pb2

from .conftest import wait_until

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED
FAILED = ingest_pb2.JOB_STATE_FAILED
CANCELLED = ingest_pb2.JOB_STATE_CANCELLED


def _docs(folder: Path, text: str = "Hello") -> Path:
    (folder / "docs").mkdir(parents=True)
    (folder / "docs/index.md").write_text(
        f"# Widgets\n\n{text} widgets.\n\n```python\nimport w\n```\n"
    )
    return folder


async def _refused(h: Any, source: str, **fields: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await h.submit(source, library_id="/acme/widgets", **fields)
    return caught.value


def _tree_bytes(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


# -- H3: kernel trees, special files, sizes that lie, cancel ---------------------------------


@pytest.mark.parametrize("source", ["/proc/self", "/proc", "/sys/kernel", "/dev", "/run"])
async def test_kernel_and_device_trees_are_refused_even_under_an_allowed_root(
    harness: Callable[..., Any], source: str
) -> None:
    h = await harness(INGEST_LOCAL_ROOTS="/")
    error = await _refused(h, source)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "kernel or device filesystem" in (error.details() or "")
    assert h.fake.count("BeginBuild") == 0


async def test_a_link_to_proc_named_like_a_docs_folder_is_refused(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    (tmp_path / "innocent-docs").symlink_to("/proc/self")
    error = await _refused(h, str(tmp_path / "innocent-docs"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Resolved first: /proc is outside the allowed roots.
    assert "INGEST_LOCAL_ROOTS" in (error.details() or "")


async def test_fifos_and_links_into_proc_inside_a_folder_are_skipped_unread(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    folder = _docs(tmp_path / "site")
    os.mkfifo(folder / "docs/pipe.md")  # opening it to read would block forever
    (folder / "docs/self").symlink_to("/proc/self")
    (folder / "docs/pagemap.md").symlink_to("/proc/self/pagemap")
    job = await h.ingest(str(folder), library_id="/acme/widgets")
    assert job.state == SUCCEEDED, job.error
    paths = {call.path for name, call in h.fake.calls if name == "PutDocument"}
    assert paths == {"docs/index.md"}


async def test_a_file_whose_reported_size_lies_is_read_only_up_to_the_file_limit(
    make_settings: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _docs(tmp_path / "src")
    big = folder / "docs/big.md"
    big.write_bytes(b"# Big\n\n" + b"x" * (1024 * 1024))
    settings = make_settings("127.0.0.1:1", INGEST_MAX_FILE_BYTES=str(64 * 1024))
    real_lstat, real_stat = os.lstat, os.stat

    def lie(real: Callable[..., os.stat_result]) -> Callable[..., os.stat_result]:
        def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            result = real(path, *args, **kwargs)
            if str(path).endswith("big.md"):
                return os.stat_result((*result[:6], 0, *result[7:]))
            return result

        return stat

    monkeypatch.setattr(os, "lstat", lie(real_lstat))
    monkeypatch.setattr(os, "stat", lie(real_stat))
    spec = parse_source(str(folder), library_id="/acme/widgets", local_roots=[tmp_path])
    fetched = await materialise(spec, SourceOptions(), tmp_path / "work", settings)
    assert (fetched.root / "docs/index.md").is_file()
    assert not (fetched.root / "docs/big.md").exists()
    assert any(n.startswith("docs/big.md: skipped, larger than") for n in fetched.notes)
    assert _tree_bytes(fetched.root) < 64 * 1024


def test_files_that_report_size_zero_stop_at_the_total_byte_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /proc/self for real, with the kernel-tree refusal turned off: its files report 0 bytes,
    # /proc/self/pagemap alone reads as hundreds of gigabytes.
    monkeypatch.setattr(folders, "is_special_filesystem", lambda path: False)
    limits = CopyLimits(max_file_bytes=256 * 1024, max_total_bytes=2 * 1024 * 1024, max_files=5000)
    dest = tmp_path / "copy"
    started = time.monotonic()
    try:
        result = copy_folder(Path("/proc/self"), dest, limits, threading.Event())
        read = result.bytes_read
    except InvalidSource as exc:
        assert "more than 2097152 bytes" in str(exc)
        read = limits.max_total_bytes
    assert read <= limits.max_total_bytes
    assert _tree_bytes(dest) <= limits.max_total_bytes
    assert time.monotonic() - started < 30


def test_a_folder_larger_than_the_total_limit_is_refused_naming_the_setting(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(5):
        (folder / f"page{i}.md").write_bytes(b"y" * 40_000)
    limits = CopyLimits(max_file_bytes=50_000, max_total_bytes=100_000, max_files=100)
    with pytest.raises(InvalidSource, match="INGEST_MAX_ARCHIVE_BYTES") as caught:
        copy_folder(folder, tmp_path / "copy", limits, threading.Event())
    assert str(tmp_path) not in str(caught.value)
    with pytest.raises(InvalidSource, match="INGEST_MAX_ARCHIVE_FILES"):
        copy_folder(folder, tmp_path / "copy2", CopyLimits(50_000, 10**9, 3), threading.Event())


class _SlowDisk:
    """Counts reads and makes each take a while, so a copy is still running when cancelled."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.reads = 0

    def __call__(self, reader: BinaryIO, size: int) -> bytes:
        self.reads += 1
        time.sleep(self.delay)
        return reader.read(size)


def _many_files(folder: Path, count: int) -> Path:
    _docs(folder)
    for i in range(count):
        (folder / f"docs/page{i:04}.md").write_text(f"# Page {i}\n\nText {i}.\n")
    return folder


async def test_cancelling_a_materialise_returns_only_after_the_copy_thread_stopped(
    make_settings: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = _SlowDisk(0.01)
    monkeypatch.setattr(folders, "read_chunk", disk)
    folder = _many_files(tmp_path / "src", 400)
    settings = make_settings("127.0.0.1:1")
    spec = parse_source(str(folder), library_id="/acme/widgets", local_roots=[tmp_path])
    task = asyncio.create_task(materialise(spec, SourceOptions(), tmp_path / "work", settings))
    await wait_until(lambda: disk.reads > 10, limit=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    stopped_at = disk.reads
    await asyncio.sleep(0.3)
    assert disk.reads == stopped_at < 400


async def test_cancelling_a_job_stops_its_folder_copy_within_seconds(
    harness: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = _SlowDisk(0.01)
    monkeypatch.setattr(folders, "read_chunk", disk)
    h = await harness(INGEST_HEARTBEAT_SECONDS="0.2", INGEST_LEASE_SECONDS="5")
    job = await h.submit(str(_many_files(tmp_path / "src", 1500)), library_id="/acme/widgets")
    await wait_until(lambda: disk.reads > 10, limit=20)
    await h.stub.CancelJob(ingest_pb2.CancelJobRequest(job_id=job.job_id), timeout=5)
    done = await h.finish(job.job_id, limit=10)
    assert done.state == CANCELLED
    stopped_at = disk.reads
    await asyncio.sleep(0.5)
    assert disk.reads == stopped_at < 1500
    assert h.fake.count("BeginBuild") == 0


# -- M3: allowed roots, no server paths shown ------------------------------------------------


async def test_a_local_source_outside_the_allowed_roots_is_refused_without_naming_it(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    for source in ("/etc", "/etc/passwd.tar.gz", "/no/such/folder"):
        error = await _refused(h, source)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = error.details() or ""
        assert "outside the folders ingest may read (INGEST_LOCAL_ROOTS)" in details
        assert source not in details and "/etc" not in details


async def test_local_sources_are_refused_when_no_roots_are_set(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness(INGEST_LOCAL_ROOTS="")
    error = await _refused(h, str(_docs(tmp_path / "site")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "INGEST_LOCAL_ROOTS is empty" in (error.details() or "")


async def test_a_folder_is_published_under_its_name_never_its_server_path(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    job = await h.ingest(str(_docs(tmp_path / "widgets-docs")), library_id="/acme/widgets")
    assert job.state == SUCCEEDED, job.error
    begun = next(call for name, call in h.fake.calls if name == "BeginBuild")
    assert begun.library.source_url == "local:widgets-docs"
    for _, call in h.fake.calls:
        assert str(tmp_path) not in str(call)


async def test_job_errors_name_no_server_path(harness: Callable[..., Any], tmp_path: Path) -> None:
    h = await harness(INGEST_WORKERS="0")
    folder = _docs(tmp_path / "vanishing")
    job = await h.submit(str(folder), library_id="/acme/widgets")
    (folder / "docs/index.md").unlink()
    (folder / "docs").rmdir()
    folder.rmdir()
    worker = Worker(h.server.wiring.store, h.settings, h.server.wiring.parts)
    assert await worker.run_once()
    failed = await h.finish(job.job_id)
    assert failed.state == FAILED
    assert "does not exist" in failed.error
    assert str(tmp_path) not in failed.error and "/tmp" not in failed.error


async def test_a_source_with_nothing_to_read_fails_saying_what_the_defaults_excluded(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    folder = tmp_path / "all-excluded"
    for path in ("internal/guide.md", "internal/api.md", "CHANGELOG.md", "src/lib.py"):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text("# x\n")
    (folder / "twinmcp.json").write_text('{"excludeFolders": ["internal"]}')
    h = await harness()
    job = await h.ingest(str(folder), library_id="/acme/widgets")
    assert job.state == FAILED
    assert job.error.startswith("the source holds no documentation files to read: ")
    assert (
        "2 .md files under internal were excluded as excludeFolders of the source's "
        "twinmcp.json/context7.json; 1 .md file was excluded as changelogs" in job.error
    )
    assert str(tmp_path) not in job.error


async def test_a_disk_error_naming_the_work_folder_reaches_the_job_as_a_placeholder(
    harness: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_write(self: Path, data: bytes) -> int:
        raise OSError(errno.EIO, "Input/output error", str(self))

    h = await harness(INGEST_MAX_ATTEMPTS="1")
    monkeypatch.setattr(Path, "write_bytes", failing_write)
    job = await h.ingest(str(_docs(tmp_path / "site")), library_id="/acme/widgets")
    assert job.state == FAILED
    assert "Input/output error" in job.error
    assert "<data folder>" in job.error
    assert str(tmp_path) not in job.error


def test_a_local_copy_keeps_a_build_folder_of_sources_and_skips_build_output(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "src"
    for path in (
        "doc/build/conf.py",
        "doc/build/index.rst",
        "doc/build/orm/session.rst",
        "build/lib/pkg/README.md",
        "site/build/html/index.html",
        "node_modules/dep/README.md",
    ):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text("x\n")
    copy_folder(folder, tmp_path / "copy", CopyLimits(50_000, 10**9, 100), threading.Event())
    copied = sorted(
        p.relative_to(tmp_path / "copy").as_posix()
        for p in (tmp_path / "copy").rglob("*")
        if p.is_file()
    )
    assert copied == ["doc/build/conf.py", "doc/build/index.rst", "doc/build/orm/session.rst"]
