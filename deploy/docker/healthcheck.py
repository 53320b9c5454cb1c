"""Container health check: exit 0 when a gRPC server says SERVING or an HTTP URL answers 2xx.

    python healthcheck.py grpc 127.0.0.1:$SEARCH_GRPC_PORT [service]
    python healthcheck.py http http://127.0.0.1:$PORT/ready

`$VAR` in the target is read from the environment, so the exec-form HEALTHCHECK follows the
ports a deployment sets. Used by the images and docker-compose (no grpc_health_probe there).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def check_grpc(target: str, service: str = "") -> str | None:
    """None when `target` reports SERVING for `service`, else why not."""
    import grpc  # noqa: PLC0415  only gRPC checks pay for loading grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415  likewise

    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_SECONDS
            )
        except grpc.RpcError as error:
            return f"{target}: {error.code().name} {error.details()}"
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}"
    return None


def check_http(url: str) -> str | None:
    """None when `url` answers with a 2xx status, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        return f"{url}: HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"{url}: {error}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def main(argv: list[str]) -> int:
    target = os.path.expandvars(argv[1]) if len(argv) >= 2 else ""
    if "$" in target:
        sys.stderr.write(f"unhealthy: {target!r} names an unset environment variable\n")
        return 2
    if len(argv) in (2, 3) and argv[0] == "grpc":
        problem = check_grpc(target, argv[2] if len(argv) == 3 else "")
    elif len(argv) == 2 and argv[0] == "http":
        problem = check_http(target)
    else:
        sys.stderr.write(__doc__ or "")
        return 2
    if problem is not None:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
