"""Exact rate limits across gateway replicas: real gateway, auth and search processes on Redis."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Callable

import aiohttp
import pytest
import redis.asyncio as redis
from support.databases import REDIS_TEST_URL
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.cli.stack import SERVICES, ServiceSpec, Stack
from twinmcp.runtime.channels import open_channel
from twinmcp.runtime.ports import free_port

pytestmark = pytest.mark.e2e

LIMIT = 100
REQUESTS = 1000


async def test_a_thousand_concurrent_requests_over_two_gateways_admit_exactly_the_limit(
    make_env: Callable[..., dict[str, str]],
) -> None:
    env = make_env(
        REDIS_URL=REDIS_TEST_URL,
        RATE_LIMIT_REDIS_PREFIX=f"twinmcp:test:{uuid.uuid4().hex}",
        SEARCH_CACHE_PREFIX=f"twinmcp:test:{uuid.uuid4().hex}:",
        RATE_LIMIT_FREE_RPM=str(LIMIT),
        RATE_LIMIT_FREE_RPD="100000",
    )
    # Two auth replicas behind two gateways: only the shared Redis can keep the count exact.
    second_port, second_auth = str(free_port()), str(free_port())
    env["AUTH_ADDR"] = f"ipv4:127.0.0.1:{env['AUTH_GRPC_PORT']},127.0.0.1:{second_auth}"
    by_name = {spec.name: spec for spec in SERVICES}
    specs = [
        by_name["auth"],
        ServiceSpec(
            "auth-2", by_name["auth"].module, "AUTH_GRPC_PORT", env={"AUTH_GRPC_PORT": second_auth}
        ),
        by_name["search"],
        by_name["gateway"],
        ServiceSpec("gateway-2", by_name["gateway"].module, env={"PORT": second_port}),
    ]
    stack = Stack(env)
    try:
        await stack.start(specs, timeout=90)
        async with open_channel(env["AUTH_ADDR"]) as channel:
            auth = auth_pb2_grpc.AuthServiceStub(channel)
            user = await auth.CreateUser(
                auth_pb2.CreateUserRequest(
                    login=f"u{uuid.uuid4().hex[:8]}", tier=auth_pb2.TIER_FREE
                ),
                timeout=10,
            )
            key = await auth.CreateApiKey(
                auth_pb2.CreateApiKeyRequest(user_id=user.user.user_id, name="load"), timeout=10
            )
        urls = [
            f"http://127.0.0.1:{port}/api/v2/libs/search?libraryName=flask"
            for port in (env["PORT"], second_port)
        ]
        headers = {"Authorization": f"Bearer {key.secret}"}
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as session:
            start = asyncio.Event()

            async def one(n: int) -> tuple[int, str]:
                await start.wait()
                async with session.get(
                    urls[n % 2], headers=headers, timeout=aiohttp.ClientTimeout(total=60)
                ) as reply:
                    await reply.read()
                    return reply.status, reply.headers.get("RateLimit-Remaining", "")

            tasks = [asyncio.create_task(one(n)) for n in range(REQUESTS)]
            start.set()
            results = await asyncio.gather(*tasks)
        statuses = collections.Counter(status for status, _ in results)
        assert statuses == {200: LIMIT, 429: REQUESTS - LIMIT}, statuses
        assert all(remaining != "" for _, remaining in results)
        assert min(int(remaining) for _, remaining in results) == 0
    finally:
        await stack.stop()
        client = redis.from_url(REDIS_TEST_URL)
        async for name in client.scan_iter(match=f"{env['RATE_LIMIT_REDIS_PREFIX']}*"):
            await client.delete(name)
        await client.aclose()
