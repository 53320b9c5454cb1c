"""The MCP sign-in endpoints' switches and limits, over fake peers (the whole flow against the
real auth service: tests/clients/test_oauth_sign_in.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
PATHS = (
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/oauth/authorize",
)

OpenStack = Callable[..., contextlib.AbstractAsyncContextManager[Any]]


async def test_sign_in_is_off_by_default_and_anonymous_mcp_still_answers(
    open_stack: OpenStack, fake_search: Any
) -> None:
    async with open_stack(fake_search, {}) as stack:
        for path in PATHS:
            async with stack.http.get(f"{stack.url}{path}") as answer:
                assert answer.status == 404, path
        status, _, _ = await stack.mcp(INITIALIZE, modern=False)
        assert status == 200
        status, headers, _ = await stack.mcp(
            INITIALIZE, {"Authorization": "Bearer wrong"}, modern=False
        )
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Bearer realm="twinmcp"'


async def test_required_sign_in_challenges_with_metadata_and_scope(
    open_stack: OpenStack, fake_search: Any
) -> None:
    overrides = {"oauth_server": True, "mcp_require_auth": True}
    async with open_stack(fake_search, overrides) as stack:
        status, headers, _ = await stack.mcp(INITIALIZE, modern=False)
        assert status == 401
        assert headers["WWW-Authenticate"] == (
            'Bearer resource_metadata="http://127.0.0.1:3000/.well-known/'
            'oauth-protected-resource/mcp", scope="read"'
        )
        status, headers, _ = await stack.mcp(
            INITIALIZE, {"Authorization": "Bearer wrong"}, modern=False
        )
        assert status == 401
        assert headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", ')
        status, _, _ = await stack.mcp(
            INITIALIZE, {"Authorization": "Bearer read-key"}, modern=False
        )
        assert status == 200


async def test_registration_and_authorization_count_against_the_anonymous_limit(
    open_stack: OpenStack, fake_search: Any
) -> None:
    async with open_stack(fake_search, {"oauth_server": True}) as stack:
        stack.auth.limit = 0
        async with stack.http.post(
            f"{stack.url}/oauth/register", json={"redirect_uris": ["https://a.example/cb"]}
        ) as answer:
            assert answer.status == 429
            assert (await answer.json())["error"] == "rate_limited"
        async with stack.http.get(f"{stack.url}/oauth/authorize?client_id=x") as answer:
            assert answer.status == 429
            assert "Too many sign-in requests" in await answer.text()


async def test_a_registration_nested_thousands_deep_is_invalid_client_metadata_not_a_500(
    open_stack: OpenStack, fake_search: Any
) -> None:
    nested = "[" * 5000 + "]" * 5000  # within the 16 KB bound, past json's recursion limit
    async with (
        open_stack(fake_search, {"oauth_server": True}) as stack,
        stack.http.post(
            f"{stack.url}/oauth/register",
            data=nested,
            headers={"Content-Type": "application/json"},
        ) as answer,
    ):
        assert answer.status == 400
        assert (await answer.json())["error"] == "invalid_client_metadata"
