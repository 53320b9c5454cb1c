"""`make eval` cross-library mode: the dev questions asked with no library, and with hints.

Starts a throwaway stack, ingests the four dev libraries (../shared/eval), imports both package
catalogs, then asks every dev question three ways and prints them side by side:

- `single`: GET /api/v2/context with the right library, as `make eval` asks (the reference);
- `no hint`: GET /api/v3/search with the question alone;
- `3 hints`: GET /api/v3/search with the right library among three dev libraries.

For each: how often the first snippet comes from the right library ("right library first"),
MRR / Hit@1 / Hit@5 over the expected files (a snippet of another library never counts, even
with the same path), hit@budget (an expected string shown in the text answer), tokens and REST
p50; and the server-side time of SearchDocs over gRPC, uncached (a budget no other call asks
for), with the four libraries' indexes loaded.

    make eval EVAL_ARGS="--mode crosslib [--ranking keyword|model] [--set all] [--together]"
    python -m bench.eval_crosslib [--ranking keyword|model] [--json FILE]
    python -m bench.eval_crosslib --url http://127.0.0.1:3000 --search-addr 127.0.0.1:50052

`--together`: one stack with every chosen set's libraries (sixteen for `--set all`), each set's
questions asked of all of them and the hints drawn from all: a choice among sixteen libraries,
as a user with many dependencies has, where each set alone offers four. It adds a mode:

- `project`: GET /api/v3/search with the question and `project`, a project registered for the
  set that locks its four libraries' packages (a project's dependencies are the libraries
  searched): what an agent that passes its project gets among the sixteen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from twinmcp.embedding.local import is_available as model_installed
from twinmcp.runtime.channels import open_channel
from twinmcp.search.v1 import search_pb2, search_pb2_grpc

from bench.eval import (
    BUDGETS,
    SETS,
    Answer,
    Question,
    Rows,
    ask_rest,
    libraries_of,
    questions_of,
    summarise,
)
from bench.stackctl import import_catalogs, ingest_folders, throwaway_stack

MODES = ("single", "no hint", "3 hints")
PROJECT_MODE = "project"
# A budget no other request asks for, so the timed SearchDocs call is never a cache hit.
_UNCACHED_BUDGET = 4999


def hints_for(q: Question, libraries: Sequence[str]) -> list[str]:
    """The right library and the next two dev libraries, in an order that moves the right one
    around (by question), so its place in the list says nothing."""
    others = [lib for lib in libraries if lib != q.library]
    start = sum(map(ord, q.qid)) % len(others)
    chosen = [others[(start + i) % len(others)] for i in range(2)]
    chosen.insert(sum(map(ord, q.qid)) % 3, q.library)
    return ["/" + lib for lib in chosen]


async def ask_search(
    session: aiohttp.ClientSession, url: str, q: Question, hints: Sequence[str], project: str = ""
) -> tuple[Answer, str]:
    """The answer over /api/v3/search and the library of its first snippet."""
    answer = Answer()
    first = ""
    for budget in BUDGETS:
        params: dict[str, str | int] = {"query": q.query, "tokens": budget}
        if hints:
            params["libraries"] = ",".join(hints)
        if project:
            params["project"] = project
        started = time.perf_counter()
        async with session.get(f"{url}/api/v3/search?{urlencode({**params, 'type': 'json'})}") as r:
            body = await r.json(content_type=None) if r.status == 200 else {"snippets": []}
        snippets = body["snippets"]
        if budget == BUDGETS[-1]:
            answer.latency_ms = (time.perf_counter() - started) * 1000
            # Another library's file never counts, even under the same path (README.md).
            answer.ranked_paths = [
                s["source"]["path"] if s["libraryId"] == "/" + q.library else "" for s in snippets
            ]
            first = snippets[0]["libraryId"] if snippets else ""
        async with session.get(f"{url}/api/v3/search?{urlencode({**params, 'type': 'txt'})}") as r:
            answer.text_by_budget[budget] = await r.text() if r.status == 200 else ""
        answer.tokens_by_budget[budget] = sum(int(s.get("tokens", 0)) for s in snippets)
    return answer, first


async def server_times(search_addr: str, questions: Sequence[Question]) -> list[float]:
    """SearchDocs without hints over gRPC, uncached, in ms (indexes loaded by a first call)."""
    times: list[float] = []
    async with open_channel(search_addr) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        await stub.SearchDocs(search_pb2.SearchDocsRequest(query="warm up"), timeout=60)
        for q in questions:
            started = time.perf_counter()
            await stub.SearchDocs(
                search_pb2.SearchDocsRequest(query=q.query, tokens=_UNCACHED_BUDGET), timeout=30
            )
            times.append((time.perf_counter() - started) * 1000)
    return times


async def register_set_project(search_addr: str, set_name: str) -> str:
    """Registers a project locking the set's libraries' packages (at their default versions)
    and returns its name."""
    name = f"eval-{set_name}"
    packages: list[search_pb2.LockedPackage] = []
    async with open_channel(search_addr) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        for library_id in sorted({"/" + q.library for q in questions_of(set_name)}):
            reply = await stub.GetLibrary(
                search_pb2.GetLibraryRequest(library_id=library_id), timeout=30
            )
            library = reply.library
            packages.extend(
                search_pb2.LockedPackage(
                    registry=p.registry, name=p.name, version=library.default_version
                )
                for p in library.packages
                if p.registry
            )
        await stub.RegisterProject(
            search_pb2.RegisterProjectRequest(name=name, packages=packages), timeout=30
        )
    return name


async def measure(
    url: str,
    search_addr: str,
    set_name: str = "dev",
    libraries: Sequence[str] = (),
    project: str = "",
) -> tuple[dict[str, Rows], dict[str, float], list[float], list[str]]:
    """`libraries`: those the hints are drawn from (owner/repo), by default the set's own;
    `project`: a registered project the `project` mode asks with (no such mode without)."""
    questions = questions_of(set_name)
    libraries = sorted(libraries or {q.library for q in questions})
    modes = (*MODES, PROJECT_MODE) if project else MODES
    rows: dict[str, Rows] = {mode: [] for mode in modes}
    right_first: dict[str, float] = {}
    misses: list[str] = []
    times = await server_times(search_addr, questions)
    async with aiohttp.ClientSession() as session:
        for mode in modes:
            right = 0
            for q in questions:
                if mode == "single":
                    answer = await ask_rest(session, url, q)
                    rows[mode].append((q, answer))
                    right += 1
                    continue
                hints = hints_for(q, libraries) if mode == "3 hints" else []
                asked = project if mode == PROJECT_MODE else ""
                answer, first = await ask_search(session, url, q, hints, asked)
                rows[mode].append((q, answer))
                right += first == "/" + q.library
                if first != "/" + q.library:
                    misses.append(f"{mode:8} {q.qid:14} first from {first or 'nothing'}")
            right_first[mode] = right / (len(questions) or 1)
    return rows, right_first, times, misses


def report(
    rows: dict[str, Rows],
    right_first: dict[str, float],
    times: list[float],
    misses: list[str],
    set_name: str = "dev",
    loaded: int = 4,
) -> dict[str, object]:
    modes = list(rows)
    summaries = {mode: summarise(rows[mode]) for mode in modes}
    print(f"\n== Cross-library retrieval, {set_name} questions (REST; single = /api/v2/context)")
    print(f"{'':22}" + "".join(f"{mode:>14}" for mode in modes))
    print(f"{'right library first':22}" + "".join(f"{right_first[m]:14.3f}" for m in modes))
    for metric in (
        "MRR",
        "Hit@1",
        "Hit@5",
        *(f"hit@{b}" for b in BUDGETS),
        "tokens median",
        "p50 ms",
    ):
        cells = "".join(f"{summaries[m][metric]:14.3f}" for m in modes)
        print(f"{metric:22}{cells}")
    single = summaries["single"]["MRR"]
    print(
        f"MRR gap to single: no hint {summaries['no hint']['MRR'] - single:+.3f} (target within "
        f"0.05), 3 hints {summaries['3 hints']['MRR'] - single:+.3f} (target within 0.02)"
        + (
            f", project {summaries[PROJECT_MODE]['MRR'] - single:+.3f}"
            if PROJECT_MODE in summaries
            else ""
        )
    )
    ordered = sorted(times) or [0.0]
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"SearchDocs server side, no hint, uncached, {loaded} libraries loaded (gRPC): "
        f"p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms (target p50 <= 30 ms)"
    )
    for miss in misses:
        print(f"   not first: {miss}")
    return {
        "right_library_first": right_first,
        "retrieval": summaries,
        "server_ms": {"p50": p50, "p95": p95},
    }


async def run_sets(
    ranking: str,
    url: str | None,
    search_addr: str,
    json_path: Path | None,
    set_names: Sequence[str],
    *,
    together: bool,
) -> None:
    """Measures a running stack at `url`, or a throwaway one with `ranking`'s embeddings: each
    set on its own libraries alone, or (`together`) every set's questions on one stack holding
    all their libraries, the hints drawn from all of them: the choice among many libraries
    a user with many dependencies meets, where each set alone offers four."""
    figures: dict[str, object] = {}
    groups = [tuple(set_names)] if together else [(name,) for name in set_names]
    for group in groups:
        started = time.perf_counter()
        names = sorted({lib.lstrip("/") for lib, _ in libraries_of(group)}) if together else []
        if url:
            for set_name in group:
                project = await register_set_project(search_addr, set_name) if together else ""
                measured = await measure(url.rstrip("/"), search_addr, set_name, names, project)
                figures[set_name] = report(
                    *measured, set_name=_title(set_name, together), loaded=len(names) or 4
                )
            continue
        if ranking == "model" and not model_installed():
            raise SystemExit("the local model is not installed (`make install-model`)")
        provider = "none" if ranking == "keyword" else "local"
        async with throwaway_stack(EMBEDDING_PROVIDER=provider) as stack:
            jobs = await ingest_folders(stack.env["INGEST_ADDR"], libraries_of(group))
            print(
                f"[{ranking}] ingested: "
                + ", ".join(f"{lib} {job.progress.snippets}" for lib, job in sorted(jobs.items())),
                flush=True,
            )
            await import_catalogs(stack.env["SEARCH_ADDR"])
            for set_name in group:
                search_addr = stack.env["SEARCH_ADDR"]
                project = await register_set_project(search_addr, set_name) if together else ""
                measured = await measure(stack.gateway_url, search_addr, set_name, names, project)
                figures[set_name] = report(
                    *measured, set_name=_title(set_name, together), loaded=len(jobs)
                )
        print(
            f"\nmake eval cross-library ({ranking}, {', '.join(group)}"
            f"{', together' if together else ''}): {time.perf_counter() - started:.0f}s"
        )
    if json_path:
        only = figures[set_names[0]] if len(set_names) == 1 else figures
        json_path.write_text(json.dumps(only, indent=2))


def _title(set_name: str, together: bool) -> str:
    return f"{set_name}, all sets' libraries together" if together else set_name


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ranking", choices=("keyword", "model"), default="keyword")
    parser.add_argument("--url", help="a running gateway with the dev libraries ingested")
    parser.add_argument("--search-addr", default="127.0.0.1:50052")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--set", choices=SETS, default="dev")
    parser.add_argument(
        "--together",
        action="store_true",
        help="all sets' libraries in one stack, every set's questions asked of all of them",
    )
    args = parser.parse_args()
    sets = SETS if args.together else (args.set,)
    await run_sets(
        args.ranking, args.url, args.search_addr, args.json, sets, together=args.together
    )


if __name__ == "__main__":
    asyncio.run(main())
