"""Projects over REST and MCP with the real search: lockfiles in, answers at their versions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

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
