"""Logs carry the trace id; Sentry receives errors when SENTRY_DSN is set."""

from __future__ import annotations

import asyncio
import json
import logging

import sentry_sdk
from aiohttp import web
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from twinmcp.runtime.logs import JsonFormatter
from twinmcp.runtime.telemetry import configure_telemetry, trace_metadata


def test_a_log_line_inside_a_span_carries_its_trace_id() -> None:
    tracer = TracerProvider().get_tracer("test")
    formatter = JsonFormatter("search")
    with tracer.start_as_current_span("work") as span:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
        line = json.loads(formatter.format(record))
    assert line["message"] == "hello you"
    assert line["service"] == "search"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_a_log_line_outside_a_span_has_no_trace_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", (), None)
    assert "trace_id" not in json.loads(JsonFormatter("auth").format(record))
    assert trace.get_current_span().get_span_context().is_valid is False


async def test_sentry_receives_an_error_when_a_dsn_is_set() -> None:
    received: list[bytes] = []
    arrived = asyncio.Event()

    async def envelope(request: web.Request) -> web.Response:
        received.append(await request.read())
        arrived.set()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/api/{project}/envelope/", envelope)
    app.router.add_post("/api/{project}/store/", envelope)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        configure_telemetry("auth", {"SENTRY_DSN": f"http://publickey@127.0.0.1:{port}/1"})
        try:
            raise RuntimeError("boom for sentry")
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
        await asyncio.to_thread(sentry_sdk.flush, 5)
        await asyncio.wait_for(arrived.wait(), timeout=10)
        assert b"boom for sentry" in b"".join(received)
    finally:
        sentry_sdk.init(dsn=None)
        await runner.cleanup()


def test_without_an_exporter_a_new_trace_gets_ids_but_is_not_recorded() -> None:
    tracer = configure_telemetry("auth", {}).get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        is_recording = span.is_recording()
        line = json.loads(
            JsonFormatter("auth").format(
                logging.LogRecord("x", logging.INFO, __file__, 1, "hi", (), None)
            )
        )
    assert span.get_span_context().is_valid
    assert is_recording is False
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_without_an_exporter_a_callers_sampled_trace_is_still_recorded_and_passed_on() -> None:
    tracer = configure_telemetry("search", {}).get_tracer("test")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = propagate.extract({"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    with tracer.start_as_current_span("work", context=parent) as span:
        is_recording = span.is_recording()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    assert is_recording
    assert carrier["traceparent"].split("-")[1] == trace_id
    assert carrier["traceparent"].endswith("-01")


def test_trace_metadata_carries_the_current_trace_to_a_peer() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        metadata = dict(trace_metadata("twinmcp.search.v1.SearchService/QueryDocs"))
    assert metadata["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
