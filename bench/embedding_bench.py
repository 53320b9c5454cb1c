"""Speed of the local embedding model: snippets per second and query embedding latency.

    .venv/bin/python -m bench.embedding_bench [--snippets 1000] [--skip-torch]

Embeds about 1,000 real snippets of ../shared/eval/corpus (ingest's chunker, the text ingest
embeds) through the embedder `EMBEDDING_PROVIDER=local` serves (int8, cut at 128 tokens), in
fp32, and cut at the model's 256 tokens, beside the sentence-transformers (torch) path it
replaced; then every dev question alone, as search embeds a query. Per CPU-second figures hold
better than per-second ones on a machine shared with others.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from twinmcp.embedding.local import LocalEmbedder, is_available, model_path
from twinmcp.ingest.pipeline import embedding_text

from bench.chunk_report import chunk_library
from bench.search_corpus import CORPUS_DIR
from bench.search_quality import load_questions


def sample_snippets(count: int) -> list[str]:
    texts: list[str] = []
    for library in sorted(CORPUS_DIR.iterdir()):
        if library.is_dir():
            texts += [embedding_text(d) for d in chunk_library(library).snippets]
    random.Random(18).shuffle(texts)
    return texts[:count]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(
    label: str,
    texts: list[str],
    queries: list[str],
    embed: Callable[[list[str]], np.ndarray],
) -> np.ndarray:
    embed(["warm up"])
    wall, cpu = time.perf_counter(), time.process_time()
    # In the groups ingest hands the embedder (24 documents, a few hundred snippets).
    matrix = np.concatenate([embed(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    latencies, cpu_ms = [], []
    for query in queries:
        started, started_cpu = time.perf_counter(), time.process_time()
        embed([query])
        latencies.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - started_cpu) * 1000)
    print(
        f"{label}: {len(texts) / wall:.1f} snippets/s ({len(texts) / cpu:.1f} per CPU-second); "
        f"query p50 {statistics.median(latencies):.2f} ms, "
        f"p95 {percentile(latencies, 0.95):.2f} ms, CPU p50 {statistics.median(cpu_ms):.2f} ms "
        f"({len(queries)} queries)",
        flush=True,
    )
    return matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--snippets", type=int, default=1000)
    parser.add_argument("--skip-torch", action="store_true", help="no sentence-transformers run")
    args = parser.parse_args()
    if not is_available():
        print("the local model is not installed (make install-model): nothing to measure")
        return
    texts = sample_snippets(args.snippets)
    queries = [q.query for q in load_questions()]
    print(f"{len(texts)} snippets of the dev corpus, {len(queries)} dev questions")
    vectors: dict[str, np.ndarray] = {}
    if not args.skip_torch:
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415  optional

        model = SentenceTransformer(str(model_path()), device="cpu")

        def torch_embed(batch: list[str]) -> np.ndarray:
            return np.asarray(
                model.encode(
                    batch, batch_size=64, normalize_embeddings=True, show_progress_bar=False
                )
            )

        vectors["torch"] = report(
            "before: sentence-transformers, torch fp32", texts, queries, torch_embed
        )
    with tempfile.TemporaryDirectory() as folder:
        # (precision, tokens kept): the default, fp32, and EMBEDDING_LOCAL_MAX_TOKENS=256.
        for precision, tokens in (("int8", 128), ("fp32", 128), ("int8", 256)):
            embedder = LocalEmbedder(precision=precision, cache=Path(folder), max_tokens=tokens)
            started = time.perf_counter()
            asyncio.run(embedder.embed(["export and load"]))
            print(f"onnx {precision}: export and load {time.perf_counter() - started:.1f}s")

            def onnx_embed(batch: list[str], embedder: LocalEmbedder = embedder) -> np.ndarray:
                return np.asarray(asyncio.run(embedder.embed(batch)), dtype=np.float32)

            vectors[f"{precision}/{tokens}"] = report(
                f"after: ONNX Runtime {precision}, {tokens} tokens ({embedder.model})",
                texts,
                queries,
                onnx_embed,
            )
            embedder.close()
    if "torch" in vectors:
        for label in ("int8/128", "fp32/128", "int8/256"):
            cosines = (vectors[label] * vectors["torch"]).sum(axis=1)
            print(
                f"cosine of {label} to torch vectors: min {cosines.min():.4f}, "
                f"mean {cosines.mean():.4f}"
            )


if __name__ == "__main__":
    main()
