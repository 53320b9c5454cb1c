"""The gateway against the real search servicer: every lookup outcome, through REST and MCP.

The same cases run against FakeSearch, so the fake the other gateway tests use answers as
search does (status codes and trailing metadata, search.proto).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from twinmcp.search.v1 import index_pb2, search_pb2, search_pb2_grpc
from twinmcp.tokens import count_tokens

from .real_search import publish_docs, start_real_search

Stack = Any

# The library FakeSearch holds (conftest.FASTAPI): a default version and an older one.
LIBRARY_ID = "/fastapi/fastapi"
DEFAULT, OLDER = "0.110.0", "0.100.0"
DOCS = [
    ("CORS", "CORS lets a browser call a backend on another origin; add CORSMiddleware."),
    ("Add CORS middleware", "app.add_middleware(CORSMiddleware, allow_origins=['*'])"),
    # Nearly 500 tokens: the answer about preflight requests without a project fills all but
    # 16 of a 500-token budget, less than the project's note takes.
    (
        "Preflight requests, and how CORSMiddleware answers them",
        " ".join(
            f"A preflight request (number {n}) asks with OPTIONS whether the real request is "
            "allowed; CORSMiddleware answers it from allow_methods and allow_headers."
            for n in range(14)
        ),
    ),
]


async def _publish(
    port: int,
    version: str,
    *,
    make_default: bool,
    registry_source: str = "",
    registry_releases: tuple[str, ...] = (),
) -> None:
    """Indexes DOCS as `version` of LIBRARY_ID, as ingest would."""
    library = index_pb2.LibraryMetadata(
        library_id=LIBRARY_ID,
        title="FastAPI",
        source_type=search_pb2.SOURCE_TYPE_GITHUB,
        package_names=["fastapi"],
        registry_source=registry_source,
        registry_releases=list(registry_releases),
    )
    await publish_docs(port, library, version, DOCS, path="docs/cors.md", make_default=make_default)


@pytest.fixture(params=["real search", "FakeSearch"])
async def stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    open_stack: Callable[..., Any],
    fake_search: Any,
) -> AsyncIterator[Stack]:
    if request.param == "FakeSearch":
        async with open_stack(fake_search, {}) as opened:
            yield opened
        return
    server = await start_real_search(tmp_path)
    await _publish(server.port, OLDER, make_default=False)
    await _publish(server.port, DEFAULT, make_default=True)
    async with open_stack(None, {}, server) as opened:
        yield opened


async def _rest(stack: Stack, path: str, **params: str) -> tuple[int, Any]:
    async with stack.http.get(f"{stack.url}{path}", params=params) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def _tool(stack: Stack, library_id: str) -> tuple[bool, str]:
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": library_id, "query": "CORS"})
    )
    result = body["result"]
    return bool(result["isError"]), str(result["content"][0]["text"])


def _header(version: str) -> str:
    return f"# FastAPI ({LIBRARY_ID}), version {version}"


@pytest.mark.parametrize(
    ("asked", "served"),
    [
        (LIBRARY_ID, DEFAULT),
        (f"{LIBRARY_ID}/{OLDER}", OLDER),
        (f"{LIBRARY_ID}@{OLDER}", OLDER),
        (f"{LIBRARY_ID}/v{OLDER}", OLDER),
        (f"{LIBRARY_ID}@v{OLDER}", OLDER),
    ],
)
async def test_a_found_version_is_served_as_search_names_it(
    stack: Stack, asked: str, served: str
) -> None:
    status, text = await _rest(stack, "/api/v2/context", libraryId=asked, query="CORS")
    assert status == 200
    assert text.splitlines()[0] == _header(served)
    is_error, tool_text = await _tool(stack, asked)
    assert not is_error
    assert tool_text.splitlines()[0] == _header(served)
    status, body = await _rest(stack, "/api/v2/context", libraryId=asked, query="CORS", type="json")
    assert status == 200 and body["version"] == served


@pytest.mark.parametrize("version", [OLDER, f"v{OLDER}"])
async def test_the_v1_path_serves_a_version_with_or_without_a_leading_v(
    stack: Stack, version: str
) -> None:
    status, text = await _rest(stack, f"/api/v1/fastapi/fastapi/{version}", topic="CORS")
    assert status == 200
    assert text.splitlines()[0] == _header(OLDER)


async def test_an_unknown_library_is_named_with_close_indexed_ones(stack: Stack) -> None:
    status, body = await _rest(stack, "/api/v2/context", libraryId="/tiangolo/fastapi", query="q")
    assert status == 404
    assert body["error"] == "not_found"
    assert body["suggestions"] == [LIBRARY_ID]
    assert body["message"].startswith("Library '/tiangolo/fastapi' is not indexed.")
    is_error, text = await _tool(stack, "/tiangolo/fastapi")
    assert is_error
    assert text.startswith("Library '/tiangolo/fastapi' is not indexed.")
    assert LIBRARY_ID in text and "resolve-library-id" in text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/fastapi/fastapi/9.9?topic=q",
        f"/api/v2/context?libraryId={LIBRARY_ID}/9.9&query=q",
        f"/api/v2/context?libraryId={LIBRARY_ID}@9.9&query=q",
    ],
)
async def test_an_unindexed_version_is_404_with_the_available_ones(stack: Stack, path: str) -> None:
    status, body = await _rest(stack, path)
    assert status == 404
    assert body["error"] == "version_not_found"
    assert body["availableVersions"] == [DEFAULT, OLDER]
    assert body["message"] == (
        f"Version '9.9' of {LIBRARY_ID} is not indexed. Available versions: {DEFAULT}, {OLDER}"
    )


async def test_an_unindexed_version_is_a_tool_error_with_the_available_ones(stack: Stack) -> None:
    is_error, text = await _tool(stack, f"{LIBRARY_ID}/9.9")
    assert is_error
    assert text.startswith(
        f"Version '9.9' of {LIBRARY_ID} is not indexed. Available versions: {DEFAULT}, {OLDER}."
    )
    assert f"libraryId '{LIBRARY_ID}/{DEFAULT}'" in text


@pytest.mark.parametrize(
    ("version", "served"),
    [("^0.110.0", DEFAULT), ("~0.100", OLDER), (">=0.100.0", DEFAULT), ("<0.105,>=0.1", OLDER)],
)
async def test_a_range_is_answered_with_the_best_indexed_version_it_admits(
    stack: Stack, version: str, served: str
) -> None:
    status, text = await _rest(
        stack, "/api/v2/context", libraryId=f"{LIBRARY_ID}/{version}", query="CORS"
    )
    assert status == 200, text
    assert text.splitlines()[0] == _header(served)
    is_error, tool_text = await _tool(stack, f"{LIBRARY_ID}@{version}")
    assert not is_error
    assert tool_text.splitlines()[0] == _header(served)


@pytest.mark.parametrize("version", ["^0.200", "~=1.0"])
async def test_a_range_no_indexed_version_fits_is_version_not_found(
    stack: Stack, version: str
) -> None:
    status, body = await _rest(
        stack, "/api/v2/context", libraryId=f"{LIBRARY_ID}@{version}", query="q"
    )
    assert status == 404
    assert body["error"] == "version_not_found"
    assert body["availableVersions"] == [DEFAULT, OLDER]


async def test_an_unindexed_registry_version_names_the_release_and_how_to_ingest_it(
    tmp_path: Path, open_stack: Callable[..., Any]
) -> None:
    server = await start_real_search(tmp_path)
    releases = (DEFAULT, "0.109.2", "0.109.1", OLDER)
    await _publish(
        server.port,
        DEFAULT,
        make_default=True,
        registry_source="pypi:fastapi",
        registry_releases=releases,
    )
    async with open_stack(None, {}, server) as opened:
        status, body = await _rest(
            opened, "/api/v2/context", libraryId=f"{LIBRARY_ID}@0.109.x", query="CORS"
        )
        assert status == 404
        assert body["error"] == "version_not_found"
        assert body["availableVersions"] == [DEFAULT]
        assert body["registryReleases"] == ["0.109.2", "0.109.1"]
        assert body["ingestSource"] == "pypi:fastapi==0.109.2"
        assert body["message"] == (
            f"Version '0.109.x' of {LIBRARY_ID} is not indexed. Available versions: {DEFAULT}. "
            "The package registry has 0.109.2, 0.109.1; ingest 0.109.2 with "
            "`twinmcp ingest pypi:fastapi==0.109.2`."
        )
        is_error, text = await _tool(opened, f"{LIBRARY_ID}@0.109.x")
        assert is_error
        assert text.startswith(f"Version '0.109.x' of {LIBRARY_ID} is not indexed.")
        assert text.endswith(
            "The package registry has 0.109.2, 0.109.1; ingest 0.109.2 with "
            "`twinmcp ingest pypi:fastapi==0.109.2`."
        )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"/api/v1{LIBRARY_ID}", {}),
        (f"/api/v1{LIBRARY_ID}/{OLDER}", {}),
        ("/api/v2/context", {"libraryId": LIBRARY_ID}),
    ],
)
async def test_rest_context_without_a_topic_answers_the_library_overview(
    stack: Stack, path: str, params: dict[str, str]
) -> None:
    status, text = await _rest(stack, path, **params)
    assert status == 200, text
    lines = text.splitlines()
    assert lines[0].startswith(f"# FastAPI ({LIBRARY_ID}), version ")
    assert "CORS" in text


async def test_get_library_docs_without_a_topic_answers_the_library_overview(
    stack: Stack,
) -> None:
    _, _, body = await stack.mcp(
        stack.call("get-library-docs", {"context7CompatibleLibraryID": LIBRARY_ID})
    )
    result = body["result"]
    assert not result["isError"], result
    text = str(result["content"][0]["text"])
    assert text.splitlines()[0] == _header(DEFAULT)
    assert "CORS" in text


async def test_query_docs_without_a_query_is_a_tool_error_naming_it(stack: Stack) -> None:
    _, _, body = await stack.mcp(stack.call("query-docs", {"libraryId": LIBRARY_ID}))
    result = body["result"]
    assert result["isError"]
    assert "query" in str(result["content"][0]["text"])


SEPARATOR = "\n\n--------------------------------\n\n"


@pytest.mark.parametrize("tokens", [500, 5000])
async def test_search_docs_serves_searchs_text_and_the_json_the_text_shows(
    stack: Stack, tokens: int
) -> None:
    asked = {"query": "CORS", "libraries": "fastapi", "tokens": str(tokens)}
    status, text = await _rest(stack, "/api/v3/search", **asked)
    assert status == 200
    assert count_tokens(text) <= tokens
    assert text.splitlines()[:2] == [
        "# Documentation across libraries",
        f"From: FastAPI ({LIBRARY_ID}, version {DEFAULT})",
    ]
    _, _, body = await stack.mcp(
        stack.call("search-docs", {"query": "CORS", "libraries": ["fastapi"], "tokens": tokens})
    )
    assert body["result"]["content"][0]["text"] == text
    status, answer = await _rest(stack, "/api/v3/search", **asked, type="json")
    assert status == 200
    sections = text.split(SEPARATOR)[1:]
    assert sections and len(sections) == len(answer["snippets"])
    for section, snippet in zip(sections, answer["snippets"], strict=True):
        tag = f"Library: {snippet['libraryId']}, version {snippet['version']}"
        assert section.startswith(f"### {snippet['title']}\n{tag}\n\n")
        assert snippet["content"].rstrip() in section


ADMIN = {"Authorization": "Bearer admin-key"}
REQUIREMENTS = f"fastapi=={OLDER}\nhttpx>=0.27\n"


@pytest.mark.parametrize("tokens", [500, 5000])
@pytest.mark.parametrize(
    ("project", "label"),
    [("shop", "Project 'shop'"), (REQUIREMENTS, "The requirements.txt passed as 'project'")],
)
async def test_query_docs_for_a_project_says_so_within_tokens_in_every_form(
    stack: Stack, tokens: int, project: str, label: str
) -> None:
    url = f"{stack.url}/api/v1/admin/projects"
    registered = {"name": "shop", "files": {"requirements.txt": REQUIREMENTS}}
    async with stack.http.post(url, json=registered, headers=ADMIN) as response:
        assert response.status == 200, await response.text()
    note = f"{label} locks version {OLDER} of this library; this answer is for it."
    asked = {"libraryId": LIBRARY_ID, "query": "preflight", "tokens": str(tokens)}
    status, text = await _rest(stack, "/api/v2/context", **asked, project=project)
    assert status == 200, text
    assert count_tokens(text) <= tokens
    assert text.splitlines()[:2] == [_header(OLDER), note]
    called = {"libraryId": LIBRARY_ID, "query": "preflight", "tokens": tokens, "project": project}
    _, _, body = await stack.mcp(stack.call("query-docs", called))
    assert body["result"]["content"][0]["text"] == text
    status, answer = await _rest(stack, "/api/v2/context", **asked, project=project, type="json")
    assert status == 200, answer
    assert (answer["version"], answer["lockedVersion"]) == (OLDER, OLDER)
    assert answer["projectNote"] == note
    assert len(answer["snippets"]) == len(text.split(SEPARATOR)) - 1


async def test_two_files_locking_the_same_packages_get_answers_naming_each(stack: Stack) -> None:
    pyproject = f'[project]\nname = "shop"\nversion = "1"\ndependencies = ["fastapi=={OLDER}"]\n'
    texts = []
    for project in (f"fastapi=={OLDER}\n", pyproject):
        called = {"libraryId": LIBRARY_ID, "query": "CORS", "project": project}
        _, _, body = await stack.mcp(stack.call("query-docs", called))
        texts.append(str(body["result"]["content"][0]["text"]).splitlines()[1])
    assert texts == [
        f"The {name} passed as 'project' locks version {OLDER} of this library; this answer is "
        "for it."
        for name in ("requirements.txt", "pyproject.toml")
    ]


@pytest.mark.parametrize("method", ["QueryDocs", "SearchDocs"])
async def test_an_unindexed_versions_refusal_is_searchs_own_over_grpc(
    stack: Stack, method: str
) -> None:
    """The status, the details and every trailing metadata key, as search.proto states them."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.servers['search'].port}") as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            if method == "QueryDocs":
                await stub.QueryDocs(
                    search_pb2.QueryDocsRequest(library_id=LIBRARY_ID, version="9.9", query="q")
                )
            else:
                await stub.SearchDocs(
                    search_pb2.SearchDocsRequest(query="q", libraries=[LIBRARY_ID], version="9.9")
                )
    error = refused.value
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == (
        f"version '9.9' of {LIBRARY_ID} is not indexed; indexed: {DEFAULT}, {OLDER}. "
        "Ask for one of them, or omit the version for the default"
    )
    metadata = dict(error.trailing_metadata() or ())
    assert metadata["library-id"] == LIBRARY_ID
    assert metadata["requested-version"] == "9.9"
    assert metadata["available-versions"] == f"{DEFAULT},{OLDER}"
    assert metadata["registry-releases"] == "" and metadata["ingest-source"] == ""
