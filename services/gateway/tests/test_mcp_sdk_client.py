"""The official MCP Python SDK client, in each of its modes, against the gateway on a real port."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.client.client import Client

Stack = Any


@pytest.mark.parametrize("mode", ["legacy", "auto", "2026-07-28"])
async def test_sdk_client_lists_and_calls_tools(stack: Stack, mode: str) -> None:
    async with Client(f"{stack.url}/mcp", mode=mode) as client:
        listed = await client.list_tools()
        names = [tool.name for tool in listed.tools]
        assert names == ["resolve-library-id", "query-docs", "get-library-docs", "search-docs"]
        assert listed.tools[0].annotations is not None
        assert listed.tools[0].annotations.read_only_hint is True

        resolved = await client.call_tool(
            "resolve-library-id", {"libraryName": "fastapi", "query": "cors"}
        )
        assert resolved.is_error is False
        assert "/fastapi/fastapi" in resolved.content[0].text  # type: ignore[union-attr]

        docs = await client.call_tool(
            "query-docs", {"libraryId": "/fastapi/fastapi", "query": "cors", "tokens": 1000}
        )
        assert docs.is_error is False
        assert "CORSMiddleware" in docs.content[0].text  # type: ignore[union-attr]

        missing = await client.call_tool("query-docs", {"libraryId": "/no/such", "query": "q"})
        assert missing.is_error is True


async def test_sdk_auto_mode_settles_on_the_modern_era(stack: Stack) -> None:
    async with Client(f"{stack.url}/mcp", mode="auto") as client:
        assert client.protocol_version == "2026-07-28"


async def test_sdk_legacy_mode_negotiates_the_latest_handshake_version(stack: Stack) -> None:
    async with Client(f"{stack.url}/mcp", mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
