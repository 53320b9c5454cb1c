"""Bounded requests: over-long strings are refused, and heavy work never stalls the event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from twinmcp.search.v1 import search_pb2

# A resolve that waits for the test longer than this was run on the event loop: nothing else
# could answer while it waited.
BLOCKED_SECONDS = 10


async def _refusal(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_a_resolve_query_of_900_kb_is_refused_naming_the_field_and_the_limit(
    sqlite_client: Any,
) -> None:
    error = await _refusal(
        sqlite_client.search.ResolveLibrary(
            search_pb2.ResolveLibraryRequest(library_name="react", query="hooks " * 150_000),
            timeout=10,
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "query is 900000 characters long; the limit is 2000" in (error.details() or "")


async def test_a_library_name_longer_than_the_limit_is_refused(sqlite_client: Any) -> None:
    error = await _refusal(
        sqlite_client.search.ResolveLibrary(
            search_pb2.ResolveLibraryRequest(library_name="a" * 5000), timeout=10
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "library_name is 5000 characters long; the limit is 256" in (error.details() or "")


@pytest.mark.parametrize(
    ("field", "limit"),
    [("query", 2000), ("library_id", 300), ("version", 128), ("ranker", 32)],
)
async def test_over_long_query_docs_strings_are_refused_naming_the_field(
    sqlite_client: Any, kit: Any, field: str, limit: int
) -> None:
    await kit.publish_library(sqlite_client)
    request = search_pb2.QueryDocsRequest(library_id="/acme/webkit", query="CORS")
    setattr(request, field, "x" * (limit + 1))
    error = await _refusal(sqlite_client.search.QueryDocs(request, timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"{field} is {limit + 1} characters long; the limit is {limit}" in (
        error.details() or ""
    )


async def test_a_long_resolve_query_within_the_limit_still_answers(
    sqlite_client: Any, kit: Any
) -> None:
    await kit.publish_library(sqlite_client, package_names=["webkit"])
    reply = await sqlite_client.search.ResolveLibrary(
        search_pb2.ResolveLibraryRequest(
            library_name="webkit", query=("configure cors for my frontend " * 60)[:1990]
        ),
        timeout=10,
    )
    assert reply.matches[0].library.library_id == "/acme/webkit"


async def test_health_answers_while_a_resolve_is_still_computing(
    sqlite_client: Any, kit: Any
) -> None:
    await kit.publish_library(sqlite_client, package_names=["webkit"])
    resolver = await sqlite_client.server.domain.catalog.resolver()
    original = resolver.resolve
    started, released = threading.Event(), threading.Event()
    stalled: list[bool] = []

    def slow_resolve(*args: Any, **kwargs: Any) -> Any:
        # Stands for a costly resolution: it runs until the test has seen health answer.
        started.set()
        stalled.append(not released.wait(BLOCKED_SECONDS))
        return original(*args, **kwargs)

    resolver.resolve = slow_resolve
    call = asyncio.ensure_future(
        sqlite_client.search.ResolveLibrary(
            search_pb2.ResolveLibraryRequest(library_name="webkit"), timeout=30
        )
    )
    try:
        assert await asyncio.to_thread(started.wait, BLOCKED_SECONDS)
        health = health_pb2_grpc.HealthStub(sqlite_client.channel)
        status = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        released.set()
    reply = await call
    assert reply.matches[0].library.library_id == "/acme/webkit"
    assert stalled == [False], "the resolve ran on the event loop: health could not answer"
