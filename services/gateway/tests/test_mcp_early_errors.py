"""Errors answered before the MCP handler runs still carry the request's JSON-RPC id, so a plain
forwarder (a stdio bridge) can hand each one back to the request that caused it."""

from __future__ import annotations

from typing import Any

import pytest

Stack = Any


@pytest.mark.parametrize("modern", [False, True], ids=["legacy", "modern"])
async def test_a_rejected_api_key_answers_with_the_request_id(stack: Stack, modern: bool) -> None:
    body = stack.call("query-docs", {"libraryId": "/fastapi/fastapi"}, modern=modern, id="req-9")
    status, headers, answer = await stack.mcp(body, {"X-API-Key": "wrong"}, modern=modern)
    assert status == 401 and "Bearer" in headers["WWW-Authenticate"]
    assert answer["id"] == "req-9"
    assert "API key" in answer["error"]["message"]


async def test_a_foreign_origin_answers_with_the_request_id(stack: Stack) -> None:
    status, _, answer = await stack.mcp(
        stack.request("tools/list", id=12), {"Origin": "https://evil.example.com"}
    )
    assert status == 403 and answer["id"] == 12


async def test_a_foreign_host_answers_with_the_request_id(stack: Stack) -> None:
    status, _, answer = await stack.mcp(
        stack.request("tools/list", id=13), {"Host": "evil.example.com"}
    )
    assert status == 421 and answer["id"] == 13


async def test_an_unreachable_auth_service_answers_with_the_request_id(stack: Stack) -> None:
    await stack.servers["auth"].stop()
    status, _, answer = await stack.mcp(
        stack.call("query-docs", {}, modern=False, id=14), {"X-API-Key": "read-key"}, modern=False
    )
    assert status == 503 and answer["id"] == 14


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"jsonrpc": "2.0", "id": true, "method": "x"}', b"[1]"]
)
async def test_an_early_error_without_a_readable_id_answers_null(stack: Stack, raw: bytes) -> None:
    status, _, answer = await stack.mcp(None, {"X-API-Key": "wrong"}, modern=False, raw=raw)
    assert status == 401 and answer["id"] is None
