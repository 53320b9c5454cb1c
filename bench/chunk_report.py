"""How the ingest chunker cuts the eval corpora: sizes, speed, and an upper bound on answers."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from twinmcp.ingest.chunking import ChunkingOptions, parse_document
from twinmcp.ingest.dedupe import dedupe
from twinmcp.ingest.documents import DocumentError, SnippetDraft, load_source_config
from twinmcp.ingest.parsing.includes import IncludeResolver
from twinmcp.ingest.selection import select_documents
from twinmcp.tokens import count_tokens

EVAL_DIR = Path(__file__).resolve().parents[1] / "../shared/eval"
_dedupe_seconds = 0.0


@dataclass
class LibraryChunks:
    library: str
    files: int
    source_bytes: int
    seconds: float
    raw_snippets: int
    snippets: list[SnippetDraft]
    errors: list[str]


def chunk_library(root: Path, options: ChunkingOptions | None = None) -> LibraryChunks:
    """Selects, parses, chunks and dedupes one source tree, timing the whole."""
    started = time.perf_counter()
    config = load_source_config(root)
    paths = select_documents(root, config)
    resolver = IncludeResolver(root)
    drafts: list[SnippetDraft] = []
    errors: list[str] = []
    source_bytes = 0
    for path in paths:
        source_bytes += (root / path).stat().st_size
        try:
            if options is None:
                drafts.extend(parse_document(root, path, resolver=resolver))
            else:
                drafts.extend(parse_document(root, path, resolver=resolver, options=options))
        except DocumentError as error:
            errors.append(str(error))
    parsed = time.perf_counter()
    kept = dedupe(drafts)
    seconds = time.perf_counter() - started
    global _dedupe_seconds
    _dedupe_seconds += seconds - (parsed - started)
    return LibraryChunks(root.name, len(paths), source_bytes, seconds, len(drafts), kept, errors)


def measure_throughput(corpus: Path | None = None) -> float:
    """MB/s of documentation source selected, parsed, chunked and deduped, over all corpora."""
    corpus = corpus or EVAL_DIR / "corpus"
    count_tokens("load the encoder before timing")
    results = [chunk_library(root) for root in sorted(corpus.iterdir()) if root.is_dir()]
    return sum(r.source_bytes for r in results) / 1e6 / sum(r.seconds for r in results)


def snippet_text(draft: SnippetDraft) -> str:
    return f"{draft.title}\n{draft.description}\n{draft.content}"


def coverage(results: dict[str, LibraryChunks], questions: list[dict[str, object]]) -> list[str]:
    """Question ids where no snippet from an expect_file shows a must_contain_any string."""
    missed: list[str] = []
    for question in questions:
        library = str(question["library"]).replace("/", "__")
        expect = set(question["expect_files"])  # type: ignore[call-overload]
        needles = list(question["must_contain_any"])  # type: ignore[call-overload]
        found = any(
            (draft.source_path in expect or draft.included_from in expect)
            and any(needle in snippet_text(draft) for needle in needles)
            for draft in results[library].snippets
        )
        if not found:
            missed.append(str(question["id"]))
    return missed


def _percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show", nargs="*", default=None, help="library:path pages to print")
    parser.add_argument("--target", type=int, default=None, help="target tokens per info snippet")
    args = parser.parse_args()
    options = ChunkingOptions(target_tokens=args.target) if args.target else None
    corpus = EVAL_DIR / "corpus"
    questions = [
        json.loads(line)
        for line in (EVAL_DIR / "dev-questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    results: dict[str, LibraryChunks] = {}
    count_tokens("load the encoder before timing")
    print(
        f"{'library':22} {'files':>5} {'KB':>6} {'raw':>6} {'kept':>6} {'code':>5} {'info':>5} "
        f"{'tok p50':>7} {'p90':>5} {'max':>6} {'MB/s':>6}"
    )
    for root in sorted(p for p in corpus.iterdir() if p.is_dir()):
        result = chunk_library(root, options)
        results[root.name] = result
        tokens = [d.tokens for d in result.snippets]
        code = sum(1 for d in result.snippets if d.kind == "code")
        print(
            f"{root.name:22} {result.files:5} {result.source_bytes // 1024:6} "
            f"{result.raw_snippets:6} {len(result.snippets):6} {code:5} "
            f"{len(result.snippets) - code:5} {int(statistics.median(tokens)):7} "
            f"{_percentile(tokens, 0.9):5} {max(tokens):6} "
            f"{result.source_bytes / 1e6 / result.seconds:6.2f}"
        )
        for error in result.errors:
            print(f"    skipped: {error}")
    total_bytes = sum(r.source_bytes for r in results.values())
    total_seconds = sum(r.seconds for r in results.values())
    print(
        f"throughput: {total_bytes / 1e6 / total_seconds:.2f} MB/s select+parse+chunk+dedupe, "
        f"{total_bytes / 1e6 / (total_seconds - _dedupe_seconds):.2f} MB/s without dedupe "
        f"({total_bytes / 1e6:.2f} MB of pages in {total_seconds:.2f} s, one process)"
    )
    missed = coverage(results, questions)
    print(
        f"upper-bound coverage: {len(questions) - len(missed)}/{len(questions)} questions have a "
        f"snippet from an expect_file showing a must_contain_any string"
    )
    if missed:
        print("  missed: " + ", ".join(missed))
    for spec in args.show or []:
        library, _, path = spec.partition(":")
        for draft in results[library].snippets:
            if draft.source_path == path:
                print(
                    f"\n--- [{draft.kind}] {draft.title}  #{draft.anchor}  ({draft.tokens} tokens)"
                    + (f"  from {draft.included_from}" if draft.included_from else "")
                )
                if draft.description:
                    print(draft.description)
                print(
                    f"```{draft.language}\n{draft.content}\n```"
                    if draft.kind == "code"
                    else draft.content
                )


if __name__ == "__main__":
    main()
