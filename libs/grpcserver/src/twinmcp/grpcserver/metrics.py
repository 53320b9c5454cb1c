"""Prometheus metrics: gRPC server counters and latency, and the scrape endpoint."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

GRPC_REQUESTS = Counter(
    "twinmcp_grpc_server_handled_total",
    "gRPC requests handled, by method and status code.",
    ["service", "method", "code"],
)
GRPC_LATENCY = Histogram(
    "twinmcp_grpc_server_handling_seconds",
    "gRPC request handling time in seconds.",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def count_call(service: str, method: str, code: str, seconds: float) -> None:
    GRPC_REQUESTS.labels(service, method, code).inc()
    GRPC_LATENCY.labels(service, method).observe(seconds)


def start_metrics_server(port: int, host: str = "0.0.0.0") -> int:
    """Serves /metrics on its own port (in a thread); returns the bound port, 0 if disabled."""
    if port < 0:
        return 0
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)
