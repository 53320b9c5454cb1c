"""Tracing (OpenTelemetry, OTLP when configured), trace propagation over gRPC, and Sentry."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind
from twinmcp.runtime.settings import env_optional, env_str

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer("twinmcp.runtime.grpc")


def configure_telemetry(
    service: str, env: Mapping[str, str], *, exporter: SpanExporter | None = None
) -> TracerProvider:
    """Installs a tracer provider; spans go over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

    Without an endpoint, traces this service starts are not sampled: every span still gets
    ids (so trace ids reach logs and peers) but nothing is recorded, which would only be
    thrown away and costs several microseconds per span on every request. A caller's sampled
    trace (traceparent flag 01) is still recorded and passed on as sampled. Sentry is
    initialised when SENTRY_DSN is set.
    """
    resource = Resource.create(
        {"service.name": env_str(env, "OTEL_SERVICE_NAME", f"twinmcp-{service}")}
    )
    endpoint = env_optional(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
    if exporter is None and endpoint:
        # Only with an endpoint: the OTLP exporter pulls in its own gRPC stubs.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        exporter = OTLPSpanExporter(endpoint=endpoint)
    if exporter is not None:
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    trace.set_tracer_provider(provider)
    dsn = env_optional(env, "SENTRY_DSN")
    if dsn:
        import sentry_sdk  # noqa: PLC0415  only with SENTRY_DSN: its import is costly

        sentry_sdk.init(dsn=dsn, traces_sample_rate=0.0)
        logger.info("sentry enabled")
    return provider


def server_span(method: str, metadata: Iterable[tuple[str, Any]]) -> Any:
    """A server span for one incoming call, continuing the caller's trace (W3C traceparent)."""
    carrier = {key: value for key, value in metadata if isinstance(value, str)}
    parent = propagate.extract(carrier)
    return _tracer.start_as_current_span(method.lstrip("/"), context=parent, kind=SpanKind.SERVER)


class TracingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Sends the current trace context (W3C traceparent) with every unary call.

    Unlike the OpenTelemetry aio client interceptor it hands the call back without waiting for
    its status, so cancelling the caller (a client that hung up) cancels the RPC on the peer.
    The client span therefore covers sending the call, not its whole duration; the server span
    on the peer has the duration.
    """

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        name = method.decode() if isinstance(method, bytes) else str(method)
        metadata = [*(client_call_details.metadata or []), *trace_metadata(name.lstrip("/"))]
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            grpc.aio.Metadata(*metadata),
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def trace_metadata(method: str) -> tuple[tuple[str, str], ...]:
    """The current trace context (W3C traceparent) for one outgoing call, under a client span.

    For callers that pass it as `metadata=` themselves on a channel opened with
    `open_channel(target, is_traced=False)`: grpc.aio runs any client interceptor in an extra
    task per call, which costs about as much as the call itself on a hot path. Like
    TracingInterceptor, the client span covers sending the call only.
    """
    with _tracer.start_as_current_span(method, kind=SpanKind.CLIENT):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    return tuple(carrier.items())


def client_interceptors() -> list[Any]:
    """gRPC aio client interceptors that send the current trace context to the peer."""
    return [TracingInterceptor()]
