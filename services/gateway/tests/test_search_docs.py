"""One question across libraries through the gateway, against the real search servicer:
GET /api/v3/search, and the search-docs tool (and query-docs without an ID) over the MCP SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client
from twinmcp.search.v1 import index_pb2, search_pb2
from twinmcp.tokens import count_tokens

from .real_search import publish_docs, start_real_search

Stack = Any

WEB_DOCS = [
    (
        "CORS",
        "CORS lets a frontend in the browser call a backend on another origin; add "
        "CORSMiddleware with the allowed origins.",
    ),
    ("Background tasks", "Run work after returning a response with BackgroundTasks."),
]
HTTP_DOCS = [
    (
        "Timeouts",
        "The client raises a timeout error when the server does not answer in time; set "
        "connect and read timeouts on the Client and retry slow upstream servers.",
    ),
    ("Streaming", "Stream a large download chunk by chunk and show the bytes received."),
]


async def _publish(port: int, library_id: str, version: str, docs: list[tuple[str, str]]) -> None:
    name = library_id.rsplit("/", 1)[-1]
    library = index_pb2.LibraryMetadata(
        library_id=library_id,
        title=name.title(),
        source_type=search_pb2.SOURCE_TYPE_GITHUB,
        package_names=[name],
        rules=[f"Pin {name} in production."],
    )
    await publish_docs(port, library, version, docs, path="docs/guide.md")


@pytest.fixture
async def stack(tmp_path: Path, open_stack: Callable[..., Any]) -> AsyncIterator[Stack]:
    server = await start_real_search(tmp_path)
    await _publish(server.port, "/acme/webkit", "2.0", WEB_DOCS)
    await _publish(server.port, "/acme/fetcher", "1.0", HTTP_DOCS)
    async with open_stack(None, {}, server) as opened:
        yield opened


async def _get(stack: Stack, headers: dict[str, str] | None = None, **params: str) -> Any:
    url = f"{stack.url}/api/v3/search"
    async with stack.http.get(url, params=params, headers=headers or {}) as response:
        body = await (
            response.json() if response.content_type == "application/json" else response.text()
        )
        return response.status, dict(response.headers), body


async def test_a_question_without_a_library_is_answered_from_the_right_one(stack: Stack) -> None:
    status, headers, text = await _get(
        stack, query="set a read timeout and retry slow upstream servers", tokens="1000"
    )
    assert status == 200
    assert text.startswith("# Documentation across libraries")
    first_hit = text.split("--------------------------------")[1]
    assert "Library: /acme/fetcher, version 1.0" in first_hit
    assert "Timeouts" in first_hit
    assert "Pin fetcher in production." in text  # the answering library's rules
    assert count_tokens(text) <= 1000
    assert "RateLimit-Limit" in headers


SEPARATOR = "\n\n--------------------------------\n\n"
TRUNCATED = "\n… (truncated to fit the token budget)"


def _agree(text: str, snippets: list[dict[str, Any]]) -> None:
    """The JSON form's snippets are exactly the ones the text shows, in its order."""
    sections = text.split(SEPARATOR)[1:]
    assert len(sections) == len(snippets)
    for section, snippet in zip(sections, snippets, strict=True):
        tag = f"Library: {snippet['libraryId']}, version {snippet['version']}"
        assert section.startswith(f"### {snippet['title']}\n{tag}\n\n")
        assert snippet["content"].removesuffix(TRUNCATED).rstrip() in section


