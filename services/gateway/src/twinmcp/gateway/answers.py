"""query-docs answers kept at the edge for exactly as long as the search service vouches for them.

A cached answer costs the search service a gRPC call that is most of the price of the request
(the answer itself comes from search's own cache in microseconds). So the gateway keeps
answers too, but only while it follows the search service's WatchLibraries stream and that
stream says it is *complete* (it hears every change in the fleet). Each change drops the
answers of its library; losing the stream drops everything and stops keeping until a new
complete sync. A reply that was in flight while any change arrived is not kept, so an answer
computed from a replaced version can never be stored after its invalidation.
One race remains with several search replicas: a replica that has not yet heard of a change
(Redis delivers it in milliseconds) may answer from the old version after the gateway heard of
it. `max_age_seconds` bounds how long such an answer can be kept; with one search process
there is no such race.
Requests are still authenticated and counted against rate limits before the lookup.
A kept answer carries the text search rendered within its budget, so a hit is served as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

import grpc
from prometheus_client import Counter, Gauge
from twinmcp.search.v1 import search_pb2

logger = logging.getLogger(__name__)

EDGE_ANSWERS = Counter(
    "twinmcp_gateway_edge_answers_total",
    "query-docs lookups in the gateway's answer store, by result (hit, miss, off)",
    ["result"],
)
_HIT, _MISS, _OFF = (EDGE_ANSWERS.labels(result) for result in ("hit", "miss", "off"))
EDGE_LIVE = Gauge(
    "twinmcp_gateway_edge_answers_live",
    "1 while the gateway follows a complete library change feed and keeps answers",
)

Key = tuple[str, str, str, int]


@dataclass(frozen=True)
class _Kept:
    library_id: str
    reply: search_pb2.QueryDocsResponse
    size: int
    expires_at: float


class EdgeAnswers:
    """A byte-bounded LRU of QueryDocs replies, emptied by library change notifications."""

    def __init__(self, max_bytes: int, max_age_seconds: float = 60.0) -> None:
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        self._entries: OrderedDict[Key, _Kept] = OrderedDict()
        self._by_library: dict[str, set[Key]] = {}
        self._bytes = 0
        self._generation = 0  # moves on every change, sync and loss
        self.is_live = False

    @staticmethod
    def key(library_id: str, version: str, query: str, tokens: int) -> Key:
        return (library_id, version, query, tokens)

    def get(self, key: Key) -> search_pb2.QueryDocsResponse | None:
        if not self.is_live:
            _OFF.inc()
            return None
        kept = self._entries.get(key)
        if kept is not None and kept.expires_at <= time.monotonic():
            self._drop(key)  # expired: its bytes go back to the store now, not at eviction
            kept = None
        if kept is None:
            _MISS.inc()
            return None
        self._entries.move_to_end(key)
        _HIT.inc()
        return kept.reply

    def stamp(self) -> int:
        """Taken before asking search; `put` keeps the reply only if nothing changed since."""
        return self._generation

    def put(self, key: Key, stamp: int, reply: search_pb2.QueryDocsResponse) -> None:
        if not self.is_live or stamp != self._generation:
            return  # (a store of 0 bytes never goes live)
        kept_reply = search_pb2.QueryDocsResponse()
        kept_reply.CopyFrom(reply)
        kept_reply.is_cached = True
        size = kept_reply.ByteSize() + 256  # the key and bookkeeping, roughly
        if size > self.max_bytes // 4:
            return  # one answer must not evict a quarter of the store
        self._drop(key)
        kept = _Kept(reply.library_id, kept_reply, size, time.monotonic() + self.max_age_seconds)
        self._entries[key] = kept
        self._by_library.setdefault(kept.library_id, set()).add(key)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def changed(self, library_id: str) -> None:
        """A library's answers changed (empty id: every library's)."""
        self._generation += 1
        if not library_id:
            self._clear()
            return
        for key in list(self._by_library.get(library_id, ())):
            self._drop(key)

    def synced(self, is_complete: bool) -> None:
        """A watch started: nothing kept before it can be trusted; keep from now if complete."""
        self._generation += 1
        self._clear()
        self._set_live(is_complete and self.max_bytes > 0)

    def lost(self) -> None:
        """The watch ended: changes may go unheard from now on."""
        self._generation += 1
        self._clear()
        self._set_live(False)

    def __len__(self) -> int:
        return len(self._entries)

    def _set_live(self, is_live: bool) -> None:
        if is_live != self.is_live:
            logger.info(
                "answers kept at the edge: %s",
                "on (following a complete change feed)" if is_live else "off",
            )
        self.is_live = is_live
        EDGE_LIVE.set(1 if is_live else 0)

    def _drop(self, key: Key) -> None:
        kept = self._entries.pop(key, None)
        if kept is None:
            return
        self._bytes -= kept.size
        keys = self._by_library.get(kept.library_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_library[kept.library_id]

    def _clear(self) -> None:
        self._entries.clear()
        self._by_library.clear()
        self._bytes = 0


async def follow_changes(
    watch: grpc.aio.UnaryStreamMultiCallable[
        search_pb2.WatchLibrariesRequest, search_pb2.LibraryChange
    ],
    answers: EdgeAnswers,
    *,
    first_retry_seconds: float = 0.2,
    max_retry_seconds: float = 5.0,
) -> None:
    """Follows WatchLibraries for the gateway's lifetime, re-watching after any loss."""
    retry = first_retry_seconds
    while True:
        try:
            async for change in watch(search_pb2.WatchLibrariesRequest()):
                if change.is_sync:
                    answers.synced(change.is_complete)
                    retry = first_retry_seconds
                else:
                    answers.changed(change.library_id)
            reason = "the search service ended the watch"
        except grpc.aio.AioRpcError as error:
            reason = f"{error.code().name}: {error.details()}"
        except Exception as exc:  # answers must never be kept without a live watch
            logger.exception("library change watch failed unexpectedly")
            reason = type(exc).__name__
        answers.lost()
        logger.debug("library change watch lost (%s); again in %.1fs", reason, retry)
        await asyncio.sleep(retry)
        retry = min(retry * 2, max_retry_seconds)
