"""`make eval`: retrieval and resolution quality, dev set beside the frozen held-out sets.

Starts a throwaway stack per ranking, ingests the dev corpora (../shared/eval) and the releases
of the three held-out sets (bench/heldout, bench/heldout2 and bench/heldout3, fetched by pip and
npm into .data/heldout and checked by sha256), imports the package catalogs, then asks every
question through the real REST API at 1,000 / 2,500 / 5,000 tokens and prints, dev and held-out
1, 2 and 3 side by side: MRR, Hit@1, Hit@5,
hit@budget, median/mean tokens and REST p50, beside a plain BM25 ranking of the same snippets
(asked from the search service directly); per library and per kind; and resolution top-1 with
the catalogs loaded.

Rankings: `keyword` is EMBEDDING_PROVIDER=none, what `make run` serves until the local model is
installed; `model` is EMBEDDING_PROVIDER=local (measured when the model is installed). The
figures say which one `make run` serves by default.

    python -m bench.eval [--set dev|heldout|heldout2|heldout3|both|all]
                         [--ranking keyword|model|both] [--json FILE]
                         # all (the default): the four sets; both: dev, heldout
    python -m bench.eval --url http://127.0.0.1:3000 --search-addr 127.0.0.1:50052 [--set ...]
    python -m bench.eval --mode crosslib    # cross-library: no library id, or three hints
    python -m bench.eval --source registry  # the held-out releases ingested as users do:
                                            # pypi:click==8.5.1, npm:fastify@5.12.8...

With --url the running stack is measured as it is (its libraries must already be ingested).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from twinmcp.embedding.local import is_available as model_installed
from twinmcp.runtime.channels import open_channel
from twinmcp.search.v1 import search_pb2, search_pb2_grpc

from bench import heldout_corpus
from bench.stackctl import EVAL, corpus_libraries, import_catalogs, ingest_folders, throwaway_stack

BUDGETS = (1000, 2500, 5000)
MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
HELDOUT_SETS = heldout_corpus.HELDOUT_SETS
SETS = ("dev", *HELDOUT_SETS)
SET_TITLES = {"dev": "dev", **{name: s.title for name, s in HELDOUT_SETS.items()}}
# What --set accepts: one set, `both` (dev and set 1, as before set 2 existed) or `all`.
SET_CHOICES = {
    **{name: (name,) for name in SETS},
    "both": ("dev", "heldout"),
    "all": SETS,
}

# Dev resolution queries: (what a user or agent types, the library id or package name expected
# first). The held-out cases live in each held-out set's resolution-<date>.jsonl.
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


@dataclass(frozen=True)
class ResolutionCase:
    query: str
    expect: tuple[str, ...]
    kind: str = "dev"


@dataclass
class ResolutionOutcome:
    correct: int = 0
    total: int = 0
    latencies: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


Rows = list[tuple[Question, Answer]]


def load_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.read_text().splitlines():
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


def questions_of(name: str) -> list[Question]:
    if name == "dev":
        return load_questions(EVAL / "dev-questions.jsonl")
    return load_questions(HELDOUT_SETS[name].questions)


def resolution_cases_of(name: str) -> list[ResolutionCase]:
    if name == "dev":
        return [ResolutionCase(query, (expected,)) for query, expected in RESOLUTION_CASES]
    kinds = []
    for row in heldout_corpus.load_rows(HELDOUT_SETS[name].resolution):
        documented = "documented" if row.get("documented") else "catalog"
        kinds.append(
            ResolutionCase(
                str(row["query"]),
                tuple(str(e) for e in row["expect"]),  # type: ignore[attr-defined]
                f"{documented} {row['kind']}",
            )
        )
    return kinds


def make_run_installs_model(makefile: Path = MAKEFILE) -> bool:
    """Whether `make run` installs the local model (then it serves the model's ranking)."""
    match = re.search(r"^run:([^\n]*)", makefile.read_text(), re.MULTILINE)
    if match is None:
        return False
    return any(word in ("install-model", "$(MODEL_STAMP)") for word in match.group(1).split())


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


async def ask_baseline(stub: search_pb2_grpc.SearchServiceAsyncStub, q: Question) -> Answer | None:
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
    figures = {"n": float(len(rows))}
    figures["MRR"] = sum(1 / r for r in ranks if r) / n
    figures["Hit@1"] = sum(r == 1 for r in ranks) / n
    figures["Hit@5"] = sum(0 < r <= 5 for r in ranks) / n
    for b in BUDGETS:
        figures[f"hit@{b}"] = (
            sum(any(m in a.text_by_budget.get(b, "") for m in q.must) for q, a in rows) / n
        )
    tokens = [a.tokens_by_budget.get(BUDGETS[-1], 0) for _, a in rows] or [0]
    latencies = sorted(a.latency_ms for _, a in rows) or [0.0]
    figures["tokens median"] = statistics.median(tokens)
    figures["tokens mean"] = statistics.mean(tokens)
    figures["p50 ms"] = statistics.median(latencies)
    figures["p95 ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    return figures


METRICS = (
    "MRR",
    "Hit@1",
    "Hit@5",
    *(f"hit@{b}" for b in BUDGETS),
    "tokens median",
    "tokens mean",
    "p50 ms",
    "p95 ms",
)


def _cell(metric: str, value: float | None) -> str:
    if value is None:
        return f"{'-':>13}"
    if "tokens" in metric or "ms" in metric:
        return f"{value:13.1f}"
    return f"{value:13.3f}"


def ranking_order(name: str) -> tuple[int, str]:
    """Served rankings first, the BM25 baseline last."""
    return ({"served": 0, "keyword": 1, "model": 2, "bm25": 3}.get(name, 9), name)


def ordered_rankings(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=ranking_order)


def print_side_by_side(
    results: dict[tuple[str, str], Rows], labels: dict[str, str], sets: Sequence[str]
) -> None:
    """Metrics as rows; for each ranking a dev column beside a held-out column."""
    rankings = ordered_rankings(r for _, r in results)
    columns = [(s, r) for r in rankings for s in sets if (s, r) in results]
    print("\n== Retrieval: dev beside the held-out sets (REST /api/v2/context; bm25 over gRPC)")
    for ranking in rankings:
        print(f"   {ranking}: {labels.get(ranking, ranking)}")
    print(f"{'':14}" + "".join(f"{SET_TITLES[s] + ' ' + r:>20}" for s, r in columns))
    summaries = {key: summarise(results[key]) for key in columns}
    print(f"{'questions':14}" + "".join(f"{int(summaries[k]['n']):>20}" for k in columns))
    for metric in METRICS:
        print(
            f"{metric:14}"
            + "".join("       " + _cell(metric, summaries[k][metric]) for k in columns)
        )


def print_breakdown(title: str, groups: dict[str, dict[str, Rows]]) -> None:
    """One row per group and ranking."""
    columns = [
        "MRR",
        "Hit@1",
        "Hit@5",
        *(f"hit@{b}" for b in BUDGETS),
        "tokens median",
        "p50 ms",
    ]
    print(f"\n{title}")
    print(f"{'group':30} {'ranking':8} {'n':>3} " + " ".join(f"{c:>13}" for c in columns))
    for name in sorted(groups):
        for ranking in ordered_rankings(groups[name]):
            rows = groups[name][ranking]
            if not rows:
                continue
            figures = summarise(rows)
            cells = " ".join(_cell(c, figures[c]) for c in columns)
            print(f"{name:30} {ranking:8} {len(rows):>3} {cells}")


def print_breakdowns(results: dict[tuple[str, str], Rows], sets: Sequence[str]) -> None:
    for set_name in sets:
        by_library: dict[str, dict[str, Rows]] = defaultdict(dict)
        by_kind: dict[str, dict[str, Rows]] = defaultdict(dict)
        for (s, ranking), rows in results.items():
            if s != set_name:
                continue
            for q, a in rows:
                by_library[q.library].setdefault(ranking, []).append((q, a))
                by_kind[q.kind].setdefault(ranking, []).append((q, a))
        title = SET_TITLES[set_name]
        print_breakdown(f"-- {title}, per library", by_library)
        print_breakdown(f"-- {title}, per kind", by_kind)


def print_misses(results: dict[tuple[str, str], Rows], sets: Sequence[str]) -> None:
    """The held-out questions whose expected file is not in the top 5, or whose answer at the
    largest budget shows none of the expected strings, for each held-out set and ranking."""
    budget = BUDGETS[-1]
    for (s, ranking), rows in sorted(
        results.items(), key=lambda i: (SETS.index(i[0][0]), ranking_order(i[0][1]))
    ):
        if s not in HELDOUT_SETS or s not in sets or ranking == "bm25":
            continue
        misses = [
            (q, _rank(a, q), any(m in a.text_by_budget.get(budget, "") for m in q.must))
            for q, a in rows
        ]
        misses = [(q, rank, hit) for q, rank, hit in misses if not (0 < rank <= 5 and hit)]
        print(
            f"\n-- {SET_TITLES[s]} misses ({ranking}): file not in the top 5, or no string at "
            f"{budget}"
        )
        for q, rank, hit in misses:
            where = f"rank {rank}" if rank else "not returned"
            shown = "string shown" if hit else "no string"
            print(f"   {q.qid:16} {q.kind:8} {where:13} {shown:13} {q.query[:70]}")


def _matches(top: dict[str, object], expect: Sequence[str]) -> bool:
    top_id = str(top.get("id", ""))
    names = {
        top_id.lower(),
        str(top.get("title", "")).lower(),
        *(str(n).lower() for n in top.get("packageNames", []) or []),  # type: ignore[attr-defined]
    }
    for expected in expect:
        wanted = expected.lower()
        if wanted in names:
            return True
        # A catalog package named in `expect` is served as /<registry>/<name>.
        if not expected.startswith("/") and top_id.lower().split("/", 2)[-1] == wanted:
            return True
    return False


async def resolution(
    session: aiohttp.ClientSession, url: str, cases: Sequence[ResolutionCase]
) -> ResolutionOutcome:
    outcome = ResolutionOutcome(total=len(cases))
    for case in cases:
        started = time.perf_counter()
        query = urlencode({"libraryName": case.query, "query": case.query})
        async with session.get(f"{url}/api/v2/libs/search?{query}") as r:
            status = r.status
            body = await r.json(content_type=None) if r.status == 200 else {}
        outcome.latencies.append((time.perf_counter() - started) * 1000)
        results = body.get("results", []) if isinstance(body, dict) else []
        top = results[0] if results else {}
        tally = outcome.by_kind[case.kind]
        tally[1] += 1
        if _matches(top, case.expect):
            outcome.correct += 1
            tally[0] += 1
        else:
            got = top.get("id") or (f"HTTP {status}" if status != 200 else "no result")
            outcome.misses.append(f"{case.query!r} -> {got} (expected {' or '.join(case.expect)})")
    return outcome


def print_resolution(
    outcomes: dict[tuple[str, str], ResolutionOutcome], sets: Sequence[str]
) -> None:
    rankings = ordered_rankings(r for _, r in outcomes)
    print("\n== Resolution top-1 (GET /api/v2/libs/search, both catalogs loaded)")
    print(f"{'ranking':10}" + "".join(f"{SET_TITLES[s]:>22}" for s in sets) + "   REST p50 ms")
    for ranking in rankings:
        cells = []
        p50s = []
        for s in sets:
            outcome = outcomes.get((s, ranking))
            if outcome is None:
                cells.append(f"{'-':>22}")
                continue
            share = outcome.correct / (outcome.total or 1)
            cells.append(f"{f'{outcome.correct}/{outcome.total} ({share:.3f})':>22}")
            p50s.append(f"{SET_TITLES[s]} {outcome.p50:.1f}")
        print(f"{ranking:10}" + "".join(cells) + "   " + ", ".join(p50s))
    for (s, ranking), outcome in outcomes.items():
        if s in HELDOUT_SETS:
            kinds = ", ".join(
                f"{kind} {hit}/{n}" for kind, (hit, n) in sorted(outcome.by_kind.items())
            )
            print(f"   {SET_TITLES[s]} by kind ({ranking}): {kinds}")
        for miss in outcome.misses:
            print(f"   miss ({SET_TITLES[s]}, {ranking}): {miss}")


async def measure(
    url: str, search_addr: str, sets: Sequence[str], ranking: str, with_baseline: bool
) -> tuple[dict[tuple[str, str], Rows], dict[tuple[str, str], ResolutionOutcome]]:
    results: dict[tuple[str, str], Rows] = {}
    outcomes: dict[tuple[str, str], ResolutionOutcome] = {}
    async with aiohttp.ClientSession() as session, open_channel(search_addr) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        for set_name in sets:
            rows: Rows = []
            base_rows: Rows = []
            for q in questions_of(set_name):
                rows.append((q, await ask_rest(session, url, q)))
                if with_baseline:
                    baseline = await ask_baseline(stub, q)
                    if baseline is not None:
                        base_rows.append((q, baseline))
            results[(set_name, ranking)] = rows
            if base_rows:
                results[(set_name, "bm25")] = base_rows
            outcomes[(set_name, ranking)] = await resolution(
                session, url, resolution_cases_of(set_name)
            )
    return results, outcomes


def registry_sources_of(sets: Sequence[str]) -> list[tuple[str, Path | str]]:
    """The held-out sets' releases as a user ingests them (`twinmcp ingest pypi:click==8.5.1`):
    registry sources, read as ingest reads any release (its docs folder, README, the API pages
    it generates), not the manifest's doc_globs; the dev set, no release, stays its folders."""
    libraries: list[tuple[str, Path | str]] = []
    if "dev" in sets:
        libraries += corpus_libraries()
    for name in sets:
        for release in HELDOUT_SETS[name].releases() if name in HELDOUT_SETS else ():
            pin = "==" if release.registry == "pypi" else "@"
            libraries.append(
                (release.library_id, f"{release.registry}:{release.package}{pin}{release.version}")
            )
    return libraries


def libraries_of(sets: Sequence[str]) -> list[tuple[str, Path]]:
    libraries: list[tuple[str, Path]] = []
    if "dev" in sets:
        libraries += corpus_libraries()
    for name in sets:
        if name not in HELDOUT_SETS:
            continue
        try:
            libraries += heldout_corpus.prepare(heldout_set=name)
        except heldout_corpus.CorpusError as error:
            raise SystemExit(f"{SET_TITLES[name]} corpus: {error}") from None
    return libraries


async def measure_stack(
    ranking: str,
    provider: str,
    sets: Sequence[str],
    libraries: Sequence[tuple[str, Path | str]],
    with_baseline: bool,
) -> tuple[dict[tuple[str, str], Rows], dict[tuple[str, str], ResolutionOutcome]]:
    """A throwaway stack with EMBEDDING_PROVIDER=`provider`: ingest, catalogs, questions.

    The BM25 baseline does not depend on vectors, so it is asked in one stack only."""
    async with throwaway_stack(EMBEDDING_PROVIDER=provider) as stack:
        started = time.perf_counter()
        jobs = await ingest_folders(stack.env["INGEST_ADDR"], libraries)
        counts = Counter[str]()
        for library_id, job in jobs.items():
            counts[library_id] = job.progress.snippets
            if job.progress.snippets == 0:
                print(f"   {library_id}: NO snippets (job state {job.state}): {job.error}")
        print(
            f"[{ranking}] ingested {len(jobs)} libraries in {time.perf_counter() - started:.1f}s: "
            + ", ".join(f"{lib} {n}" for lib, n in sorted(counts.items())),
            flush=True,
        )
        await import_catalogs(stack.env["SEARCH_ADDR"])
        started = time.perf_counter()
        measured = await measure(
            stack.gateway_url,
            stack.env["SEARCH_ADDR"],
            sets,
            ranking,
            with_baseline,
        )
        print(f"[{ranking}] asked in {time.perf_counter() - started:.1f}s", flush=True)
        return measured


def to_json(
    results: dict[tuple[str, str], Rows], outcomes: dict[tuple[str, str], ResolutionOutcome]
) -> dict[str, object]:
    return {
        "retrieval": {f"{s}/{r}": summarise(rows) for (s, r), rows in results.items()},
        "resolution": {
            f"{s}/{r}": {"correct": o.correct, "total": o.total, "p50_ms": o.p50}
            for (s, r), o in outcomes.items()
        },
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--set",
        choices=tuple(SET_CHOICES),
        default="all",
        help="all: dev and the three held-out sets side by side; both: dev and held-out",
    )
    parser.add_argument("--ranking", choices=("keyword", "model", "both"), default="both")
    parser.add_argument("--url", help="a running gateway; default: start throwaway stacks")
    parser.add_argument("--search-addr", default="127.0.0.1:50052")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--source",
        choices=("folder", "registry"),
        default="folder",
        help="registry: ingest the held-out releases from their registries (pypi:/npm:, as "
        "`twinmcp ingest` does) instead of their manifests' documentation files",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="crosslib: one stack with every chosen set's libraries, each set's questions "
        "asked of all of them (hints drawn from all)",
    )
    parser.add_argument(
        "--mode",
        choices=("single", "crosslib"),
        default="single",
        help="crosslib: the questions asked with no library and with three library hints "
        "(bench/eval_crosslib.py; --set dev|heldout|heldout2|heldout3, keyword ranking unless "
        "--ranking model)",
    )
    args = parser.parse_args()
    if args.mode == "crosslib":
        from bench import eval_crosslib  # noqa: PLC0415  it imports this module

        ranking = "model" if args.ranking == "model" else "keyword"
        await eval_crosslib.run_sets(
            ranking,
            args.url,
            args.search_addr,
            args.json,
            SET_CHOICES[args.set],
            together=args.together,
        )
        return
    sets = SET_CHOICES[args.set]
    started = time.perf_counter()
    results: dict[tuple[str, str], Rows] = {}
    outcomes: dict[tuple[str, str], ResolutionOutcome] = {}
    default_model = make_run_installs_model()
    labels = {
        "keyword": "EMBEDDING_PROVIDER=none, keyword ranking"
        + ("" if default_model else " (what `make run` serves: it does not install the model)"),
        "model": "EMBEDDING_PROVIDER=local, the local MiniLM model"
        + (" (what `make run` serves)" if default_model else " (once `make install-model` ran)"),
        "bm25": "plain BM25 over the same snippets (search's ranker=bm25)",
        "served": "the running stack at --url, as configured",
    }
    if args.url:
        results, outcomes = await measure(
            args.url.rstrip("/"), args.search_addr, sets, "served", with_baseline=True
        )
    else:
        libraries: Sequence[tuple[str, Path | str]] = (
            registry_sources_of(sets) if args.source == "registry" else libraries_of(sets)
        )
        rankings = ["keyword", "model"] if args.ranking == "both" else [args.ranking]
        for ranking in rankings:
            if ranking == "model" and not model_installed():
                print("[model] the local model is not installed (`make install-model`): skipped")
                continue
            provider = "none" if ranking == "keyword" else "local"
            measured, resolved = await measure_stack(
                ranking, provider, sets, libraries, with_baseline=not results
            )
            results.update(measured)
            outcomes.update(resolved)
    print_side_by_side(results, labels, sets)
    print_breakdowns(results, sets)
    print_misses(results, sets)
    print_resolution(outcomes, sets)
    if args.json:
        args.json.write_text(json.dumps(to_json(results, outcomes), indent=2))
    print(f"\nmake eval: {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    asyncio.run(main())
