"""`make bench`: runs every benchmark in its own process and prints its figures.

    .venv/bin/python -m bench                       # all of them
    .venv/bin/python -m bench --skip scale_bench    # all but the named ones
    .venv/bin/python -m bench --only search_bench,scale_bench
    make bench BENCH_ARGS="--skip scale_bench"

A name is the module's last part (`scale_bench` for `bench.scale_bench`).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Sequence

BENCHMARKS = (
    ("rate-limit checks (auth)", "bench.auth_bench"),
    ("parse-and-chunk throughput (ingest)", "bench.chunk_report"),
    ("ingest and re-ingest of the dev corpora", "bench.ingest_bench"),
    ("query latency, index load, memory (search)", "bench.search_bench"),
    ("local embedding model: snippets/s, query embedding latency", "bench.embedding_bench"),
    ("gateway throughput (MCP query-docs vs bare handlers)", "bench.gateway_bench"),
    ("process memory at rest", "bench.memory_bench"),
    ("search at scale: 10 -> 100 -> 1,000 libraries on PostgreSQL", "bench.scale_bench"),
)


def _names(value: str) -> set[str]:
    return {name.strip() for name in value.split(",") if name.strip()}


def selected(only: str, skip: str) -> list[tuple[str, str]]:
    """The benchmarks to run; an unknown name is an error that lists the known ones."""
    known = {module.rsplit(".", 1)[1] for _, module in BENCHMARKS}
    unknown = sorted((_names(only) | _names(skip)) - known)
    if unknown:
        raise ValueError(
            f"no benchmark named {', '.join(unknown)}; the names are {', '.join(sorted(known))}"
        )
    return [
        (title, module)
        for title, module in BENCHMARKS
        if (not only or module.rsplit(".", 1)[1] in _names(only))
        and module.rsplit(".", 1)[1] not in _names(skip)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Runs the benchmarks and prints their figures.")
    parser.add_argument("--only", default="", help="comma-separated names to run")
    parser.add_argument("--skip", default="", help="comma-separated names to leave out")
    args = parser.parse_args(argv)
    try:
        chosen = selected(args.only, args.skip)
    except ValueError as exc:
        parser.error(str(exc))
    failed = []
    for title, module in chosen:
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
