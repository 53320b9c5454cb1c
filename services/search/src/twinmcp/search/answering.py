"""QueryDocs: one library version's answer to a question, ranked, screened, packed and rendered."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import orjson
from cachetools import LRUCache
from twinmcp.search.cache import AnswerCache, RedisCache, answer_key
from twinmcp.search.catalog import Catalog
from twinmcp.search.errors import InvalidInputError
from twinmcp.search.indexes import Indexes
from twinmcp.search.lexical import FloatArray
from twinmcp.search.libraryid import parse_library_id
from twinmcp.search.limits import (
    MAX_BUDGET,
    MAX_FORMAT_CHARS,
    MAX_LIBRARY_ID_CHARS,
    MAX_QUERY_CHARS,
    MAX_RANKER_CHARS,
    MAX_VERSION_CHARS,
    check_length,
)
from twinmcp.search.overview import overview
from twinmcp.search.ownertext import clean_snippet, rules_within, snippet_injection
from twinmcp.search.packing import DEFAULT_BUDGET, Packed, pack
from twinmcp.search.projects import LockedPackage, locked_version, project_label, project_note
from twinmcp.search.ranking import (
    DEFAULT_PARAMS,
    RANKER_BM25,
    RANKERS,
    Ranked,
    RankingParams,
    VersionIndex,
)
from twinmcp.search.rendering import Header, Rendered, render_docs
from twinmcp.search.snippets import SnippetRecord
from twinmcp.search.vectors import VectorStore

logger = logging.getLogger(__name__)

try:
    from twinmcp.embedding import EmbeddingError as EmbeddingFailure
except ImportError:  # the embedding library is optional for the read side

    class EmbeddingFailure(Exception):  # type: ignore[no-redef]
        """Stands in for twinmcp.embedding.EmbeddingError when it is not installed."""


# Query embeddings kept in memory: the same question comes back for other budgets, versions and
# libraries, and embedding it is most of an uncached query's time (a 384-float vector is 1.5 KB).
QUERY_VECTOR_CACHE_SIZE = 4096
_DENSE_TOP_K = 100
# Verdicts of the injection screen, per (build, snippet): a snippet's text never changes.
_MAX_VERDICTS_REMEMBERED = 200_000


class QueryEmbedder(Protocol):
    """What the read side needs of `twinmcp.embedding.Embedder`."""

    @property
    def model(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class ScoredSnippet:
    snippet: SnippetRecord
    score: float


@dataclass(frozen=True)
class Answer:
    library_id: str
    version: str
    title: str
    rules: list[str]
    snippets: list[ScoredSnippet]
    tokens_used: int
    available_versions: list[str]
    is_cached: bool = False
    build_id: str = ""
    # Snippets that matched but read as instructions to an agent (suspected prompt injection).
    withheld_snippets: int = 0
    # The answer as agents read it, header included, within the budget (rendering.py); the
    # snippets above are the ones it shows.
    text: str = ""
    # With a project: the version it locks of the library ("" for none) and the text's line
    # saying so (projects.project_note); both "" without a project.
    locked_version: str = ""
    project_note: str = ""

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "text": self.text,
                "library_id": self.library_id,
                "version": self.version,
                "title": self.title,
                "rules": self.rules,
                "tokens_used": self.tokens_used,
                "available_versions": self.available_versions,
                "build_id": self.build_id,
                "withheld_snippets": self.withheld_snippets,
                "locked_version": self.locked_version,
                "project_note": self.project_note,
                "snippets": [[s.score, *s.snippet.to_row()] for s in self.snippets],
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Answer:
        data = orjson.loads(raw)
        return cls(
            text=data["text"],
            library_id=data["library_id"],
            version=data["version"],
            title=data["title"],
            rules=data["rules"],
            tokens_used=data["tokens_used"],
            available_versions=data["available_versions"],
            build_id=data["build_id"],
            withheld_snippets=data.get("withheld_snippets", 0),
            locked_version=data["locked_version"],
            project_note=data["project_note"],
            is_cached=True,
            snippets=[ScoredSnippet(SnippetRecord.from_row(r[1:]), r[0]) for r in data["snippets"]],
        )


class Answerer:
    """Answers QueryDocs from the catalog's libraries and their loaded indexes, through the
    answer cache; its ranking, query vectors and injection screen also serve SearchDocs."""

    def __init__(
        self,
        catalog: Catalog,
        indexes: Indexes,
        vectors: VectorStore,
        cache: AnswerCache,
        embedder: QueryEmbedder | None,
        params: RankingParams = DEFAULT_PARAMS,
    ) -> None:
        self.catalog = catalog
        self.indexes = indexes
        self.vectors = vectors
        self.cache = cache
        self.embedder = embedder
        self.params = params
        self._query_vectors: LRUCache[tuple[str, str], list[float]] = LRUCache(
            QUERY_VECTOR_CACHE_SIZE
        )
        # Full, it forgets the least recently screened snippet, never all of them at once.
        self._verdicts: LRUCache[tuple[str, str], bool] = LRUCache(_MAX_VERDICTS_REMEMBERED)

    async def query_docs(
        self,
        library_id: str,
        version: str,
        query: str,
        budget: int,
        ranker: str = "",
        project: str = "",
        locked: Sequence[LockedPackage] = (),
        project_format: str = "",
    ) -> Answer:
        """The answer, its text rendered within the budget; with a project (`project`, or the
        packages `locked` read from a `project_format` file), at the version it locks unless
        one is asked, the text's second line saying which (`project_note`)."""
        check_length("library_id", library_id, MAX_LIBRARY_ID_CHARS)
        check_length("version", version, MAX_VERSION_CHARS)
        check_length("query", query, MAX_QUERY_CHARS)
        check_length("ranker", ranker, MAX_RANKER_CHARS)
        check_length("project_format", project_format, MAX_FORMAT_CHARS)
        ref = parse_library_id(library_id, version)
        ranker = ranker.strip().lower()
        if ranker not in RANKERS:
            raise InvalidInputError(
                f"unknown ranker {ranker!r}; leave it empty for the product's ranking or give "
                f"{RANKER_BM25!r} for the plain BM25 baseline"
            )
        # An empty query asks for the library's general documentation (Context7's answer to a
        # call without a topic): its overview, see `overview`.
        text = query.strip()
        if budget < 0:
            raise InvalidInputError("tokens must be positive (the answer's token budget)")
        budget = min(budget or DEFAULT_BUDGET, MAX_BUDGET)
        info = await self.catalog.library(ref.library_id)
        if info is None or not info.versions:
            raise await self.catalog.unknown_library(ref.library_id)
        locked_at = ""
        if project or locked:
            locked_at = locked_version(info.meta, await self.catalog.project_locks(project, locked))
        # The version the project locks, unless one is asked; a library it does not lock
        # answers its default.
        chosen = info.version_or_raise(ref.version or locked_at)
        available = [v.version for v in info.versions]
        label = project_label(project.strip(), project_format.strip(), has_locked=bool(locked))
        note = project_note(label, chosen.version, locked_at) if label else ""
        key = answer_key(chosen.build_id, text, budget, ranker, note)
        cached = await self.cache.get(key)
        if cached is not None:
            return Answer.from_bytes(cached)
        index = await self.indexes.get(chosen.build_id)
        # The owner's rules take at most a bounded share of the budget; snippets get the rest.
        rules, rules_tokens = rules_within(info.meta.rules, budget)
        room = budget - rules_tokens

        def is_withheld(snippet: SnippetRecord) -> bool:
            return self.is_suspect(chosen.build_id, snippet)

        is_ranked = bool(text) and ranker != RANKER_BM25
        query_vector, dense_scores = (
            await self.dense_inputs(index, chosen.embedding_model, chosen.build_id, text)
            if is_ranked
            else (None, None)
        )

        def pack_and_render() -> tuple[Packed, Rendered]:
            if not text:
                packed = pack(
                    overview(index.snippets), room, relevance_floor=0.0, is_withheld=is_withheld
                )
            elif not is_ranked:
                packed = pack(
                    index.search_bm25(text), room, relevance_floor=0.0, is_withheld=is_withheld
                )
            else:
                ranked = index.search(text, query_vector, self.params, dense_scores=dense_scores)
                packed = pack(ranked, room, is_withheld=is_withheld)
            header = Header(
                ref.library_id,
                info.meta.title,
                chosen.version,
                available,
                rules,
                packed.withheld,
                note,
            )
            # Cleaned again when served: versions stored before the cleaning hold raw text.
            cleaned = [clean_snippet(r.snippet) for r in packed.snippets]
            # Packing estimated the markup; the rendering fits the exact budget, header
            # included.
            return packed, render_docs(header, cleaned, budget)

        # Ranking, packing and rendering are CPU work: in a thread, so other calls are
        # answered meanwhile, and in one hand-off, not three (each wakes a worker and then the
        # loop; bench.scale_bench at 1,000 libraries, warm p50 / p99 over six columns:
        # 7.5-11.8 / 13.8-21.5 ms with three, 6.4-8.6 / 13.7-15.0 with one).
        packed, rendered = await asyncio.to_thread(pack_and_render)
        answer = Answer(
            library_id=ref.library_id,
            version=chosen.version,
            title=info.meta.title,
            rules=rules,
            # What the text shows is a prefix of what packing chose.
            snippets=[
                ScoredSnippet(shown, round(r.score, 4))
                for shown, r in zip(rendered.snippets, packed.snippets, strict=False)
            ],
            tokens_used=rendered.tokens,
            available_versions=available,
            build_id=chosen.build_id,
            withheld_snippets=packed.withheld,
            text=rendered.text,
            locked_version=locked_at,
            project_note=note,
        )
        await self.cache.set(key, answer.to_bytes())
        return answer

    def is_suspect(self, build_id: str, snippet: SnippetRecord) -> bool:
        """Whether the snippet reads as instructions to an agent (remembered per build)."""
        key = (build_id, snippet.snippet_id)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = snippet_injection(snippet) is not None
            self._verdicts[key] = verdict
        return verdict

    async def rank(
        self, index: VersionIndex, model: str, build_id: str, query: str
    ) -> list[Ranked]:
        """The index's snippets in rank order for the query, with vectors when it can."""
        query_vector, dense_scores = await self.dense_inputs(index, model, build_id, query)
        return await asyncio.to_thread(
            index.search, query, query_vector, self.params, dense_scores=dense_scores
        )

    async def dense_inputs(
        self, index: VersionIndex, model: str, build_id: str, query: str
    ) -> tuple[FloatArray | None, dict[int, float] | None]:
        """What `VersionIndex.search` takes for the dense part: the query's vector against
        the index's own vectors, or an external store's scores; (None, None) without them."""
        vector = await self.query_vector(model, query)
        if vector is None:
            return None, None
        if self.vectors.is_external:
            matches = await self.vectors.query(build_id, vector, _DENSE_TOP_K)
            positions = index.positions()
            return None, {positions[k]: s for k, s in matches if k in positions}
        if index.vectors is not None:
            return np.asarray(vector, dtype=np.float32), None
        return None, None

    async def query_vector(self, model: str, query: str) -> list[float] | None:
        """The query's vector in the space of `model` (the one a build was embedded with), or
        None: no embedder, another model, or the embedder failing (logged: keyword ranking
        still answers well, and an embedding outage must not fail queries)."""
        if self.embedder is None or not model or model != self.embedder.model:
            return None
        try:
            return await self._embed_query(self.embedder, query)
        except (EmbeddingFailure, OSError) as exc:
            logger.warning("query embedding failed, keyword ranking only: %s", exc)
            return None

    async def _embed_query(self, embedder: QueryEmbedder, query: str) -> list[float]:
        """The query's vector, from a small LRU keyed by model and whitespace-folded text, then
        from Redis when the answer cache is shared by replicas (one replica's embedding serves
        all), else from the model."""
        key = (embedder.model, " ".join(query.split()))
        vector = self._query_vectors.get(key)
        if vector is not None:
            return vector
        # The in-process answer cache would only hold a second copy of what the LRU holds.
        shared = self.cache if isinstance(self.cache, RedisCache) else None
        shared_key = query_vector_key(*key)
        raw = await shared.get(shared_key) if shared is not None else None
        if raw and len(raw) % 4 == 0:
            vector = np.frombuffer(raw, dtype="<f4").astype(float).tolist()
        else:
            vector = (await embedder.embed([key[1]]))[0]
            if shared is not None:
                await shared.set(shared_key, np.asarray(vector, dtype="<f4").tobytes())
        self._query_vectors[key] = vector
        return vector


def query_vector_key(model: str, query: str) -> str:
    """The shared cache's key of a query's vector: model and text hashed, so any text fits."""
    digest = hashlib.sha256(f"{model}\0{query}".encode()).hexdigest()[:32]
    return f"query-vector:{digest}"
