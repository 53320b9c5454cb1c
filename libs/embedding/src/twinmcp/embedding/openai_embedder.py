"""Embeddings through the OpenAI API (or a compatible server at OPENAI_BASE_URL)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

import openai
from twinmcp.embedding.base import EmbeddingError, check_dimension, normalise

logger = logging.getLogger(__name__)

KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_MODEL = "text-embedding-3-small"


class OpenAIEmbedder:
    """Batched calls; 429 and 5xx are retried with exponential backoff honouring Retry-After."""

    def __init__(
        self,
        api_key: str,
        *,
        model: str = DEFAULT_MODEL,
        dimension: int | None = None,
        base_url: str | None = None,
        batch_size: int = 256,
        max_retries: int = 6,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 60.0,
    ) -> None:
        known = KNOWN_DIMENSIONS.get(model)
        if dimension is None and known is None:
            raise EmbeddingError(
                f"the dimension of embedding model {model!r} is unknown; "
                "set OPENAI_EMBEDDING_DIMENSIONS"
            )
        self._model = model
        self._dimension = dimension or known or 0
        # Only the text-embedding-3 family can shorten its vectors on request.
        self._ask_dimensions = dimension is not None and model.startswith("text-embedding-3")
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        # The SDK's own retries are off so that ours (logged, bounded) are the only ones.
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(await self._embed_batch(list(texts[start : start + self._batch_size])))
        return vectors

    async def close(self) -> None:
        await self._client.close()

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        # The API rejects empty strings; a single space embeds to a neutral vector.
        inputs = [text if text.strip() else " " for text in batch]
        attempt = 0
        while True:
            try:
                if self._ask_dimensions:
                    response = await self._client.embeddings.create(
                        model=self._model, input=inputs, dimensions=self._dimension
                    )
                else:
                    response = await self._client.embeddings.create(model=self._model, input=inputs)
                break
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APIConnectionError,
            ) as exc:
                attempt += 1
                if attempt > self._max_retries:
                    raise EmbeddingError(
                        f"OpenAI embeddings kept failing after {self._max_retries} retries: {exc}"
                    ) from exc
                delay = self._delay(attempt, exc)
                logger.warning(
                    "embedding call failed (%s); retry %d in %.2fs",
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
            except openai.APIStatusError as exc:
                raise EmbeddingError(
                    f"OpenAI embeddings refused the request ({exc.status_code}): {exc.message}; "
                    "check OPENAI_API_KEY and OPENAI_EMBEDDING_MODEL"
                ) from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(inputs):
            raise EmbeddingError(f"OpenAI returned {len(rows)} embeddings for {len(inputs)} texts")
        vectors = []
        for row in rows:
            check_dimension(self._model, self._dimension, len(row.embedding))
            vectors.append(normalise(row.embedding))
        return vectors

    def _delay(self, attempt: int, exc: Exception) -> float:
        response = getattr(exc, "response", None)
        if response is not None:
            retry_after = response.headers.get("retry-after")
            if retry_after:
                try:
                    return min(float(retry_after), self._max_backoff)
                except ValueError:
                    pass
        backoff = self._initial_backoff * (2 ** (attempt - 1))
        return float(min(backoff, self._max_backoff) * (0.5 + random.random() / 2))
