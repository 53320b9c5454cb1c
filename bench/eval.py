"""`make eval`: retrieval quality of a running (or throwaway) stack on ../shared/eval.

Ingests the four dev corpora, imports the package catalogs, asks the 80 dev questions through the
real REST API at 1,000 / 2,500 / 5,000 tokens, and prints per library and per kind: hit@budget,
MRR, Hit@1, Hit@5, mean and median tokens, p50/p95 latency; beside the same figures for a plain
BM25 ranking over the same snippets (asked from the search service directly). Then resolution
accuracy (top-1) and latency on name, typo and description queries with the catalog loaded.

`python -m bench.eval [--url http://127.0.0.1:3000 --search-addr 127.0.0.1:50052]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from twinmcp.cli.commands import read_catalog
from twinmcp.runtime.channels import open_channel
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2, search_pb2_grpc

from bench.stackctl import EVAL, corpus_libraries, ingest_folders, throwaway_stack

BUDGETS = (1000, 2500, 5000)

# Resolution queries: (what a user or agent types, the library id or package name expected first).
RESOLUTION_CASES: tuple[tuple[str, str], ...] = (
    ("fastapi", "/fastapi/fastapi"),
    ("FastAPI", "/fastapi/fastapi"),
    ("fast api", "/fastapi/fastapi"),
    ("fastapi/fastapi", "/fastapi/fastapi"),
    ("flask", "/pallets/flask"),
    ("Flask", "/pallets/flask"),
    ("falsk", "/pallets/flask"),
    ("httpx", "/encode/httpx"),
    ("HTTPX", "/encode/httpx"),
    ("htpx", "/encode/httpx"),
    ("pydantic", "/pydantic/pydantic"),
    ("pydnatic", "/pydantic/pydantic"),
    ("Pydantic v2", "/pydantic/pydantic"),
    ("pydantic 2", "/pydantic/pydantic"),
    ("requests", "requests"),
    ("reqeusts", "requests"),
    ("numpy", "numpy"),
    ("nunpy", "numpy"),
    ("boto3", "boto3"),
    ("scikit-learn", "scikit-learn"),
    ("sklearn", "scikit-learn"),
    ("python terminal formatting library", "rich"),
    ("rich text and beautiful formatting in the terminal", "rich"),
    ("react", "react"),
    ("React", "react"),
    ("react-dom", "react-dom"),
    ("preact", "preact"),
    ("next.js", "next"),
    ("Next.js", "next"),
    ("nextjs", "next"),
    ("vue 3", "vue"),
    ("lodash", "lodash"),
    ("lodahs", "lodash"),
    ("express", "express"),
    ("expressjs", "express"),
    ("typescript", "typescript"),
    ("type script", "typescript"),
    ("sqlalchemy", "sqlalchemy"),
    ("SQL Alchemy", "sqlalchemy"),
    ("pytest", "pytest"),
    ("python testing framework", "pytest"),
    ("date utility library javascript", "date-fns"),
)


@dataclass
class Answer:
    text_by_budget: dict[int, str] = field(default_factory=dict)
    tokens_by_budget: dict[int, int] = field(default_factory=dict)
    ranked_paths: list[str] = field(default_factory=list)
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Question:
    qid: str
    library: str
    query: str
    expect_files: tuple[str, ...]
    must: tuple[str, ...]
    kind: str


def load_questions() -> list[Question]:
    questions = []
    for line in (EVAL / "dev-questions.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(
                Question(
                    row["id"],
                    row["library"],
                    row["query"],
                    tuple(row["expect_files"]),
                    tuple(row["must_contain_any"]),
                    row["kind"],
                )
            )
    return questions


async def ask_rest(session: aiohttp.ClientSession, url: str, q: Question) -> Answer:
    answer = Answer()
    for budget in BUDGETS:
        params = {"libraryId": "/" + q.library, "query": q.query, "tokens": budget}
        started = time.perf_counter()
        async with session.get(
            f"{url}/api/v2/context?{urlencode({**params, 'type': 'json'})}"
        ) as r:
            body = await r.json(content_type=None) if r.status == 200 else {"snippets": []}
        if budget == BUDGETS[-1]:
            answer.latency_ms = (time.perf_counter() - started) * 1000
            answer.ranked_paths = [s.get("source", {}).get("path", "") for s in body["snippets"]]
        async with session.get(f"{url}/api/v2/context?{urlencode({**params, 'type': 'txt'})}") as r:
            answer.text_by_budget[budget] = await r.text() if r.status == 200 else ""
        answer.tokens_by_budget[budget] = sum(int(s.get("tokens", 0)) for s in body["snippets"])
    return answer


async def ask_baseline(stub: search_pb2_grpc.SearchServiceStub, q: Question) -> Answer | None:
    if "ranker" not in search_pb2.QueryDocsRequest.DESCRIPTOR.fields_by_name:
        return None
    answer = Answer()
    for budget in BUDGETS:
        started = time.perf_counter()
        reply = await stub.QueryDocs(
            search_pb2.QueryDocsRequest(
                library_id="/" + q.library, query=q.query, tokens=budget, ranker="bm25"
            ),
            timeout=30,
        )
        if budget == BUDGETS[-1]:
            answer.latency_ms = (time.perf_counter() - started) * 1000
            answer.ranked_paths = [s.source_path for s in reply.snippets]
        answer.text_by_budget[budget] = "\n".join(
            f"{s.title}\n{s.description}\n{s.content}" for s in reply.snippets
        )
        answer.tokens_by_budget[budget] = reply.tokens_used
    return answer


def _rank(answer: Answer, q: Question) -> int:
    for index, path in enumerate(answer.ranked_paths, start=1):
        if path in q.expect_files:
            return index
    return 0


def summarise(rows: Sequence[tuple[Question, Answer]]) -> dict[str, float]:
    n = len(rows) or 1
    ranks = [_rank(a, q) for q, a in rows]
    figures = {
        f"hit@{b}": sum(any(m in a.text_by_budget.get(b, "") for m in q.must) for q, a in rows) / n
        for b in BUDGETS
    }
    figures["MRR"] = sum(1 / r for r in ranks if r) / n
    figures["Hit@1"] = sum(r == 1 for r in ranks) / n
    figures["Hit@5"] = sum(0 < r <= 5 for r in ranks) / n
    tokens = [a.tokens_by_budget.get(BUDGETS[-1], 0) for _, a in rows] or [0]
    latencies = sorted(a.latency_ms for _, a in rows) or [0.0]
    figures["tokens mean"] = statistics.mean(tokens)
    figures["tokens median"] = statistics.median(tokens)
    figures["p50 ms"] = latencies[len(latencies) // 2]
    figures["p95 ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    return figures


def print_table(
    title: str,
    groups: dict[str, list[tuple[Question, Answer]]],
    baseline: dict[str, list[tuple[Question, Answer]]],
) -> None:
    columns = [
        *(f"hit@{b}" for b in BUDGETS),
        "MRR",
        "Hit@1",
        "Hit@5",
        "tokens mean",
        "tokens median",
        "p50 ms",
        "p95 ms",
    ]
    print(f"\n{title}")
    print(f"{'group':22} {'ranker':8} " + " ".join(f"{c:>13}" for c in columns))
    for name, rows in groups.items():
        for ranker, figures in (
            ("twinmcp", summarise(rows)),
            ("bm25", summarise(baseline.get(name, []))),
        ):
            if ranker == "bm25" and not baseline.get(name):
                continue
            cells = [
                f"{figures[c]:13.1f}" if "tokens" in c or "ms" in c else f"{figures[c]:13.3f}"
                for c in columns
            ]
            print(f"{name:22} {ranker:8} " + " ".join(cells))


async def resolution(session: aiohttp.ClientSession, url: str) -> None:
    correct, latencies, misses = 0, [], []
    for query, expected in RESOLUTION_CASES:
        started = time.perf_counter()
        async with session.get(
            f"{url}/api/v2/libs/search?{urlencode({'libraryName': query, 'query': query})}"
        ) as r:
            body = await r.json(content_type=None)
        latencies.append((time.perf_counter() - started) * 1000)
        results = body.get("results", [])
        top = results[0] if results else {}
        names = {
            str(top.get("id", "")),
            str(top.get("title", "")).lower(),
            *(str(n).lower() for n in top.get("packageNames", [])),
        }
        if expected in names or expected.lower() in names:
            correct += 1
        else:
            misses.append(f"{query!r} -> {top.get('id', '(none)')} (expected {expected})")
    latencies.sort()
    print(
        f"\nResolution: top-1 {correct}/{len(RESOLUTION_CASES)} "
        f"({correct / len(RESOLUTION_CASES):.3f}), REST p50 {latencies[len(latencies) // 2]:.1f} ms"
    )
    for miss in misses:
        print(f"  miss: {miss}")


async def evaluate(url: str, search_addr: str) -> None:
    questions = load_questions()
    rows: list[tuple[Question, Answer]] = []
    base_rows: list[tuple[Question, Answer]] = []
    async with aiohttp.ClientSession() as session, open_channel(search_addr) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        for q in questions:
            rows.append((q, await ask_rest(session, url, q)))
            baseline = await ask_baseline(stub, q)
            if baseline is not None:
                base_rows.append((q, baseline))
        by: dict[str, dict[str, list[tuple[Question, Answer]]]] = {
            "library": defaultdict(list),
            "kind": defaultdict(list),
        }
        base_by: dict[str, dict[str, list[tuple[Question, Answer]]]] = {
            "library": defaultdict(list),
            "kind": defaultdict(list),
        }
        for target, source in ((by, rows), (base_by, base_rows)):
            for q, a in source:
                target["library"][q.library].append((q, a))
                target["kind"][q.kind].append((q, a))
        print_table("Overall", {"all": rows}, {"all": base_rows})
        print_table("Per library", by["library"], base_by["library"])
        print_table("Per kind", by["kind"], base_by["kind"])
        if not base_rows:
            print("(the search service has no `ranker` option: no BM25 baseline printed)")
        await resolution(session, url)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a running gateway; default: start a throwaway stack")
    parser.add_argument("--search-addr", default="127.0.0.1:50052")
    args = parser.parse_args()
    if args.url:
        await evaluate(args.url.rstrip("/"), args.search_addr)
        return
    async with throwaway_stack() as stack:
        started = time.perf_counter()
        jobs = await ingest_folders(stack.env["INGEST_ADDR"], corpus_libraries())
        for library_id, job in jobs.items():
            print(f"ingested {library_id}: {job.progress.snippets} snippets, state {job.state}")
        print(f"ingest of the four corpora: {time.perf_counter() - started:.1f}s")
        async with open_channel(stack.env["SEARCH_ADDR"]) as channel:
            stub = index_pb2_grpc.IndexServiceStub(channel)
            for path in sorted(Path(EVAL / "catalog").glob("*.tsv")):
                entries = read_catalog(path)
                for start in range(0, len(entries), 5000):
                    await stub.ImportCatalog(
                        index_pb2.ImportCatalogRequest(entries=entries[start : start + 5000]),
                        timeout=120,
                    )
        await evaluate(stack.gateway_url, stack.env["SEARCH_ADDR"])


if __name__ == "__main__":
    asyncio.run(main())
