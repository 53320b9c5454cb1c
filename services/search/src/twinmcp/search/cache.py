"""Caching finished answers: Redis when configured, else an in-process LRU.

Keys include the build id of the version served, so a newly published version is never
answered from an entry made for the previous one.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

import redis.asyncio as redis
from cachetools import LRUCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


# Part of every key: answers cached before owner text was capped and screened (format 1), or
# before QueryDocs answers carried their rendered text (format 2), or before packing filled
# MINIMUM_FILL of the budget with long pages' wider cap (format 3), or before SearchDocs
# answers carried theirs (format 4), or before QueryDocs answers carried the project's note
# (format 5), are never served again.
ANSWER_FORMAT = 6


def answer_key(
    build_id: str, query: str, budget: int, ranker: str = "", project_note: str = ""
) -> str:
    """A QueryDocs answer's key; `project_note` (the text's line naming the project and the
    version it locks, "" without a project) tells apart answers for different projects."""
    normalised = " ".join(query.lower().split())
    raw = (
        f"{ANSWER_FORMAT}\0{build_id}\0{budget}\0{normalised}"
        + (f"\0{ranker}" if ranker else "")
        + (f"\0note\0{project_note}" if project_note else "")
    )
    digest = hashlib.sha256(raw.encode()).hexdigest()[:32]
    return f"answer:{build_id}:{digest}"


class AnswerCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...

    async def close(self) -> None: ...


# An answer at 5,000 tokens serialises to 20-200 KB (its text and its snippets): 2,048 of them
# held up to 370 MB in the scale benchmark before the cache was bounded by size too.
DEFAULT_ANSWER_CACHE_BYTES = 64 << 20


class MemoryCache:
    """A bounded LRU of serialised answers, for one replica: at most `max_entries` answers and
    `max_bytes` of them; an answer larger than `max_bytes` is not kept."""

    def __init__(
        self, max_entries: int = 2048, max_bytes: int = DEFAULT_ANSWER_CACHE_BYTES
    ) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: LRUCache[str, bytes] = LRUCache(max_bytes, getsizeof=len)

    async def get(self, key: str) -> bytes | None:
        return self._entries.get(key)

    async def set(self, key: str, value: bytes) -> None:
        if len(value) > self._max_bytes:
            return
        # An exact copy: orjson returns its output in the buffer it wrote into, up to ten times
        # the length (a 44 KB answer held 520 KB), and the bound counts the length.
        self._entries[key] = bytes(memoryview(value))
        while len(self._entries) > self._max_entries:
            self._entries.popitem()

    @property
    def total_bytes(self) -> int:
        return int(self._entries.currsize)

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    """Answers shared by every replica, expiring after `ttl_seconds`.

    A Redis outage degrades to uncached answers (logged), never to failed queries.
    """

    def __init__(self, url: str, ttl_seconds: int, prefix: str = "twinmcp:search:") -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._ttl = ttl_seconds
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            logger.warning("answer cache read failed: %s", exc)
            return None
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes) -> None:
        try:
            await self._client.set(self._prefix + key, value, ex=self._ttl)
        except (RedisError, OSError) as exc:
            logger.warning("answer cache write failed: %s", exc)

    async def close(self) -> None:
        await self._client.aclose()
