"""Retrieval quality of the search domain on ../shared/eval, beside a plain BM25 baseline.

    .venv/bin/python -m bench.search_quality [--dense] [--standin] [--json FILE]

Chunks the corpus (ingest's chunker when installed), indexes each library in-process with the
same code the search service runs, asks the 80 dev questions and prints, per library and per
kind: hit@1000/2500/5000 tokens, MRR, Hit@1, Hit@5, mean/median tokens returned at 5000 and
p50/p95 latency. Then resolution accuracy (top-1) on hand-written queries over the catalog.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from twinmcp.search.packing import Packed, pack
from twinmcp.search.ranking import DEFAULT_PARAMS, RankingParams, VersionIndex
from twinmcp.search.snippets import SnippetRecord
from twinmcp.tokens import truncate_to_tokens

from bench.search_corpus import QUESTIONS, iter_libraries, library_snippets
from bench.search_resolution import report as resolution_report

BUDGETS = (1000, 2500, 5000)
CACHE_DIR = Path(".data/bench-embeddings")


@dataclass
class Question:
    id: str
    library: str
    query: str
    expect_files: list[str]
    must_contain_any: list[str]
    kind: str


@dataclass
class Outcome:
    hits: dict[int, bool]
    reciprocal_rank: float
    tokens: int
    seconds: float


@dataclass
class Table:
    rows: dict[str, list[Outcome]] = field(default_factory=lambda: defaultdict(list))

    def add(self, keys: Sequence[str], outcome: Outcome) -> None:
        for key in keys:
            self.rows[key].append(outcome)


def load_questions() -> list[Question]:
    with QUESTIONS.open() as handle:
        return [Question(**json.loads(line)) for line in handle if line.strip()]


def text_of(snippet: SnippetRecord) -> str:
    return f"{snippet.title}\n{snippet.description}\n{snippet.content}"


def evaluate(question: Question, answer_at: Callable[[int], tuple[Packed, float]]) -> Outcome:
    hits: dict[int, bool] = {}
    reciprocal = 0.0
    tokens = 0
    seconds = 0.0
    for budget in BUDGETS:
        packed, elapsed = answer_at(budget)
        assert packed.tokens_used <= budget, "budget exceeded"
        text = "\n".join(text_of(r.snippet) for r in packed.snippets)
        hits[budget] = any(s in text for s in question.must_contain_any)
        if budget == BUDGETS[-1]:
            tokens = packed.tokens_used
            seconds = elapsed
            for rank, item in enumerate(packed.snippets, start=1):
                if item.snippet.source_path in question.expect_files:
                    reciprocal = 1.0 / rank
                    break
    return Outcome(hits, reciprocal, tokens, seconds)


class Baseline:
    """The service's `ranker="bm25"`: plain BM25 over title+content, packed in rank order."""

    def __init__(self, index: VersionIndex) -> None:
        self.index = index

    def answer(self, query: str, budget: int) -> Packed:
        return pack(self.index.search_bm25(query), budget, relevance_floor=0.0)


def summarise(table: Table, title: str) -> list[str]:
    lines = [f"\n== {title}"]
    header = (
        f"{'group':<22}{'n':>4}"
        + "".join(f"{'hit@' + str(b):>10}" for b in BUDGETS)
        + f"{'MRR':>7}{'Hit@1':>7}{'Hit@5':>7}{'tok_mean':>9}{'tok_med':>8}{'p50ms':>7}{'p95ms':>7}"
    )
    lines.append(header)
    for key in sorted(table.rows, key=lambda k: (k != "ALL", k)):
        outcomes = table.rows[key]
        n = len(outcomes)
        hit = "".join(f"{sum(o.hits[b] for o in outcomes) / n:>10.3f}" for b in BUDGETS)
        mrr = sum(o.reciprocal_rank for o in outcomes) / n
        hit1 = sum(o.reciprocal_rank >= 1.0 for o in outcomes) / n
        hit5 = sum(o.reciprocal_rank >= 0.2 for o in outcomes) / n
        tokens = [o.tokens for o in outcomes]
        latencies = sorted(o.seconds * 1000 for o in outcomes)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        lines.append(
            f"{key:<22}{n:>4}{hit}{mrr:>7.3f}{hit1:>7.3f}{hit5:>7.3f}"
            f"{statistics.mean(tokens):>9.0f}{statistics.median(tokens):>8.0f}"
            f"{statistics.median(latencies):>7.2f}{p95:>7.2f}"
        )
    return lines


