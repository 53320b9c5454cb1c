"""The search service's use cases: building versions (write side) and answering (read side)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import orjson
from cachetools import LRUCache, TTLCache
from twinmcp.search.cache import AnswerCache, RedisCache, answer_key
from twinmcp.search.changes import EVERY_LIBRARY, ChangeFeed
from twinmcp.search.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    VersionNotIndexedError,
)
from twinmcp.search.heap import build_long_lived
from twinmcp.search.identity import build_resolver, clean_aliases, clean_packages
from twinmcp.search.library import (
    SOURCE_TYPE_CATALOG,
    CatalogEntry,
    LibraryInfo,
    LibraryMeta,
    PackageRef,
)
from twinmcp.search.libraryid import MAX_ID_LENGTH, canonical_library_id, parse_library_id
from twinmcp.search.overview import overview
from twinmcp.search.ownertext import (
    clean_description,
    clean_meta,
    clean_snippet,
    rules_within,
    snippet_injection,
)
from twinmcp.search.packing import DEFAULT_BUDGET, pack
from twinmcp.search.projects import (
    LockedPackage,
    check_packages,
    check_project_name,
    locked_version,
)
from twinmcp.search.ranking import (
    DEFAULT_PARAMS,
    RANKER_BM25,
    RANKERS,
    Ranked,
    RankingParams,
    VersionIndex,
)
from twinmcp.search.rendering import Header, render_docs
from twinmcp.search.resolution import Candidate, Match, Resolver, repo_name
from twinmcp.search.snippets import SnippetRecord, printed_tokens
from twinmcp.search.store import NewSnippet, Store
from twinmcp.search.vectors import VectorStore
from twinmcp.search.versionrange import best_match
from twinmcp.tokens import count_tokens

logger = logging.getLogger(__name__)

try:
    from twinmcp.embedding import EmbeddingError as EmbeddingFailure
except ImportError:  # the embedding library is optional for the read side

    class EmbeddingFailure(Exception):  # type: ignore[no-redef]
        """Stands in for twinmcp.embedding.EmbeddingError when it is not installed."""


MAX_BUDGET = 100_000
# Longest strings a request may carry, in characters. A question or a task description fits
# well within MAX_QUERY_CHARS; names and ids are far shorter. Longer input is refused before
# any work, so one request's cost is bounded (a 900 kB name once cost a second of CPU).
MAX_QUERY_CHARS = 2_000
MAX_LIBRARY_NAME_CHARS = 256
MAX_LIBRARY_ID_CHARS = MAX_ID_LENGTH
MAX_VERSION_CHARS = 128
MAX_PROJECT_CHARS = 100
# Projects kept in memory per replica, and how long one is trusted before it is read again.
_MAX_PROJECTS_REMEMBERED = 256
PROJECT_FRESH_SECONDS = 10.0
# A registry release's library keeps at most this many release names (newest first).
MAX_REGISTRY_RELEASES = 2_000
MAX_REGISTRY_SOURCE_CHARS = 300
# Registry releases named in the answer to an unindexed version, best first.
MAX_FITTING_RELEASES = 5
MAX_RANKER_CHARS = 32
# Words of a ResolveLibrary query used as description evidence: more add cost, not accuracy.
MAX_RESOLVE_QUERY_WORDS = 32
# Query embeddings kept in memory: the same question comes back for other budgets, versions and
# libraries, and embedding it is most of an uncached query's time (a 384-float vector is 1.5 KB).
QUERY_VECTOR_CACHE_SIZE = 4096
_DENSE_TOP_K = 100


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
            is_cached=True,
            snippets=[ScoredSnippet(SnippetRecord.from_row(r[1:]), r[0]) for r in data["snippets"]],
        )


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


@dataclass
class SnippetInput:
    kind: str
    title: str
    description: str
    language: str
    content: str
    breadcrumb: tuple[str, ...]
    source_path: str
    source_url: str
    anchor: str
    embedding: Sequence[float] = field(default_factory=list)


# How long a replica trusts what it read of a library's versions. Its own publishes show at
# once; another replica's publish within this time. Without it every query, cached or not, paid
# three database reads before its answer-cache lookup (most of a cached answer's CPU).
LIBRARY_FRESH_SECONDS = 1.0
_MAX_LIBRARIES_REMEMBERED = 10_000


class _Unseen:
    """What the freshness cache answers for a library it does not hold (None is an answer)."""


_UNSEEN = _Unseen()
# Verdicts of the injection screen, per (build, snippet): a snippet's text never changes.
_MAX_VERDICTS_REMEMBERED = 200_000


class SearchDomain:
    """Both sides of the service over one store, vector store, answer cache and index cache."""

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
        self.embedder = embedder
        self.indexes = IndexCache(index_cache_bytes)
        self.params = params
        self._resolver: Resolver | None = None
        self._resolver_generation = -1
        self._resolver_checked = 0.0
        self._resolver_lock = asyncio.Lock()
        self._query_vectors: LRUCache[tuple[str, str], list[float]] = LRUCache(
            QUERY_VECTOR_CACHE_SIZE
        )
        # Full, it forgets the least recently asked library, never all of them at once.
        self._libraries: TTLCache[str, LibraryInfo | None] = TTLCache(
            _MAX_LIBRARIES_REMEMBERED, LIBRARY_FRESH_SECONDS, timer=clock
        )
        # Full, it forgets the least recently screened snippet, never all of them at once.
        self._verdicts: LRUCache[tuple[str, str], bool] = LRUCache(_MAX_VERDICTS_REMEMBERED)
        # Projects as read at most PROJECT_FRESH_SECONDS ago (another replica may re-register).
        self._projects: TTLCache[str, list[LockedPackage]] = TTLCache(
            _MAX_PROJECTS_REMEMBERED, PROJECT_FRESH_SECONDS, timer=clock
        )
        self.changes = changes if changes is not None else ChangeFeed()
        self.changes.on_change(self._forget)

    # ---- write side ---------------------------------------------------------------------

    async def begin_build(
        self,
        meta: LibraryMeta,
        version: str,
        base_version: str,
        embedding_model: str,
        embedding_dimension: int,
        idempotency_key: str,
        make_default: bool,
    ) -> tuple[str, list[str]]:
        library_id = canonical_library_id(meta.library_id)
        if not version.strip():
            raise InvalidInputError("version is empty; give the tag, branch or name indexed")
        if bool(embedding_model) != (embedding_dimension > 0):
            raise InvalidInputError(
                "embedding space needs both a model and a positive dimension, or neither "
                "(a build without vectors)"
            )
        meta, dropped = clean_meta(
            LibraryMeta(
                library_id=library_id,
                title=meta.title,
                description=meta.description,
                source_type=meta.source_type,
                source_url=meta.source_url,
                trust_score=meta.trust_score,
                stars=meta.stars,
                package_names=meta.package_names,
                rules=meta.rules,
                packages=clean_packages(meta.packages),
                aliases=clean_aliases(meta.aliases),
                registry_source=meta.registry_source.strip()[:MAX_REGISTRY_SOURCE_CHARS],
                registry_releases=tuple(
                    v.strip()
                    for v in meta.registry_releases[:MAX_REGISTRY_RELEASES]
                    if 0 < len(v.strip()) <= MAX_VERSION_CHARS
                ),
            )
        )
        for reason in dropped:
            # The owner's text is not stored; the operator learns why from here.
            logger.warning("%s %s: left out, %s", library_id, version.strip(), reason)
        build, completed = await self.store.begin_build(
            meta,
            version.strip(),
            base_version.strip(),
            embedding_model,
            embedding_dimension,
            idempotency_key.strip(),
            make_default,
        )
        return build.build_id, completed

    async def put_document(
        self,
        build_id: str,
        path: str,
        content_hash: str,
        title: str,
        snippets: Sequence[SnippetInput],
    ) -> int:
        if not path.strip():
            raise InvalidInputError("path is empty; give the document's path in its repository")
        build = await self.store.open_build(build_id)
        items: list[NewSnippet] = []
        for number, snippet in enumerate(snippets, start=1):
            size = len(snippet.embedding)
            if build.embedding_model and size != build.embedding_dimension:
                raise InvalidInputError(
                    f"snippet {number} of {path} has a {size}-dimensional embedding but build "
                    f"{build_id} stores {build.embedding_model} vectors of "
                    f"{build.embedding_dimension} dimensions; embed with that model (vectors "
                    "are never padded or truncated)"
                )
            if not build.embedding_model and size:
                raise InvalidInputError(
                    f"snippet {number} of {path} carries an embedding but build {build_id} was "
                    "begun without an embedding space; begin the build with its model and "
                    "dimension"
                )
            if not snippet.content.strip():
                raise InvalidInputError(f"snippet {number} of {path} has no content")
            kind = snippet.kind if snippet.kind in ("code", "info") else "info"
            source_path = snippet.source_path or path
            record = clean_snippet(
                SnippetRecord(
                    snippet_id="",
                    kind=kind,
                    title=snippet.title,
                    description=snippet.description,
                    language=snippet.language,
                    content=snippet.content,
                    breadcrumb=tuple(snippet.breadcrumb),
                    source_path=source_path,
                    source_url=snippet.source_url,
                    anchor=snippet.anchor,
                    tokens=printed_tokens(
                        snippet.title,
                        snippet.description,
                        snippet.content,
                        snippet.source_url,
                        source_path,
                    ),
                )
            )
            items.append(NewSnippet(record, snippet.embedding))
        keys = await self.store.put_document(build, path, content_hash, title, items)
        if self.vectors.is_external and build.embedding_model:
            await self.vectors.upsert(
                build_id, [(key, item.embedding) for key, item in zip(keys, items, strict=True)]
            )
        return len(items)

    async def copy_documents(self, build_id: str, paths: Sequence[str]) -> tuple[int, int]:
        build = await self.store.open_build(build_id)
        if not build.base_version:
            raise InvalidInputError(
                f"build {build_id} has no base_version to copy from; begin it with one"
            )
        if not paths:
            return 0, 0
        _, base = await self.store.version_or_raise(build.library_id, build.base_version)
        if (base.embedding_model, base.embedding_dimension) != (
            build.embedding_model,
            build.embedding_dimension,
        ):
            raise ConflictError(
                f"base version {build.base_version} was embedded with "
                f"{base.embedding_model or 'no model'} ({base.embedding_dimension} dimensions) "
                f"but build {build_id} uses {build.embedding_model or 'no model'} "
                f"({build.embedding_dimension}); put these documents again instead of copying"
            )
        documents, snippets, vectors = await self.store.copy_documents(
            build, base.build_id, list(dict.fromkeys(paths))
        )
        if self.vectors.is_external and vectors:
            await self.vectors.upsert(build_id, vectors)
        return documents, snippets

    async def document_hashes(
        self, library_id: str, version: str
    ) -> tuple[str, list[tuple[str, str]], str, int]:
        ref = parse_library_id(library_id, version)
        _, chosen = await self.store.version_or_raise(ref.library_id, ref.version)
        hashes = await self.store.hashes(chosen.build_id)
        return chosen.version, hashes, chosen.embedding_model, chosen.embedding_dimension

    async def publish(self, build_id: str) -> tuple[str, str, int, int]:
        """(library id, version, snippets, snippets withheld as suspected prompt injection)."""
        build = await self.store.build(build_id)
        if build.state == "published":
            # A retried publish whose answer was lost: the same answer again.
            index = await self._index(build_id)
            suspects = await asyncio.to_thread(_suspects, index.snippets)
            return build.library_id, build.version, build.snippet_count, len(suspects)
        if build.state != "open":
            raise ConflictError(
                f"build {build_id} is {build.state}; only an open build can be published"
            )
        snippets, matrix = await self.store.build_snippets(build_id)
        if not snippets:
            raise ConflictError(
                f"build {build_id} has no documents; put at least one before publishing"
            )
        with_ids = snippets
        index = await asyncio.to_thread(
            build_long_lived,
            VersionIndex.build,
            build_id,
            with_ids,
            None if self.vectors.is_external else matrix,
            build.embedding_model,
        )
        suspects = await asyncio.to_thread(_suspects, snippets)
        if suspects:
            logger.warning(
                "%s %s: %d snippets read as instructions to AI agents (suspected prompt "
                "injection) and are withheld from answers: %s",
                build.library_id,
                build.version,
                len(suspects),
                ", ".join(suspects[:20]),
            )
        count, replaced = await self.store.publish(build, index)
        self.indexes.put(index)
        await self.changes.changed(build.library_id)
        for old in replaced:
            self.indexes.drop(old)
            if self.vectors.is_external:
                await self.vectors.delete_namespace(old)
        logger.info("published %s %s (%d snippets)", build.library_id, build.version, count)
        return build.library_id, build.version, count, len(suspects)

    async def abort(self, build_id: str) -> None:
        build = await self.store.build(build_id)
        if build.state == "aborted":
            return
        await self.store.abort(build_id)
        if self.vectors.is_external and build.embedding_model:
            await self.vectors.delete_namespace(build_id)

    async def import_catalog(self, entries: Sequence[CatalogEntry]) -> int:
        for entry in entries:
            if not entry.registry.strip() or not entry.name.strip():
                raise InvalidInputError("every catalog entry needs a registry and a name")
        count = await self.store.import_catalog(entries)
        await self.changes.changed(EVERY_LIBRARY)
        return count

    async def delete_library(self, library_id: str) -> None:
        canonical = canonical_library_id(library_id)
        removed = await self.store.delete_library(canonical)
        await self.changes.changed(canonical)
        for build_id in removed:
            self.indexes.drop(build_id)
            if self.vectors.is_external:
                await self.vectors.delete_namespace(build_id)

    def _forget(self, library_id: str) -> None:
        """Drops what this replica remembers of a changed library (EVERY_LIBRARY: of all)."""
        if library_id == EVERY_LIBRARY:
            self._libraries.clear()
        else:
            self._libraries.pop(library_id, None)
        self._resolver_checked = 0.0

    # ---- read side ----------------------------------------------------------------------

    async def query_docs(
        self,
        library_id: str,
        version: str,
        query: str,
        budget: int,
        ranker: str = "",
        project: str = "",
        locked: Sequence[LockedPackage] = (),
    ) -> Answer:
        check_length("library_id", library_id, MAX_LIBRARY_ID_CHARS)
        check_length("version", version, MAX_VERSION_CHARS)
        check_length("query", query, MAX_QUERY_CHARS)
        check_length("ranker", ranker, MAX_RANKER_CHARS)
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
        info = await self._library(ref.library_id)
        if info is None or not info.versions:
            raise await self._unknown_library(ref.library_id)
        asked = ref.version
        if (project or locked) and not asked:
            # The version the project locks; a library it does not lock answers its default.
            asked = locked_version(info.meta, await self.project_locks(project, locked))
        chosen = info.select(asked) if asked else info.default
        available = [v.version for v in info.versions]
        if chosen is None:
            raise version_not_indexed(info, asked)
        key = answer_key(chosen.build_id, text, budget, ranker)
        cached = await self.cache.get(key)
        if cached is not None:
            return Answer.from_bytes(cached)
        index = await self._index(chosen.build_id)
        # The owner's rules take at most a bounded share of the budget; snippets get the rest.
        rules, rules_tokens = rules_within(info.meta.rules, budget)
        room = budget - rules_tokens

        def is_withheld(snippet: SnippetRecord) -> bool:
            return self._is_suspect(chosen.build_id, snippet)

        # Ranking and packing are CPU work: in a thread, so other calls are answered meanwhile.
        if not text:
            packed = await asyncio.to_thread(
                lambda: pack(
                    overview(index.snippets), room, relevance_floor=0.0, is_withheld=is_withheld
                )
            )
        elif ranker == RANKER_BM25:
            packed = await asyncio.to_thread(
                lambda: pack(
                    index.search_bm25(text), room, relevance_floor=0.0, is_withheld=is_withheld
                )
            )
        else:
            ranked = await self._rank(index, chosen.embedding_model, chosen.build_id, text)
            packed = await asyncio.to_thread(pack, ranked, room, is_withheld=is_withheld)
        header = Header(
            ref.library_id, info.meta.title, chosen.version, available, rules, packed.withheld
        )
        # Cleaned again when served: versions stored before the cleaning hold raw text.
        cleaned = [clean_snippet(r.snippet) for r in packed.snippets]
        # Packing estimated the markup; the rendering fits the exact budget, header included.
        rendered = await asyncio.to_thread(render_docs, header, cleaned, budget)
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
            tokens_used=count_tokens(rendered.text),
            available_versions=available,
            build_id=chosen.build_id,
            withheld_snippets=packed.withheld,
            text=rendered.text,
        )
        await self.cache.set(key, answer.to_bytes())
        return answer

    async def register_project(
        self, name: str, packages: Sequence[LockedPackage]
    ) -> list[tuple[LockedPackage, str, bool]]:
        """Stores the project; each package with the documented library that claims it ("" for
        none) and whether that library has the locked version indexed."""
        name = check_project_name(name)
        kept = check_packages(packages)
        await self.store.save_project(name, [(p.registry, p.name, p.version) for p in kept])
        self._projects[name] = kept
        libraries = [info for info in await self.store.all_libraries() if info.versions]
        out: list[tuple[LockedPackage, str, bool]] = []
        for package in kept:
            owner = next((i for i in libraries if locked_version(i.meta, [package])), None)
            if owner is None:
                out.append((package, "", False))
                continue
            is_indexed = bool(package.version) and owner.select(package.version) is not None
            out.append((package, owner.meta.library_id, is_indexed))
        return out

    async def project_packages(self, name: str) -> list[LockedPackage]:
        """The project's locked packages; InvalidInputError names a project never registered."""
        check_length("project", name, MAX_PROJECT_CHARS)
        cached = self._projects.get(name)
        if cached is not None:
            return cached
        stored = await self.store.project(name.strip())
        if stored is None:
            raise InvalidInputError(
                f"no project named {name!r} is registered; register it with POST "
                "/api/v1/admin/projects (its manifests and lockfiles), or leave the project out"
            )
        packages = [LockedPackage(r, n, v) for r, n, v in stored]
        self._projects[name] = packages
        return packages

    async def project_locks(
        self, project: str, locked: Sequence[LockedPackage]
    ) -> list[LockedPackage]:
        """The packages a request's project locks: the registered project's when it names one,
        else the ones it sent (checked as a registration's)."""
        return await self.project_packages(project) if project else check_packages(locked)

    async def locked_versions(
        self, library_ids: Sequence[str], project: str, locked: Sequence[LockedPackage] = ()
    ) -> dict[str, str]:
        """The version the project locks of each documented library among `library_ids`."""
        packages = await self.project_locks(project, locked)
        out: dict[str, str] = {}
        for library_id in library_ids:
            info = await self._library(library_id)
            if info is not None:
                version = locked_version(info.meta, packages)
                if version:
                    out[library_id] = version
        return out

    def _is_suspect(self, build_id: str, snippet: SnippetRecord) -> bool:
        """Whether the snippet reads as instructions to an agent (remembered per build)."""
        key = (build_id, snippet.snippet_id)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = snippet_injection(snippet) is not None
            self._verdicts[key] = verdict
        return verdict

    async def _library(self, library_id: str) -> LibraryInfo | None:
        """The library's versions as read at most LIBRARY_FRESH_SECONDS ago."""
        # One `get`, not `in` then `[]`: the entry could expire between the two.
        seen = self._libraries.get(library_id, _UNSEEN)
        if not isinstance(seen, _Unseen):
            return seen
        info = await self.store.library(library_id)
        self._libraries[library_id] = info
        return info

    async def _rank(
        self, index: VersionIndex, model: str, build_id: str, query: str
    ) -> list[Ranked]:
        query_vector = None
        dense_scores: dict[int, float] | None = None
        vector = await self.query_vector(model, query)
        if vector is not None:
            if self.vectors.is_external:
                matches = await self.vectors.query(build_id, vector, _DENSE_TOP_K)
                positions = index.positions()
                dense_scores = {positions[k]: s for k, s in matches if k in positions}
            elif index.vectors is not None:
                query_vector = np.asarray(vector, dtype=np.float32)
        return await asyncio.to_thread(
            index.search, query, query_vector, self.params, dense_scores=dense_scores
        )

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

    async def _index(self, build_id: str) -> VersionIndex:
        index = self.indexes.get(build_id)
        if index is not None:
            return index
        async with self.indexes.lock(build_id):
            index = self.indexes.get(build_id)
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
                index = await asyncio.to_thread(
                    build_long_lived,
                    VersionIndex.build,
                    build_id,
                    snippets,
                    None if self.vectors.is_external else matrix,
                    build.embedding_model,
                )
                await self.store.store_index(build_id, index)
            self.indexes.put(index)
            # bench.scale_bench reads these lines: cold-load times and what the cache holds.
            logger.info(
                "loaded index %s (%d snippets) in %.1f ms; the index cache holds %d indexes, "
                "%.1f of %.0f MiB",
                build_id,
                len(index.snippets),
                (time.perf_counter() - started) * 1000,
                len(self.indexes),
                self.indexes.total_bytes / 2**20,
                self.indexes.max_bytes / 2**20,
            )
            return index

    async def _unknown_library(self, library_id: str) -> NotFoundError:
        resolver = await self.resolver()
        name = repo_name(library_id.strip("/"))
        resolved = await asyncio.to_thread(resolver.resolve, name, "", 5)
        matches = [m for m in resolved if m.candidate.is_documented]
        suggestions = [m.candidate.library_id for m in matches]
        hint = (
            f" Did you mean {', '.join(suggestions)}?"
            if suggestions
            else " Find the id with ResolveLibrary."
        )
        return NotFoundError(
            f"library {library_id} is not indexed.{hint}",
            suggestions=suggestions,
            library_id=library_id,
        )

    # ---- libraries and resolution -------------------------------------------------------

    async def resolver(self) -> Resolver:
        """The resolution index, rebuilt when any replica changed libraries or the catalog."""
        now = time.monotonic()
        if self._resolver is not None and now - self._resolver_checked < 1.0:
            return self._resolver
        async with self._resolver_lock:
            if self._resolver is not None and time.monotonic() - self._resolver_checked < 1.0:
                return self._resolver
            generation = await self.store.generation()
            if self._resolver is None or generation != self._resolver_generation:
                libraries = await self.store.all_libraries()
                entries = await self.store.catalog_entries()
                self._resolver = await asyncio.to_thread(
                    build_long_lived, build_resolver, libraries, entries
                )
                self._resolver_generation = generation
            self._resolver_checked = time.monotonic()
            return self._resolver

    async def resolve(self, library_name: str, query: str, limit: int) -> list[Match]:
        check_length("library_name", library_name, MAX_LIBRARY_NAME_CHARS)
        check_length("query", query, MAX_QUERY_CHARS)
        if not library_name.strip() and not query.strip():
            raise InvalidInputError("library_name is empty; give a library or package name")
        limit = 10 if limit <= 0 else min(limit, 50)
        # Resolution's cost grows with the words it reads (a 2,000-character query of 300 words
        # took 210 ms, its first 32 words 70 ms, a name alone 1.4 ms): past a few dozen words
        # more add cost, not accuracy.
        bounded = " ".join(query.split()[:MAX_RESOLVE_QUERY_WORDS])
        library_name = " ".join(library_name.split()[:MAX_RESOLVE_QUERY_WORDS])
        resolver = await self.resolver()
        # Resolution over the whole catalog is CPU work: in a thread, off the event loop.
        return await asyncio.to_thread(resolver.resolve, library_name or bounded, bounded, limit)

    async def get_library(self, library_id: str) -> tuple[LibraryInfo, int]:
        """The library and its catalog popularity rank."""
        check_length("library_id", library_id, MAX_LIBRARY_ID_CHARS)
        canonical = canonical_library_id(library_id)
        info = await self.store.library(canonical)
        if info is not None:
            return info, info.popularity_rank
        resolver = await self.resolver()
        for candidate in resolver.candidates:
            if candidate.library_id == canonical and not candidate.is_documented:
                return catalog_info(candidate), candidate.popularity_rank
        raise await self._unknown_library(canonical)

    async def list_libraries(
        self, page_size: int, page_token: str, include_catalog: bool
    ) -> tuple[list[LibraryInfo], str]:
        check_length("page_token", page_token, MAX_LIBRARY_ID_CHARS)
        size = 50 if page_size <= 0 else min(page_size, 500)
        if not include_catalog:
            page = await self.store.libraries(page_token, size + 1)
            next_token = page[size - 1].meta.library_id if len(page) > size else ""
            return page[:size], next_token
        resolver = await self.resolver()
        ordered = sorted(resolver.candidates, key=lambda c: c.library_id)
        after = [c for c in ordered if c.library_id > page_token][: size + 1]
        infos: list[LibraryInfo] = []
        for candidate in after[:size]:
            if candidate.is_documented:
                info = await self.store.library(candidate.library_id)
                if info is not None:
                    infos.append(info)
                    continue
            infos.append(catalog_info(candidate))
        next_token = after[size - 1].library_id if len(after) > size else ""
        return infos, next_token


