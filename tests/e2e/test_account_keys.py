"""Keys made through the gateway never exceed their maker, nor outlive its revocation: processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.stack import SERVICES, Stack
from twinmcp.runtime.channels import open_channel

pytestmark = pytest.mark.e2e

# Search answers the gateway's dependencies on start; ingest plays no part in keys.
KEY_SERVICES = [spec for spec in SERVICES if spec.name in ("auth", "search", "gateway")]


@dataclass
class KeyStack:
    gateway: str
    auth: auth_pb2_grpc.AuthServiceStub
    http: aiohttp.ClientSession

    async def admin_user(self) -> tuple[str, str, str]:
        """An admin user, its admin key and a read-only key, made by the operator (no caller)."""
        user = await self.auth.CreateUser(
            auth_pb2.CreateUserRequest(
                login=f"ops{uuid.uuid4().hex[:8]}", tier=auth_pb2.TIER_FREE, is_admin=True
            ),
            timeout=10,
        )
        user_id = user.user.user_id
        admin = await self.auth.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=user_id, name="admin", scopes=["admin", "read"]),
            timeout=10,
        )
        read = await self.auth.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=user_id, name="read", scopes=["read"]),
            timeout=10,
        )
        return user_id, admin.secret, read.secret

    async def keys_of(self, user_id: str) -> list[auth_pb2.ApiKey]:
        reply = await self.auth.ListApiKeys(
            auth_pb2.ListApiKeysRequest(user_id=user_id), timeout=10
        )
        return list(reply.keys)

    async def call(
        self, method: str, path: str, key: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.request(
            method,
            f"{self.gateway}{path}",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as reply:
            return reply.status, await reply.json(content_type=None)


@pytest.fixture
async def keys(make_env: Callable[..., dict[str, str]]) -> AsyncIterator[KeyStack]:
    # A long principal cache makes "used within the cache window" certain, not a race.
    env = make_env(AUTH_CACHE_TTL_SECONDS="60", AUTH_CACHE_MAX_SECONDS="60")
    stack = Stack(env)
    try:
        await stack.start(KEY_SERVICES, timeout=90)
        async with open_channel(env["AUTH_ADDR"]) as channel, aiohttp.ClientSession() as http:
            yield KeyStack(stack.gateway_url, auth_pb2_grpc.AuthServiceStub(channel), http)
    finally:
        await stack.stop()


async def test_a_read_only_key_of_an_admin_cannot_mint_an_admin_key(keys: KeyStack) -> None:
    user_id, _admin, read = await keys.admin_user()
    before = await keys.keys_of(user_id)

    status, body = await keys.call("POST", "/api/v1/account/keys", read, {"scopes": ["admin"]})

    assert status == 403, body
    assert "admin" in body["message"]
    assert "read" in body["message"]  # says what the caller does have
    assert [key.key_id for key in await keys.keys_of(user_id)] == [k.key_id for k in before]
    status, body = await keys.call("GET", "/api/v1/admin/jobs", read)
    assert status == 403, body  # and the read key itself stays out of /admin


async def test_keys_of_an_admin_make_keys_within_their_own_scopes(keys: KeyStack) -> None:
    user_id, admin, read = await keys.admin_user()

    status, body = await keys.call("POST", "/api/v1/account/keys", read, {"name": "more"})
    assert status == 201, body
    assert body["key"]["scopes"] == ["read"]
    status, body = await keys.call("POST", "/api/v1/account/keys", admin, {"scopes": ["admin"]})
    assert status == 201, body
    minted = await keys.auth.Authenticate(
        auth_pb2.AuthenticateRequest(credential=body["secret"]), timeout=10
    )
    assert list(minted.principal.scopes) == ["admin"]
    assert len(await keys.keys_of(user_id)) == 4


async def test_a_key_revoked_elsewhere_cannot_manage_keys_while_the_gateway_still_caches_it(
    keys: KeyStack,
) -> None:
    user_id, _admin, read = await keys.admin_user()
    status, body = await keys.call("GET", "/api/v1/account/keys", read)  # cached at the gateway
    assert status == 200, body
    read_id = next(key["keyId"] for key in body["keys"] if key["name"] == "read")
    # Revoked by the operator (or through another gateway): this gateway's cache still has it.
    await keys.auth.RevokeApiKey(
        auth_pb2.RevokeApiKeyRequest(user_id=user_id, key_id=read_id), timeout=10
    )
    before = await keys.keys_of(user_id)

    created = await keys.call("POST", "/api/v1/account/keys", read, {"name": "survivor"})
    listed = await keys.call("GET", "/api/v1/account/keys", read)
    revoked = await keys.call("DELETE", f"/api/v1/account/keys/{before[0].key_id}", read)

    for status, body in (created, listed, revoked):
        assert status == 401, body
        assert "revoked" in body["message"]
    after = await keys.keys_of(user_id)
    assert [(key.key_id, key.is_revoked) for key in after] == [
        (key.key_id, key.is_revoked) for key in before
    ]


async def test_a_key_revoked_through_the_gateway_is_refused_there_at_once(keys: KeyStack) -> None:
    _user_id, admin, read = await keys.admin_user()
    status, body = await keys.call("GET", "/api/v1/account/keys", read)  # cached at the gateway
    assert status == 200, body
    read_id = next(key["keyId"] for key in body["keys"] if key["name"] == "read")

    status, body = await keys.call("DELETE", f"/api/v1/account/keys/{read_id}", admin)
    assert status == 200, body

    status, body = await keys.call("GET", "/api/v2/libs/search?libraryName=flask", read)
    assert status == 401, body


async def test_an_admin_key_revoked_elsewhere_is_refused_on_admin_routes_at_once(
    keys: KeyStack,
) -> None:
    user_id, admin, _read = await keys.admin_user()
    status, body = await keys.call("GET", "/api/v1/account/keys", admin)  # cached at the gateway
    assert status == 200, body
    admin_id = next(key["keyId"] for key in body["keys"] if key["name"] == "admin")
    # Revoked by the operator (or through another gateway): this gateway's cache still has it.
    await keys.auth.RevokeApiKey(
        auth_pb2.RevokeApiKeyRequest(user_id=user_id, key_id=admin_id), timeout=10
    )

    calls = [
        ("POST", "/api/v1/admin/sources", {"source": "https://example.com/d", "version": "1"}),
        ("POST", "/api/v1/admin/libraries/acme/widgets/refresh", None),
        ("POST", "/api/v1/admin/libraries/npm/react/follow", None),
        ("GET", "/api/v1/admin/follows", None),
        ("GET", "/api/v1/admin/jobs", None),
        ("POST", "/api/v1/admin/projects", {"name": "web", "files": {}}),
    ]
    for method, path, payload in calls:
        status, body = await keys.call(method, path, admin, payload)
        assert status == 401, (path, body)
        assert "revoked" in body["message"], path
