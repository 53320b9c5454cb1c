"""Loaded version indexes: a cache bounded by bytes, filled from stored blobs or at publish."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence

from twinmcp.search.heap import build_long_lived
from twinmcp.search.lexical import FloatArray
from twinmcp.search.ranking import VersionIndex
from twinmcp.search.snippets import SnippetRecord
from twinmcp.search.store import Store

logger = logging.getLogger(__name__)


class IndexCache:
    """Loaded version indexes, least recently used evicted past `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._entries: OrderedDict[str, VersionIndex] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, build_id: str) -> VersionIndex | None:
        index = self._entries.get(build_id)
        if index is not None:
            self._entries.move_to_end(build_id)
        return index

    def lock(self, build_id: str) -> asyncio.Lock:
        return self._locks.setdefault(build_id, asyncio.Lock())

    def put(self, index: VersionIndex) -> None:
        self._entries[index.build_id] = index
        self._sizes[index.build_id] = index.memory_bytes
        self._entries.move_to_end(index.build_id)
        while sum(self._sizes.values()) > self._max and len(self._entries) > 1:
            evicted, _ = self._entries.popitem(last=False)
            self._sizes.pop(evicted, None)
            self._locks.pop(evicted, None)

    def drop(self, build_id: str) -> None:
        self._entries.pop(build_id, None)
        self._sizes.pop(build_id, None)
        self._locks.pop(build_id, None)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def max_bytes(self) -> int:
        return self._max


class Indexes:
    """The version index of any published build: from the cache, else its stored blob, else
    rebuilt from its snippet rows (a blob of another INDEX_FORMAT) and stored again.

    With an external vector store the indexes hold no vectors (`is_vectors_external`).
    """

    def __init__(self, store: Store, max_bytes: int, *, is_vectors_external: bool) -> None:
        self.store = store
        self.cache = IndexCache(max_bytes)
        self.is_vectors_external = is_vectors_external

    async def build(
        self,
        build_id: str,
        snippets: Sequence[SnippetRecord],
        matrix: FloatArray | None,
        embedding_model: str,
    ) -> VersionIndex:
        """The index of these snippets, built in a thread (CPU work, long-lived objects)."""
        return await asyncio.to_thread(
            build_long_lived,
            VersionIndex.build,
            build_id,
            snippets,
            None if self.is_vectors_external else matrix,
            embedding_model,
        )

    async def get(self, build_id: str) -> VersionIndex:
        index = self.cache.get(build_id)
        if index is not None:
            return index
        async with self.cache.lock(build_id):
            index = self.cache.get(build_id)
            if index is not None:
                return index
            started = time.perf_counter()
            blob = await self.store.load_index_blob(build_id)
            index = (
                await asyncio.to_thread(build_long_lived, VersionIndex.from_bytes, blob)
                if blob
                else None
            )
            if index is None:
                # Written by an older format: rebuild from the rows and store it again.
                snippets, matrix = await self.store.build_snippets(build_id)
                build = await self.store.build(build_id)
                index = await self.build(build_id, snippets, matrix, build.embedding_model)
                await self.store.store_index(build_id, index)
            self.cache.put(index)
            # bench.scale_bench reads these lines: cold-load times and what the cache holds.
            logger.info(
                "loaded index %s (%d snippets) in %.1f ms; the index cache holds %d indexes, "
                "%.1f of %.0f MiB",
                build_id,
                len(index.snippets),
                (time.perf_counter() - started) * 1000,
                len(self.cache),
                self.cache.total_bytes / 2**20,
                self.cache.max_bytes / 2**20,
            )
            return index
