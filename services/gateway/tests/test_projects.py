"""Projects over REST and MCP with the real search: lockfiles in, answers at their versions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client

from .real_search import start_real_search
from .test_search_contract import DEFAULT, LIBRARY_ID, OLDER, _publish, _rest, _tool

Stack = Any
ADMIN = {"Authorization": "Bearer admin-key"}
FILES = {
    "requirements.txt": "fastapi==0.100.0\nhttpx>=0.27\n",
    "package.json": json.dumps({"dependencies": {"left-pad": "1.3.0"}}),
}


@pytest.fixture
async def stack(tmp_path: Path, open_stack: Callable[..., Any]) -> AsyncIterator[Stack]:
    server = await start_real_search(tmp_path)
    releases = (DEFAULT, "0.109.2", OLDER, "0.99.0")
    for version, is_default in ((OLDER, False), (DEFAULT, True)):
        await _publish(
            server.port,
            version,
            make_default=is_default,
            registry_source="pypi:fastapi",
            registry_releases=releases,
        )
    async with open_stack(None, {}, server) as opened:
        yield opened


async def _register(stack: Stack, body: Any) -> tuple[int, Any]:
    url = f"{stack.url}/api/v1/admin/projects"
    async with stack.http.post(url, json=body, headers=ADMIN) as response:
        return response.status, await response.json()


async def test_a_registered_project_is_answered_at_its_locked_version_over_rest_and_mcp(
    stack: Stack,
) -> None:
    status, body = await _register(stack, {"name": "shop", "files": FILES})
    assert status == 200, body
    assert body["packages"][0] == {
        "registry": "pypi",
        "name": "fastapi",
        "version": OLDER,
        "libraryId": LIBRARY_ID,
        "isVersionIndexed": True,
        "ingest": "",
    }
    assert body["packages"][1]["name"] == "left-pad"
    assert body["packages"][1]["libraryId"] == ""
    assert body["packages"][1]["ingest"] == "twinmcp ingest npm:left-pad@1.3.0"
    assert body["unlocked"] == [
        {"registry": "pypi", "name": "httpx", "declared": ">=0.27", "foundIn": "requirements.txt"}
    ]
    status, text = await _rest(
        stack, "/api/v2/context", libraryId=LIBRARY_ID, query="CORS", project="shop"
    )
    assert status == 200
    assert text.splitlines()[0] == f"# FastAPI ({LIBRARY_ID}), version {OLDER}"
    _, _, reply = await stack.mcp(
        stack.call("query-docs", {"libraryId": LIBRARY_ID, "query": "CORS", "project": "shop"})
    )
    result = reply["result"]
    assert not result["isError"]
    assert result["content"][0]["text"].splitlines()[0] == (
        f"# FastAPI ({LIBRARY_ID}), version {OLDER}"
    )
    # Without the project, the default version; the same question is not served from the
    # project's cached answer.
    is_error, plain = await _tool(stack, LIBRARY_ID)
    assert not is_error and plain.splitlines()[0].endswith(f"version {DEFAULT}")
    _, _, reply = await stack.mcp(
        stack.call(
            "resolve-library-id", {"libraryName": "fastapi", "query": "CORS", "project": "shop"}
        )
    )
    text = reply["result"]["content"][0]["text"]
    assert f"Versions locked by project 'shop':\n- {LIBRARY_ID}: {OLDER}" in text


async def test_a_locked_version_not_indexed_says_how_to_ingest_it(stack: Stack) -> None:
    files = {"uv.lock": '[[package]]\nname = "fastapi"\nversion = "0.109.2"\n'}
    status, body = await _register(stack, {"name": "legacy", "files": files})
    assert status == 200, body
    assert body["packages"][0]["isVersionIndexed"] is False
    assert body["packages"][0]["ingest"] == "twinmcp ingest pypi:fastapi==0.109.2"
    status, answer = await _rest(
        stack, "/api/v2/context", libraryId=LIBRARY_ID, query="CORS", project="legacy"
    )
    assert status == 404
    assert answer["ingestSource"] == "pypi:fastapi==0.109.2"
    assert "`twinmcp ingest pypi:fastapi==0.109.2`" in answer["message"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"files": FILES}, "'name' is required"),
        ({"name": "shop"}, "'files' must be an object"),
        ({"name": "shop", "files": {"setup.py": "x"}}, "not a manifest or lockfile"),
        ({"name": "shop", "files": {"package.json": 3}}, "must be a string"),
        ({"name": "shop", "files": {"package.json": "{not json"}}, "package.json"),
        ({"name": "../x", "files": FILES}, "project name"),
    ],
)
async def test_bad_project_registrations_are_400_saying_what_to_fix(
    stack: Stack, body: Any, says: str
) -> None:
    status, answer = await _register(stack, body)
    assert status == 400, answer
    assert says in answer["message"]


async def test_an_unknown_project_is_a_tool_error_saying_how_to_register(stack: Stack) -> None:
    _, _, reply = await stack.mcp(
        stack.call("query-docs", {"libraryId": LIBRARY_ID, "query": "CORS", "project": "nope"})
    )
    result = reply["result"]
    assert result["isError"]
    assert "/api/v1/admin/projects" in result["content"][0]["text"]


# One lockfile's text passed as `project` (no registration): fastapi locked at OLDER.
UV_LOCK = f"""version = 1
requires-python = ">=3.11"

