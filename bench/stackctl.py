"""Starting a throwaway stack for benchmarks and evaluation, and ingesting the eval corpus."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from twinmcp.cli.catalog import read_catalog
from twinmcp.cli.stack import Stack, isolated_environment
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel
from twinmcp.search.v1 import index_pb2, index_pb2_grpc

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EVAL = SHARED / "eval"
CORPUS = EVAL / "corpus"
# Where bench.heldout_corpus unpacks the held-out releases (ignored by git).
HELDOUT_CORPUS = Path(__file__).resolve().parents[1] / ".data" / "heldout" / "corpus"


def corpus_libraries() -> list[tuple[str, Path]]:
    """(library id, folder) for each library of the eval corpus."""
    return [
        ("/" + folder.name.replace("__", "/"), folder)
        for folder in sorted(CORPUS.iterdir())
        if folder.is_dir()
    ]


@contextlib.asynccontextmanager
async def throwaway_stack(**extra: str) -> AsyncIterator[Stack]:
    """The four services as processes on free ports, with data in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="twinmcp-bench-") as data:
        env = isolated_environment(
            os.environ,
            data,
            **{
                "LOG_LEVEL": "WARNING",
                "RATE_LIMIT_ANON_RPM": "100000000",
                # 0: no daily limit. The default (1000 a day) turned all but the first thousand
                # requests of a benchmark into "Rate limit exceeded" answers that skip search.
                "RATE_LIMIT_ANON_RPD": "0",
                "RATE_LIMIT_FREE_RPM": "100000000",
                # Ingest reads local folders only under these roots: the two eval corpora.
                "INGEST_LOCAL_ROOTS": os.pathsep.join((str(CORPUS), str(HELDOUT_CORPUS))),
                **extra,
            },
        )
        stack = Stack(env)
        try:
            await stack.start(timeout=120)
            yield stack
        finally:
            await stack.stop()


async def ingest_folders(
    ingest_addr: str, libraries: Iterable[tuple[str, Path | str]], timeout: float = 1800
) -> dict[str, ingest_pb2.Job]:
    """Submits every folder (or other source: "pypi:click==8.5.1") and waits for all jobs;
    returns the finished jobs by library id."""
    finished: dict[str, ingest_pb2.Job] = {}
    async with open_channel(ingest_addr) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        jobs = {}
        for library_id, folder in libraries:
            reply = await stub.SubmitSource(
                ingest_pb2.SubmitSourceRequest(
                    source=str(folder),
                    library_id=library_id,
                    # A folder is "latest"; a registry source names its own version.
                    version="latest" if isinstance(folder, Path) else "",
                    make_default=True,
                ),
                timeout=30,
            )
            jobs[library_id] = reply.job.job_id
        deadline = asyncio.get_running_loop().time() + timeout
        while len(finished) < len(jobs):
            for library_id, job_id in jobs.items():
                if library_id in finished:
                    continue
                job = (await stub.GetJob(ingest_pb2.GetJobRequest(job_id=job_id), timeout=30)).job
                if job.state in (
                    ingest_pb2.JOB_STATE_SUCCEEDED,
                    ingest_pb2.JOB_STATE_FAILED,
                    ingest_pb2.JOB_STATE_CANCELLED,
                ):
                    finished[library_id] = job
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"ingest did not finish within {timeout}s")
            await asyncio.sleep(0.25)
    return finished


async def import_catalogs(search_addr: str, batch: int = 5000) -> None:
    """Imports both package catalogs of the eval set (../shared/eval/catalog) into search."""
    async with open_channel(search_addr) as channel:
        stub = index_pb2_grpc.IndexServiceStub(channel)
        for path in sorted(Path(EVAL / "catalog").glob("*.tsv")):
            entries = read_catalog(path)
            for start in range(0, len(entries), batch):
                await stub.ImportCatalog(
                    index_pb2.ImportCatalogRequest(entries=entries[start : start + batch]),
                    timeout=120,
                )
