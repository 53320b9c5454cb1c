"""The gateway's three peers, opened and closed together."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from twinmcp.gateway.clients.auth import AuthClient
from twinmcp.gateway.clients.base import PeerClient
from twinmcp.gateway.clients.ingest import IngestClient
from twinmcp.gateway.clients.search import SearchClient
from twinmcp.runtime.channels import open_channel


def _channel(target: str) -> grpc.aio.Channel:
    # No tracing interceptor: grpc.aio runs one in an extra task per call; PeerClient sends the
    # trace context as metadata instead.
    return open_channel(target, is_traced=False)


@dataclass
class Peers:
    """The three peers and their channels; closed together on shutdown."""

    auth: AuthClient
    search: SearchClient
    ingest: IngestClient

    @classmethod
    def open(cls, auth_addr: str, search_addr: str, ingest_addr: str, deadline: float) -> Peers:
        return cls(
            AuthClient(_channel(auth_addr), deadline),
            SearchClient(_channel(search_addr), deadline),
            IngestClient(_channel(ingest_addr), deadline),
        )

    def all(self) -> list[PeerClient]:
        return [self.auth, self.search, self.ingest]

    async def close(self) -> None:
        for client in self.all():
            await client.channel.close()
