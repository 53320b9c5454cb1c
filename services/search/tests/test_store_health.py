"""Health follows the database: a corrupted SQLite file is NOT_SERVING, never SERVING."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from twinmcp.search.config import Settings
from twinmcp.search.errors import StoreUnreadableError
from twinmcp.search.server import start

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _health(client: Any) -> int:
    stub = health_pb2_grpc.HealthStub(client.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    return int(reply.status)


def _scramble(database: Path, pages: list[int] | None = None) -> None:
    """Overwrites the given pages (every page when None) with a pattern no SQLite page holds."""
    data = bytearray(database.read_bytes())
    size = 4096
    numbers = pages if pages is not None else range(1, len(data) // size + 1)
    for number in numbers:
        start = (number - 1) * size
        data[start + 16 : start + size - 96] = b"\xa5" * (size - 112)
    database.write_bytes(bytes(data))


def _scramble_log(log: Path) -> None:
    """Overwrites a write-ahead log's frames (its 32-byte header kept), when there is one."""
    if not log.exists():
        return
    data = bytearray(log.read_bytes())
    data[32:] = b"\xa5" * (len(data) - 32)
    log.write_bytes(bytes(data))


def _pages_of_search_tables(database: Path) -> list[int]:
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA page_size").fetchone()[0] == 4096
        rows = connection.execute(
            "SELECT pageno FROM dbstat WHERE name LIKE 'search_%' OR name LIKE '%search_%'"
        ).fetchall()
    return [row[0] for row in rows]


async def _published_then_stopped(
    tmp_path: Path, make_env: Any, open_client: Any, close_client: Any, kit: Any
) -> Path:
    client = await open_client(make_env(tmp_path))
    await kit.publish_library(client)
    await close_client(client)
    return tmp_path / "search.db"


async def test_a_database_whose_pages_are_corrupted_starts_not_serving(
    tmp_path: Path,
    make_env: Any,
    open_client: Any,
    close_client: Any,
    kit: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = await _published_then_stopped(tmp_path, make_env, open_client, close_client, kit)
    # The schema and migrations' own table stay intact, so start-up gets past migrating; the
    # service's tables are unreadable.
    _scramble(database, _pages_of_search_tables(database))
    with caplog.at_level(logging.ERROR, logger="twinmcp.search.server"):
        client = await open_client(make_env(tmp_path))
    try:
        assert await _health(client) == NOT_SERVING
        assert "search database cannot be read" in caplog.text
        assert not client.server.is_store_readable
    finally:
        await close_client(client)


async def test_a_database_that_is_not_sqlite_stops_start_up_with_a_clear_message(
    tmp_path: Path, make_env: Any, open_client: Any, close_client: Any, kit: Any
) -> None:
    database = await _published_then_stopped(tmp_path, make_env, open_client, close_client, kit)
    _scramble(database)
    with pytest.raises(StoreUnreadableError) as caught:
        await start(Settings.from_env(make_env(tmp_path)))
    message = str(caught.value)
    assert "search.db cannot be read" in message
    assert "restore it from a backup" in message


async def test_a_database_corrupted_while_serving_turns_health_not_serving(
    tmp_path: Path, make_env: Any, open_client: Any, close_client: Any, kit: Any
) -> None:
    env = {**make_env(tmp_path), "SEARCH_HEALTH_PROBE_SECONDS": "0.05"}
    client = await open_client(env)
    try:
        await kit.publish_library(client)
        assert await _health(client) == SERVING
        stub = health_pb2_grpc.HealthStub(client.channel)
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert (await watch.read()).status == SERVING
        await client.server.engine.dispose()  # no connection keeps pages read before
        _scramble(tmp_path / "search.db")
        # A probe may have held a connection through dispose(), so the write-ahead log can
        # still hold good copies of the pages; they are scrambled too.
        _scramble_log(tmp_path / "search.db-wal")
        # The periodic probe notices without being asked.
        assert (await watch.read()).status == NOT_SERVING
        watch.cancel()
        assert await _health(client) == NOT_SERVING
    finally:
        await close_client(client)


async def test_health_comes_back_when_the_database_is_readable_again(
    tmp_path: Path, make_env: Any, open_client: Any, close_client: Any, kit: Any
) -> None:
    client = await open_client(make_env(tmp_path))
    try:
        await kit.publish_library(client)
        database = tmp_path / "search.db"
        await client.server.engine.dispose()
        intact = database.read_bytes()
        _scramble(database)
        assert not await client.server.check_store()
        assert await _health(client) == NOT_SERVING
        await client.server.engine.dispose()
        database.write_bytes(intact)
        assert await client.server.check_store()
        assert await _health(client) == SERVING
    finally:
        await close_client(client)
