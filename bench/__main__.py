"""`make bench`: runs every benchmark in its own process and prints its figures."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

BENCHMARKS = (
    ("rate-limit checks (auth)", "bench.auth_bench"),
    ("parse-and-chunk throughput (ingest)", "bench.chunk_report"),
    ("ingest and re-ingest of the dev corpora", "bench.ingest_bench"),
    ("query latency, index load, memory (search)", "bench.search_bench"),
    ("local embedding model: snippets/s, query embedding latency", "bench.embedding_bench"),
    ("gateway throughput (MCP query-docs vs bare handlers)", "bench.gateway_bench"),
    ("process memory at rest", "bench.memory_bench"),
)


def main() -> int:
    failed = []
    for title, module in BENCHMARKS:
        print(f"\n=== {title} ({module}) ===", flush=True)
        if importlib.util.find_spec(module) is None:
            print(f"{module} is missing")
            failed.append(module)
            continue
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", module])
        print(f"--- {module}: exit {code}, {time.perf_counter() - started:.0f}s", flush=True)
        if code:
            failed.append(module)
    if failed:
        print(f"\nbenchmarks that did not complete: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
