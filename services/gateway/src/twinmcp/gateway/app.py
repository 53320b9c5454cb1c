"""The aiohttp application: routes, middleware, and peer channels opened for its lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from twinmcp.gateway import dashboard, mcp, oauth, rest, rest_registry, rest_search
from twinmcp.gateway.access import Access
from twinmcp.gateway.answers import EdgeAnswers, follow_changes
from twinmcp.gateway.clients.peers import Peers
from twinmcp.gateway.config import Settings
from twinmcp.gateway.lookups import DocsLookups
from twinmcp.gateway.middleware import (
    access_middleware,
    error_middleware,
    observability_middleware,
    security_middleware,
)
from twinmcp.gateway.state import GATEWAY, Gateway
from twinmcp.gateway.tools import TokenPolicy, Tools


def create_app(settings: Settings) -> web.Application:
    # REST bodies are small JSON; /mcp reads its own body against MCP_MAX_BODY_BYTES.
    app = web.Application(
        middlewares=[
            observability_middleware,
            error_middleware,
            security_middleware,
            access_middleware,
        ],
        client_max_size=max(settings.mcp_max_body_bytes, 1024 * 1024),
    )

    async def peers_ctx(app: web.Application) -> AsyncIterator[None]:
        answers = EdgeAnswers(
            settings.answer_cache_mb * 1024 * 1024, settings.answer_cache_max_age_seconds
        )
        peers = Peers.open(
            settings.auth_addr,
            settings.search_addr,
            settings.ingest_addr,
            settings.grpc_deadline_seconds,
        )
        following = None
        if answers.max_bytes > 0:
            following = asyncio.create_task(
                follow_changes(peers.search.stub.WatchLibraries, answers)
            )
        policy = TokenPolicy(settings.default_tokens, settings.min_tokens, settings.max_tokens)
        app[GATEWAY] = Gateway(
            settings=settings,
            peers=peers,
            access=Access(
                peers.auth,
                settings.auth_cache_max_seconds,
                resource=oauth.resource_url(settings),
            ),
            tools=Tools(peers.search, DocsLookups(peers.search, answers), policy),
        )
        yield
        if following is not None:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        await peers.close()

    app.cleanup_ctx.append(peers_ctx)
    app.router.add_post("/mcp", mcp.handle_mcp)
    app.router.add_route("GET", "/mcp", mcp.handle_not_allowed)
    app.router.add_route("DELETE", "/mcp", mcp.handle_not_allowed)
    app.router.add_route("OPTIONS", "/mcp", mcp.handle_preflight)
    app.router.add_routes(oauth.routes)
    app.router.add_routes(rest_search.routes)
    app.router.add_routes(rest_registry.routes)
    app.router.add_routes(rest.routes)
    dashboard.setup(app, settings)
    return app