def embedding_text(snippet: SnippetRecord) -> str:
    """What ingest embeds for a snippet (its own helper when installed)."""
    try:
        # The ingest service is optional here.
        from twinmcp.ingest.pipeline import (  # type: ignore[import-not-found]  # noqa: PLC0415
            EMBED_TOKENS,
        )
    except ImportError:
        EMBED_TOKENS = 256

    text = "\n".join(
        p for p in (" > ".join(snippet.breadcrumb), snippet.title, snippet.content) if p
    )
    return str(truncate_to_tokens(text, EMBED_TOKENS))


def embed_snippets(library: str, snippets: list[SnippetRecord]) -> tuple[np.ndarray, object]:
    from twinmcp.embedding import create_embedder  # noqa: PLC0415  optional here

    embedder = create_embedder({"EMBEDDING_PROVIDER": "local"})
    assert embedder is not None
    texts = [embedding_text(s) for s in snippets]
    digest = hashlib.sha1(("\0".join(texts) + embedder.model).encode()).hexdigest()[:16]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = CACHE_DIR / f"{library.replace('/', '__')}-{digest}.npy"
    if cached.exists():
        return np.load(cached), embedder
    vectors = np.asarray(asyncio.run(embedder.embed(texts)), dtype=np.float32)
    np.save(cached, vectors)
    return vectors, embedder


def run(args: argparse.Namespace, params: RankingParams = DEFAULT_PARAMS) -> dict[str, Table]:
    questions = load_questions()
    ours, baseline = Table(), Table()
    for library in iter_libraries():
        snippets, chunker = library_snippets(library, standin=args.standin)
        vectors = None
        embedder = None
        if args.dense:
            vectors, embedder = embed_snippets(library, snippets)
        started = time.perf_counter()
        index = VersionIndex.build(library, snippets, vectors)
        built = time.perf_counter() - started
        plain = Baseline(index)
        print(f"{library}: {len(snippets)} snippets ({chunker}), index built in {built:.2f}s")
        for question in (q for q in questions if q.library == library):
            query_vector = None
            if embedder is not None:
                query_vector = np.asarray(
                    asyncio.run(embedder.embed([question.query]))[0],  # type: ignore[attr-defined]
                    dtype=np.float32,
                )

            def ours_at(
                budget: int,
                q: Question = question,
                v: object = query_vector,
                index: VersionIndex = index,
            ) -> tuple[Packed, float]:
                started = time.perf_counter()
                ranked = index.search(q.query, v, params)  # type: ignore[arg-type]
                packed = pack(ranked, budget)
                return packed, time.perf_counter() - started

            def base_at(
                budget: int, q: Question = question, plain: Baseline = plain
            ) -> tuple[Packed, float]:
                started = time.perf_counter()
                packed = plain.answer(q.query, budget)
                return packed, time.perf_counter() - started

            keys = ("ALL", library, f"kind:{question.kind}")
            outcome = evaluate(question, ours_at)
            ours.add(keys, outcome)
            baseline.add(keys, evaluate(question, base_at))
            if args.verbose and outcome.reciprocal_rank < 1:
                print(f"  {question.id} rr={outcome.reciprocal_rank:.2f} hits={outcome.hits}")
    return {"ours": ours, "baseline": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dense", action="store_true", help="add local MiniLM vectors")
    parser.add_argument("--standin", action="store_true", help="use the bench's own chunker")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--fusion", default=DEFAULT_PARAMS.fusion)
    args = parser.parse_args()
    params = RankingParams(fusion=args.fusion)
    tables = run(args, params)
    for line in summarise(tables["ours"], "TwinMCP search"):
        print(line)
    for line in summarise(tables["baseline"], "baseline: plain BM25"):
        print(line)
    for line in resolution_report():
        print(line)


if __name__ == "__main__":
    main()
