"""Submissions are bounded: crawl options capped, queued jobs limited, duplicates merged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from support.databases import fresh_postgres_database
from twinmcp.ingest.errors import QueueFull
from twinmcp.ingest.jobs import SourceOptions
from twinmcp.ingest.v1 import ingest_pb2
from twinmcp.ingest.wiring import open_store

INT32_MAX = 2**31 - 1


def _docs(folder: Path) -> Path:
    (folder / "docs").mkdir(parents=True)
    (folder / "docs/index.md").write_text("# Widgets\n\nHello widgets.\n")
    return folder


async def _error(h: Any, source: str, **fields: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await h.submit(source, **fields)
    return caught.value


@pytest.mark.parametrize(
    ("option", "value", "maximum"),
    [("max_pages", INT32_MAX, 200), ("max_depth", INT32_MAX, 5), ("max_pages", -1, 200)],
)
async def test_crawl_options_beyond_the_maximum_are_refused_naming_the_option_and_maximum(
    harness: Callable[..., Any], option: str, value: int, maximum: int
) -> None:
    h = await harness(INGEST_WORKERS="0")
    error = await _error(h, "https://docs.example.com/guide/", **{option: value})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    rest_name = {"max_pages": "maxPages", "max_depth": "maxDepth"}[option]
    assert f"{option} ({rest_name}) must be from 0" in (error.details() or "")
    assert f"to {maximum}" in (error.details() or "")
    listed = await h.stub.ListJobs(ingest_pb2.ListJobsRequest(), timeout=5)
    assert not listed.jobs


async def test_crawl_options_up_to_the_maximum_are_accepted(harness: Callable[..., Any]) -> None:
    h = await harness(INGEST_WORKERS="0", INGEST_MAX_PAGES="50")
    job = await h.submit("https://docs.example.com/guide/", max_pages=50, max_depth=5)
    assert job.state == ingest_pb2.JOB_STATE_QUEUED


async def test_overlong_strings_are_refused_naming_the_field(harness: Callable[..., Any]) -> None:
    h = await harness(INGEST_WORKERS="0")
    error = await _error(h, "https://docs.example.com/guide/", version="1" * 129)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "version is longer than 128 characters" in (error.details() or "")


async def test_queued_jobs_are_bounded_per_library_and_overall(
    harness: Callable[..., Any],
) -> None:
    h = await harness(
        INGEST_WORKERS="0", INGEST_MAX_QUEUED_JOBS="3", INGEST_MAX_QUEUED_JOBS_PER_LIBRARY="2"
    )
    site = "https://docs.example.com/guide/"
    first = await h.submit(site, library_id="/a/x", version="1")
    await h.submit(site, library_id="/a/x", version="2")
    per_library = await _error(h, site, library_id="/a/x", version="3")
    assert per_library.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "INGEST_MAX_QUEUED_JOBS_PER_LIBRARY" in (per_library.details() or "")
    await h.submit(site, library_id="/b/y", version="1")
    overall = await _error(h, site, library_id="/c/z", version="1")
    assert overall.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "3 ingest jobs are already waiting" in (overall.details() or "")
    await h.stub.CancelJob(ingest_pb2.CancelJobRequest(job_id=first.job_id), timeout=5)
    accepted = await h.submit(site, library_id="/c/z", version="1")
    assert accepted.state == ingest_pb2.JOB_STATE_QUEUED


async def test_an_identical_submission_returns_the_job_already_waiting(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness(INGEST_WORKERS="0")
    folder = _docs(tmp_path / "site")
    first = await h.submit(str(folder), library_id="/acme/widgets", version="1.0")
    spelled_otherwise = f"{tmp_path}/site/../site/"
    again = await h.submit(spelled_otherwise, library_id="/acme/widgets", version="1.0")
    assert again.job_id == first.job_id
    other_version = await h.submit(str(folder), library_id="/acme/widgets", version="2.0")
    assert other_version.job_id != first.job_id
    await h.stub.CancelJob(ingest_pb2.CancelJobRequest(job_id=first.job_id), timeout=5)
    after_cancel = await h.submit(str(folder), library_id="/acme/widgets", version="1.0")
    assert after_cancel.job_id not in {first.job_id, other_version.job_id}


async def test_a_burst_of_identical_submissions_makes_one_job(
    harness: Callable[..., Any],
) -> None:
    h = await harness(INGEST_WORKERS="0")
    jobs = await asyncio.gather(
        *(h.submit("https://docs.example.com/guide/", max_pages=10) for _ in range(30))
    )
    assert len({job.job_id for job in jobs}) == 1
    listed = await h.stub.ListJobs(ingest_pb2.ListJobsRequest(), timeout=5)
    assert len(listed.jobs) == 1


async def test_replicas_sharing_postgresql_merge_identical_submissions_and_share_the_bound(
    make_settings: Callable[..., Any],
) -> None:
    async with fresh_postgres_database() as url:
        settings = make_settings("127.0.0.1:1", DATABASE_URL=url, INGEST_MAX_QUEUED_JOBS="2")
        opened = [await open_store(settings) for _ in range(2)]
        try:
            stores = [store for _, store in opened]
            same = await asyncio.gather(
                *(
                    stores[i % 2].submit("/a/b", "https://x.example/", SourceOptions())
                    for i in range(10)
                )
            )
            assert len({job.job_id for job in same}) == 1
            await stores[1].submit("/a/c", "https://x.example/", SourceOptions())
            with pytest.raises(QueueFull):
                await stores[0].submit("/a/d", "https://x.example/", SourceOptions())
        finally:
            for engine, _ in opened:
                await engine.dispose()
