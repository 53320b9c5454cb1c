"""The search service's parts wired over one store, vector store, answer cache and change feed."""

from __future__ import annotations

import time
from collections.abc import Callable

from twinmcp.search.answering import Answerer, QueryEmbedder
from twinmcp.search.building import Builder
from twinmcp.search.cache import AnswerCache
from twinmcp.search.catalog import Catalog
from twinmcp.search.changes import ChangeFeed
from twinmcp.search.crosslib import CrossLibrarySearch
from twinmcp.search.indexes import Indexes
from twinmcp.search.ranking import DEFAULT_PARAMS, RankingParams
from twinmcp.search.store import Store
from twinmcp.search.vectors import VectorStore


class SearchDomain:
    """The parts the servicers call, sharing their collaborators:

    - `catalog` (catalog.py): libraries, versions, resolution, projects;
    - `indexes` (indexes.py): loaded version indexes;
    - `answerer` (answering.py): QueryDocs; `crosslib` (crosslib.py): SearchDocs;
    - `builder` (building.py): the write side (IndexService).
    """

    def __init__(
        self,
        store: Store,
        vectors: VectorStore,
        cache: AnswerCache,
        embedder: QueryEmbedder | None,
        *,
        index_cache_bytes: int = 1 << 30,
        params: RankingParams = DEFAULT_PARAMS,
        clock: Callable[[], float] = time.monotonic,
        changes: ChangeFeed | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.cache = cache
        self.changes = changes if changes is not None else ChangeFeed()
        self.catalog = Catalog(store, self.changes, clock=clock)
        self.indexes = Indexes(store, index_cache_bytes, is_vectors_external=vectors.is_external)
        self.answerer = Answerer(self.catalog, self.indexes, vectors, cache, embedder, params)
        self.crosslib = CrossLibrarySearch(self.catalog, self.indexes, self.answerer)
        self.builder = Builder(store, vectors, self.indexes, self.changes)
