"""Slow or hostile HTTP clients cannot hold the gateway's sockets: a request head or body that
stalls is cut off after its timeout, connections above the cap are refused, and a header the
HTTP parser refuses (a control character in a key) is answered without echoing or logging it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

Stack = Any

# Short timeouts so the tests are quick; the deadlines below are generous on purpose: they
# only tell "closed by the server" from "held open", never measure speed.
FAST = {"http_keepalive_seconds": 0.5, "http_body_seconds": 0.5}
DEADLINE_SECONDS = 15


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends before it closes; fails if it is still open at the deadline."""
    return await asyncio.wait_for(reader.read(), DEADLINE_SECONDS)


@pytest.mark.parametrize("gateway_overrides", [FAST])
async def test_a_client_that_stalls_in_its_request_head_is_disconnected(stack: Stack) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    writer.write(b"GET /api/v1/search?query=fastapi HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await writer.drain()
    assert await _until_closed(reader) == b""
    writer.close()


@pytest.mark.parametrize("gateway_overrides", [FAST])
async def test_a_client_that_connects_and_sends_nothing_is_disconnected(stack: Stack) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    assert await _until_closed(reader) == b""
    writer.close()


@pytest.mark.parametrize("gateway_overrides", [FAST])
@pytest.mark.parametrize("path", ["/mcp", "/auth/refresh"])
async def test_a_body_that_stalls_gets_408_and_the_connection_closes(
    stack: Stack, path: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n".encode()
        + b'{"jsonrpc":'
    )
    await writer.drain()
    answer = await _until_closed(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not arrive within 0.5 seconds" in answer


@pytest.mark.parametrize("gateway_overrides", [{"http_max_connections": 2}])
async def test_connections_above_the_cap_get_503_and_are_closed(stack: Stack) -> None:
    held = [await asyncio.open_connection("127.0.0.1", stack.gateway.port) for _ in range(2)]
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    answer = await _until_closed(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 503") and b"too many open connections" in answer
    for _, held_writer in held:
        held_writer.close()
        await held_writer.wait_closed()
    # Once those are gone, the next client is served again.
    deadline = asyncio.get_running_loop().time() + DEADLINE_SECONDS
    while True:
        async with stack.http.get(f"{stack.url}/health") as response:
            if response.status == 200:
                break
        assert asyncio.get_running_loop().time() < deadline


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization: Bearer", "Context7-API-Key"])
async def test_a_key_with_a_control_character_is_a_401_that_never_logs_the_key(
    stack: Stack, caplog: pytest.LogCaptureFixture, header: str
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = b"tw_live_SECRETKEYMATERIAL"
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    writer.write(
        b"GET /api/v1/search?query=fastapi HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + header.encode()
        + b": "
        + secret
        + b"\x01tail\r\n\r\n"
    )
    answer = await _until_closed(reader)
    writer.close()
    assert answer.split(b" ", 2)[1] == b"401", answer
    assert b"characters no key has" in answer
    assert b"SECRETKEYMATERIAL" not in answer
    logged = [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert logged, "the refusal itself should be logged, without the key"
    assert not any("SECRETKEYMATERIAL" in line for line in logged), logged
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


async def test_another_malformed_header_is_a_400_that_does_not_echo_it(stack: Stack) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: session=PRIVATE\x7f\r\n\r\n")
    answer = await _until_closed(reader)
    writer.close()
    assert answer.split(b" ", 2)[1] == b"400", answer
    assert b"Malformed HTTP request" in answer and b"PRIVATE" not in answer
