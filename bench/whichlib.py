"""Which library solves X: description-only resolution with the twelve eval libraries ingested.

    .venv/bin/python -m bench.whichlib                  # a throwaway stack (the local model)
    .venv/bin/python -m bench.whichlib --url URL        # a running stack, as configured

The cases (bench/whichlib/resolution-2026-12-06.jsonl, see its README) describe a documented
library without naming it, or a catalog package near the documented libraries' subjects; each
is asked through `GET /api/v2/libs/search` as `make eval` asks its resolution cases, with the
dev and both held-out sets' libraries ingested and both catalogs loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import aiohttp
from twinmcp.embedding.local import is_available as model_installed

from bench import heldout_corpus
from bench.eval import ResolutionCase, ResolutionOutcome, libraries_of, resolution
from bench.stackctl import import_catalogs, ingest_folders, throwaway_stack

CASES = Path(__file__).resolve().parent / "whichlib" / "resolution-2026-12-06.jsonl"
SETS = ("dev", "heldout", "heldout2")


def cases() -> list[ResolutionCase]:
    return [
        ResolutionCase(
            str(row["query"]),
            tuple(str(e) for e in row["expect"]),  # type: ignore[attr-defined]
            str(row["kind"]),
        )
        for row in heldout_corpus.load_rows(CASES)
    ]


def report(outcome: ResolutionOutcome) -> None:
    print(f"\n== Which library ({len(outcome.latencies)} description-only queries)")
    print(f"top-1 {outcome.correct}/{outcome.total}")
    for kind, (right, total) in sorted(outcome.by_kind.items()):
        print(f"   {kind}: {right}/{total}")
    for miss in outcome.misses:
        print(f"   miss: {miss}")
    if outcome.latencies:
        print(f"REST p50 {statistics.median(outcome.latencies):.1f} ms")


async def ask(url: str) -> ResolutionOutcome:
    async with aiohttp.ClientSession() as session:
        # A first call builds the resolution index.
        async with session.get(f"{url}/api/v2/libs/search?libraryName=warm&query=warm"):
            pass
        return await resolution(session, url, cases())


async def run(url: str | None) -> None:
    started = time.perf_counter()
    if url:
        report(await ask(url.rstrip("/")))
        return
    if not model_installed():
        raise SystemExit("the local model is not installed (`make install-model`)")
    async with throwaway_stack(EMBEDDING_PROVIDER="local") as stack:
        jobs = await ingest_folders(stack.env["INGEST_ADDR"], libraries_of(SETS))
        print(", ".join(f"{lib} {job.progress.snippets}" for lib, job in sorted(jobs.items())))
        await import_catalogs(stack.env["SEARCH_ADDR"])
        report(await ask(stack.gateway_url))
    print(f"\nbench.whichlib: {time.perf_counter() - started:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a running gateway with the twelve libraries ingested")
    args = parser.parse_args()
    asyncio.run(run(args.url))


if __name__ == "__main__":
    main()
