"""The official Python SDK, both major lines, end to end against the real stack."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.client.client import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

Stack = Any


@pytest.mark.parametrize(
    ("mode", "era"),
    [("auto", "2026-07-28"), ("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")],
)
async def test_python_sdk_2_lists_tools_and_answers_from_the_index(
    stack: Stack, clients: Any, mode: str, era: str
) -> None:
    async with Client(stack.url, mode=mode) as client:
        assert client.protocol_version == era
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == clients.TOOL_NAMES

        resolved = await client.call_tool(
            "resolve-library-id", {"libraryName": "fastapi", "query": clients.QUESTION}
        )
        assert resolved.is_error is False
        assert clients.LIBRARY_ID in resolved.content[0].text  # type: ignore[union-attr]

        docs = await client.call_tool(
            "query-docs", {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION}
        )
        assert docs.is_error is False
        assert clients.CORS_CODE in docs.content[0].text  # type: ignore[union-attr]

        missing = await client.call_tool("query-docs", {"libraryId": "/no/such", "query": "q"})
        assert missing.is_error is True


async def test_python_sdk_1_lists_and_calls_tools_without_a_session(
    stack: Stack, clients: Any
) -> None:
    done = await clients.run(
        [
            clients.py_mcp1(),
            clients.PY_DIR / "sdk1_client.py",
            stack.url,
            clients.LIBRARY_ID,
            clients.QUESTION,
        ],
        timeout=60,
    )
    assert done.returncode == 0, done.describe()
    out = done.json()
    assert out["protocolVersion"] == "2025-11-25"
    assert out["sessionId"] is None
    assert out["serverInfo"]["name"] == "twinmcp"
    assert out["tools"] == clients.TOOL_NAMES
    assert out["readOnly"] == [True, True, True, True]
    assert out["resolve"]["isError"] is False
    assert clients.LIBRARY_ID in out["resolve"]["text"]
    assert out["docs"]["isError"] is False
    assert clients.CORS_CODE in out["docs"]["text"]
    assert out["missing"]["isError"] is True
    assert out["unknownTool"]["code"] == -32602
    # The SDK logs but survives transport trouble; none is expected here.
    assert "Traceback" not in done.stderr, done.describe()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_python_sdk_2_large_tool_call_is_answered_not_a_parse_error(
    stack: Stack, clients: Any, mode: str
) -> None:
    # ~600 KB: arrives in several TCP segments, under the 1 MiB body limit.
    arguments = {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION, "notes": "x" * 600_000}
    async with Client(stack.url, mode=mode) as client:
        for _ in range(3):
            docs = await client.call_tool("query-docs", arguments)
            assert docs.is_error is False
            assert clients.CORS_CODE in docs.content[0].text  # type: ignore[union-attr]
