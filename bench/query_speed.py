"""QueryDocs's CPU work in process: answers to compare across a change, and warm timings.

Ranking, packing, cleaning and rendering as `answering.Answerer.query_docs` runs them (keyword
ranking, the injection screen's verdicts remembered), without gRPC, the database or caches:

    python -m bench.query_speed snapshot FILE   # every answer, written to FILE (JSON)
    python -m bench.query_speed compare FILE    # the same answers again: any that differ
    python -m bench.query_speed time [--queries N]

The answers: every dev and held-out question (bench/heldout, bench/heldout2; prepare their
corpora with `python -m bench.heldout_corpus prepare --set all`) at 150, 400, 1,000, 2,500 and
5,000 tokens and once with owner rules, and 300 questions on the scale benchmark's
5,000-snippet library (bench.scale_bench's data, its questions). A speed-up of ranking or
rendering must leave them byte-identical: text, snippets, tokens and scores.

`time` asks that 5,000-snippet library (its index read back from its blob, as the service
loads it) warm questions at 5,000 tokens and prints p50 / p99 of each stage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twinmcp.search.ownertext import clean_snippet, snippet_injection
from twinmcp.search.packing import pack
from twinmcp.search.ranking import VersionIndex
from twinmcp.search.rendering import Header, render_docs
from twinmcp.search.snippets import SnippetRecord

from bench import heldout_corpus, scale_bench
from bench.search_corpus import CORPUS_DIR, QUESTIONS, library_snippets

BUDGETS = (150, 400, 1000, 2500, 5000)
RULES = ("Use the v2 API.", "Prefer the async client: ```client = AsyncClient()```")
SYNTHETIC_QUESTIONS = 300


class Answering:
    """One library's QueryDocs work, as the service does it after the caches."""

    def __init__(self, library_id: str, snippets: Sequence[SnippetRecord]) -> None:
        blob = VersionIndex.build("build", snippets).to_bytes()
        index = VersionIndex.from_bytes(blob)
        assert index is not None
        self.index = index
        self.library_id = library_id
        self._verdicts: dict[str, bool] = {}

    def is_withheld(self, snippet: SnippetRecord) -> bool:
        verdict = self._verdicts.get(snippet.snippet_id)
        if verdict is None:
            verdict = self._verdicts[snippet.snippet_id] = snippet_injection(snippet) is not None
        return verdict

    def answer(
        self, query: str, budget: int, rules: Sequence[str] = (), stages: list[float] | None = None
    ) -> dict[str, Any]:
        begun = time.perf_counter()
        ranked = self.index.search(query)
        ranking = time.perf_counter()
        packed = pack(ranked, budget, is_withheld=self.is_withheld)
        packing = time.perf_counter()
        header = Header(self.library_id, "Library", "2.0", ["2.0", "1.0"], rules, packed.withheld)
        cleaned = [clean_snippet(r.snippet) for r in packed.snippets]
        rendered = render_docs(header, cleaned, budget)
        done = time.perf_counter()
        if stages is not None:
            stages[:] = [done - begun, ranking - begun, packing - ranking, done - packing]
        return {
            "text": rendered.text,
            "tokens": rendered.tokens,
            "snippets": [[s.snippet_id, s.content, s.tokens] for s in rendered.snippets],
            "scores": [round(r.score, 4) for r in packed.snippets],
        }


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def synthetic() -> tuple[Answering, list[str]]:
    """The scale benchmark's first library (5,000 snippets) and questions as it asks them."""
    spec = scale_bench.plan_libraries(1)[0]
    pool = scale_bench.dev_pool()
    snippets = [s for _, _, page in scale_bench.library_documents(spec, pool) for s in page]
    questions = [row["query"] for row in _rows(QUESTIONS)]
    rng = random.Random(7)
    asked = [scale_bench.questions_for(spec, questions, pool, rng) for _ in range(1000)]
    return Answering(spec.library_id, snippets), asked


def answers() -> dict[str, Any]:
    sets = [(CORPUS_DIR, QUESTIONS)] + [
        (heldout_corpus.CACHE / "corpus", s.questions) for s in heldout_corpus.HELDOUT_SETS.values()
    ]
    out: dict[str, Any] = {}
    for corpus, questions in sets:
        rows = _rows(questions)
        for library in sorted({row["library"] for row in rows}):
            snippets, _ = library_snippets(library, corpus=corpus)
            answering = Answering(f"/{library}", snippets)
            for row in rows:
                if row["library"] != library:
                    continue
                for budget in BUDGETS:
                    out[f"{row['id']}@{budget}"] = answering.answer(row["query"], budget)
                out[f"{row['id']}@rules"] = answering.answer(row["query"], 3000, RULES)
    answering, asked = synthetic()
    for number, query in enumerate(asked[:SYNTHETIC_QUESTIONS]):
        out[f"synthetic-{number}@5000"] = answering.answer(query, 5000)
    return out


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timing(queries: int) -> None:
    answering, asked = synthetic()
    for query in asked[:50]:
        answering.answer(query, 5000)
    names = ("QueryDocs work", "ranking", "packing", "cleaning and rendering")
    samples: list[list[float]] = [[] for _ in names]
    stages: list[float] = []
    for query in asked[50 : 50 + queries]:
        answering.answer(query, 5000, stages=stages)
        for sample, seconds in zip(samples, stages, strict=True):
            sample.append(seconds * 1000)
    print(f"{len(answering.index.snippets):,} snippets, {queries} warm questions at 5,000 tokens")
    for name, sample in zip(names, samples, strict=True):
        print(
            f"  {name:<24} p50 {statistics.median(sample):5.2f} ms"
            f"   p99 {_percentile(sample, 0.99):5.2f} ms"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("snapshot").add_argument("file", type=Path)
    commands.add_parser("compare").add_argument("file", type=Path)
    commands.add_parser("time").add_argument("--queries", type=int, default=900)
    args = parser.parse_args(argv)
    if args.command == "time":
        timing(args.queries)
        return 0
    now = answers()
    blob = json.dumps(now, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(blob.encode()).hexdigest()
    if args.command == "snapshot":
        args.file.write_text(blob)
        print(f"{len(now)} answers written to {args.file} (sha256 {digest})")
        return 0
    before = json.loads(args.file.read_text())
    differ = sorted(key for key in before.keys() | now.keys() if before.get(key) != now.get(key))
    for key in differ[:20]:
        print(f"differs: {key}")
    print(f"{len(now)} answers, {len(differ)} differ from {args.file} (sha256 now {digest})")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
