"""Re-ingest does no needless work; jobs survive a killed worker; cancel; migrations on both DBs."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from support.databases import fresh_postgres_database
from twinmcp.ingest.jobs import JobState, SourceOptions
from twinmcp.ingest.v1 import ingest_pb2
from twinmcp.ingest.wiring import open_store

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED
CORPUS = Path(__file__).resolve().parents[3].parent / "shared/eval/corpus"


async def test_reingesting_unchanged_parses_nothing_and_a_changed_file_only_itself(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    folder = tmp_path / "httpx"
    shutil.copytree(CORPUS / "encode__httpx", folder)
    first = await h.ingest(str(folder), library_id="/encode/httpx")
    assert first.state == SUCCEEDED, first.error
    parsed, embedded = len(h.documents.parsed), h.embedder.texts
    count = len(h.fake.snippets("/encode/httpx"))
    assert parsed > 10 and embedded == count

    again = await h.ingest(str(folder), library_id="/encode/httpx")
    assert again.state == SUCCEEDED, again.error
    assert len(h.documents.parsed) == parsed and h.embedder.texts == embedded
    assert again.progress.files_skipped == again.progress.files_total
    assert len(h.fake.snippets("/encode/httpx")) == count

    page = folder / "docs/quickstart.md"
    page.write_text(page.read_text() + "\n\n## Brand new section\n\nFresh words here.\n")
    changed = await h.ingest(str(folder), library_id="/encode/httpx")
    assert changed.state == SUCCEEDED, changed.error
    assert h.documents.parsed[parsed:] == ["docs/quickstart.md"]
    assert any("Fresh words here." in s.snippet.content for s in h.fake.snippets("/encode/httpx"))


async def test_a_change_of_embedding_model_reembeds_everything(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    folder = CORPUS / "encode__httpx"
    await h.ingest(str(folder), library_id="/encode/httpx")
    h.embedder.model = "another-model"
    parsed = len(h.documents.parsed)
    job = await h.ingest(str(folder), library_id="/encode/httpx")
    assert job.state == SUCCEEDED, job.error
    assert len(h.documents.parsed) == 2 * parsed
    assert h.fake.count("CopyDocuments") == 0


async def test_a_running_job_is_cancelled_within_seconds_and_its_build_aborted(
    harness: Callable[..., Any],
) -> None:
    h = await harness(INGEST_HEARTBEAT_SECONDS="0.2", INGEST_LEASE_SECONDS="5")
    first = await h.ingest(str(CORPUS / "encode__httpx"), library_id="/lib/x")
    assert first.state == SUCCEEDED
    h.fake.put_delay = 0.2
    job = await h.submit(str(CORPUS / "fastapi__fastapi"), library_id="/lib/x", version="2")
    await asyncio.wait_for(_until(lambda: h.fake.count("PutDocument") > 30), 30)
    await h.stub.CancelJob(ingest_pb2.CancelJobRequest(job_id=job.job_id), timeout=5)
    done = await h.finish(job.job_id, limit=10)
    assert done.state == ingest_pb2.JOB_STATE_CANCELLED
    assert h.fake.count("AbortBuild") == 1
    assert h.fake.defaults["/lib/x"] == "latest" and "2" not in h.fake.versions["/lib/x"]


async def _until(check: Callable[[], bool]) -> None:
    # Polls state the fake gRPC server mutates; callers bound it with asyncio.wait_for.
    while not check():  # noqa: ASYNC110
        await asyncio.sleep(0.02)


async def test_a_worker_killed_mid_job_is_replaced_without_lost_or_doubled_snippets(
    fake_index: Any, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    fake, address = fake_index
    data = tmp_path / "data"
    settings = make_settings(address, INGEST_LEASE_SECONDS="2", INGEST_HEARTBEAT_SECONDS="0.3")
    engine, store = await open_store(settings)
    source = str(CORPUS / "fastapi__fastapi")
    env = {
        **os.environ,
        "TWINMCP_DATA_DIR": str(data),
        "SEARCH_ADDR": address,
        "EMBEDDING_PROVIDER": "none",
        "INGEST_LEASE_SECONDS": "2",
        "INGEST_HEARTBEAT_SECONDS": "0.3",
        "INGEST_POLL_SECONDS": "0.1",
        "INGEST_METRICS_PORT": "-1",
        "INGEST_ENRICH_MODEL": "off",
        "INGEST_LOCAL_ROOTS": str(CORPUS),
        "LOG_FORMAT": "text",
    }

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "twinmcp.ingest.worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    workers = []
    try:
        clean = await store.submit("/clean/fastapi", source, SourceOptions())
        old = await store.submit(
            "/fastapi/fastapi", str(CORPUS / "encode__httpx"), SourceOptions(version="0.1")
        )
        workers.append(spawn())
        for job_id in (clean.job_id, old.job_id):
            await asyncio.wait_for(_until_state(store, job_id, JobState.SUCCEEDED), 120)
        expected = len(fake.snippets("/clean/fastapi"))
        fake.put_delay = 0.02
        job = await store.submit("/fastapi/fastapi", source, SourceOptions(version="0.2"))
        await asyncio.wait_for(
            _until(
                lambda: (
                    sum(
                        1
                        for name, r in fake.calls
                        if name == "PutDocument" and r.build_id == _build(fake, job.job_id)
                    )
                    > 50
                )
            ),
            60,
        )
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        assert fake.defaults["/fastapi/fastapi"] == "0.1"
        assert not any(v == "0.2" for _, _, v, _ in fake.publishes)
        workers.append(spawn())
        final = await asyncio.wait_for(_until_state(store, job.job_id, JobState.SUCCEEDED), 120)
        assert final.attempts == 2
        assert len(fake.snippets("/fastapi/fastapi", "0.2")) == expected
        assert [v for _, lib, v, _ in fake.publishes if lib == "/fastapi/fastapi"] == ["0.1", "0.2"]
        assert fake.defaults["/fastapi/fastapi"] == "0.2"
        builds = [b for b in fake.builds.values() if b.key == job.job_id]
        assert len(builds) == 1
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(10)
        await engine.dispose()


def _build(fake: Any, key: str) -> str:
    return next((b.build_id for b in fake.builds.values() if b.key == key), "?")


async def _until_state(store: Any, job_id: str, state: JobState) -> Any:
    while True:
        job = await store.get(job_id)
        if job.state == state:
            return job
        assert job.state not in {JobState.FAILED, JobState.CANCELLED}, job.error
        await asyncio.sleep(0.05)


async def _claims_once(settings: Any) -> None:
    engine, store = await open_store(settings)
    try:
        job = await store.submit("/a/b", "/tmp", SourceOptions())
        claimed = await asyncio.gather(store.claim("w1"), store.claim("w2"))
        winners = [c for c in claimed if c is not None]
        assert len(winners) == 1 and winners[0].job_id == job.job_id
        beat = await store.heartbeat(job.job_id, winners[0].lease_owner or "")
        assert beat.is_owner and not beat.cancel_requested
        await store.cancel(job.job_id)
        assert (await store.heartbeat(job.job_id, winners[0].lease_owner or "")).cancel_requested
        # Migrating again is a no-op.
        await open_store(settings)
    finally:
        await engine.dispose()


async def test_migrations_and_claims_work_on_sqlite(
    make_settings: Callable[..., Any],
) -> None:
    await _claims_once(make_settings("127.0.0.1:1"))


async def test_migrations_and_claims_work_on_postgresql(
    make_settings: Callable[..., Any],
) -> None:
    async with fresh_postgres_database() as url:
        await _claims_once(make_settings("127.0.0.1:1", DATABASE_URL=url))


async def test_refresh_resubmits_the_last_source_and_jobs_can_be_listed(
    harness: Callable[..., Any],
) -> None:
    h = await harness()
    first = await h.ingest(str(CORPUS / "encode__httpx"), library_id="/encode/httpx")
    assert first.state == SUCCEEDED, first.error
    reply = await h.stub.RefreshLibrary(
        ingest_pb2.RefreshLibraryRequest(library_id="/encode/httpx"), timeout=5
    )
    assert reply.job.source == first.source and reply.job.job_id != first.job_id
    refreshed = await h.finish(reply.job.job_id)
    assert refreshed.state == SUCCEEDED and refreshed.progress.files_skipped > 0
    listed = await h.stub.ListJobs(
        ingest_pb2.ListJobsRequest(library_id="/encode/httpx", states=[SUCCEEDED]), timeout=5
    )
    assert [j.job_id for j in listed.jobs] == [refreshed.job_id, first.job_id]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await h.stub.RefreshLibrary(
            ingest_pb2.RefreshLibraryRequest(library_id="/never/seen"), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await h.stub.GetJob(ingest_pb2.GetJobRequest(job_id="nope"), timeout=5)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