async def test_the_smallest_budget_holds_with_a_project_header_and_json_and_text_agree(
    tmp_path: Path, open_stack: Callable[..., Any]
) -> None:
    # Enough matching snippets that search's choice fills the budget: the header (libraries,
    # project lines, rules) leaves room for fewer, and the JSON form has those fewer.
    server = await start_real_search(tmp_path)
    for name, topic in (("fetcher", "timeout"), ("webkit", "origin")):
        docs = [
            (f"{topic.title()} {n}", f"Set the {topic} on the client, case {n}: " + "retry " * 30)
            for n in range(16)
        ]
        await _publish(server.port, f"/acme/{name}", "1.0", docs)
    async with open_stack(None, {}, server) as opened:
        asked = {
            "query": "timeout origin retry",
            "libraries": "webkit,fetcher",
            "tokens": "500",
            "project": "requests==2.0\n",  # a file locking neither library
        }
        status, _, text = await _get(opened, **asked)
        assert status == 200
        assert count_tokens(text) <= 500
        note = "The requirements.txt passed as 'project' locks none of this library's packages"
        assert f": {note}; this answer is for version" in text
        status, _, body = await _get(opened, **asked, type="json")
        assert status == 200
        assert body["snippets"]
        _agree(text, body["snippets"])
        assert body["tokens"] == sum(snippet["tokens"] for snippet in body["snippets"])


async def test_a_first_snippet_too_big_is_cut_the_same_way_in_json_and_text(
    tmp_path: Path, open_stack: Callable[..., Any]
) -> None:
    # Chosen by search's packing (snippet and library line fit), too big once the header is
    # counted: the text shows its start, marked, and so does the JSON form.
    long = " ".join(
        f"Retry rule {n}: a failed request is retried after a pause." for n in range(30)
    )
    server = await start_real_search(tmp_path)
    library = index_pb2.LibraryMetadata(
        library_id="/acme/retry", title="Retry", source_type=search_pb2.SOURCE_TYPE_GITHUB
    )
    await publish_docs(server.port, library, "1.0", [("Retries", long)], path="docs/retry.md")
    async with open_stack(None, {}, server) as opened:
        asked = {"query": "retry rule pause", "libraries": "/acme/retry", "tokens": "500"}
        status, _, text = await _get(opened, **asked)
        assert status == 200 and count_tokens(text) <= 500
        assert text.endswith(TRUNCATED)
        _, _, body = await _get(opened, **asked, type="json")
        [snippet] = body["snippets"]
        assert snippet["content"].endswith(TRUNCATED)
        assert long.startswith(snippet["content"].removesuffix(TRUNCATED))
        _agree(text, body["snippets"])


async def test_the_json_answer_tags_every_snippet_with_its_library(stack: Stack) -> None:
    status, _, body = await _get(
        stack, query="timeouts and CORS", libraries="webkit,/acme/fetcher", type="json"
    )
    assert status == 200
    assert {lib["id"] for lib in body["libraries"]} == {"/acme/webkit", "/acme/fetcher"}
    assert {lib["reason"] for lib in body["libraries"]} == {"hint"}
    assert {s["libraryId"] for s in body["snippets"]} == {"/acme/webkit", "/acme/fetcher"}
    assert all(s["version"] in ("1.0", "2.0") for s in body["snippets"])
    assert body["snippets"][0]["score"] == 1.0


async def test_an_unindexed_version_of_the_one_library_is_a_404_listing_the_indexed_ones(
    stack: Stack,
) -> None:
    status, _, body = await _get(stack, query="timeouts", libraries="/acme/fetcher", version="3.0")
    assert status == 404
    assert body["error"] == "version_not_found"
    assert body["availableVersions"] == ["1.0"]
    assert "Version '3.0' of /acme/fetcher is not indexed" in body["message"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "'query' is required"),
        ({"query": "q", "libraries": ",".join(f"l{n}" for n in range(10))}, "names 10 libraries"),
        ({"query": "q", "libraries": "no-such-thing"}, "'no-such-thing' names no documented"),
        ({"query": "q", "libraries": "webkit,fetcher", "version": "1.0"}, "exactly one library"),
        ({"query": "q" * 4001}, "'query' is 4001 characters long; the limit is 4000"),
        ({"query": "q" * 2500}, "query is 2500 characters long; the limit is 2000"),
        ({"query": "q", "language": "cobol"}, "language 'cobol' is not one search knows"),
        ({"query": "q", "type": "xml"}, "'type' must be 'txt' or 'json'"),
    ],
)
async def test_bad_input_is_a_400_naming_the_problem(
    stack: Stack, params: dict[str, str], named: str
) -> None:
    status, _, body = await _get(stack, **params)
    assert status == 400
    assert named in body["message"]


