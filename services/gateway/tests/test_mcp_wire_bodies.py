"""Request bodies on the wire: a body that arrives in pieces is read whole before parsing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

Stack = Any


async def post_in_two_pieces(port: int, body: bytes, *, chunked: bool) -> tuple[int, Any]:
    """POSTs /mcp over a raw socket, pausing between the halves so they arrive separately."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\n{framing}\r\nConnection: close\r\n\r\n"
    )
    half = len(body) // 2
    pieces = [body[:half], body[half:]]
    writer.write(head.encode())
    for piece in pieces:
        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        await writer.drain()
        # Lets the server read what has arrived so far: the halves reach it separately.
        await asyncio.sleep(0.05)
    if chunked:
        writer.write(b"0\r\n\r\n")
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout=20)
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_large_body_arriving_in_pieces_is_answered_not_a_parse_error(
    stack: Stack, chunked: bool
) -> None:
    message = stack.call(
        "query-docs",
        {"libraryId": "/fastapi/fastapi", "query": "cors", "padding": "x" * 300_000},
        modern=False,
        id=7,
    )
    status, answer = await post_in_two_pieces(
        stack.gateway.port, json.dumps(message).encode(), chunked=chunked
    )
    assert status == 200, answer
    assert answer["id"] == 7
    assert answer["result"]["isError"] is False
    assert "CORSMiddleware" in answer["result"]["content"][0]["text"]


async def test_a_body_over_the_limit_in_pieces_is_still_413(stack: Stack) -> None:
    message = stack.call("tools/list", {"padding": "x" * (1024 * 1024 + 10)}, modern=False)
    status, answer = await post_in_two_pieces(
        stack.gateway.port, json.dumps(message).encode(), chunked=True
    )
    assert status == 413
    assert answer["error"]["code"] == -32600
