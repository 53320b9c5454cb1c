"""Vector stores: the local one (vectors live in SQL and in each version's in-memory index) or
Pinecone (one namespace per build, queried through the real SDK)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class VectorStore(Protocol):
    """Where query vectors are matched. `is_external` stores answer `query` themselves."""

    @property
    def is_external(self) -> bool: ...

    async def upsert(
        self, namespace: str, items: Sequence[tuple[str, Sequence[float]]]
    ) -> None: ...

    async def query(
        self, namespace: str, vector: Sequence[float], top_k: int
    ) -> list[tuple[str, float]]: ...

    async def delete_namespace(self, namespace: str) -> None: ...

    async def close(self) -> None: ...


class LocalVectorStore:
    """Vectors stay in the database (float32 blobs) and are matched in memory with numpy."""

    is_external = False

    async def upsert(self, namespace: str, items: Sequence[tuple[str, Sequence[float]]]) -> None:
        return None

    async def query(
        self, namespace: str, vector: Sequence[float], top_k: int
    ) -> list[tuple[str, float]]:
        return []

    async def delete_namespace(self, namespace: str) -> None:
        return None

    async def close(self) -> None:
        return None


class PineconeVectorStore:
    """A Pinecone index (created with a dimension and cosine metric); namespace = build id.

    `host` is the index's data-plane host; without it the index is looked up by `index_name`
    through the control plane (`controller_host`, default Pinecone's public API).
    """

    is_external = True
    _BATCH = 100

    def __init__(
        self, api_key: str, host: str, index_name: str = "", controller_host: str = ""
    ) -> None:
        self._api_key = api_key
        self._host = host
        self._index_name = index_name
        self._controller_host = controller_host
        self._index: Any = None

    async def _client(self) -> Any:
        if self._index is None:
            from pinecone import AsyncIndex, AsyncPinecone  # noqa: PLC0415  only with Pinecone

            host = self._host
            if not host:
                async with AsyncPinecone(
                    api_key=self._api_key, host=self._controller_host or None
                ) as control:
                    description = await control.indexes.describe(self._index_name)
                    host = str(description.host)
            self._index = AsyncIndex(host=host, api_key=self._api_key, timeout=10.0)
        return self._index

    async def upsert(self, namespace: str, items: Sequence[tuple[str, Sequence[float]]]) -> None:
        if not items:
            return
        index = await self._client()
        for start in range(0, len(items), self._BATCH):
            batch = [(key, list(vector)) for key, vector in items[start : start + self._BATCH]]
            await index.upsert(vectors=batch, namespace=namespace, show_progress=False)

    async def query(
        self, namespace: str, vector: Sequence[float], top_k: int
    ) -> list[tuple[str, float]]:
        index = await self._client()
        response = await index.query(
            vector=list(vector), top_k=top_k, namespace=namespace, include_values=False
        )
        return [(str(match.id), float(match.score)) for match in response.matches]

    async def delete_namespace(self, namespace: str) -> None:
        from pinecone.errors import PineconeError  # noqa: PLC0415  only with Pinecone

        index = await self._client()
        try:
            await index.delete(delete_all=True, namespace=namespace)
        except PineconeError as exc:
            # A namespace that never got a vector does not exist; nothing to remove then.
            logger.info("pinecone namespace %s not deleted: %s", namespace, exc)

    async def close(self) -> None:
        if self._index is not None:
            await self._index.close()
            self._index = None