def query_vector_key(model: str, query: str) -> str:
    """The shared cache's key of a query's vector: model and text hashed, so any text fits."""
    digest = hashlib.sha256(f"{model}\0{query}".encode()).hexdigest()[:32]
    return f"query-vector:{digest}"


def _suspects(snippets: Sequence[SnippetRecord]) -> list[str]:
    """Ids of the snippets that read as instructions aimed at AI agents."""
    return [s.snippet_id for s in snippets if snippet_injection(s) is not None]


def version_not_indexed(info: LibraryInfo, asked: str) -> VersionNotIndexedError:
    """The refusal of `asked`: what is indexed and, for a registry release's library, which
    releases the registry has that fit and the source that ingests the best of them."""
    library_id = info.meta.library_id
    available = [v.version for v in info.versions]
    message = f"version {asked!r} of {library_id} is not indexed; indexed: {', '.join(available)}."
    source, releases = info.meta.registry_source, list(info.meta.registry_releases)
    fitting: list[str] = []
    hint = ""
    if source and releases:
        if asked in releases:
            fitting = [asked]
        else:
            remaining = list(releases)
            while len(fitting) < MAX_FITTING_RELEASES:
                best = best_match(asked, remaining)
                if best is None:
                    break
                fitting.append(best)
                remaining.remove(best)
        if fitting:
            separator = "==" if source.startswith("pypi:") else "@"
            hint = f"{source}{separator}{fitting[0]}"
            message += (
                f" {source} has {', '.join(fitting)}; ingest {fitting[0]} with "
                f"`twinmcp ingest {hint}`, or ask for an indexed version"
            )
        else:
            message += (
                f" {source} has no release {asked!r}; its newest are "
                f"{', '.join(releases[:MAX_FITTING_RELEASES])}. Ask for an indexed version"
            )
    else:
        message += " Ask for one of them, or omit the version for the default"
    return VersionNotIndexedError(
        message,
        available,
        library_id=library_id,
        version=asked,
        registry_releases=fitting,
        ingest_source=hint,
    )


def check_length(field_name: str, value: str, limit: int) -> None:
    """Refuses a string longer than `limit` characters, naming the field and the limit."""
    if len(value) > limit:
        raise InvalidInputError(
            f"{field_name} is {len(value)} characters long; the limit is {limit}. "
            f"Send a shorter {field_name}"
        )


def catalog_info(candidate: Candidate) -> LibraryInfo:
    # A registry summary is its package owner's text, shown to agents like a description.
    description, _ = clean_description(candidate.description)
    return LibraryInfo(
        meta=LibraryMeta(
            library_id=candidate.library_id,
            title=candidate.title,
            description=description,
            source_type=SOURCE_TYPE_CATALOG,
            package_names=tuple(candidate.names),
            packages=tuple(PackageRef(candidate.registry, name) for name in candidate.names),
        ),
        popularity_rank=candidate.popularity_rank,
    )
