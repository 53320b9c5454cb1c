"""The official TypeScript SDK clients (v2 in each negotiation mode, and v1) under Node 22."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

Stack = Any
Kit = Any


def assert_answers_from_the_index(clients: Kit, out: dict[str, Any]) -> None:
    assert out["serverInfo"]["name"] == "twinmcp"
    assert out["instructions"] and "resolve-library-id" in out["instructions"]
    assert out["tools"] == clients.TOOL_NAMES
    assert out["readOnly"] == [True, True, True, True]
    assert out["resolve"]["isError"] is False
    assert clients.LIBRARY_ID in out["resolve"]["text"]
    assert out["docs"] == {
        "isError": False,
        "text": out["docs"]["text"],
        "contentTypes": ["text"],
    }
    assert clients.CORS_CODE in out["docs"]["text"]
    assert out["missing"]["isError"] is True
    assert "resolve-library-id" in out["missing"]["text"]
    # An unknown tool is a protocol error (-32602), which the SDK raises.
    assert out["unknownTool"]["code"] == -32602
    assert "Available tools" in out["unknownTool"]["message"]


@pytest.mark.parametrize(
    ("mode", "era"),
    [
        ("default", "2025-11-25"),
        ("legacy", "2025-11-25"),
        ("auto", "2026-07-28"),
        ("pin:2026-07-28", "2026-07-28"),
    ],
)
async def test_typescript_sdk_v2_lists_and_calls_tools_in_each_negotiation_mode(
    stack: Stack, clients: Kit, mode: str, era: str
) -> None:
    done = await clients.run_node(
        clients.JS_DIR / "ts-sdk-v2.mjs", stack.url, mode, clients.LIBRARY_ID, clients.QUESTION
    )
    assert done.returncode == 0, done.describe()
    out = done.json()
    assert out["protocolVersion"] == era
    assert_answers_from_the_index(clients, out)


async def test_typescript_sdk_v2_pinned_to_an_unserved_version_fails_loudly(
    stack: Stack, clients: Kit
) -> None:
    done = await clients.run_node(
        clients.JS_DIR / "ts-sdk-v2.mjs", stack.url, "pin:2099-01-01", clients.LIBRARY_ID, "q"
    )
    assert done.returncode != 0, done.describe()
    assert "2099-01-01" in done.stderr


async def test_typescript_sdk_v1_lists_and_calls_tools_without_a_session(
    stack: Stack, clients: Kit
) -> None:
    done = await clients.run_node(
        clients.JS_DIR / "ts-sdk-v1.mjs", stack.url, clients.LIBRARY_ID, clients.QUESTION
    )
    assert done.returncode == 0, done.describe()
    out = done.json()
    assert out["protocolVersion"] == "2025-11-25"
    assert out["sessionId"] is None
    assert "terminateError" not in out
    assert_answers_from_the_index(clients, out)
