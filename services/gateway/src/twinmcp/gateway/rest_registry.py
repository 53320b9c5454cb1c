"""Admin REST for libraries from package registries: following their new releases."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from twinmcp.gateway.rest import _bad_request_wrapper, _require, _to_json
from twinmcp.gateway.state import GATEWAY
from twinmcp.ingest.v1 import ingest_pb2

routes = web.RouteTableDef()


def followed_json(library: ingest_pb2.FollowedLibrary) -> dict[str, Any]:
    return _to_json(library)


def _library_id(request: web.Request) -> str:
    return "/" + request.match_info["library_id"].strip("/")


@routes.post(r"/api/v1/admin/libraries/{library_id:.+}/follow")
@_bad_request_wrapper
async def follow_library(request: web.Request) -> web.Response:
    """Follows a registry library: its new releases are ingested on ingest's schedule."""
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.follow_library(_library_id(request))
    return web.json_response({"library": followed_json(reply.library)})


@routes.delete(r"/api/v1/admin/libraries/{library_id:.+}/follow")
@_bad_request_wrapper
async def unfollow_library(request: web.Request) -> web.Response:
    _require(request, "admin")
    await request.app[GATEWAY].peers.ingest.unfollow_library(_library_id(request))
    return web.Response(status=204)


@routes.get("/api/v1/admin/follows")
async def list_followed(request: web.Request) -> web.Response:
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.list_followed_libraries()
    return web.json_response({"libraries": [followed_json(f) for f in reply.libraries]})
