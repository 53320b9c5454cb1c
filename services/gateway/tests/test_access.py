"""Credentials, the authentication cache, anonymous callers by address, and rate limits."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

import pytest
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway.access import Access, Budget, _Seen, client_address, credential_from

Stack = Any
SEARCH = "/api/v2/libs/search?libraryName=fastapi"


async def _status(stack: Stack, headers: dict[str, str], path: str = SEARCH) -> tuple[int, Any]:
    async with stack.http.get(f"{stack.url}{path}", headers=headers) as response:
        return response.status, response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer read-key"},
        {"X-API-Key": "read-key"},
        {"Context7-API-Key": "read-key"},
        {"X-Context7-API-Key": "read-key"},
    ],
)
async def test_every_api_key_header_identifies_the_caller(
    stack: Stack, headers: dict[str, str]
) -> None:
    status, _ = await _status(stack, headers)
    assert status == 200
    assert stack.auth.counts == {"key:k1": 1}


async def test_invalid_key_is_401_on_rest_and_mcp(stack: Stack) -> None:
    status, headers = await _status(stack, {"Authorization": "Bearer wrong"})
    assert status == 401 and "Bearer" in headers["WWW-Authenticate"]
    status, _, body = await stack.mcp(stack.request("tools/list"), {"X-API-Key": "wrong"})
    assert status == 401
    assert body["error"]["code"] == -32600


async def test_authentication_is_cached_for_the_granted_ttl_and_revocation_applies_after(
    stack: Stack,
) -> None:
    stack.auth.cache_ttl_seconds = 1
    headers = {"X-API-Key": "read-key"}
    for _ in range(3):
        assert (await _status(stack, headers))[0] == 200
    assert stack.auth.authenticate_calls == 1
    stack.auth.revoked.add("k1")
    deadline = asyncio.get_running_loop().time() + 5
    while (await _status(stack, headers))[0] == 200:
        assert asyncio.get_running_loop().time() < deadline, "revoked key still accepted"
        await asyncio.sleep(0.1)


async def test_anonymous_callers_are_limited_per_address(stack: Stack) -> None:
    assert (await _status(stack, {}))[0] == 200
    assert list(stack.auth.counts) == ["ip:127.0.0.1"]


async def test_forwarded_for_is_ignored_from_untrusted_peers(stack: Stack) -> None:
    await _status(stack, {"X-Forwarded-For": "203.0.113.9"})
    assert list(stack.auth.counts) == ["ip:127.0.0.1"]


@pytest.mark.parametrize(
    "gateway_overrides",
    [{"trusted_proxies": (ipaddress.ip_network("127.0.0.0/8"),)}],
)
async def test_forwarded_for_is_believed_from_a_trusted_proxy(stack: Stack) -> None:
    await _status(stack, {"X-Forwarded-For": "203.0.113.9"})
    assert list(stack.auth.counts) == ["ip:203.0.113.9"]


def test_forwarded_chain_stops_at_the_first_untrusted_hop() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_address("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2", trusted) == "198.51.100.7"
    assert client_address("192.0.2.1", "6.6.6.6", trusted) == "192.0.2.1"


def test_authorization_bearer_wins_over_other_headers() -> None:
    assert credential_from({"Authorization": "Bearer a", "X-API-Key": "b"}) == "a"
    assert credential_from({"Authorization": "Basic zzz", "X-API-Key": "b"}) == "b"
    assert credential_from({}) == ""


async def test_rest_over_the_limit_is_429_with_retry_and_budget_headers(stack: Stack) -> None:
    stack.auth.limit = 2
    status, headers = await _status(stack, {})
    assert status == 200
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("2", "1")
    assert headers["RateLimit-Reset"] == "42"
    await _status(stack, {})
    async with stack.http.get(f"{stack.url}{SEARCH}") as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "42"
        assert response.headers["RateLimit-Remaining"] == "0"
        body = await response.json()
        assert body["error"] == "rate_limited" and "retry in 42 seconds" in body["message"]


async def test_errors_carry_the_budget_headers_too(stack: Stack) -> None:
    status, headers = await _status(stack, {}, "/api/v2/context?libraryId=/no/such&query=q")
    assert status == 404
    assert headers["RateLimit-Remaining"] == "99"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/v2/context?libraryId=/a/b&type=xml", {}, 400),  # the caller's input
        ("/api/v1/admin/jobs/nope", {"Authorization": "Bearer admin-key"}, 404),  # ingest's
        ("/api/v1/admin/jobs", {"Authorization": "Bearer read-key"}, 403),  # the route's check
        ("/api/v2/libs/search?libraryName=x", {}, 503),  # search is down
    ],
)
async def test_every_error_of_a_charged_rest_call_carries_the_budget_headers(
    stack: Stack, path: str, headers: dict[str, str], status: int
) -> None:
    if status == 503:
        await stack.servers["search"].stop()
    answered, sent = await _status(stack, headers, path)
    assert answered == status
    assert (sent["RateLimit-Limit"], sent["RateLimit-Remaining"]) == ("100", "99")


async def test_auth_service_down_is_503(stack: Stack) -> None:
    await stack.servers["auth"].stop()
    status, headers = await _status(stack, {"X-API-Key": "other"})
    assert status == 503
    assert headers["Retry-After"] == "5"


def test_a_free_response_shows_the_last_budget_aged_but_never_inflated() -> None:
    # The auth service rolls its minute: requests leave it one by one, so before a full minute
    # has passed the gateway can only vouch for what was left at the last charge.
    access = Access(auth=None, max_cache_seconds=0)  # type: ignore[arg-type]
    principal = auth_pb2.Principal(rate_limit_subject="key:k1")
    access._budgets["key:k1"] = _Seen(Budget(100, 3, 40), time.monotonic() - 45)
    aged = access.last_budget(principal)
    assert aged is not None and (aged.remaining, aged.reset_seconds) == (3, 0)
    access._budgets["key:k1"] = _Seen(Budget(100, 3, 40), time.monotonic() - 61)
    rested = access.last_budget(principal)
    assert rested is not None and (rested.remaining, rested.reset_seconds) == (100, 0)


class _CountingAuth:
    """AuthService answers for Access alone: every caller allowed, the calls counted."""

    def __init__(self) -> None:
        self.authentications = 0

    async def authenticate(
        self, credential: str, address: str, resource: str = ""
    ) -> auth_pb2.AuthenticateResponse:
        self.authentications += 1
        principal = auth_pb2.Principal(is_anonymous=True, rate_limit_subject=f"ip:{address}")
        return auth_pb2.AuthenticateResponse(principal=principal, cache_ttl_seconds=300)

    async def check_rate_limit(
        self, subject: str, tier: auth_pb2.Tier.ValueType
    ) -> auth_pb2.CheckRateLimitResponse:
        return auth_pb2.CheckRateLimitResponse(allowed=True, limit=60, remaining=59)


async def test_a_full_principal_cache_drops_one_caller_not_all_of_them() -> None:
    auth = _CountingAuth()
    access = Access(auth=auth, max_cache_seconds=300)  # type: ignore[arg-type]
    addresses = [f"10.0.{i // 256}.{i % 256}" for i in range(10_001)]
    for address in addresses:
        await access.principal("", address)
    assert auth.authentications == 10_001
    # The 10,001st caller evicted the least recently seen one, and only that one.
    for address in addresses[1:]:
        await access.principal("", address)
    assert auth.authentications == 10_001
    await access.principal("", addresses[0])
    assert auth.authentications == 10_002


async def test_a_full_budget_cache_keeps_showing_the_other_callers_budgets() -> None:
    access = Access(auth=_CountingAuth(), max_cache_seconds=300)  # type: ignore[arg-type]
    principals = [auth_pb2.Principal(rate_limit_subject=f"ip:{i}") for i in range(10_001)]
    for principal in principals:
        await access.charge(principal)
    assert access.last_budget(principals[0]) is None
    assert all(access.last_budget(p) is not None for p in principals[1:])


ADMIN_CALLS = [
    ("POST", "/api/v1/admin/sources", {"source": "https://example.com/docs", "version": "1.0"}),
    ("POST", "/api/v1/admin/libraries/acme/widgets/refresh", None),
    ("POST", "/api/v1/admin/libraries/npm/react/follow", None),
    ("DELETE", "/api/v1/admin/libraries/npm/react/follow", None),
    ("GET", "/api/v1/admin/follows", None),
    ("GET", "/api/v1/admin/jobs", None),
    ("POST", "/api/v1/admin/projects", {"name": "web", "files": {}}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
async def test_an_admin_key_revoked_at_auth_is_refused_on_admin_routes_despite_the_cache(
    stack: Stack, method: str, path: str, body: dict[str, Any] | None
) -> None:
    # A long TTL: without a fresh check the cached principal would serve the admin call.
    stack.auth.cache_ttl_seconds = 60
    headers = {"Authorization": "Bearer admin-key"}
    assert (await _status(stack, headers))[0] == 200  # now cached at this gateway
    admin_id = stack.auth.keys["admin-key"].key_id
    stack.auth.revoked.add(admin_id)  # revoked at auth, not through this gateway
    jobs_before = dict(stack.ingest.jobs)

    async with stack.http.request(
        method, f"{stack.url}{path}", json=body, headers=headers
    ) as reply:
        status, answer = reply.status, await reply.json()

    assert status == 401, answer
    assert "revoked" in answer["message"]
    assert stack.ingest.jobs == jobs_before
    # The refusal also drops the stale answer, so the key's other calls end at once too.
    assert (await _status(stack, headers))[0] == 401


async def test_admin_routes_ask_auth_on_every_call_and_other_routes_use_the_cache(
    stack: Stack,
) -> None:
    stack.auth.cache_ttl_seconds = 60
    headers = {"Authorization": "Bearer admin-key"}
    for _ in range(3):
        assert (await _status(stack, headers))[0] == 200
    assert stack.auth.authenticate_calls == 1
    for _ in range(3):
        assert (await _status(stack, headers, "/api/v1/admin/jobs"))[0] == 200
    assert stack.auth.authenticate_calls == 4


async def test_an_admin_demoted_at_auth_loses_admin_routes_at_once(stack: Stack) -> None:
    stack.auth.cache_ttl_seconds = 60
    headers = {"Authorization": "Bearer admin-key"}
    assert (await _status(stack, headers, "/api/v1/admin/jobs"))[0] == 200
    del stack.auth.keys["admin-key"].scopes[:]
    stack.auth.keys["admin-key"].scopes.append("read")

    assert (await _status(stack, headers, "/api/v1/admin/jobs"))[0] == 403
