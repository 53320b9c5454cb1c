"""WatchLibraries: who keeps answers hears of every change, from this replica or another."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from support.databases import REDIS_TEST_URL, fresh_postgres_database
from twinmcp.search.changes import ChangeFeed
from twinmcp.search.v1 import index_pb2, search_pb2

Client = Any


async def _next(stream: AsyncIterator[search_pb2.LibraryChange]) -> search_pb2.LibraryChange:
    return await asyncio.wait_for(anext(stream), timeout=10)


async def test_a_watch_syncs_then_names_each_published_or_deleted_library(
    sqlite_client: Client, kit: Any
) -> None:
    stream = aiter(sqlite_client.search.WatchLibraries(search_pb2.WatchLibrariesRequest()))
    first = await _next(stream)
    assert first.is_sync and first.is_complete  # a lone SQLite process sees every change
    await kit.publish_library(sqlite_client, "/acme/webkit", "1.0")
    assert (await _next(stream)).library_id == "/acme/webkit"
    await kit.publish_library(sqlite_client, "/acme/other", "2.0")
    assert (await _next(stream)).library_id == "/acme/other"
    await sqlite_client.index.DeleteLibrary(
        index_pb2.DeleteLibraryRequest(library_id="/acme/webkit"), timeout=10
    )
    assert (await _next(stream)).library_id == "/acme/webkit"


async def test_a_stopping_replica_ends_its_watches_and_refuses_new_ones(
    tmp_path: Path, make_env: Any, open_client: Any, close_client: Any
) -> None:
    client = await open_client(make_env(tmp_path))
    try:
        call = client.search.WatchLibraries(search_pb2.WatchLibrariesRequest())
        stream = aiter(call)
        assert (await _next(stream)).is_sync
        await client.server.domain.changes.close()
        with pytest.raises(StopAsyncIteration):
            await _next(stream)
        refused = client.search.WatchLibraries(search_pb2.WatchLibrariesRequest())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _next(aiter(refused))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await close_client(client)


async def test_replicas_sharing_postgresql_without_redis_do_not_vouch_for_answers(
    tmp_path: Path, make_env: Any, open_client: Any, close_client: Any
) -> None:
    async with fresh_postgres_database("twinmcp_search_changes") as url:
        client = await open_client({**make_env(tmp_path), "DATABASE_URL": url})
        try:
            stream = aiter(client.search.WatchLibraries(search_pb2.WatchLibrariesRequest()))
            first = await _next(stream)
            assert first.is_sync and not first.is_complete
        finally:
            await close_client(client)


async def test_over_redis_a_publish_on_one_replica_reaches_the_watchers_of_another(
    tmp_path: Path, make_env: Any, open_client: Any, close_client: Any, kit: Any
) -> None:
    async with fresh_postgres_database("twinmcp_search_changes") as url:
        env = {
            **make_env(tmp_path),
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_TEST_URL,
            "SEARCH_CACHE_PREFIX": f"twinmcp:test:{uuid.uuid4().hex}:",
        }
        writer, watched = await open_client(env), await open_client(env)
        try:
            for _ in range(200):  # the subscription is made in the background at start
                if watched.server.domain.changes.is_complete:
                    break
                await asyncio.sleep(0.02)
            stream = aiter(watched.search.WatchLibraries(search_pb2.WatchLibrariesRequest()))
            first = await _next(stream)
            assert first.is_sync and first.is_complete
            await kit.publish_library(writer, "/acme/webkit", "1.0")
            assert (await _next(stream)).library_id == "/acme/webkit"
            # The other replica also forgot what it knew of the library: a query right after
            # the publish sees it (no freshness window to wait out).
            reply = await watched.search.QueryDocs(
                search_pb2.QueryDocsRequest(library_id="/acme/webkit", query="cors"), timeout=10
            )
            assert reply.version == "1.0"
        finally:
            await close_client(writer)
            await close_client(watched)


async def test_a_lost_redis_channel_ends_watches_so_watchers_stop_keeping() -> None:
    feed = ChangeFeed(redis_url="redis://127.0.0.1:1/0", is_sole_replica=True)
    await feed.start()
    try:
        async with feed.watch() as (is_complete, _changes):
            assert not is_complete  # Redis is configured but unreachable: nothing is vouched
    finally:
        await feed.close()


async def _until_complete(feed: ChangeFeed) -> None:
    for _ in range(250):
        if feed.is_complete:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the feed did not subscribe within 5 s")


class _BrokenPublisher:
    async def publish(self, channel: str, message: str) -> int:
        raise RedisConnectionError("connection reset")

    async def aclose(self) -> None:
        return None


async def test_a_change_that_cannot_be_announced_ends_watches_until_resubscribed() -> None:
    feed = ChangeFeed(redis_url=REDIS_TEST_URL, channel=f"test:{uuid.uuid4().hex}")
    await feed.start()
    try:
        await _until_complete(feed)
        async with feed.watch() as (is_complete, changes):
            assert is_complete
            feed._publisher = _BrokenPublisher()  # other replicas will not hear this one
            await feed.changed("/acme/webkit")
            seen = [library_id async for library_id in changes]
        assert seen == ["/acme/webkit"]  # delivered locally, then the watch ended
        assert not feed.is_complete
        await _until_complete(feed)  # a fresh subscription vouches again
    finally:
        await feed.close()
