"""Text that is not Unicode (unpaired UTF-16 surrogates, stray bytes) gets a clear 400, never a
500 and a logged traceback, wherever it is sent: MCP envelope, tool arguments, REST, headers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

Stack = Any

SURROGATE = "\\ud800"  # as JSON writes it; json.loads turns it into a lone surrogate

MCP_BODIES = {
    "id": f'{{"jsonrpc":"2.0","id":"{SURROGATE}","method":"tools/list"}}',
    "method": f'{{"jsonrpc":"2.0","id":1,"method":"{SURROGATE}"}}',
    "tool name": (
        f'{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{SURROGATE}"}}}}'
    ),
    "query": (
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query-docs",'
        f'"arguments":{{"libraryId":"/fastapi/fastapi","query":"{SURROGATE}"}}}}}}'
    ),
    "libraryName": (
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"resolve-library-id",'
        f'"arguments":{{"libraryName":"{SURROGATE}","query":"x"}}}}}}'
    ),
    "libraryId": (
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query-docs",'
        f'"arguments":{{"libraryId":"/fastapi/{SURROGATE}","query":"cors"}}}}}}'
    ),
}


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("where", list(MCP_BODIES))
async def test_an_unpaired_surrogate_anywhere_in_an_mcp_request_is_a_parse_error(
    stack: Stack, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    raw = MCP_BODIES[where].encode()
    status, _, body = await stack.mcp(None, {"X-API-Key": "read-key"}, modern=False, raw=raw)
    assert status == 400, body
    assert body["id"] is None
    assert body["error"]["code"] == -32700
    assert "surrogate" in body["error"]["message"] and "UTF-8" in body["error"]["message"]
    assert _errors_logged(caplog) == []
    assert stack.search.queries == []


async def test_surrogate_bytes_sent_raw_in_a_tool_argument_are_a_parse_error(
    stack: Stack,
) -> None:
    raw = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"resolve-library-id",'
        b'"arguments":{"libraryName":"\xed\xa0\x80","query":"x"}}}'
    )
    status, _, body = await stack.mcp(None, modern=False, raw=raw)
    assert status == 400 and body["error"]["code"] == -32700
    assert "$.params.arguments.libraryName" in body["error"]["message"]


async def test_an_unpaired_surrogate_in_a_refresh_token_is_a_bad_request(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    async with stack.http.post(
        f"{stack.url}/auth/refresh", data=f'{{"refreshToken":"{SURROGATE}"}}'.encode()
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert body["error"] == "bad_request" and "surrogate" in body["message"]
    assert _errors_logged(caplog) == []


async def _raw_get(port: int, path: str, extra_header: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
        + extra_header
        + b"\r\n\r\n"
    )
    answer = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return answer


@pytest.mark.parametrize("header", [b"Authorization: Bearer ab\xff\xfecd", b"X-API-Key: k\xe9y"])
async def test_a_key_header_with_bytes_that_are_not_ascii_is_refused_without_a_traceback(
    stack: Stack, caplog: pytest.LogCaptureFixture, header: bytes
) -> None:
    answer = await _raw_get(stack.gateway.port, "/api/v1/search?query=fastapi", header)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401"), answer
    assert b"characters no key has" in body
    assert _errors_logged(caplog) == []


async def test_stray_bytes_in_the_protocol_version_header_answer_400_not_500(
    stack: Stack,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    payload = b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
    writer.write(
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"MCP-Protocol-Version: 2026\xff\r\nConnection: close\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    answer = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"-32022" in answer
