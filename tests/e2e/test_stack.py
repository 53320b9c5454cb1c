"""The whole stack as real processes: make run's path, readiness, healing and tracing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable

import aiohttp
import grpc
import pytest
from mcp import Client
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from twinmcp.cli.stack import SERVICES, Stack, wait_for_http

pytestmark = pytest.mark.e2e

SEARCH = next(spec for spec in SERVICES if spec.name == "search")


async def _get(url: str, timeout: float = 15) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as reply,
    ):
        return reply.status, await reply.json(content_type=None)


async def _wait_status(url: str, status: int, timeout: float) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            got, body = await _get(url, timeout=5)
            if got == status:
                return body
        except (aiohttp.ClientError, TimeoutError):
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{url} did not answer {status} within {timeout}s")
        await asyncio.sleep(0.2)


async def test_twinmcp_up_serves_its_own_docs_to_an_mcp_client_and_stops_on_ctrl_c(
    make_env: Callable[..., dict[str, str]],
) -> None:
    env = make_env()
    gateway = f"http://127.0.0.1:{env['PORT']}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "twinmcp.cli",
        "up",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[bytes] = []

    async def drain() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line)

    reader = asyncio.create_task(drain())
    try:
        await wait_for_http(f"{gateway}/health", timeout=120)
        context_url = (
            f"{gateway}/api/v2/context?libraryId=/twinmcp/twinmcp"
            "&query=how+do+I+ingest+a+github+repository&type=json"
        )
        await _wait_status(context_url, 200, timeout=180)

        async with Client(f"{gateway}/mcp") as client:
            tools = await client.list_tools()
            names = {tool.name for tool in tools.tools}
            assert {"resolve-library-id", "query-docs"} <= names
            result = await client.call_tool(
                "query-docs",
                {
                    "libraryId": "/twinmcp/twinmcp",
                    "query": "how do I ingest a GitHub repository",
                    "tokens": 2000,
                },
            )
        assert not result.is_error
        text = "".join(getattr(block, "text", "") for block in result.content)
        assert "twinmcp ingest" in text
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=60)
        await asyncio.wait_for(reader, timeout=10)
    printed = b"".join(output).decode(errors="replace")
    assert code == 0, printed[-3000:]
    assert "/mcp" in printed and "mcpServers" in printed
    assert "Stopped." in printed


async def test_a_dead_search_service_fails_readiness_and_requests_fast_then_heals(
    stack: Stack,
) -> None:
    gateway = stack.gateway_url
    search_url = f"{gateway}/api/v2/libs/search?libraryName=fastapi&query=cors"
    await _wait_status(f"{gateway}/ready", 200, timeout=30)
    assert (await _get(search_url))[0] == 200

    stack.processes["search"].send_signal(signal.SIGKILL)
    await stack.processes["search"].wait()

    body = await _wait_status(f"{gateway}/ready", 503, timeout=30)
    assert "search" in json.dumps(body)
    status, error = await asyncio.wait_for(_get(search_url), timeout=15)
    assert status == 503
    assert "search" in str(error.get("message", "")).lower()

    await stack.restart(SEARCH, timeout=60)
    await _wait_status(f"{gateway}/ready", 200, timeout=30)
    await _wait_status(search_url, 200, timeout=30)


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """A stand-in OTLP collector that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []  # (service, trace id, span name)

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: object
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append((service, span.trace_id.hex(), span.name))
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
async def collector() -> AsyncIterator[tuple[_Collector, int]]:
    server = grpc.aio.server()
    sink = _Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield sink, port
    finally:
        await server.stop(0)


async def test_one_request_is_one_trace_across_gateway_and_search(
    make_env: Callable[..., dict[str, str]], collector: tuple[_Collector, int]
) -> None:
    sink, port = collector
    env = make_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_EXPORTER_OTLP_INSECURE="true",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    stack = Stack(env)
    trace_id = os.urandom(16).hex()
    try:
        await stack.start(timeout=90)
        headers = {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{stack.gateway_url}/api/v2/libs/search?libraryName=flask&query=x", headers=headers
            ) as reply,
        ):
            assert reply.status == 200
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            services = {service for service, tid, _ in sink.spans if tid == trace_id}
            if {"twinmcp-gateway", "twinmcp-search"} <= services:
                break
            assert asyncio.get_running_loop().time() < deadline, (
                f"spans of trace {trace_id} came only from {services}; all: {sink.spans[:20]}"
            )
            await asyncio.sleep(0.2)
    finally:
        await stack.stop()
