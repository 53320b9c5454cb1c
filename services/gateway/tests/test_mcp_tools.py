"""What the MCP tools answer: formats, budgets, aliases, errors, limits, cancellation, traces."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway.state import GATEWAY
from twinmcp.search.v1 import search_pb2
from twinmcp.tokens import count_tokens

Stack = Any


def _text(body: dict[str, Any]) -> str:
    return str(body["result"]["content"][0]["text"])


async def test_resolve_library_id_lists_candidates_in_context7_format(stack: Stack) -> None:
    status, _, body = await stack.mcp(
        stack.call("resolve-library-id", {"libraryName": "fastapi", "query": "add CORS"})
    )
    assert status == 200
    assert body["result"]["isError"] is False
    tokens = stack.search.libraries["/fastapi/fastapi"].token_count
    assert tokens > 0
    assert _text(body) == (
        "Available Libraries:\n\n"
        "- Title: FastAPI\n"
        "- Context7-compatible library ID: /fastapi/fastapi\n"
        "- Description: FastAPI framework, high performance, easy to learn\n"
        "- Packages: fastapi\n"
        f"- Code Snippets: 29 ({tokens} tokens)\n"
        "- Source Reputation: High\n"
        "- Versions: 0.110.0, 0.100.0\n"
        "- Source: https://github.com/fastapi/fastapi"
    )


async def test_resolve_shows_the_packages_and_labels_a_library_without_documentation(
    stack: Stack,
) -> None:
    stack.search.libraries["/honojs/website"] = search_pb2.Library(
        library_id="/honojs/website",
        title="Hono",
        source_type=search_pb2.SOURCE_TYPE_GITHUB,
        snippet_count=12,
        token_count=3400,
        package_names=["hono"],
        packages=[search_pb2.PackageRef(registry="npm", name="hono")],
        versions=[search_pb2.LibraryVersion(version="main", snippet_count=12, is_default=True)],
    )
    stack.search.libraries["/npm/express"] = search_pb2.Library(
        library_id="/npm/express",
        title="express",
        description="Fast, unopinionated, minimalist web framework",
        source_type=search_pb2.SOURCE_TYPE_CATALOG,
        package_names=["express"],
        packages=[search_pb2.PackageRef(registry="npm", name="express")],
    )
    _, _, body = await stack.mcp(stack.call("resolve-library-id", {"libraryName": "hono"}))
    text = _text(body)
    assert "- Title: Hono\n" in text
    assert "- Packages: npm hono\n- Code Snippets: 12 (3400 tokens)\n" in text
    _, _, body = await stack.mcp(stack.call("resolve-library-id", {"libraryName": "express"}))
    text = _text(body)
    assert "- Packages: npm express\n" in text
    assert (
        "- Code Snippets: 0 (no documentation indexed; ingest it with `twinmcp ingest npm:express`"
    ) in text


async def test_resolve_with_no_match_says_how_to_refine(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call("resolve-library-id", {"libraryName": "nonexistent", "query": "x"})
    )
    assert "No documentation libraries found" in _text(body)


async def test_query_docs_states_version_rules_and_fenced_code(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/fastapi/fastapi", "query": "add CORS"})
    )
    text = _text(body)
    assert body["result"]["isError"] is False
    assert text.startswith("# FastAPI (/fastapi/fastapi), version 0.110.0")
    assert "- Use async def for I/O-bound endpoints." in text
    assert "### Add CORS middleware" in text
    assert "Source: https://fastapi.tiangolo.com/tutorial/1/#part-1" in text
    assert "```python\nfrom fastapi.middleware.cors import CORSMiddleware" in text
    assert text.index("Add CORS middleware") < text.index("### CORS")


async def test_query_docs_never_exceeds_the_token_budget(stack: Stack) -> None:
    for tokens in (500, 1200, 3000):
        _, _, body = await stack.mcp(
            stack.call(
                "query-docs",
                {"libraryId": "/fastapi/fastapi", "query": "examples", "tokens": tokens},
            )
        )
        assert count_tokens(_text(body)) <= tokens
        assert stack.search.queries[-1].tokens == tokens


async def test_tokens_are_capped_raised_and_defaulted(stack: Stack) -> None:
    for asked, sent in ((100000, 25000), (10, 500), (None, 5000), ("2000", 2000)):
        arguments: dict[str, Any] = {"libraryId": "/fastapi/fastapi", "query": "q"}
        if asked is not None:
            arguments["tokens"] = asked
        await stack.mcp(stack.call("query-docs", arguments))
        assert stack.search.queries[-1].tokens == sent


async def test_invented_argument_names_are_understood(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call(
            "query-docs",
            {"library_id": "/fastapi/fastapi", "question": "cors", "max_tokens": 800},
        )
    )
    assert body["result"]["isError"] is False
    sent = stack.search.queries[-1]
    assert (sent.library_id, sent.query, sent.tokens) == ("/fastapi/fastapi", "cors", 800)
    _, _, body = await stack.mcp(
        stack.call("resolve-library-id", {"libraryname": "fastapi", "userQuery": "cors"})
    )
    assert "/fastapi/fastapi" in _text(body)


async def test_legacy_get_library_docs_uses_topic_as_the_question(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call(
            "get-library-docs",
            {"context7CompatibleLibraryID": "/fastapi/fastapi", "topic": "cors", "tokens": 700},
        )
    )
    assert body["result"]["isError"] is False
    assert (stack.search.queries[-1].query, stack.search.queries[-1].tokens) == ("cors", 700)


async def test_missing_argument_is_a_tool_error_the_model_can_fix(stack: Stack) -> None:
    status, _, body = await stack.mcp(stack.call("query-docs", {"libraryId": "/fastapi/fastapi"}))
    assert status == 200
    assert body["result"]["isError"] is True
    assert "Missing 'query'" in _text(body)


async def test_a_name_instead_of_an_id_points_to_resolve_library_id(stack: Stack) -> None:
    _, _, body = await stack.mcp(stack.call("query-docs", {"libraryId": "fastapi", "query": "q"}))
    assert body["result"]["isError"] is True
    assert "resolve-library-id" in _text(body)


async def test_bad_tokens_value_is_a_tool_error(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/fastapi/fastapi", "query": "q", "tokens": "lots"})
    )
    assert body["result"]["isError"] is True
    assert "'tokens'" in _text(body)


async def test_unknown_library_is_a_tool_error(stack: Stack) -> None:
    status, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/nobody/nothing", "query": "q"})
    )
    assert status == 200
    assert body["result"]["isError"] is True
    assert "not indexed" in _text(body) and "resolve-library-id" in _text(body)


async def test_unindexed_version_is_named_with_the_available_ones(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/fastapi/fastapi/9.9.9", "query": "q"})
    )
    assert body["result"]["isError"] is True
    text = _text(body)
    assert "Version '9.9.9' of /fastapi/fastapi is not indexed" in text
    assert "0.110.0, 0.100.0" in text
    assert "libraryId '/fastapi/fastapi/0.110.0'" in text
    assert stack.search.library_reads == 0  # what search said is enough: no second call


async def test_unknown_library_names_close_indexed_ones(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/tiangolo/fastapi", "query": "q"})
    )
    assert body["result"]["isError"] is True
    text = _text(body)
    assert "Library '/tiangolo/fastapi' is not indexed" in text
    assert "/fastapi/fastapi" in text and "resolve-library-id" in text


@pytest.mark.parametrize("library_id", ["/fastapi/fastapi/v0.100.0", "/fastapi/fastapi@v0.100.0"])
async def test_a_version_asked_with_a_leading_v_is_served_as_indexed(
    stack: Stack, library_id: str
) -> None:
    _, _, body = await stack.mcp(stack.call("query-docs", {"libraryId": library_id, "query": "q"}))
    assert body["result"]["isError"] is False
    assert _text(body).startswith("# FastAPI (/fastapi/fastapi), version 0.100.0")


async def test_explicit_version_is_served_and_stated(stack: Stack) -> None:
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/fastapi/fastapi/0.100.0", "query": "q"})
    )
    assert _text(body).startswith("# FastAPI (/fastapi/fastapi), version 0.100.0")


async def test_over_the_rate_limit_a_tool_call_says_when_to_retry(stack: Stack) -> None:
    stack.auth.limit = 1
    call = stack.call("resolve-library-id", {"libraryName": "fastapi", "query": "q"})
    status, headers, body = await stack.mcp(call)
    assert body["result"]["isError"] is False
    assert headers["RateLimit-Limit"] == "1" and headers["RateLimit-Remaining"] == "0"
    status, headers, body = await stack.mcp(call)
    assert status == 200
    assert body["result"]["isError"] is True
    assert "Retry in 42 seconds" in _text(body)
    assert headers["Retry-After"] == "42"


async def test_concurrent_tool_calls_are_admitted_up_to_the_limit_each_counted_once(
    stack: Stack,
) -> None:
    stack.auth.limit = 7
    call = stack.call("resolve-library-id", {"libraryName": "fastapi", "query": "q"})
    replies = await asyncio.gather(*(stack.mcp(call) for _ in range(20)))
    refused = [body for _, _, body in replies if body["result"]["isError"]]
    assert len(refused) == 13
    assert all("Rate limit exceeded" in _text(body) for body in refused)
    assert stack.auth.counts == {"ip:127.0.0.1": 20}


async def test_checks_made_together_go_to_auth_in_one_call_and_keep_their_own_answers(
    stack: Stack,
) -> None:
    stack.auth.limit = 3
    auth = stack.gateway.runner.app[GATEWAY].peers.auth
    replies = await asyncio.gather(
        *(auth.check_rate_limit(f"key:{n % 2}", auth_pb2.TIER_FREE) for n in range(10))
    )
    assert stack.auth.batch_sizes == [10]
    assert [r.allowed for r in replies] == [True] * 6 + [False] * 4
    assert [r.remaining for r in replies[:6]] == [2, 2, 1, 1, 0, 0]
    assert stack.auth.counts == {"key:0": 5, "key:1": 5}
    lone = await auth.check_rate_limit("key:2", auth_pb2.TIER_FREE)
    assert lone.allowed and stack.auth.batch_sizes == [10]  # a lone check is sent as it is


async def test_against_an_auth_service_without_batch_checks_each_call_is_checked_alone(
    stack: Stack,
) -> None:
    stack.auth.has_batch_checks = False
    stack.auth.limit = 3
    auth = stack.gateway.runner.app[GATEWAY].peers.auth
    for _ in range(2):
        replies = await asyncio.gather(
            *(auth.check_rate_limit("key:old", auth_pb2.TIER_FREE) for _ in range(4))
        )
    assert [r.allowed for r in replies] == [False] * 4
    assert stack.auth.counts == {"key:old": 8}
    assert stack.auth.batch_sizes == []
    assert stack.auth.batch_calls == 1  # asked once; after UNIMPLEMENTED, checks go one by one


async def test_listing_tools_costs_nothing_but_shows_the_budget(stack: Stack) -> None:
    await stack.mcp(stack.call("resolve-library-id", {"libraryName": "fastapi", "query": "q"}))
    charged = dict(stack.auth.counts)
    for _ in range(3):
        _, headers, _ = await stack.mcp(stack.request("tools/list"))
        assert headers["RateLimit-Remaining"] == "99"
    assert stack.auth.counts == charged


async def test_search_down_gives_a_fast_retry_message(stack: Stack) -> None:
    await stack.servers["search"].stop()
    loop = asyncio.get_running_loop()
    started = loop.time()
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/fastapi/fastapi", "query": "q"})
    )
    assert body["result"]["isError"] is True
    assert _text(body) == "search service unavailable, retry shortly"
    assert loop.time() - started < 3


@pytest.mark.parametrize("gateway_overrides", [{"grpc_deadline_seconds": 60.0}])
async def test_client_disconnect_cancels_the_search_call(stack: Stack) -> None:
    call = stack.call(
        "query-docs", {"libraryId": "/fastapi/fastapi", "query": "hang until cancelled"}
    )
    headers = {
        "MCP-Protocol-Version": stack.MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "query-docs",
    }

    body = json.dumps(call).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    _reader, writer = await asyncio.open_connection("127.0.0.1", stack.gateway.port)
    writer.write(
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.wait_for(stack.search.slow_started.wait(), 10)
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(stack.search.slow_cancelled.wait(), 10)


async def test_incoming_traceparent_reaches_the_search_service(stack: Stack) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    await stack.mcp(
        stack.call("query-docs", {"libraryId": "/fastapi/fastapi", "query": "q"}),
        {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    sent = stack.search.metadata[-1].get("traceparent", "")
    assert sent.split("-")[1] == trace_id
    assert sent.split("-")[2] != "00f067aa0ba902b7"
