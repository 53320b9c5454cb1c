"""Where the CLI writes: results to stdout, problems to stderr."""

from __future__ import annotations

from rich.console import Console
from twinmcp.ingest.v1 import ingest_pb2

console = Console()
err = Console(stderr=True)


def job_detail(job: ingest_pb2.Job) -> str:
    """What a running job is doing: "embedding, 1,024 snippets embedded, 1,310 stored"."""
    p = job.progress
    phase = p.phase or ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    parts = [phase]
    if p.embeddings:
        parts.append(f"{p.embeddings:,} snippets embedded")
    parts.append(f"{p.snippets:,} stored")
    if p.files_skipped:
        parts.append(f"{p.files_skipped:,} files unchanged")
    return ", ".join(parts)
