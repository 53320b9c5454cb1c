"""RSS of each service process at rest: after start-up, and after the dev corpora are loaded."""

from __future__ import annotations

import asyncio

import aiohttp
import psutil

from bench.stackctl import corpus_libraries, ingest_folders, throwaway_stack


def _rss(stack_processes: dict[str, asyncio.subprocess.Process]) -> dict[str, float]:
    return {
        name: psutil.Process(p.pid).memory_info().rss / 2**20 for name, p in stack_processes.items()
    }


async def main() -> None:
    # Keyword ranking only: the local model adds its own weight (see bench.search_bench) and
    # minutes of embedding to the set-up.
    async with throwaway_stack(EMBEDDING_PROVIDER="none") as stack:
        await asyncio.sleep(2)  # let start-up allocations settle
        idle = _rss(stack.processes)
        await ingest_folders(stack.env["INGEST_ADDR"], corpus_libraries())
        async with aiohttp.ClientSession() as session:
            for library_id, _ in corpus_libraries():
                url = (
                    f"{stack.gateway_url}/api/v2/context?libraryId={library_id}"
                    "&query=getting+started&tokens=1000"
                )
                async with session.get(url) as reply:
                    await reply.read()
        loaded = _rss(stack.processes)
    print(f"{'process':10} {'RSS at rest MiB':>16} {'with 4 libraries MiB':>21}")
    for name in idle:
        print(f"{name:10} {idle[name]:16.1f} {loaded[name]:21.1f}")


if __name__ == "__main__":
    asyncio.run(main())
