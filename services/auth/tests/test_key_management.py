"""Key management with the caller's credential: never more scopes, never a revoked caller."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import pytest
from sqlalchemy import update
from twinmcp.auth.accounts import AccountStore
from twinmcp.auth.errors import UnauthenticatedError
from twinmcp.auth.keys import granted_scopes
from twinmcp.auth.models import UserRow
from twinmcp.auth.sessions import SessionTokens
from twinmcp.auth.v1 import auth_pb2

if TYPE_CHECKING:
    from twinmcp.auth.config import Settings

    from conftest import Client, Servers

JWT_SECRET = "test-secret-" + "x" * 40


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def _user(client: Client, login: str, *, is_admin: bool) -> str:
    reply = await client.stub.CreateUser(
        auth_pb2.CreateUserRequest(login=login, tier=auth_pb2.TIER_FREE, is_admin=is_admin),
        timeout=10,
    )
    return reply.user.user_id


async def _operator_key(
    client: Client, user_id: str, *scopes: str
) -> auth_pb2.CreateApiKeyResponse:
    return await client.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=user_id, name="op", scopes=list(scopes)), timeout=10
    )


async def _create(
    client: Client, user_id: str, caller: str, *scopes: str
) -> auth_pb2.CreateApiKeyResponse:
    return await client.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(
            user_id=user_id, name="made", scopes=list(scopes), caller_credential=caller
        ),
        timeout=10,
    )


async def _key_ids(client: Client, user_id: str) -> list[str]:
    listed = await client.stub.ListApiKeys(auth_pb2.ListApiKeysRequest(user_id=user_id), timeout=10)
    return [key.key_id for key in listed.keys]


def _session(user_id: str) -> str:
    return SessionTokens(JWT_SECRET, 900, time.time).issue(user_id).token


def test_an_admin_scope_grants_read_and_read_grants_only_read() -> None:
    assert granted_scopes(["admin"]) == {"admin", "read"}
    assert granted_scopes(["read"]) == {"read"}
    assert granted_scopes([]) == set()
    assert granted_scopes(["bogus"]) == set()


async def test_a_read_key_of_an_admin_cannot_create_an_admin_key(sqlite_auth: Client) -> None:
    user_id = await _user(sqlite_auth, "boss", is_admin=True)
    read = (await _operator_key(sqlite_auth, user_id, "read")).secret
    before = await _key_ids(sqlite_auth, user_id)

    for scopes in (["admin"], ["admin", "read"]):
        error = await _refused(_create(sqlite_auth, user_id, read, *scopes))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "has scope(s) read" in (error.details() or "")
        assert "cannot create a key with scope(s) admin" in (error.details() or "")

    assert await _key_ids(sqlite_auth, user_id) == before


async def test_a_read_key_creates_read_keys_for_its_own_user(sqlite_auth: Client) -> None:
    user_id = await _user(sqlite_auth, "reader", is_admin=True)
    read = (await _operator_key(sqlite_auth, user_id, "read")).secret

    made = await _create(sqlite_auth, user_id, read)

    assert list(made.key.scopes) == ["read"]
    assert made.key.user_id == user_id


async def test_an_admin_key_creates_admin_keys_and_read_keys(sqlite_auth: Client) -> None:
    user_id = await _user(sqlite_auth, "root", is_admin=True)
    admin = (await _operator_key(sqlite_auth, user_id, "admin")).secret

    assert list((await _create(sqlite_auth, user_id, admin, "admin")).key.scopes) == ["admin"]
    assert list((await _create(sqlite_auth, user_id, admin, "read")).key.scopes) == ["read"]


async def test_a_session_carries_admin_only_for_an_admin_user(sqlite_auth: Client) -> None:
    admin_id = await _user(sqlite_auth, "octo-admin", is_admin=True)
    plain_id = await _user(sqlite_auth, "octo-plain", is_admin=False)

    made = await _create(sqlite_auth, admin_id, _session(admin_id), "admin", "read")
    assert list(made.key.scopes) == ["admin", "read"]
    error = await _refused(_create(sqlite_auth, plain_id, _session(plain_id), "admin"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await _key_ids(sqlite_auth, plain_id) == []


async def test_a_revoked_key_cannot_create_list_or_revoke_keys(sqlite_auth: Client) -> None:
    user_id = await _user(sqlite_auth, "revoked", is_admin=True)
    admin = await _operator_key(sqlite_auth, user_id, "admin", "read")
    other = await _operator_key(sqlite_auth, user_id, "read")
    await sqlite_auth.stub.RevokeApiKey(
        auth_pb2.RevokeApiKeyRequest(user_id=user_id, key_id=admin.key.key_id), timeout=10
    )
    caller = admin.secret

    errors = [
        await _refused(_create(sqlite_auth, user_id, caller, "admin")),
        await _refused(
            sqlite_auth.stub.ListApiKeys(
                auth_pb2.ListApiKeysRequest(user_id=user_id, caller_credential=caller),
                timeout=10,
            )
        ),
        await _refused(
            sqlite_auth.stub.RevokeApiKey(
                auth_pb2.RevokeApiKeyRequest(
                    user_id=user_id, key_id=other.key.key_id, caller_credential=caller
                ),
                timeout=10,
            )
        ),
    ]

    for error in errors:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (error.details() or "")
    listed = await sqlite_auth.stub.ListApiKeys(
        auth_pb2.ListApiKeysRequest(user_id=user_id), timeout=10
    )
    assert {(key.key_id, key.is_revoked) for key in listed.keys} == {
        (admin.key.key_id, True),
        (other.key.key_id, False),
    }


async def test_a_credential_cannot_manage_another_users_keys(sqlite_auth: Client) -> None:
    mallory_id = await _user(sqlite_auth, "mallory", is_admin=True)
    alice_id = await _user(sqlite_auth, "alice", is_admin=False)
    mallory = (await _operator_key(sqlite_auth, mallory_id, "admin")).secret
    alice_key = await _operator_key(sqlite_auth, alice_id, "read")

    errors = [
        await _refused(_create(sqlite_auth, alice_id, mallory, "read")),
        await _refused(
            sqlite_auth.stub.ListApiKeys(
                auth_pb2.ListApiKeysRequest(user_id=alice_id, caller_credential=mallory),
                timeout=10,
            )
        ),
        await _refused(
            sqlite_auth.stub.RevokeApiKey(
                auth_pb2.RevokeApiKeyRequest(
                    user_id=alice_id, key_id=alice_key.key.key_id, caller_credential=mallory
                ),
                timeout=10,
            )
        ),
    ]

    for error in errors:
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "another user" in (error.details() or "")
    assert await _key_ids(sqlite_auth, alice_id) == [alice_key.key.key_id]


@pytest.mark.parametrize("caller", [" ", "tmcp_nope", "a.b.c"])
async def test_a_blank_or_bad_caller_credential_is_unauthenticated_not_an_operator(
    sqlite_auth: Client, caller: str
) -> None:
    user_id = await _user(sqlite_auth, "target", is_admin=True)

    error = await _refused(_create(sqlite_auth, user_id, caller, "admin"))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await _key_ids(sqlite_auth, user_id) == []


async def test_an_unknown_scope_from_a_caller_is_an_invalid_argument(sqlite_auth: Client) -> None:
    user_id = await _user(sqlite_auth, "typo", is_admin=True)
    admin = (await _operator_key(sqlite_auth, user_id, "admin")).secret

    error = await _refused(_create(sqlite_auth, user_id, admin, "write"))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "write" in (error.details() or "")


async def test_an_operator_call_without_a_caller_still_makes_admin_keys_for_admins_only(
    sqlite_auth: Client,
) -> None:
    admin_id = await _user(sqlite_auth, "ops", is_admin=True)
    plain_id = await _user(sqlite_auth, "plain", is_admin=False)

    assert list((await _operator_key(sqlite_auth, admin_id, "admin")).key.scopes) == ["admin"]
    error = await _refused(_operator_key(sqlite_auth, plain_id, "admin"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_key_revoked_after_its_check_still_cannot_mint(
    backend: str, servers: Servers, settings_for: Callable[..., Settings], postgres_url: str
) -> None:
    # The store re-reads the caller's row in the transaction that inserts the new key, so a
    # revoke landing between the credential check and the insert still wins.
    env = {"DATABASE_URL": postgres_url} if backend == "postgresql" else {}
    auth = await servers.start(settings_for(**env))
    user_id = await _user(auth, "racer", is_admin=True)
    caller = await _operator_key(auth, user_id, "read")
    await auth.stub.RevokeApiKey(
        auth_pb2.RevokeApiKeyRequest(user_id=user_id, key_id=caller.key.key_id), timeout=10
    )
    store = AccountStore(auth.server.engine, time.time)

    with pytest.raises(UnauthenticatedError, match="revoked"):
        await store.create_key(user_id, "late", ["read"], caller_key_id=caller.key.key_id)

    assert await _key_ids(auth, user_id) == [caller.key.key_id]


async def test_an_admin_key_loses_admin_when_its_user_is_demoted(sqlite_auth: Client) -> None:
    user_id = await _user(sqlite_auth, "demoted", is_admin=True)
    admin = (await _operator_key(sqlite_auth, user_id, "admin")).secret
    both = (await _operator_key(sqlite_auth, user_id, "admin", "read")).secret

    async def scopes(credential: str) -> list[str]:
        reply = await sqlite_auth.stub.Authenticate(
            auth_pb2.AuthenticateRequest(credential=credential), timeout=10
        )
        return list(reply.principal.scopes)

    assert await scopes(admin) == ["admin"]
    async with sqlite_auth.server.engine.begin() as connection:
        await connection.execute(
            update(UserRow).where(UserRow.id == user_id).values(is_admin=False)
        )

    # The key still reads docs (admin implies read) but administers nothing, nor mints.
    assert await scopes(admin) == ["read"]
    assert await scopes(both) == ["read"]
    error = await _refused(_create(sqlite_auth, user_id, admin, "admin"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = await _refused(
        sqlite_auth.stub.ListUsers(auth_pb2.ListUsersRequest(caller_credential=admin), timeout=10)
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