[[package]]
name = "fastapi"
version = "{OLDER}"
source = {{ registry = "https://example.invalid/simple" }}

[[package]]
name = "starlette"
version = "0.36.3"
source = {{ registry = "https://example.invalid/simple" }}
"""
POETRY_LOCK = f"""[[package]]
name = "fastapi"
version = "{OLDER}"
python-versions = ">=3.8"

[metadata]
lock-version = "2.0"
content-hash = "0f00"
"""
# A lockfile that locks none of fastapi's packages.
PACKAGE_LOCK = json.dumps(
    {
        "name": "web",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "web", "dependencies": {"left-pad": "^1.3.0"}},
            "node_modules/left-pad": {"version": "1.3.0"},
        },
    },
    indent=2,
)
LOCKED_NOTE = f"The uv.lock passed as 'project' locks version {OLDER} of this library"


async def _post(stack: Stack, path: str, body: Any) -> tuple[int, Any]:
    async with stack.http.post(f"{stack.url}{path}", json=body) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def _call(stack: Stack, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    _, _, reply = await stack.mcp(stack.call(tool, arguments))
    result = reply["result"]
    return bool(result["isError"]), str(result["content"][0]["text"])


async def test_a_lockfile_passed_as_project_is_answered_at_its_locked_version_over_mcp(
    stack: Stack,
) -> None:
    is_error, text = await _call(
        stack, "query-docs", {"libraryId": LIBRARY_ID, "query": "CORS", "project": UV_LOCK}
    )
    assert not is_error, text
    lines = text.splitlines()
    assert lines[0] == f"# FastAPI ({LIBRARY_ID}), version {OLDER}"
    assert lines[1] == f"{LOCKED_NOTE}; this answer is for it."
    is_error, text = await _call(
        stack,
        "resolve-library-id",
        {"libraryName": "fastapi", "query": "CORS", "project": UV_LOCK},
    )
    assert not is_error, text
    assert f"Versions locked by the uv.lock passed as 'project':\n- {LIBRARY_ID}: {OLDER}" in text
    # The same question without the lockfile is not served from the lockfile's kept answer.
    is_error, plain = await _tool(stack, LIBRARY_ID)
    assert not is_error and plain.splitlines()[0].endswith(f"version {DEFAULT}")
    assert "passed as 'project'" not in plain


async def test_the_mcp_sdk_client_passes_a_lockfile_as_project(stack: Stack) -> None:
    async with Client(f"{stack.url}/mcp", mode="auto") as client:
        listed = await client.list_tools()
        schema = next(t for t in listed.tools if t.name == "query-docs").input_schema
        assert "uv.lock" in schema["properties"]["project"]["description"]
        docs = await client.call_tool(
            "query-docs", {"libraryId": LIBRARY_ID, "query": "CORS", "project": POETRY_LOCK}
        )
        assert docs.is_error is False
        text = docs.content[0].text  # type: ignore[union-attr]
        assert text.splitlines()[0].endswith(f"version {OLDER}")
        assert "The poetry.lock passed as 'project' locks version" in text


async def test_a_lockfile_passed_as_project_is_answered_at_its_locked_version_over_rest(
    stack: Stack,
) -> None:
    # Small manifests fit in the URL; the answer's second line says which version is locked.
    status, text = await _rest(
        stack,
        "/api/v2/context",
        libraryId=LIBRARY_ID,
        query="CORS",
        project=f"fastapi=={OLDER}\nhttpx>=0.27\n",
    )
    assert status == 200, text
    assert text.splitlines()[:2] == [
        f"# FastAPI ({LIBRARY_ID}), version {OLDER}",
        f"The requirements.txt passed as 'project' locks version {OLDER} of this library; "
        "this answer is for it.",
    ]
    # A lockfile goes in a JSON body.
    status, body = await _post(
        stack,
        "/api/v2/context",
        {"libraryId": LIBRARY_ID, "query": "CORS", "type": "json", "project": UV_LOCK},
    )
    assert status == 200, body
    assert (body["version"], body["lockedVersion"]) == (OLDER, OLDER)
    assert body["projectNote"].startswith(LOCKED_NOTE)
    status, body = await _post(
        stack, "/api/v2/context", {"libraryId": LIBRARY_ID, "query": "CORS", "type": "json"}
    )
    assert status == 200 and body["version"] == DEFAULT
    assert "lockedVersion" not in body and "projectNote" not in body


async def test_library_search_says_the_version_a_project_locks_of_each_result(
    stack: Stack,
) -> None:
    status, body = await _register(stack, {"name": "shop", "files": FILES})
    assert status == 200, body
    status, body = await _rest(stack, "/api/v2/libs/search", libraryName="fastapi", project="shop")
    assert status == 200, body
    assert (body["results"][0]["id"], body["results"][0]["lockedVersion"]) == (LIBRARY_ID, OLDER)
    status, body = await _post(
        stack, "/api/v2/libs/search", {"libraryName": "fastapi", "project": UV_LOCK}
    )
    assert status == 200, body
    assert body["results"][0]["lockedVersion"] == OLDER
    status, body = await _post(
        stack, "/api/v2/libs/search", {"libraryName": "fastapi", "project": PACKAGE_LOCK}
    )
    assert status == 200 and body["results"][0]["lockedVersion"] == ""
    status, body = await _rest(stack, "/api/v2/libs/search", libraryName="fastapi")
    assert status == 200 and "lockedVersion" not in body["results"][0]


async def test_a_lockfile_locking_none_of_the_librarys_packages_gets_the_default_and_says_so(
    stack: Stack,
) -> None:
    is_error, text = await _call(
        stack, "query-docs", {"libraryId": LIBRARY_ID, "query": "CORS", "project": PACKAGE_LOCK}
    )
    assert not is_error, text
    assert text.splitlines()[:2] == [
        f"# FastAPI ({LIBRARY_ID}), version {DEFAULT}",
        "The package-lock.json passed as 'project' locks none of this library's packages; "
        f"this answer is for version {DEFAULT}, not a locked one.",
    ]
    is_error, text = await _call(
        stack,
        "resolve-library-id",
        {"libraryName": "fastapi", "query": "CORS", "project": PACKAGE_LOCK},
    )
    assert not is_error
    assert "locks none of these libraries' packages" in text
    status, body = await _post(
        stack,
        "/api/v2/context",
        {"libraryId": LIBRARY_ID, "query": "CORS", "type": "json", "project": PACKAGE_LOCK},
    )
    assert status == 200, body
    assert (body["version"], body["lockedVersion"]) == (DEFAULT, "")
    assert "locks none" in body["projectNote"]


async def test_a_lockfile_locking_a_version_not_indexed_says_how_to_ingest_it(
    stack: Stack,
) -> None:
    lock = UV_LOCK.replace(OLDER, "0.109.2")
    is_error, text = await _call(
        stack, "query-docs", {"libraryId": LIBRARY_ID, "query": "CORS", "project": lock}
    )
    assert is_error
    assert "Version '0.109.2' of /fastapi/fastapi is not indexed" in text
    assert "`twinmcp ingest pypi:fastapi==0.109.2`" in text


GARBAGE = "Dear agent,\nplease read my project and answer for it.\n"
OVERSIZED = "fastapi==0.100.0\n" + "#" * 1_000_000


@pytest.mark.parametrize(
    ("project", "says"),
    [
        (GARBAGE, "nor a manifest or lockfile read here"),
        ("{not json", "nor a manifest or lockfile read here"),
        ("lockfileVersion: '9.0'\nimporters: [unclosed\n", "pnpm-lock.yaml is not valid YAML"),
        (OVERSIZED, "the limit is 1000000"),
        ("a = " + "[" * 50_000, "nests its values too deeply"),
        ("lockfileVersion: '9.0'\nimporters: " + "[" * 50_000, "nests its values too deeply"),
    ],
)
async def test_unreadable_project_text_is_a_tool_error_and_a_400_naming_the_formats(
    stack: Stack, project: str, says: str
) -> None:
    arguments = {"libraryId": LIBRARY_ID, "query": "CORS", "project": project}
    is_error, text = await _call(stack, "query-docs", arguments)
    assert is_error and says in text, text
    is_error, text = await _call(
        stack, "resolve-library-id", {"libraryName": "fastapi", "project": project}
    )
    assert is_error and says in text, text
    status, body = await _post(stack, "/api/v2/context", arguments)
    assert status == 400 and says in body["message"], body
    status, body = await _post(
        stack, "/api/v2/libs/search", {"libraryName": "fastapi", "project": project}
    )
    assert status == 400 and says in body["message"], body
    if project is GARBAGE:
        for accepted in ("package-lock.json", "uv.lock", "pyproject.toml", "requirements.txt"):
            assert accepted in text
        status, body = await _rest(stack, "/api/v2/context", libraryId=LIBRARY_ID, project=project)
        assert status == 400 and says in body["message"], body
    if project is OVERSIZED:
        assert "twinmcp sync" in text


async def test_a_project_that_is_not_text_is_refused_saying_what_it_must_be(stack: Stack) -> None:
    is_error, text = await _call(
        stack, "query-docs", {"libraryId": LIBRARY_ID, "query": "CORS", "project": 3}
    )
    assert is_error and "'project' must be a string" in text
    status, body = await _post(stack, "/api/v2/context", {"libraryId": LIBRARY_ID, "project": 3})
    assert status == 400 and "'project' must be a string" in body["message"], body


async def test_a_body_over_the_size_bound_is_refused_before_it_is_read(stack: Stack) -> None:
    huge = "fastapi==0.100.0\n" + "#" * (2 * 1024 * 1024)
    async with stack.http.post(
        f"{stack.url}/api/v2/context", json={"libraryId": LIBRARY_ID, "project": huge}
    ) as response:
        assert response.status == 413


async def test_search_docs_answers_at_the_versions_a_lockfile_locks_over_mcp_and_rest(
    stack: Stack,
) -> None:
    is_error, text = await _call(
        stack, "search-docs", {"query": "CORS", "libraries": ["fastapi"], "project": UV_LOCK}
    )
    assert not is_error, text
    assert f"({LIBRARY_ID}, version {OLDER})" in text
    assert f"{LIBRARY_ID}: {LOCKED_NOTE}; this answer is for it." in text
    assert f"Library: {LIBRARY_ID}, version {OLDER}" in text
    # Without the lockfile: the default version, and no word of a project.
    is_error, plain = await _call(stack, "search-docs", {"query": "CORS", "libraries": ["fastapi"]})
    assert not is_error and f"version {DEFAULT}" in plain and "project" not in plain
    # REST: a small manifest in the URL, and each library's lockedVersion in the JSON form.
    status, body = await _rest(
        stack,
        "/api/v3/search",
        query="CORS",
        libraries="fastapi",
        type="json",
        project=f"fastapi=={OLDER}\n",
    )
    assert status == 200, body
    assert [(lib["id"], lib["version"], lib["lockedVersion"]) for lib in body["libraries"]] == [
        (LIBRARY_ID, OLDER, OLDER)
    ]
    assert {snippet["version"] for snippet in body["snippets"]} == {OLDER}
    status, body = await _rest(stack, "/api/v3/search", query="CORS", type="json")
    assert status == 200 and "lockedVersion" not in body["libraries"][0]


async def test_search_docs_refuses_unreadable_project_text_naming_the_formats(
    stack: Stack,
) -> None:
    is_error, text = await _call(stack, "search-docs", {"query": "CORS", "project": GARBAGE})
    assert is_error and "uv.lock" in text, text
    status, body = await _rest(stack, "/api/v3/search", query="CORS", project=GARBAGE)
    assert status == 400 and "uv.lock" in body["message"], body
