"""Listing users: operators and admin credentials only, in login order, page by page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from twinmcp.auth.v1 import auth_pb2

if TYPE_CHECKING:
    from conftest import Client


async def _user(client: Client, login: str, *, is_admin: bool = False) -> str:
    reply = await client.stub.CreateUser(
        auth_pb2.CreateUserRequest(
            login=login,
            tier=auth_pb2.TIER_PREMIUM if is_admin else auth_pb2.TIER_FREE,
            is_admin=is_admin,
        ),
        timeout=10,
    )
    return reply.user.user_id


async def _key(client: Client, user_id: str, *scopes: str) -> str:
    reply = await client.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=user_id, name="k", scopes=list(scopes)), timeout=10
    )
    return reply.secret


async def _list(
    client: Client, caller: str = "", page_size: int = 0, page_token: str = ""
) -> auth_pb2.ListUsersResponse:
    return await client.stub.ListUsers(
        auth_pb2.ListUsersRequest(
            caller_credential=caller, page_size=page_size, page_token=page_token
        ),
        timeout=10,
    )


async def test_an_operator_lists_every_user_with_tier_in_login_order(sqlite_auth: Client) -> None:
    for login in ("carol", "alice", "bob"):
        await _user(sqlite_auth, login, is_admin=login == "alice")
    reply = await _list(sqlite_auth)
    assert [(u.login, u.tier, u.is_admin) for u in reply.users] == [
        ("alice", auth_pb2.TIER_PREMIUM, True),
        ("bob", auth_pb2.TIER_FREE, False),
        ("carol", auth_pb2.TIER_FREE, False),
    ]
    assert reply.next_page_token == ""


async def test_pages_follow_one_another_without_gaps_or_repeats(sqlite_auth: Client) -> None:
    logins = [f"user{n:02d}" for n in range(7)]
    for login in logins:
        await _user(sqlite_auth, login)
    seen: list[str] = []
    token = ""
    for _ in range(10):
        reply = await _list(sqlite_auth, page_size=3, page_token=token)
        seen.extend(user.login for user in reply.users)
        token = reply.next_page_token
        if not token:
            break
    assert seen == logins


async def test_an_admin_key_lists_users_and_a_read_key_is_refused(sqlite_auth: Client) -> None:
    admin_id = await _user(sqlite_auth, "root", is_admin=True)
    admin = await _key(sqlite_auth, admin_id, "admin", "read")
    read = await _key(sqlite_auth, admin_id, "read")
    assert [u.login for u in (await _list(sqlite_auth, admin)).users] == ["root"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _list(sqlite_auth, read)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "admin" in (caught.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _list(sqlite_auth, "tmcp_not-a-key")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_page_size_over_the_cap_is_refused_with_the_cap(sqlite_auth: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _list(sqlite_auth, page_size=5000)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "1000" in (caught.value.details() or "")
