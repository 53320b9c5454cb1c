"""What the gateway's handlers share: typed application and request state keys."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway.access import Access, Budget
from twinmcp.gateway.clients.peers import Peers
from twinmcp.gateway.config import Settings
from twinmcp.gateway.tools import Tools


@dataclass
class Gateway:
    settings: Settings
    peers: Peers
    access: Access
    tools: Tools
    is_draining: bool = False


GATEWAY = web.AppKey("gateway", Gateway)
PRINCIPAL = web.RequestKey("principal", auth_pb2.Principal)
BUDGET = web.RequestKey("budget", Budget)
