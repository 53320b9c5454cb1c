"""Opening gRPC channels to peer services: round robin over all replicas, retries, tracing."""

from __future__ import annotations

import json

import grpc
from twinmcp.runtime.telemetry import client_interceptors

# Every RPC of the internal services is retried on UNAVAILABLE: a replica that went away has not
# processed the call. Calls that write carry idempotency keys, so a retry cannot duplicate work.
# Client-side health checking takes a replica out of the rotation as soon as it reports
# NOT_SERVING (it is draining before a shutdown), so no new call is sent to it.
# Backoffs are drawn uniformly below 0.1, 0.2, 0.4, 0.8 s: ~0.75 s in all on average, 1.5 s at
# most. After a replica is killed the channel needs a moment to take it out of the rotation,
# longer on a loaded machine; with 4 attempts from 0.05 s (~0.2 s in all) a CI run on busy
# cores saw requests fail after a SIGKILL that the other replica could have answered.
_SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "healthCheckConfig": {"serviceName": ""},
    "methodConfig": [
        {
            "name": [{}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.1s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
}


def open_channel(target: str, *, is_traced: bool = True) -> grpc.aio.Channel:
    """An insecure channel inside the cluster; `dns:///name:port` spreads over every replica.

    `is_traced=False` leaves out the tracing interceptor: the caller then sends
    `telemetry.trace_metadata(method)` with each call itself (cheaper on a hot path).
    """
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", json.dumps(_SERVICE_CONFIG)),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            # Reconnect quickly after a peer restarts so requests heal without a gateway restart.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2_000),
        ],
        interceptors=client_interceptors() if is_traced else None,
    )
