"""The web dashboard under /dashboard: wiring of its routes, templates, static files, headers."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web
from twinmcp.gateway.config import Settings
from twinmcp.gateway.dashboard.sessions import SessionCodec
from twinmcp.gateway.dashboard.views import (
    DASHBOARD,
    GITHUB_CALLBACK,
    PREFIX,
    Dashboard,
    error_page,
    routes,
)
from twinmcp.gateway.errors import InputError, PeerError
from twinmcp.gateway.middleware import Handler

_HERE = Path(__file__).parent
# No inline script or style anywhere: the pages load /dashboard/static files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith((f"{PREFIX}/", GITHUB_CALLBACK))


@web.middleware
async def dashboard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every dashboard answer, and errors as pages rather than JSON."""
    if not _is_dashboard(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers.update(_HEADERS)
            raise
        response = error_page(request, exc.status, exc.reason, exc.text or exc.reason)
    except PeerError as error:
        response = error_page(request, error.status, "The request was not accepted", error.message)
    except InputError as error:  # a parameter over its cap, not Unicode, or missing
        response = error_page(request, 400, "The request was not accepted", str(error))
    response.headers.update(_HEADERS)
    if not request.path.startswith(f"{PREFIX}/static/"):
        # Pages hold key names and, once, a new key's secret: never kept by any cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def setup(app: web.Application, settings: Settings) -> None:
    """Adds the dashboard's routes and its middleware (innermost) to `app`."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app[DASHBOARD] = Dashboard(SessionCodec(settings.dashboard_secret), templates)
    app.middlewares.append(dashboard_middleware)
    app.router.add_routes(routes)
    app.router.add_static(f"{PREFIX}/static", _HERE / "static")
