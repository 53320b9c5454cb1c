"""How `twinmcp ingest` shows a running job: files done once, embedding progress, time left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console
from twinmcp.cli import jobs
from twinmcp.cli.config import CliSettings
from twinmcp.cli.output import job_detail
from twinmcp.ingest.v1 import ingest_pb2


def _job(
    state: int, phase: str, done: int, skipped: int, embedded: int, stored: int
) -> ingest_pb2.Job:
    return ingest_pb2.Job(
        job_id="j1",
        library_id="/acme/widgets",
        version="2.0.0",
        state=state,  # type: ignore[arg-type]
        progress=ingest_pb2.JobProgress(
            files_total=40,
            files_done=done,
            files_skipped=skipped,
            snippets=stored,
            embeddings=embedded,
            phase=phase,
        ),
    )


def test_a_running_job_says_how_many_snippets_are_embedded_and_how_many_files_were_unchanged() -> (
    None
):
    running = _job(ingest_pb2.JOB_STATE_RUNNING, "embedding", 30, 20, 1024, 1310)

    assert job_detail(running) == (
        "embedding, 1,024 snippets embedded, 1,310 stored, 20 files unchanged"
    )
    queued = _job(ingest_pb2.JOB_STATE_QUEUED, "", 0, 0, 0, 0)
    assert job_detail(queued) == "queued, 0 stored"


class _Ingest:
    """Answers GetJob as the ingest service does while a job runs: one state per poll."""

    def __init__(self, answers: list[ingest_pb2.Job]) -> None:
        self._answers: Iterator[ingest_pb2.Job] = iter(answers)

    async def GetJob(
        self, request: ingest_pb2.GetJobRequest, timeout: float
    ) -> ingest_pb2.GetJobResponse:
        assert request.job_id == "j1"
        return ingest_pb2.GetJobResponse(job=next(self._answers))


async def test_the_bar_counts_unchanged_files_once_and_shows_the_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = Console(record=True, width=160, force_terminal=False)
    monkeypatch.setattr(jobs, "console", recording)
    answers = [
        # 20 files unchanged since the last version are done at once (files_done includes them).
        _job(ingest_pb2.JOB_STATE_RUNNING, "embedding", 20, 20, 0, 600),
        _job(ingest_pb2.JOB_STATE_RUNNING, "embedding", 32, 20, 380, 980),
        _job(ingest_pb2.JOB_STATE_SUCCEEDED, "done", 40, 20, 610, 1210),
    ]
    first = _job(ingest_pb2.JOB_STATE_QUEUED, "", 0, 0, 0, 0)

    done = await jobs.watch_job(_Ingest(answers), first, CliSettings.from_env({}), "Ingesting")  # type: ignore[arg-type]

    text = recording.export_text()
    assert done.state == ingest_pb2.JOB_STATE_SUCCEEDED
    assert "40/40" in text and "60/40" not in text and "80/40" not in text
    assert "eta" in text
    assert "succeeded /acme/widgets 2.0.0 (1210 snippets)" in text
