"""GET /api/v3/search: one question across libraries, over REST (docsearch.py does the work)."""

from __future__ import annotations

from aiohttp import web
from twinmcp.gateway.arguments import TextError
from twinmcp.gateway.clients import VersionMissing
from twinmcp.gateway.docsearch import (
    SearchInputError,
    parse_libraries,
    render_search,
    search_docs,
    search_json,
)
from twinmcp.gateway.rest import (
    BadRequest,
    _bad_request_wrapper,
    _budget,
    _query_text,
    _version_missing,
)
from twinmcp.gateway.state import GATEWAY

routes = web.RouteTableDef()


@routes.get("/api/v3/search")
@_bad_request_wrapper
async def search_v3(request: web.Request) -> web.Response:
    """Documentation snippets answering a question across libraries (Context7's v3 search)."""
    query = _query_text(request, "query", required=True)
    try:
        hints = parse_libraries(",".join(request.query.getall("libraries", [])))
    except (SearchInputError, TextError) as error:
        raise BadRequest(str(error)) from None
    version = _query_text(request, "version")
    language = _query_text(request, "language")
    kind = request.query.get("type", "txt").strip() or "txt"
    if kind not in ("txt", "json"):
        raise BadRequest("'type' must be 'txt' or 'json'")
    budget = _budget(request)
    client = request.app[GATEWAY].peers.search
    lookup = await search_docs(client, query, hints, version, language, budget)
    if isinstance(lookup, VersionMissing):
        return _version_missing(lookup)
    if kind == "json":
        return web.json_response(search_json(lookup, budget))
    return web.Response(text=render_search(lookup, budget), content_type="text/plain")
