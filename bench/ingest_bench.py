"""Time to ingest the four dev corpora on embedded defaults, with and without the local model,
and to re-ingest them unchanged, through the real services (`python -m bench.ingest_bench`)."""

from __future__ import annotations

import asyncio
import importlib.util
import time

from twinmcp.ingest.v1 import ingest_pb2

from bench.stackctl import corpus_libraries, ingest_folders, throwaway_stack


async def measure(provider: str) -> None:
    async with throwaway_stack(EMBEDDING_PROVIDER=provider) as stack:
        libraries = corpus_libraries()
        started = time.perf_counter()
        jobs = await ingest_folders(stack.env["INGEST_ADDR"], libraries)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = await ingest_folders(stack.env["INGEST_ADDR"], libraries)
        second = time.perf_counter() - started
    failed = [
        lib for lib, job in {**jobs, **again}.items() if job.state != ingest_pb2.JOB_STATE_SUCCEEDED
    ]
    snippets = sum(job.progress.snippets for job in jobs.values())
    skipped = sum(job.progress.files_skipped for job in again.values())
    total = sum(job.progress.files_total for job in again.values())
    embeddings = sum(job.progress.embeddings for job in jobs.values())
    print(
        f"embeddings={provider:5}  first ingest {first:6.1f}s ({snippets} snippets, "
        f"{embeddings} embedded)  re-ingest unchanged {second:5.2f}s "
        f"({skipped}/{total} files skipped){'  FAILED: ' + ', '.join(failed) if failed else ''}"
    )


async def main() -> None:
    await measure("none")
    if importlib.util.find_spec("sentence_transformers") is not None:
        await measure("local")
    else:
        print("local model not installed (make install-model): skipped that run")
    print("target: re-ingest of all four unchanged under 5 s")


if __name__ == "__main__":
    asyncio.run(main())
