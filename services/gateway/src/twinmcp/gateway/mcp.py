"""POST /mcp: one stateless Streamable HTTP endpoint for both MCP eras.

Modern (2026-07-28): every request carries `_meta` with the protocol version and client
capabilities, mirrored in MCP-Protocol-Version / Mcp-Method / Mcp-Name headers; no handshake.
Legacy (2024-11-05 .. 2025-11-25): `initialize` negotiates a version; no session id is issued,
so every later request stands alone too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)
from mcp_types.jsonrpc import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
)
from twinmcp.gateway.arguments import find_unpaired_surrogate, shown, unpaired_surrogate
from twinmcp.gateway.errors import PeerError, PeerUnavailable
from twinmcp.gateway.state import BUDGET, GATEWAY, PRINCIPAL
from twinmcp.gateway.tools import TOOL_NAMES, TOOLS

logger = logging.getLogger(__name__)

# Advertised newest first, the order a client reads as the server's preference.
SUPPORTED_VERSIONS = (*reversed(MODERN_PROTOCOL_VERSIONS), *reversed(HANDSHAKE_PROTOCOL_VERSIONS))

# HTTP status of a modern-era JSON-RPC error (streamable-http.mdx); legacy handler errors stay 200.
_MODERN_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}

# Tool definitions change only with a deploy; clients may reuse the list for this long.
LIST_TTL_MS = 5 * 60 * 1000

INSTRUCTIONS = (
    "Use this server to fetch current documentation whenever the user asks about a library, "
    "framework, SDK, API or CLI tool, even well-known ones: your training data may be out of "
    "date. Call resolve-library-id with the library's name first (unless the user gave an ID "
    "like /org/project), then query-docs with that ID and one specific question."
)

_B64_SENTINEL = re.compile(r"^=\?base64\?(?P<payload>.*)\?=$")


def _server_version() -> str:
    try:
        return version("twinmcp-gateway")
    except PackageNotFoundError:
        return "0.0.0"


SERVER_INFO = {"name": "twinmcp", "title": "TwinMCP", "version": _server_version()}


class RpcError(Exception):
    """A JSON-RPC error answer; `status` overrides the era's default HTTP status."""

    def __init__(
        self, code: int, message: str, data: Any = None, *, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.status = status


def is_sse_only(accept: str) -> bool:
    """True for a client that accepts an event stream but not plain JSON."""
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()}
    if not kinds or kinds & {"application/json", "application/*", "*/*"}:
        return False
    return "text/event-stream" in kinds


