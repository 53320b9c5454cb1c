"""GET /api/v3/search: one question across libraries, over REST (docsearch.py does the work)."""

from __future__ import annotations

from aiohttp import web
from twinmcp.gateway.clients.search import VersionMissing
from twinmcp.gateway.docsearch import parse_libraries, search_answer
from twinmcp.gateway.projects import read_project_off_loop
from twinmcp.gateway.rest import _budget, _version_missing, json_answer
from twinmcp.gateway.schemas import DocsSearchParams, params
from twinmcp.gateway.state import GATEWAY

routes = web.RouteTableDef()


@routes.get("/api/v3/search")
async def search_v3(request: web.Request) -> web.Response:
    """Documentation snippets answering a question across libraries (Context7's v3 search)."""
    asked = params(DocsSearchParams, request.query)
    hints = parse_libraries(asked.libraries)
    budget = _budget(request, asked.tokens)
    project = await read_project_off_loop(asked.project)
    search = request.app[GATEWAY].peers.search
    lookup = await search.search_docs(
        asked.query,
        hints,
        asked.version,
        asked.language,
        budget,
        project.name,
        project.packages,
        project.file_format,
    )
    if isinstance(lookup, VersionMissing):
        return _version_missing(lookup)
    if asked.type == "json":
        # lockedVersion only with a project (no other field of the shape is ever None).
        return json_answer(search_answer(lookup, project), exclude_none=True)
    # Search's text, fitted into the budget header included: served as it is.
    return web.Response(text=lookup.text, content_type="text/plain")
