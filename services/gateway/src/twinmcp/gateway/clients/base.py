"""What every peer client does: send with the deadline and trace context, translate refusals,
answer health checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from twinmcp.gateway.errors import translate
from twinmcp.runtime.telemetry import trace_metadata

T = TypeVar("T")


class PeerClient:
    service = ""
    grpc_service = ""  # full proto name, for span names

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        self.channel = channel
        self.deadline = deadline
        self._health = health_pb2_grpc.HealthStub(channel)

    async def _call(self, method: Callable[..., Awaitable[T]], request: Message) -> T:
        try:
            return await self._send(method, request)
        except grpc.aio.AioRpcError as error:
            raise translate(self.service, error) from None

    async def _send(self, method: Callable[..., Awaitable[T]], request: Message) -> T:
        # Channels are opened untraced (peers.py): the trace context goes as metadata.
        name = f"{self.grpc_service}/{type(request).__name__.removesuffix('Request')}"
        return await method(request, timeout=self.deadline, metadata=trace_metadata(name))

    async def health(self, deadline: float) -> str:
        """The peer's health status name, or UNAVAILABLE when it does not answer in time."""
        try:
            reply = await self._health.Check(
                health_pb2.HealthCheckRequest(),
                timeout=deadline,
                metadata=trace_metadata("grpc.health.v1.Health/Check"),
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return "UNAVAILABLE"
            return error.code().name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