def _reply(request: web.Request, message: dict[str, Any], status: int = 200) -> web.Response:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    if unpaired_surrogate(body) is not None:
        # Text that is not Unicode (a header's stray bytes echoed back) cannot be UTF-8; JSON's
        # \u escapes carry it instead of failing the whole answer.
        body = json.dumps(message, separators=(",", ":"))
    if status == 200 and is_sse_only(request.headers.get("Accept", "")):
        # A client that asked for SSE only gets the single answer as one event.
        return web.Response(
            text=f"event: message\ndata: {body}\n\n",
            content_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return web.Response(text=body, status=status, content_type="application/json")


def error_body(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def error_response(
    request: web.Request,
    request_id: Any,
    code: int,
    message: str,
    status: int,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    response = _reply(request, error_body(request_id, code, message, data), status)
    if headers:
        response.headers.update(headers)
    return response


def decode_header_value(value: str | None) -> str | None:
    """Undoes the `=?base64?...?=` sentinel of Mcp-Name / Mcp-Param-*; None when malformed."""
    if value is None:
        return None
    match = _B64_SENTINEL.fullmatch(value)
    if match is None:
        return value
    try:
        return base64.b64decode(match.group("payload"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def unsupported_version(requested: Any) -> RpcError:
    return RpcError(
        UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        {"supported": list(SUPPORTED_VERSIONS), "requested": requested},
    )


def _is_valid_id(value: Any) -> bool:
    if isinstance(value, str):
        return unpaired_surrogate(value) is None
    return isinstance(value, int) and not isinstance(value, bool)


def _meta_of(message: Mapping[str, Any]) -> Mapping[str, Any] | None:
    params = message.get("params")
    if isinstance(params, Mapping):
        meta = params.get("_meta")
        if isinstance(meta, Mapping):
            return meta
    return None


def is_modern(message: Mapping[str, Any], header_version: str | None) -> bool:
    """A dual-era server picks the era from how the client speaks (versioning.mdx)."""
    if header_version is not None and header_version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return True
    meta = _meta_of(message)
    return meta is not None and PROTOCOL_VERSION_META_KEY in meta


def check_modern_envelope(message: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The validation ladder of a modern request; returns the protocol version it uses.

    Order follows the reference SDK: envelope keys, then header/body agreement (so a client
    that disagrees with itself hears so), then whether the version is served.
    """
    header_version = headers.get("MCP-Protocol-Version")
    meta = _meta_of(message)
    if meta is None:
        if header_version is not None and header_version not in SUPPORTED_VERSIONS:
            raise unsupported_version(header_version)
        raise RpcError(
            INVALID_PARAMS,
            f"params._meta must be an object carrying the required '{PROTOCOL_VERSION_META_KEY}' "
            f"and '{CLIENT_CAPABILITIES_META_KEY}' keys",
        )
    missing = [
        key for key in (PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY) if key not in meta
    ]
    if missing:
        raise RpcError(
            INVALID_PARAMS, f"params._meta is missing the required key(s): {', '.join(missing)}"
        )
    body_version = meta[PROTOCOL_VERSION_META_KEY]
    if header_version is None or header_version != body_version:
        raise RpcError(
            HEADER_MISMATCH,
            f"Header mismatch: MCP-Protocol-Version header {header_version!r} does not match "
            f"the body's {PROTOCOL_VERSION_META_KEY} {body_version!r}",
        )
    method = message.get("method")
    if headers.get("Mcp-Method") != method:
        raise RpcError(
            HEADER_MISMATCH,
            f"Header mismatch: Mcp-Method header {headers.get('Mcp-Method')!r} does not match "
            f"the body's method {method!r}",
        )
    if method == "tools/call":
        params = message.get("params")
        name = params.get("name") if isinstance(params, Mapping) else None
        header_name = decode_header_value(headers.get("Mcp-Name"))
        if name is not None and header_name != name:
            raise RpcError(
                HEADER_MISMATCH,
                f"Header mismatch: Mcp-Name header {headers.get('Mcp-Name')!r} does not match "
                f"the body's tool name {name!r}",
            )
    if not isinstance(body_version, str):
        raise RpcError(INVALID_PARAMS, f"{PROTOCOL_VERSION_META_KEY} must be a string")
    if body_version not in MODERN_PROTOCOL_VERSIONS:
        raise unsupported_version(body_version)
    return body_version


def _duplicated_routing_header(request: web.Request) -> str | None:
    for name in ("MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"):
        if len(request.headers.getall(name, [])) > 1:
            return name
    return None


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise RpcError(
            INVALID_REQUEST,
            f"Request body is larger than the {limit}-byte limit",
            status=413,
        )
    # read(n) returns whatever has arrived (up to n bytes), not the whole body: a body that
    # comes in several TCP segments must be gathered until EOF.
    chunks: list[bytes] = []
    size = 0
    seconds = request.app[GATEWAY].settings.http_body_seconds
    try:
        async with asyncio.timeout(seconds):
            while chunk := await request.content.read(limit + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise RpcError(
                        INVALID_REQUEST,
                        f"Request body is larger than the {limit}-byte limit",
                        status=413,
                    )
    except TimeoutError:
        raise RpcError(
            INVALID_REQUEST,
            f"Request body did not arrive within {seconds:g} seconds; send it whole, at once",
            status=408,
        ) from None
    return b"".join(chunks)


async def request_id_of(request: web.Request) -> Any:
    """The JSON-RPC id of a POST /mcp answered before its handler runs (401, 403, 421), so a
    plain forwarder such as a stdio bridge can match the error to its request; None if unknown.
    """
    if request.method != "POST" or request.body_exists is False:
        return None
    try:
        body = await _read_body(request, request.app[GATEWAY].settings.mcp_max_body_bytes)
        message = json.loads(body)
    except (RpcError, ValueError, RecursionError):
        return None
    if isinstance(message, dict) and _is_valid_id(message.get("id")):
        return message["id"]
    return None


async def handle_mcp(request: web.Request) -> web.StreamResponse:
    """POST /mcp."""
    request_id: Any = None
    is_modern_era = False
    try:
        body = await _read_body(request, request.app[GATEWAY].settings.mcp_max_body_bytes)
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            raise RpcError(PARSE_ERROR, "Parse error: the body is not valid JSON") from None
        where = find_unpaired_surrogate(message)
        if where is not None:
            raise RpcError(
                PARSE_ERROR,
                f"Parse error: {where} holds an unpaired UTF-16 surrogate (such as \\ud800), "
                "which is not Unicode text; send the request as valid UTF-8 JSON",
            )
        if isinstance(message, list):
            raise RpcError(
                INVALID_REQUEST,
                "Batch requests are not supported: send one JSON-RPC request per POST",
            )
        if not isinstance(message, dict):
            raise RpcError(INVALID_REQUEST, "The body must be a JSON-RPC request object")
        if "id" in message and _is_valid_id(message["id"]):
            request_id = message["id"]
        header_version = request.headers.get("MCP-Protocol-Version")
        is_modern_era = is_modern(message, header_version)
        if message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
            if "method" not in message and ("result" in message or "error" in message):
                raise RpcError(
                    INVALID_REQUEST, "This server sends no requests; do not POST responses"
                )
            raise RpcError(
                INVALID_REQUEST,
                "Invalid request: expected {'jsonrpc': '2.0', 'method': <string>, 'id': ...}",
            )
        if "id" not in message:
            if header_version is not None and header_version not in SUPPORTED_VERSIONS:
                raise unsupported_version(header_version)
            # Notifications carry nothing this stateless server acts on.
            return web.Response(status=202)
        if not _is_valid_id(message["id"]):
            raise RpcError(INVALID_REQUEST, "Invalid request: id must be a string or an integer")
        params = message.get("params")
        if params is not None and not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "params must be an object")
        if is_modern_era:
            duplicated = _duplicated_routing_header(request)
            if duplicated is not None:
                raise RpcError(HEADER_MISMATCH, f"{duplicated} header appears more than once")
            check_modern_envelope(message, request.headers)
            result = await _dispatch_modern(request, message["method"], params or {})
        else:
            if header_version is not None and header_version not in SUPPORTED_VERSIONS:
                raise unsupported_version(header_version)
            result = await _dispatch_legacy(request, message["method"], params or {})
    except RpcError as error:
        status = error.status
        if status is None:
            status = _MODERN_STATUS.get(error.code, 200) if is_modern_era else 200
            if error.code in (PARSE_ERROR, INVALID_REQUEST, UNSUPPORTED_PROTOCOL_VERSION):
                # Transport-level rejections are 400 in every era.
                status = 400
        return error_response(request, request_id, error.code, error.message, status, error.data)
    return _reply(request, {"jsonrpc": "2.0", "id": request_id, "result": result})


# CORS for browser-based MCP clients on an allowed Origin (security_middleware decides which).
CORS_ALLOW_METHODS = "POST, OPTIONS"
CORS_ALLOW_HEADERS = (
    "Content-Type",
    "Accept",
    "Authorization",
    "X-API-Key",
    "Context7-API-Key",
    "X-Context7-API-Key",
    "MCP-Protocol-Version",
    "Mcp-Method",
    "Mcp-Name",
    "Mcp-Session-Id",
    "Last-Event-ID",
    "traceparent",
    "tracestate",
)
CORS_EXPOSE_HEADERS = (
    "Mcp-Session-Id",
    "MCP-Protocol-Version",
    "WWW-Authenticate",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)
CORS_MAX_AGE_SECONDS = 600


def cors_headers(request: web.Request, origin: str) -> dict[str, str]:
    """Headers that let a page on `origin` read this answer (and, for a preflight, send)."""
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": ", ".join(CORS_EXPOSE_HEADERS),
    }
    if request.method == "OPTIONS":
        # Mcp-Param-* names come from tool schemas, so they cannot be listed ahead of time.
        asked = request.headers.get("Access-Control-Request-Headers", "")
        params = [
            name.strip()
            for name in asked.split(",")
            if name.strip().lower().startswith("mcp-param-")
        ]
        headers.update(
            {
                "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
                "Access-Control-Allow-Headers": ", ".join((*CORS_ALLOW_HEADERS, *params)),
                "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
            }
        )
    return headers


async def handle_preflight(request: web.Request) -> web.Response:
    """OPTIONS /mcp: a CORS preflight; security_middleware adds the CORS headers."""
    return web.Response(status=204, headers={"Allow": CORS_ALLOW_METHODS})


async def handle_not_allowed(request: web.Request) -> web.Response:
    """GET (standalone SSE stream) and DELETE (session end) do not exist on a stateless server."""
    return error_response(
        request,
        None,
        INVALID_REQUEST,
        "Method not allowed: this stateless MCP endpoint only accepts POST",
        405,
        headers={"Allow": "POST"},
    )


def _modern_result(result: dict[str, Any]) -> dict[str, Any]:
    return {"resultType": "complete", **result, "_meta": {SERVER_INFO_META_KEY: SERVER_INFO}}


async def _dispatch_modern(
    request: web.Request, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    if method == "server/discover":
        return _modern_result(
            {
                "supportedVersions": list(SUPPORTED_VERSIONS),
                "capabilities": {"tools": {}},
                "instructions": INSTRUCTIONS,
                "ttlMs": LIST_TTL_MS,
                "cacheScope": "public",
            }
        )
    if method == "tools/list":
        return _modern_result({"tools": TOOLS, "ttlMs": LIST_TTL_MS, "cacheScope": "public"})
    if method == "tools/call":
        return _modern_result(await _call_tool(request, params))
    raise RpcError(METHOD_NOT_FOUND, f"Method not found: {shown(method)}")


async def _dispatch_legacy(
    request: web.Request, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    if method == "initialize":
        asked = params.get("protocolVersion")
        negotiated = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        return {
            "protocolVersion": negotiated,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS,
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        return await _call_tool(request, params)
    raise RpcError(METHOD_NOT_FOUND, f"Method not found: {shown(method)}")


def _tool_text(text: str, is_error: bool) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


async def _call_tool(request: web.Request, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise RpcError(INVALID_PARAMS, "tools/call needs params.name, the tool to call")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "params.arguments must be an object")
    if name not in TOOL_NAMES:
        raise RpcError(
            INVALID_PARAMS,
            f"Unknown tool: {shown(name)}. Available tools: {', '.join(sorted(TOOL_NAMES))}",
        )
    gateway = request.app[GATEWAY]
    principal = request[PRINCIPAL]
    try:
        budget = await gateway.access.charge(principal)
    except PeerUnavailable:
        return _tool_text("auth service unavailable, retry shortly", True)
    request[BUDGET] = budget
    if not budget.is_allowed:
        return _tool_text(
            f"Rate limit exceeded ({budget.limit} requests per minute for this key or address). "
            f"Retry in {max(budget.retry_after_seconds, 1)} seconds; do not retry sooner. "
            "An API key raises the limit.",
            True,
        )
    try:
        result = await gateway.tools.call(name, arguments)
    except PeerError as error:
        # The model can act on these (retry later, fix the ID); they are not protocol errors.
        return _tool_text(error.message, True)
    return _tool_text(result.text, result.is_error)