async def test_a_bad_key_is_refused_before_any_search(stack: Stack) -> None:
    status, _, _ = await _get(stack, {"Authorization": "Bearer wrong"}, query="timeouts")
    assert status == 401


async def test_the_sdk_client_answers_in_one_call_without_a_library_id(stack: Stack) -> None:
    async with Client(f"{stack.url}/mcp", mode="auto") as client:
        listed = await client.list_tools()
        tool = next(t for t in listed.tools if t.name == "search-docs")
        assert tool.input_schema["required"] == ["query"]
        query_docs = next(t for t in listed.tools if t.name == "query-docs")
        assert query_docs.input_schema["required"] == ["libraryId", "query"]
        assert "'search-docs' answers in one call" in (query_docs.description or "")

        found = await client.call_tool(
            "search-docs", {"query": "stream a large download and show progress", "tokens": 800}
        )
        assert found.is_error is False
        text = found.content[0].text  # type: ignore[union-attr]
        assert "Library: /acme/fetcher, version 1.0" in text.split("### ")[1]
        assert count_tokens(text) <= 800

        hinted = await client.call_tool(
            "search-docs", {"query": "allowed origins", "libraries": ["webkit"]}
        )
        assert "Library: /acme/webkit, version 2.0" in hinted.content[0].text  # type: ignore[union-attr]

        # query-docs called without an ID answers the same way instead of failing.
        unnamed = await client.call_tool("query-docs", {"query": "allow another origin CORS"})
        assert unnamed.is_error is False
        assert "Library: /acme/webkit" in unnamed.content[0].text  # type: ignore[union-attr]

        too_many = await client.call_tool(
            "search-docs", {"query": "q", "libraries": ["a", "b", "c", "d", "e"]}
        )
        assert too_many.is_error is True
        assert "names 5 libraries; the limit is 4" in too_many.content[0].text  # type: ignore[union-attr]

        wrong_version = await client.call_tool(
            "search-docs", {"query": "q", "libraries": ["fetcher"], "version": "9"}
        )
        assert wrong_version.is_error is True
        assert "Available versions: 1.0" in wrong_version.content[0].text  # type: ignore[union-attr]


async def test_a_projects_dependencies_are_the_libraries_the_tool_searches(stack: Stack) -> None:
    query = "set connect and read timeouts, and run work after returning a response"
    async with Client(f"{stack.url}/mcp", mode="auto") as client:
        free = await client.call_tool("search-docs", {"query": query, "tokens": 1000})
        assert "Library: /acme/fetcher" in free.content[0].text  # type: ignore[union-attr]
        scoped = await client.call_tool(
            "search-docs", {"query": query, "tokens": 1000, "project": "webkit==2.0\n"}
        )
    text = scoped.content[0].text  # type: ignore[union-attr]
    assert scoped.is_error is False
    assert "Library: /acme/webkit, version 2.0" in text
    assert "/acme/fetcher" not in text
    status, _, body = await _get(stack, query=query, project="webkit==2.0\n", type="json")
    assert status == 200
    assert [(lib["id"], lib["reason"]) for lib in body["libraries"]] == [
        ("/acme/webkit", "project")
    ]
    assert {snippet["libraryId"] for snippet in body["snippets"]} == {"/acme/webkit"}


async def test_the_openapi_document_describes_the_search_and_its_caps(stack: Stack) -> None:
    async with stack.http.get(f"{stack.url}/openapi.json") as response:
        document = await response.json()
    operation = document["paths"]["/api/v3/search"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["query"]["required"] is True
    assert parameters["libraries"]["schema"]["maxLength"] == 500
    assert parameters["language"]["schema"]["maxLength"] == 32
    assert set(operation["responses"]) >= {"200", "400", "404", "429"}
    assert "DocsSearch" in document["components"]["schemas"]
