"""Request middleware: Host and Origin checks, tracing and metrics, errors, authentication."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from twinmcp.gateway import mcp, oauth
from twinmcp.gateway.access import Budget, client_address, credential_from, credential_problem
from twinmcp.gateway.errors import GatewayError, InputError, PeerUnavailable, Unauthenticated
from twinmcp.gateway.hosts import parse_host
from twinmcp.gateway.state import BUDGET, GATEWAY, PRINCIPAL

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("twinmcp.gateway")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTTP_REQUESTS = Counter(
    "twinmcp_gateway_http_requests_total",
    "HTTP requests answered by the gateway, by route, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "twinmcp_gateway_http_request_seconds",
    "HTTP request handling time in seconds, by route and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# Paths that need no caller identity: probes, metrics, the API description, sign-in.
_PUBLIC_PREFIXES = ("/health", "/ready", "/metrics", "/openapi.json", "/auth/")
# Admin calls are rare and powerful: each asks auth afresh, so a key revoked or a user demoted
# through another replica loses them at once, not when this gateway's cached answer expires.
ADMIN_PREFIX = "/api/v1/admin/"


def error_json(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


def _route_of(request: web.Request) -> str:
    info = request.match_info
    if info.http_exception is not None or info.route.resource is None:
        return "unmatched"
    return info.route.resource.canonical


@web.middleware
async def observability_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A server span per request continuing `traceparent`, plus request counters and latency."""
    parent = propagate.extract(request.headers)
    route = _route_of(request)
    started = time.perf_counter()
    status = 500
    token = context.attach(parent)
    try:
        with tracer.start_as_current_span(
            f"{request.method} {route}",
            kind=SpanKind.SERVER,
            attributes={"http.request.method": request.method, "http.route": route},
        ) as span:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                status = exc.status
                raise
            status = response.status
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response
    finally:
        context.detach(token)
        elapsed = time.perf_counter() - started
        HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        HTTP_LATENCY.labels(route, request.method, str(status)).observe(elapsed)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place errors are answered (errors.py's tree, aiohttp's HTTP errors) and
    unexpected exceptions logged: every REST error body is JSON, and a charged REST call's error
    carries the caller's rate-limit headers as its answer would; /mcp gets JSON-RPC errors."""
    is_mcp = request.path == "/mcp"
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and exc.content_type == "text/plain" else exc.reason
        if is_mcp:
            return mcp.error_response(request, None, INVALID_REQUEST, message, exc.status)
        kept = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return _rest_error(request, exc.status, _code_for(exc.status), message, kept)
    except GatewayError as error:
        headers = {"Retry-After": "5"} if isinstance(error, PeerUnavailable) else {}
        if is_mcp:
            return mcp.error_response(
                request,
                await mcp.request_id_of(request),
                INVALID_PARAMS if isinstance(error, InputError) else INTERNAL_ERROR,
                error.message,
                error.status,
                headers=headers,
            )
        return _rest_error(request, error.status, error.code, error.message, headers)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        message = "internal error; it has been logged, retry later"
        if is_mcp:
            return mcp.error_response(request, None, INTERNAL_ERROR, message, 500)
        return _rest_error(request, 500, "internal_error", message, {})


def _rest_error(
    request: web.Request, status: int, code: str, message: str, headers: dict[str, str]
) -> web.Response:
    budget = request.get(BUDGET)  # set once access_middleware has charged the call
    if budget is not None:
        headers = {**budget.headers(), **headers}
    return error_json(status, code, message, headers or None)


def _code_for(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        408: "request_timeout",
        429: "rate_limited",
    }.get(status, "error")


# Probes and scrapers reach a replica by its own address (a kubelet sends the pod IP as Host);
# what they read is harmless to a rebinding page, so Host and Origin are not checked there.
_UNCHECKED_HOST_PREFIXES = ("/health", "/ready", "/metrics")


async def _refuse(request: web.Request, status: int, code: str, message: str) -> web.Response:
    if request.path == "/mcp":
        return mcp.error_response(
            request, await mcp.request_id_of(request), INVALID_REQUEST, message, status
        )
    return error_json(status, code, message)


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """DNS-rebinding protection on /mcp and REST: Host must parse as host[:port] and be served,
    and an Origin, when sent, must be on the allow-list.

    A page on an allowed Origin also gets the CORS headers it needs to call /mcp from a browser.
    """
    if request.path.startswith(_UNCHECKED_HOST_PREFIXES):
        return await handler(request)
    policy = request.app[GATEWAY].settings.host_policy
    hosts = request.headers.getall("Host", [])
    host = parse_host(hosts[0]) if len(hosts) == 1 else None
    if host is None:
        return await _refuse(
            request,
            400,
            "bad_request",
            "Invalid Host header: send exactly one Host header of the form host[:port] (no "
            "user name, path or spaces)",
        )
    if not policy.is_allowed_host(host):
        return await _refuse(
            request,
            421,
            "misdirected_request",
            "Invalid Host header: this server does not answer for that name "
            "(add it to ALLOWED_HOSTS or set API_BASE_URL to the public URL)",
        )
    origin = request.headers.get("Origin")
    if origin is not None and not policy.is_allowed_origin(origin):
        return await _refuse(
            request, 403, "forbidden", "Forbidden: Origin not allowed (add it to ALLOWED_ORIGINS)"
        )
    response = await handler(request)
    if origin is not None and request.path == "/mcp" and not response.prepared:
        response.headers.update(mcp.cors_headers(request, origin))
        response.headers.add("Vary", "Origin")
    return response


async def _unauthenticated(request: web.Request, reason: str) -> web.Response:
    message = f"{reason} Send a valid API key as 'Authorization: Bearer <key>'."
    settings = request.app[GATEWAY].settings
    headers = {"WWW-Authenticate": oauth.challenge(settings, "invalid_token")}
    if request.path == "/mcp":
        return mcp.error_response(
            request,
            await mcp.request_id_of(request),
            INVALID_REQUEST,
            message,
            401,
            headers=headers,
        )
    return error_json(401, "unauthenticated", message, headers)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Identifies the caller on /mcp and /api; charges REST calls against the rate limit."""
    path = request.path
    if path.startswith(_PUBLIC_PREFIXES) or not (path == "/mcp" or path.startswith("/api/")):
        return await handler(request)
    if request.method == "OPTIONS":
        return await handler(request)
    gateway = request.app[GATEWAY]
    settings = gateway.settings
    address = client_address(
        request.remote, request.headers.get("X-Forwarded-For"), settings.trusted_proxies
    )
    credential = credential_from(request.headers)
    problem = credential_problem(credential)
    if problem is not None:
        return await _unauthenticated(request, problem)
    try:
        principal = await gateway.access.principal(
            credential, address, is_fresh=path.startswith(ADMIN_PREFIX)
        )
    except Unauthenticated as error:
        return await _unauthenticated(request, f"{error.message}.")
    request[PRINCIPAL] = principal
    refusal = await oauth.refuse_on_mcp(request, principal)
    if refusal is not None:
        return refusal
    if path.startswith("/api/") and request.method != "OPTIONS":
        charged = await gateway.access.charge(principal)
        request[BUDGET] = charged
        if not charged.is_allowed:
            return error_json(
                429,
                "rate_limited",
                f"Rate limit of {charged.limit} requests per minute exceeded; retry in "
                f"{max(charged.retry_after_seconds, 1)} seconds, or use an API key for more.",
                charged.headers(),
            )
    response = await handler(request)
    budget: Budget | None = request.get(BUDGET) or gateway.access.last_budget(principal)
    if budget is not None and not response.prepared:
        response.headers.update(budget.headers())
    return response
