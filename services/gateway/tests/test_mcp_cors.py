"""CORS on /mcp: browser-based MCP clients on an allowed Origin can preflight and read answers."""

from __future__ import annotations

from typing import Any

import pytest

Stack = Any

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, mcp-protocol-version, mcp-method, mcp-name",
}


async def test_preflight_from_a_localhost_page_allows_the_mcp_headers(stack: Stack) -> None:
    origin = "http://localhost:6274"
    async with stack.http.options(
        f"{stack.url}/mcp", headers={"Origin": origin, **PREFLIGHT}
    ) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        allowed = {
            h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {
            "content-type",
            "mcp-protocol-version",
            "mcp-method",
            "mcp-name",
            "authorization",
        } <= allowed
        assert "Origin" in response.headers.getall("Vary")


async def test_preflight_echoes_tool_parameter_headers(stack: Stack) -> None:
    headers = {
        "Origin": "http://127.0.0.1:6274",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "mcp-param-region, x-unrelated",
    }
    async with stack.http.options(f"{stack.url}/mcp", headers=headers) as response:
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "mcp-param-region" in allowed
        assert "x-unrelated" not in allowed


@pytest.mark.parametrize("gateway_overrides", [{"allowed_origins": ("https://app.example.com",)}])
async def test_preflight_from_a_configured_origin_is_allowed(stack: Stack) -> None:
    origin = "https://app.example.com"
    async with stack.http.options(
        f"{stack.url}/mcp", headers={"Origin": origin, **PREFLIGHT}
    ) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == origin


async def test_preflight_from_a_foreign_origin_is_forbidden_without_cors_headers(
    stack: Stack,
) -> None:
    async with stack.http.options(
        f"{stack.url}/mcp", headers={"Origin": "https://evil.example.com", **PREFLIGHT}
    ) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_answers_to_an_allowed_origin_carry_cors_headers(stack: Stack) -> None:
    origin = "http://localhost:6274"
    status, headers, body = await stack.mcp(stack.request("tools/list"), {"Origin": origin})
    assert status == 200, body
    assert body["result"]["tools"]
    assert headers["Access-Control-Allow-Origin"] == origin
    assert "MCP-Protocol-Version" in headers["Access-Control-Expose-Headers"]
    # Errors must be readable by the page too.
    status, headers, body = await stack.mcp(
        stack.request("tools/list"), {"Origin": origin, "Mcp-Method": "tools/call"}
    )
    assert status == 400 and body["error"]["code"] == -32020
    assert headers["Access-Control-Allow-Origin"] == origin


async def test_answers_without_an_origin_carry_no_cors_headers(stack: Stack) -> None:
    _, headers, _ = await stack.mcp(stack.request("tools/list"))
    assert "Access-Control-Allow-Origin" not in headers


async def test_preflight_needs_no_credentials_and_is_not_rate_limited(stack: Stack) -> None:
    before = dict(stack.auth.counts)
    calls = stack.auth.authenticate_calls
    async with stack.http.options(
        f"{stack.url}/mcp", headers={"Origin": "http://localhost:1", **PREFLIGHT}
    ) as response:
        assert response.status == 204
    assert stack.auth.counts == before
    assert stack.auth.authenticate_calls == calls
