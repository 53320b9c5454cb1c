"""The embedder protocol, the error it raises and vector normalisation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


class EmbeddingError(RuntimeError):
    """Embedding failed or produced vectors of the wrong shape; the message says what to do."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of `dimension` floats in the space `model`."""

    @property
    def model(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def normalise(vector: Sequence[float]) -> list[float]:
    """The vector scaled to unit length (a zero vector stays zero)."""
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        return [float(x) for x in vector]
    return [float(x) / norm for x in vector]


def check_dimension(model: str, expected: int, actual: int) -> None:
    """Refuses vectors from another space: never pad or truncate them."""
    if expected != actual:
        raise EmbeddingError(
            f"embedding model {model!r} produces {actual}-dimensional vectors but the index "
            f"space has {expected}; re-ingest with the index's model or rebuild the index"
        )
