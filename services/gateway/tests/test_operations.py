"""Liveness, readiness that follows the peers, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
from twinmcp.gateway.config import Settings
from twinmcp.gateway.server import start

Stack = Any


async def _ready(stack: Stack) -> tuple[int, Any]:
    async with stack.http.get(f"{stack.url}/ready") as response:
        return response.status, await response.json()


async def test_health_is_ok_even_when_peers_are_down(stack: Stack) -> None:
    await stack.servers["search"].stop()
    async with stack.http.get(f"{stack.url}/health") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_ready_lists_each_peer_and_follows_a_restart(stack: Stack) -> None:
    status, body = await _ready(stack)
    assert status == 200
    assert body == {
        "status": "ready",
        "peers": {"auth": "SERVING", "search": "SERVING"},
        "rateLimiter": "unknown",
    }
    await stack.servers["search"].stop()
    status, body = await _ready(stack)
    assert status == 503
    assert body["status"] == "not_ready" and body["peers"]["search"] == "UNAVAILABLE"
    assert body["peers"]["auth"] == "SERVING"
    await stack.restart("search")
    deadline = asyncio.get_running_loop().time() + 15
    while (await _ready(stack))[0] != 200:
        assert asyncio.get_running_loop().time() < deadline, "gateway never saw search come back"
        await asyncio.sleep(0.1)


async def test_a_stopped_ingest_service_leaves_the_gateway_ready_and_shows_in_health_detail(
    stack: Stack,
) -> None:
    await stack.servers["ingest"].stop()
    status, body = await _ready(stack)
    assert status == 200, body
    assert body["status"] == "ready" and "ingest" not in body["peers"]
    async with stack.http.get(f"{stack.url}/api/v2/libs/search?libraryName=fastapi") as answer:
        assert answer.status == 200  # queries still answer
    async with stack.http.get(f"{stack.url}/health/detail") as response:
        detail = await response.json()
    assert response.status == 200
    assert detail["status"] == "degraded" and detail["ready"] is True
    assert detail["peers"] == {"auth": "SERVING", "search": "SERVING", "ingest": "UNAVAILABLE"}


async def test_a_stopped_auth_service_fails_readiness(stack: Stack) -> None:
    await stack.servers["auth"].stop()
    status, body = await _ready(stack)
    assert status == 503 and body["peers"]["auth"] == "UNAVAILABLE"


async def test_ready_shows_the_auth_limiter_degraded(stack: Stack) -> None:
    stack.auth.is_degraded = True
    async with stack.http.get(f"{stack.url}/api/v1/search?query=fastapi"):
        pass
    _, body = await _ready(stack)
    assert body["rateLimiter"] == "degraded"


async def test_metrics_count_requests_by_route_and_status(stack: Stack) -> None:
    await stack.mcp(stack.request("tools/list"))
    async with stack.http.get(f"{stack.url}/metrics") as response:
        text = await response.text()
    assert response.status == 200
    assert 'twinmcp_gateway_http_requests_total{method="POST",route="/mcp",status="200"}' in text
    assert "twinmcp_gateway_http_request_seconds_bucket" in text


async def test_openapi_document_passes_schemathesis_against_the_running_app(stack: Stack) -> None:
    stack.auth.limit = 10**9
    binary = Path(sys.executable).with_name("schemathesis")
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "run",
        f"{stack.url}/openapi.json",
        "--url",
        stack.url,
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--max-examples",
        "15",
        "--phases",
        "examples,coverage,fuzzing",
        "--exclude-path",
        "/auth/github/login",
        "--header",
        "Authorization: Bearer admin-key",
        "--seed",
        "1",
        "--workers",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    output, _ = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, output.decode()[-6000:]


async def test_a_stopping_gateway_fails_readiness_while_it_drains_then_closes() -> None:
    gateway = await start(Settings(port=0, drain_seconds=1.0, grace_seconds=1.0))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.url}/health") as response:
            assert response.status == 200
        stopping = asyncio.create_task(gateway.stop())
        await asyncio.sleep(0.1)
        async with http.get(f"{gateway.url}/ready") as response:
            assert response.status == 503
            assert (await response.json())["status"] == "draining"
        async with http.get(f"{gateway.url}/health") as response:
            assert response.status == 200  # still serving what is in flight or arriving
        await asyncio.wait_for(stopping, timeout=10)
        try:
            async with http.get(f"{gateway.url}/health") as response:
                closed = False
        except aiohttp.ClientConnectionError:
            closed = True
        assert closed
