"""gRPC servers recycle connections, so round-robin clients find replicas added by the HPA."""

from __future__ import annotations

import asyncio
import time

import grpc
from twinmcp.grpcserver import RunningServer, ServerOptions, start_server
from twinmcp.runtime.channels import open_channel

METHOD = "/twinmcp.test.Peer/Who"


async def who(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return context.peer().encode()


def register(server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(who)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("twinmcp.test.Peer", {"Who": handler}),)
    )


async def client_addresses(running: RunningServer, seconds: float) -> set[str]:
    """The client addresses the server saw while one channel called it for `seconds`."""
    seen: set[str] = set()
    channel = open_channel(f"127.0.0.1:{running.port}")
    try:
        call = channel.unary_unary(METHOD)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(seen) < 2:
            seen.add((await call(b"", timeout=5)).decode())
            await asyncio.sleep(0.05)
    finally:
        await channel.close()
    return seen


async def test_a_client_reconnects_after_the_maximum_connection_age() -> None:
    options = ServerOptions(port=0, max_connection_age_seconds=0.5, grace_seconds=1.0)
    running = await start_server("peer", register, ["twinmcp.test.Peer"], options)
    try:
        # A new connection is a new DNS resolution: new replicas join the round robin.
        assert len(await client_addresses(running, 10.0)) >= 2
    finally:
        await running.stop()


async def test_without_an_age_limit_a_client_keeps_one_connection() -> None:
    options = ServerOptions(port=0, max_connection_age_seconds=3600.0, grace_seconds=1.0)
    running = await start_server("peer", register, ["twinmcp.test.Peer"], options)
    try:
        assert len(await client_addresses(running, 1.5)) == 1
    finally:
        await running.stop()


def test_services_recycle_connections_by_default() -> None:
    assert ServerOptions().max_connection_age_seconds <= 300
