"""The in-process caches of a search replica: full ones evict one entry, never all of them."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence

import orjson
import pytest
from twinmcp.search import answering
from twinmcp.search.cache import MemoryCache
from twinmcp.search.changes import ChangeFeed
from twinmcp.search.domain import SearchDomain
from twinmcp.search.library import LibraryInfo
from twinmcp.search.ownertext import snippet_injection
from twinmcp.search.snippets import SnippetRecord
from twinmcp.search.vectors import LocalVectorStore


class _CountingStore:
    """The one Store call `Catalog.library` makes, counted; no library exists."""

    def __init__(self) -> None:
        self.reads = 0

    async def library(self, library_id: str) -> LibraryInfo | None:
        self.reads += 1
        return None


class _Embedder:
    model = "test-model"

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [[float(len(text))] for text in texts]


async def test_a_full_answer_cache_evicts_the_least_recently_used_answer_only() -> None:
    cache = MemoryCache(max_entries=10_000)
    for number in range(10_001):
        await cache.set(f"answer:{number}", b"x")
    assert await cache.get("answer:0") is None
    assert await cache.get("answer:1") == b"x"
    assert await cache.get("answer:10000") == b"x"


async def test_a_full_library_freshness_cache_forgets_one_library_not_all() -> None:
    store = _CountingStore()
    domain = SearchDomain(
        store,  # type: ignore[arg-type]
        LocalVectorStore(),
        MemoryCache(),
        None,
        clock=lambda: 100.0,
        changes=ChangeFeed(),
    )
    for number in range(10_001):
        await domain.catalog.library(f"/o/r{number}")
    assert store.reads == 10_001
    await domain.catalog.library("/o/r1")
    await domain.catalog.library("/o/r10000")
    assert store.reads == 10_001
    await domain.catalog.library("/o/r0")
    assert store.reads == 10_002


async def test_the_query_vector_cache_keeps_recent_questions_when_full() -> None:
    domain = SearchDomain(
        _CountingStore(),  # type: ignore[arg-type]
        LocalVectorStore(),
        MemoryCache(),
        None,
        changes=ChangeFeed(),
    )
    embedder = _Embedder()
    for number in range(4097):
        await domain.answerer._embed_query(embedder, f"question {number}")
    await domain.answerer._embed_query(embedder, "question 4096")
    await domain.answerer._embed_query(embedder, "question 1")
    assert embedder.calls == 4097
    await domain.answerer._embed_query(embedder, "question 0")
    assert embedder.calls == 4098


async def test_the_answer_cache_keeps_answers_within_its_byte_bound() -> None:
    cache = MemoryCache(max_entries=1_000, max_bytes=10_000)
    for number in range(30):
        await cache.set(f"answer:{number}", b"x" * 1_000)
        assert cache.total_bytes <= 10_000
    assert await cache.get("answer:29") == b"x" * 1_000
    assert await cache.get("answer:19") is None
    assert await cache.get("answer:20") == b"x" * 1_000


async def test_an_answer_larger_than_the_whole_answer_cache_is_not_kept() -> None:
    cache = MemoryCache(max_entries=10, max_bytes=100)
    await cache.set("answer:small", b"x" * 50)
    await cache.set("answer:huge", b"x" * 101)
    assert await cache.get("answer:huge") is None
    assert await cache.get("answer:small") == b"x" * 50


async def test_the_answer_cache_holds_about_what_it_counts_of_orjson_output() -> None:
    # orjson returns its output in an allocation several times its length.
    texts = [f"{n} " + "word " * 8_000 for n in range(20)]
    cache = MemoryCache(max_entries=100, max_bytes=64 << 20)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number, text in enumerate(texts):
            await cache.set(f"answer:{number}", orjson.dumps({"text": text}))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.total_bytes == sum(len(orjson.dumps({"text": t})) for t in texts)
    assert held < 1.5 * cache.total_bytes
    assert await cache.get("answer:7") == orjson.dumps({"text": texts[7]})


def _snippet(number: int) -> SnippetRecord:
    return SnippetRecord(
        f"s{number}", "info", f"Title {number}", "", "", f"text {number}", (), "a.md", "", "", 3
    )


async def test_a_full_injection_verdict_cache_keeps_the_most_recent_verdicts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screened: list[str] = []

    def counted(snippet: SnippetRecord) -> str | None:
        screened.append(snippet.snippet_id)
        return snippet_injection(snippet)

    monkeypatch.setattr(answering, "_MAX_VERDICTS_REMEMBERED", 3)
    monkeypatch.setattr(answering, "snippet_injection", counted)
    domain = SearchDomain(
        _CountingStore(),  # type: ignore[arg-type]
        LocalVectorStore(),
        MemoryCache(),
        None,
        changes=ChangeFeed(),
    )
    for number in range(4):
        assert not domain.answerer.is_suspect("build-1", _snippet(number))
    assert screened == ["s0", "s1", "s2", "s3"]
    # Past the bound only the least recently screened snippet is forgotten.
    assert not domain.answerer.is_suspect("build-1", _snippet(3))
    assert not domain.answerer.is_suspect("build-1", _snippet(2))
    assert not domain.answerer.is_suspect("build-1", _snippet(1))
    assert screened == ["s0", "s1", "s2", "s3"]
    assert not domain.answerer.is_suspect("build-1", _snippet(0))
    assert screened == ["s0", "s1", "s2", "s3", "s0"]
