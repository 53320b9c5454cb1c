"""Every string argument is capped at the edge, for MCP tools and REST alike: an oversized one
is answered with the argument's name and limit before search does any work for it."""

from __future__ import annotations

from typing import Any

import pytest
from twinmcp.gateway.arguments import MAX_NAME_CHARS, MAX_QUERY_CHARS

Stack = Any


async def _tool(stack: Stack, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    status, _, body = await stack.mcp(stack.call(name, arguments))
    assert status == 200, body
    return dict(body["result"])


async def test_a_900_kb_query_to_resolve_library_id_is_a_tool_error_naming_the_limit(
    stack: Stack,
) -> None:
    result = await _tool(
        stack, "resolve-library-id", {"libraryName": "fastapi", "query": "a" * 900_000}
    )
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "'query' is 900000 characters long" in text and f"limit is {MAX_QUERY_CHARS}" in text


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        (
            "resolve-library-id",
            {"libraryName": "n" * (MAX_NAME_CHARS + 1), "query": "q"},
            "libraryName",
        ),
        ("query-docs", {"libraryId": "/" + "o" * MAX_NAME_CHARS, "query": "cors"}, "libraryId"),
        (
            "query-docs",
            {"libraryId": "/fastapi/fastapi", "query": "q" * (MAX_QUERY_CHARS + 1)},
            "query",
        ),
        (
            "get-library-docs",
            {
                "context7CompatibleLibraryID": "/fastapi/fastapi",
                "topic": "t" * (MAX_QUERY_CHARS + 1),
            },
            "topic",
        ),
    ],
)
async def test_an_argument_over_its_cap_never_reaches_search(
    stack: Stack, tool: str, arguments: dict[str, Any], named: str
) -> None:
    result = await _tool(stack, tool, arguments)
    assert result["isError"] is True
    assert f"'{named}' is" in result["content"][0]["text"]
    assert stack.search.queries == []


async def test_a_query_exactly_at_the_cap_is_answered(stack: Stack) -> None:
    result = await _tool(
        stack, "query-docs", {"libraryId": "/fastapi/fastapi", "query": "q" * MAX_QUERY_CHARS}
    )
    assert result["isError"] is False
    assert len(stack.search.queries[0].query) == MAX_QUERY_CHARS


@pytest.mark.parametrize("tokens", ["²", "9" * 5000])
async def test_a_tokens_value_int_cannot_read_is_a_tool_error(stack: Stack, tokens: str) -> None:
    result = await _tool(
        stack, "query-docs", {"libraryId": "/fastapi/fastapi", "query": "cors", "tokens": tokens}
    )
    assert result["isError"] is True
    assert "'tokens' must be a whole number" in result["content"][0]["text"]
    assert len(result["content"][0]["text"]) < 300


async def test_tool_schemas_publish_the_caps(stack: Stack) -> None:
    _, _, body = await stack.mcp(stack.request("tools/list"))
    schemas = {tool["name"]: tool["inputSchema"]["properties"] for tool in body["result"]["tools"]}
    assert schemas["resolve-library-id"]["libraryName"]["maxLength"] == MAX_NAME_CHARS
    assert schemas["resolve-library-id"]["query"]["maxLength"] == MAX_QUERY_CHARS
    assert schemas["query-docs"]["libraryId"]["maxLength"] == MAX_NAME_CHARS
    assert schemas["get-library-docs"]["topic"]["maxLength"] == MAX_QUERY_CHARS


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (f"/api/v2/libs/search?libraryName={'n' * (MAX_NAME_CHARS + 1)}&query=x", "libraryName"),
        (
            f"/api/v2/context?libraryId=/fastapi/fastapi&query={'q' * (MAX_QUERY_CHARS + 1)}",
            "query",
        ),
        (f"/api/v2/context?libraryId=/{'o' * MAX_NAME_CHARS}&query=x", "libraryId"),
        (f"/api/v1/fastapi/fastapi?topic={'t' * (MAX_QUERY_CHARS + 1)}", "topic"),
        (f"/api/v1/fastapi/fastapi/{'1' * (MAX_NAME_CHARS + 1)}", "version"),
        ("/api/v2/context?libraryId=/fastapi/fastapi&query=x&tokens=" + "9" * 50, "tokens"),
    ],
)
async def test_a_rest_parameter_over_its_cap_is_a_400_naming_it(
    stack: Stack, path: str, named: str
) -> None:
    async with stack.http.get(f"{stack.url}{path}") as response:
        body = await response.json()
    assert response.status == 400, body
    assert body["error"] == "bad_request" and f"'{named}'" in body["message"]
    assert stack.search.queries == []


async def test_an_oversized_json_body_field_is_a_400_naming_it(stack: Stack) -> None:
    async with stack.http.post(
        f"{stack.url}/auth/refresh", json={"refreshToken": "r" * 5000}
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert "'refreshToken' is 5000 characters long" in body["message"]


async def test_the_openapi_document_publishes_the_caps(stack: Stack) -> None:
    async with stack.http.get(f"{stack.url}/openapi.json") as response:
        document = await response.json()
    parameters = {
        (path, p["name"]): p["schema"]
        for path, item in document["paths"].items()
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p["in"] == "query"
    }
    assert parameters[("/api/v2/libs/search", "libraryName")]["maxLength"] == MAX_NAME_CHARS
    assert parameters[("/api/v2/context", "query")]["maxLength"] == MAX_QUERY_CHARS
    assert "maxLength" not in parameters[("/api/v2/context", "type")]


async def test_an_admin_job_filter_over_its_cap_is_a_400(stack: Stack) -> None:
    async with stack.http.get(
        f"{stack.url}/api/v1/admin/jobs?libraryId=/{'o' * MAX_NAME_CHARS}",
        headers={"Authorization": "Bearer admin-key"},
    ) as response:
        body = await response.json()
    assert response.status == 400 and "'libraryId'" in body["message"]


@pytest.mark.parametrize(
    ("method", "path", "named"),
    [
        ("GET", f"/api/v1/admin/jobs/{'j' * (MAX_NAME_CHARS + 1)}", "jobId"),
        ("POST", f"/api/v1/admin/jobs/{'j' * 5000}/cancel", "jobId"),
        ("POST", f"/api/v1/admin/libraries/o/{'r' * 5000}/refresh", "libraryId"),
        ("POST", f"/api/v1/admin/libraries/o/{'r' * 5000}/follow", "libraryId"),
        ("DELETE", f"/api/v1/admin/libraries/o/{'r' * 5000}/follow", "libraryId"),
        ("DELETE", f"/api/v1/account/keys/{'k' * 5000}", "keyId"),
    ],
)
async def test_an_id_in_a_path_over_its_cap_is_a_400_that_does_not_echo_it(
    stack: Stack, method: str, path: str, named: str
) -> None:
    async with stack.http.request(
        method, f"{stack.url}{path}", json={}, headers={"Authorization": "Bearer admin-key"}
    ) as response:
        body = await response.json()
    assert response.status == 400, body
    assert body["error"] == "bad_request" and f"'{named}' is" in body["message"]
    assert len(body["message"]) < 400
