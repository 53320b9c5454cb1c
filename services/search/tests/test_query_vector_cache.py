"""Query vectors cached per (model, text): in process, and across replicas through Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as redis
from support.databases import REDIS_TEST_URL
from twinmcp.search.answering import Answerer
from twinmcp.search.cache import MemoryCache, RedisCache
from twinmcp.search.changes import ChangeFeed
from twinmcp.search.domain import SearchDomain
from twinmcp.search.vectors import LocalVectorStore


class CountingEmbedder:
    """Vectors exact in float32, different per text, and a count of the model's calls."""

    def __init__(self, model: str = "test-model") -> None:
        self.model = model
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        return [[float(len(text)), 0.5, -0.25, float(sum(map(ord, text)) % 97)] for text in texts]


def replica(cache: MemoryCache | RedisCache) -> Answerer:
    return SearchDomain(
        None,  # type: ignore[arg-type]  # _embed_query never reads the store
        LocalVectorStore(),
        cache,
        None,
        changes=ChangeFeed(),
    ).answerer


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    raw = redis.Redis.from_url(REDIS_TEST_URL)
    async for key in raw.scan_iter(match=f"{prefix}*"):
        await raw.delete(key)
    await raw.aclose()


async def test_a_repeated_question_is_embedded_once_in_one_process() -> None:
    domain = replica(MemoryCache())
    embedder = CountingEmbedder()
    first = await domain._embed_query(embedder, "how to  set a timeout")
    second = await domain._embed_query(embedder, "how to set a timeout")  # same words
    assert second == first and embedder.calls == 1


async def test_a_question_embedded_by_one_replica_is_not_embedded_again_by_another(
    prefix: str,
) -> None:
    caches = [RedisCache(REDIS_TEST_URL, 60, prefix) for _ in range(2)]
    one, two = (replica(cache) for cache in caches)
    embedder = CountingEmbedder()
    try:
        first = await one._embed_query(embedder, "how to set a timeout")
        second = await two._embed_query(embedder, "how to set a timeout")
        assert second == first and embedder.calls == 1
        # Another model's vector for the same text is its own entry.
        other = CountingEmbedder("other-model")
        await two._embed_query(other, "how to set a timeout")
        assert other.calls == 1
        raw = redis.Redis.from_url(REDIS_TEST_URL)
        keys = [k async for k in raw.scan_iter(match=f"{prefix}query-vector:*")]
        await raw.aclose()
        assert len(keys) == 2
    finally:
        for cache in caches:
            await cache.close()


async def test_an_unreachable_redis_still_embeds_the_question() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", 60)
    embedder = CountingEmbedder()
    try:
        vector = await replica(cache)._embed_query(embedder, "how to set a timeout")
    finally:
        await cache.close()
    assert embedder.calls == 1 and len(vector) == 4
