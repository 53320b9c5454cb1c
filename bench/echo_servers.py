"""Reference servers for the gateway benchmark: a bare aiohttp handler and an aiohttp -> gRPC hop.

Run as `python -m bench.echo_servers bare PORT`, `... grpc PORT` (a gRPC health server) or
`... hop PORT GRPC_PORT` (an aiohttp handler making one gRPC call to that server per request).
"""

from __future__ import annotations

import asyncio
import sys

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

BODY = b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'


async def bare(port: int) -> None:
    async def handle(_request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_post("/mcp", handle)
    await _serve(app, port)


class _Health(health_pb2_grpc.HealthServicer):
    async def Check(self, request: object, context: object) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def echo(port: int) -> None:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(_Health(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def hop(port: int, grpc_port: int) -> None:
    """aiohttp handler that makes one unary grpc.aio call (health Check) per request."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
    stub = health_pb2_grpc.HealthStub(channel)

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_post("/mcp", handle)
    await _serve(app, port)


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    mode, ports = sys.argv[1], [int(arg) for arg in sys.argv[2:]]
    if mode == "bare":
        asyncio.run(bare(ports[0]))
    elif mode == "grpc":
        asyncio.run(echo(ports[0]))
    else:
        asyncio.run(hop(ports[0], ports[1]))
