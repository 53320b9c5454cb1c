"""Admin REST for registry libraries: following a library's new releases."""

from __future__ import annotations

from typing import Any

Stack = Any
ADMIN = {"Authorization": "Bearer admin-key"}
READER = {"Authorization": "Bearer read-key"}


async def _send(
    stack: Stack, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with stack.http.request(method, f"{stack.url}{path}", headers=headers or {}) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_an_admin_follows_lists_and_unfollows_a_library_by_its_id(stack: Stack) -> None:
    status, body = await _send(
        stack, "POST", "/api/v1/admin/libraries/fastapi/fastapi/follow", ADMIN
    )
    assert status == 200, body
    assert body["library"]["libraryId"] == "/fastapi/fastapi"
    assert body["library"]["source"] == "pypi:fastapi"
    assert body["library"]["newestRelease"] == "0.110.0"
    status, body = await _send(stack, "GET", "/api/v1/admin/follows", ADMIN)
    assert status == 200
    assert [f["libraryId"] for f in body["libraries"]] == ["/fastapi/fastapi"]
    status, _ = await _send(
        stack, "DELETE", "/api/v1/admin/libraries/fastapi/fastapi/follow", ADMIN
    )
    assert status == 204
    status, body = await _send(stack, "GET", "/api/v1/admin/follows", ADMIN)
    assert body["libraries"] == []


async def test_following_an_unknown_library_is_404_and_a_read_key_is_403(stack: Stack) -> None:
    status, body = await _send(stack, "POST", "/api/v1/admin/libraries/acme/nope/follow", ADMIN)
    assert status == 404
    assert "never ingested" in body["message"]
    status, _ = await _send(stack, "POST", "/api/v1/admin/libraries/fastapi/fastapi/follow", READER)
    assert status == 403
    status, _ = await _send(stack, "DELETE", "/api/v1/admin/libraries/acme/nope/follow", ADMIN)
    assert status == 404
