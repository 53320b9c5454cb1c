"""`twinmcp users list` against a real auth process: every user, with tier and admin flag."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable

import pytest
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.stack import SERVICES, Stack
from twinmcp.runtime.channels import open_channel

pytestmark = pytest.mark.e2e

AUTH_ONLY = [spec for spec in SERVICES if spec.name == "auth"]


@pytest.fixture
async def auth_env(make_env: Callable[..., dict[str, str]]) -> AsyncIterator[dict[str, str]]:
    env = make_env()
    stack = Stack(env)
    try:
        await stack.start(AUTH_ONLY, timeout=60)
        yield env
    finally:
        await stack.stop()


async def test_users_list_prints_every_user_with_tier_and_admin_flag(
    auth_env: dict[str, str],
) -> None:
    async with open_channel(auth_env["AUTH_ADDR"]) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        made: dict[str, str] = {}
        for login, tier, is_admin in (
            ("grace", auth_pb2.TIER_PREMIUM, True),
            ("linus", auth_pb2.TIER_FREE, False),
        ):
            reply = await stub.CreateUser(
                auth_pb2.CreateUserRequest(login=login, tier=tier, is_admin=is_admin), timeout=10
            )
            made[login] = reply.user.user_id
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "twinmcp.cli",
        "users",
        "list",
        env={**os.environ, **auth_env, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode == 0, text
    rows = {
        login: [line for line in text.splitlines() if user_id in line]
        for login, user_id in made.items()
    }
    assert [len(found) for found in rows.values()] == [1, 1], text
    assert all(word in rows["grace"][0] for word in ("grace", "premium", "yes")), text
    assert all(word in rows["linus"][0] for word in ("linus", "free")), text
    assert "yes" not in rows["linus"][0], text
