"""Issue 13 H3/M3 end to end: the ingest process refuses kernel trees and never copies them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from twinmcp.cli.stack import SERVICES, Stack
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel

pytestmark = pytest.mark.e2e

FINISHED = (
    ingest_pb2.JOB_STATE_SUCCEEDED,
    ingest_pb2.JOB_STATE_FAILED,
    ingest_pb2.JOB_STATE_CANCELLED,
)


@pytest.fixture
async def open_stack(make_env: Callable[..., dict[str, str]]) -> AsyncIterator[Stack]:
    # "/" as the only root: what refuses /proc below is the kernel-tree rule, not the roots.
    # The small byte limit keeps a regression from filling the disk as the probe did.
    running = Stack(make_env(INGEST_LOCAL_ROOTS="/", INGEST_MAX_ARCHIVE_BYTES=str(8 << 20)))
    try:
        await running.start(SERVICES, timeout=90)
        yield running
    finally:
        await running.stop()


def _bytes_under(folder: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total


async def test_proc_is_refused_and_a_folder_linking_into_it_is_ingested_without_reading_it(
    open_stack: Stack, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "docs/index.md").write_text("# Widgets\n\nWidgets spin.\n\n```python\nspin()\n```\n")
    os.mkfifo(site / "docs/pipe.md")
    (site / "docs/pagemap.md").symlink_to("/proc/self/pagemap")
    (site / "docs/proc").symlink_to("/proc")
    data_before = _bytes_under(tmp_path)
    async with open_channel(open_stack.env["INGEST_ADDR"]) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        for source in ("/proc/self", "/proc/self/root/proc", "/sys", "/dev"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.SubmitSource(
                    ingest_pb2.SubmitSourceRequest(source=source, library_id="/h3/proc"),
                    timeout=30,
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "kernel or device filesystem" in (caught.value.details() or "")
        submitted = await stub.SubmitSource(
            ingest_pb2.SubmitSourceRequest(source=str(site), library_id="/h3/site"), timeout=30
        )
        job = submitted.job
        for _ in range(600):
            job = (await stub.GetJob(ingest_pb2.GetJobRequest(job_id=job.job_id), timeout=10)).job
            if job.state in FINISHED:
                break
            await asyncio.sleep(0.1)
    assert job.state == ingest_pb2.JOB_STATE_SUCCEEDED, job.error
    assert job.progress.files_total == 1
    # The data folder (databases, raw files) grew by kilobytes, not by what /proc would give.
    assert _bytes_under(tmp_path) - data_before < 20 * 1024 * 1024


def test_search_knows_generated_api_pages_by_the_title_ingest_gives_them() -> None:
    # Search ranks these pages below written ones (ranking.reference_factor) by their title.
    from twinmcp.ingest.apiref import TITLE_PREFIX  # noqa: PLC0415
    from twinmcp.search.ranking import REFERENCE_TITLE  # noqa: PLC0415

    assert REFERENCE_TITLE == TITLE_PREFIX
