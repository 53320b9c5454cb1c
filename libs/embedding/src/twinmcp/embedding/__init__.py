"""Text embeddings shared by ingest (documents) and search (queries)."""

from twinmcp.embedding.base import (
    Embedder,
    EmbeddingError,
    check_dimension,
    normalise,
)
from twinmcp.embedding.factory import create_embedder

__all__ = ["Embedder", "EmbeddingError", "check_dimension", "create_embedder", "normalise"]
