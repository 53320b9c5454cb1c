"""The REST API: Context7 shapes, errors with the right status, admin and account, sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from twinmcp.search.v1 import search_pb2
from twinmcp.tokens import count_tokens

Stack = Any
ADMIN = {"Authorization": "Bearer admin-key"}
READER = {"Authorization": "Bearer read-key"}


async def _get(stack: Stack, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with stack.http.get(f"{stack.url}{path}", headers=headers or {}) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def _send(
    stack: Stack, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with stack.http.request(
        method, f"{stack.url}{path}", json=body, headers=headers or {}
    ) as response:
        return response.status, await response.json()


async def test_v2_search_returns_context7_result_shape(stack: Stack) -> None:
    status, body = await _get(stack, "/api/v2/libs/search?libraryName=fastapi&query=cors")
    assert status == 200
    assert body["results"] == [
        {
            "id": "/fastapi/fastapi",
            "title": "FastAPI",
            "description": "FastAPI framework, high performance, easy to learn",
            "branch": "0.110.0",
            "lastUpdateDate": "2026-01-02T03:04:05Z",
            "state": "finalized",
            "totalTokens": body["results"][0]["totalTokens"],
            "totalSnippets": 29,
            "stars": 80000,
            "trustScore": 9.1,
            "versions": ["0.110.0", "0.100.0"],
            "source": "https://github.com/fastapi/fastapi",
            "packages": [],
            "aliases": [],
            "documented": True,
        }
    ]


async def test_v2_search_shows_packages_and_labels_a_library_without_documentation(
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
        aliases=["Hono.js"],
        versions=[search_pb2.LibraryVersion(version="main", snippet_count=12, is_default=True)],
    )
    stack.search.libraries["/npm/express"] = search_pb2.Library(
        library_id="/npm/express",
        title="express",
        source_type=search_pb2.SOURCE_TYPE_CATALOG,
        package_names=["express"],
        packages=[search_pb2.PackageRef(registry="npm", name="express")],
    )
    _, body = await _get(stack, "/api/v2/libs/search?libraryName=hono")
    hono = body["results"][0]
    assert (hono["title"], hono["packages"], hono["aliases"]) == (
        "Hono",
        [{"registry": "npm", "name": "hono"}],
        ["Hono.js"],
    )
    assert hono["documented"] is True and hono["totalSnippets"] == 12 and "note" not in hono
    _, body = await _get(stack, "/api/v2/libs/search?libraryName=express")
    express = body["results"][0]
    assert express["documented"] is False and express["totalSnippets"] == 0
    assert express["note"].startswith(
        "no documentation indexed; ingest it with `twinmcp ingest npm:express`"
    )
    assert express["packages"] == [{"registry": "npm", "name": "express"}]


async def test_v1_search_takes_the_name_as_query(stack: Stack) -> None:
    status, body = await _get(stack, "/api/v1/search?query=fastapi")
    assert status == 200
    assert body["results"][0]["id"] == "/fastapi/fastapi"


async def test_search_without_a_name_is_400(stack: Stack) -> None:
    status, body = await _get(stack, "/api/v2/libs/search")
    assert status == 400
    assert body == {"error": "bad_request", "message": "'libraryName' is required"}


async def test_v2_context_json_lists_ranked_snippets_within_budget(stack: Stack) -> None:
    status, body = await _get(
        stack, "/api/v2/context?libraryId=/fastapi/fastapi&query=cors&tokens=1000&type=json"
    )
    assert status == 200
    assert body["version"] == "0.110.0"
    first = body["snippets"][0]
    assert first["kind"] == "code" and first["language"] == "python"
    assert first["source"] == {
        "path": "docs/tutorial/1.md",
        "url": "https://fastapi.tiangolo.com/tutorial/1/",
        "anchor": "part-1",
    }
    assert body["snippets"][1]["kind"] == "info"
    assert sum(s["tokens"] for s in body["snippets"]) <= 1000
    assert body["codeSnippets"][0]["codeList"][0]["code"] == first["content"]
    assert body["infoSnippets"][0]["content"] == body["snippets"][1]["content"]


async def test_v2_context_json_holds_the_snippets_its_text_form_shows(stack: Stack) -> None:
    # One rule for both forms: search fits the text into the budget, header included, and the
    # JSON lists the snippets that text shows (search.proto, QueryDocsResponse.text).
    context = "/api/v2/context?libraryId=/fastapi/fastapi&query=examples&tokens=1400"
    _, text = await _get(stack, context)
    _, body = await _get(stack, context + "&type=json")
    titles = [line.removeprefix("### ") for line in text.splitlines() if line.startswith("### ")]
    assert titles == [s["title"] for s in body["snippets"]]
    assert 2 <= len(titles) < 29
    assert count_tokens(text) <= 1400


async def test_v2_context_text_is_the_same_markdown_as_the_tool(stack: Stack) -> None:
    status, text = await _get(
        stack, "/api/v2/context?libraryId=/fastapi/fastapi&query=cors&tokens=800"
    )
    assert status == 200
    assert text.startswith("# FastAPI (/fastapi/fastapi), version 0.110.0")
    assert count_tokens(text) <= 800
    _, _, body = await stack.mcp(
        stack.call("query-docs", {"libraryId": "/fastapi/fastapi", "query": "cors", "tokens": 800})
    )
    assert body["result"]["content"][0]["text"] == text


async def test_v1_context_with_version_in_the_path(stack: Stack) -> None:
    status, text = await _get(stack, "/api/v1/fastapi/fastapi/0.100.0?topic=cors&tokens=600")
    assert status == 200
    assert "version 0.100.0" in text.splitlines()[0]
    assert stack.search.queries[-1].version == "0.100.0"
    assert stack.search.queries[-1].query == "cors"


async def test_unknown_library_is_404_naming_close_indexed_libraries(stack: Stack) -> None:
    status, body = await _get(stack, "/api/v2/context?libraryId=/no/such&query=q")
    assert status == 404 and body["error"] == "not_found"
    assert body["suggestions"] == []
    status, body = await _get(stack, "/api/v2/context?libraryId=/tiangolo/fastapi&query=q")
    assert status == 404 and body["error"] == "not_found"
    assert body["suggestions"] == ["/fastapi/fastapi"]
    assert "Library '/tiangolo/fastapi' is not indexed" in body["message"]
    assert "/fastapi/fastapi" in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/fastapi/fastapi/9.9.9?topic=q",
        "/api/v2/context?libraryId=/fastapi/fastapi/9.9.9&query=q",
        "/api/v2/context?libraryId=/fastapi/fastapi@9.9.9&query=q",
    ],
)
async def test_unindexed_version_is_404_listing_the_available_ones(stack: Stack, path: str) -> None:
    status, body = await _get(stack, path)
    assert status == 404
    assert body["error"] == "version_not_found"
    assert "Version '9.9.9' of /fastapi/fastapi is not indexed" in body["message"]
    assert "0.110.0, 0.100.0" in body["message"]
    assert body["availableVersions"] == ["0.110.0", "0.100.0"]
    assert stack.search.library_reads == 0  # what search said is enough: no second call


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/fastapi/fastapi/v0.100.0?topic=cors",
        "/api/v2/context?libraryId=/fastapi/fastapi/v0.100.0&query=cors",
        "/api/v2/context?libraryId=/fastapi/fastapi@v0.100.0&query=cors",
    ],
)
async def test_a_version_asked_with_a_leading_v_is_served_as_indexed(
    stack: Stack, path: str
) -> None:
    status, text = await _get(stack, path, READER)
    assert status == 200
    assert text.startswith("# FastAPI (/fastapi/fastapi), version 0.100.0")
    assert stack.auth.counts["key:k1"] == 1  # charged once, for an answer


async def test_bad_context_parameters_are_400(stack: Stack) -> None:
    for query in ("type=xml", "tokens=many", "libraryId=fastapi"):
        path = "/api/v2/context?" + (query if "libraryId" in query else f"libraryId=/a/b&{query}")
        status, body = await _get(stack, path)
        assert status == 400, query
        assert set(body) == {"error", "message"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/context",
        "/api/v2/libs/search",
        "/api/v1/admin/sources",
        "/api/v1/admin/libraries/a/b/refresh",
        "/api/v1/admin/projects",
        "/api/v1/account/keys",
        "/auth/refresh",
    ],
)
async def test_a_json_body_nested_thousands_deep_is_a_400_not_a_500(
    stack: Stack, path: str
) -> None:
    nested = "[" * 5000 + "]" * 5000  # json.loads recurses once per level: past Python's limit
    headers = {**ADMIN, "Content-Type": "application/json"}
    async with stack.http.post(f"{stack.url}{path}", data=nested, headers=headers) as response:
        body = await response.json()
    assert response.status == 400, body
    assert body == {
        "error": "bad_request",
        "message": "the body nests arrays or objects too deeply; send a flat JSON object",
    }


async def test_search_service_down_is_503_quickly(stack: Stack) -> None:
    await stack.servers["search"].stop()
    status, body = await _get(stack, "/api/v2/libs/search?libraryName=fastapi")
    assert status == 503
    assert body == {
        "error": "service_unavailable",
        "message": "search service unavailable, retry shortly",
    }


async def test_admin_can_submit_list_get_and_cancel_jobs(stack: Stack) -> None:
    status, body = await _send(
        stack, "POST", "/api/v1/admin/sources", {"source": "https://github.com/a/b"}, ADMIN
    )
    assert status == 202
    job = body["job"]
    assert (job["libraryId"], job["state"]) == ("/a/b", "queued")
    status, body = await _get(stack, "/api/v1/admin/jobs?state=queued", ADMIN)
    assert [j["jobId"] for j in body["jobs"]] == [job["jobId"]]
    status, body = await _get(stack, f"/api/v1/admin/jobs/{job['jobId']}", ADMIN)
    assert status == 200 and body["job"]["jobId"] == job["jobId"]
    status, body = await _send(
        stack, "POST", f"/api/v1/admin/jobs/{job['jobId']}/cancel", None, ADMIN
    )
    assert body["job"]["state"] == "cancelled"
    status, body = await _get(stack, "/api/v1/admin/jobs/nope", ADMIN)
    assert status == 404


async def test_admin_refresh_takes_a_library_id_with_slashes(stack: Stack) -> None:
    status, body = await _send(
        stack, "POST", "/api/v1/admin/libraries/fastapi/fastapi/refresh", {}, ADMIN
    )
    assert status == 202 and body["job"]["libraryId"] == "/fastapi/fastapi"


async def test_bad_admin_input_is_400(stack: Stack) -> None:
    status, body = await _send(stack, "POST", "/api/v1/admin/sources", {"source": "ftp://x"}, ADMIN)
    assert (status, body["error"]) == (400, "invalid_argument")
    status, body = await _send(stack, "POST", "/api/v1/admin/sources", {"maxPages": 3}, ADMIN)
    assert (status, body["message"]) == (400, "'source' is required")


async def test_admin_needs_a_key_and_the_admin_scope(stack: Stack) -> None:
    status, body = await _get(stack, "/api/v1/admin/jobs")
    assert (status, body["error"]) == (401, "unauthenticated")
    status, body = await _get(stack, "/api/v1/admin/jobs", READER)
    assert (status, body["error"]) == (403, "forbidden")


async def test_account_keys_can_be_created_listed_and_revoked(stack: Stack) -> None:
    status, body = await _send(stack, "POST", "/api/v1/account/keys", {"name": "laptop"}, READER)
    assert status == 201
    secret, key_id = body["secret"], body["key"]["keyId"]
    status, body = await _get(stack, "/api/v1/account/keys", READER)
    assert key_id in [k["keyId"] for k in body["keys"]]
    status, body = await _send(stack, "DELETE", f"/api/v1/account/keys/{key_id}", None, READER)
    assert status == 200 and body["key"]["isRevoked"] is True
    status, _ = await _get(stack, "/api/v1/account/usage", {"X-API-Key": secret})
    # The new key was never cached, so its revocation applies at once.
    assert status == 401


async def test_account_usage_and_anonymous_refusal(stack: Stack) -> None:
    status, body = await _get(stack, "/api/v1/account/usage?days=7", READER)
    assert status == 200 and body["days"][0]["requests"] == "3"
    status, _ = await _get(stack, "/api/v1/account/usage")
    assert status == 401
    status, _ = await _get(stack, "/api/v1/account/keys", {"X-API-Key": "service-key"})
    assert status == 403


async def test_github_sign_in_round_trip(stack: Stack) -> None:
    async with stack.http.get(f"{stack.url}/auth/github/login", allow_redirects=False) as response:
        assert response.status == 302
        state = response.headers["Location"].split("state=")[1]
    status, body = await _get(stack, f"/auth/github/callback?code=c&state={state}")
    assert status == 200
    assert body["tokens"]["accessToken"] == "access"
    assert body["user"]["login"] == "octocat"
    status, body = await _get(stack, f"/auth/github/callback?code=c&state={state}")
    assert status == 400
    status, body = await _send(stack, "POST", "/auth/refresh", {"refreshToken": "refresh"})
    assert (status, body["tokens"]["accessToken"]) == (200, "access2")
    status, body = await _send(stack, "POST", "/auth/refresh", {"refreshToken": "bad"})
    assert (status, body["error"]) == (401, "unauthenticated")


async def test_unknown_route_is_json_404(stack: Stack) -> None:
    status, body = await _get(stack, "/nothing/here")
    assert status == 404
    assert body["error"] == "not_found"
