"""The REST API: Context7-compatible search and context, admin jobs, account keys, sign-in."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway.access import credential_from
from twinmcp.gateway.arguments import TextError, check_text, find_unpaired_surrogate
from twinmcp.gateway.clients import InvalidArgument, LibraryUnknown, VersionMissing
from twinmcp.gateway.middleware import error_json
from twinmcp.gateway.openapi import openapi_document
from twinmcp.gateway.rendering import context_json, library_json
from twinmcp.gateway.state import GATEWAY, PRINCIPAL
from twinmcp.gateway.tools import ToolInputError
from twinmcp.ingest.v1 import ingest_pb2

routes = web.RouteTableDef()

_INT32_MAX = 2**31 - 1
# The peers a query needs; readiness follows only these.
QUERY_PATH_PEERS = ("auth", "search")


class BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _to_json(message: Message) -> dict[str, Any]:
    return MessageToDict(message, always_print_fields_with_no_presence=True)


def _query_text(request: web.Request, *names: str, required: bool = False) -> str:
    for name in names:
        value = _checked(name, request.query.get(name, "")).strip()
        if value:
            return value
    if required:
        raise BadRequest(f"'{names[0]}' is required")
    return ""


def _budget(request: web.Request) -> int:
    raw = request.query.get("tokens", "").strip()
    try:
        return request.app[GATEWAY].tools.tokens.budget(raw or None)
    except ToolInputError:
        raise BadRequest("'tokens' must be a whole number, e.g. 5000") from None


def _checked(name: str, value: str) -> str:
    """`value` when it fits the cap of `name` (arguments.LIMITS) and is Unicode; else 400."""
    try:
        return check_text(name, value)
    except TextError as error:
        raise BadRequest(str(error)) from None


def _bad_request_wrapper(handler: Any) -> Any:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except BadRequest as error:
            return error_json(400, "bad_request", error.message)
        except InvalidArgument as error:
            return error_json(400, "invalid_argument", error.message)
        return response

    wrapped.__name__ = handler.__name__
    return wrapped


# -- probes ------------------------------------------------------------------------------------


@routes.get("/health")
async def health(_request: web.Request) -> web.Response:
    """Liveness: the process answers HTTP."""
    return web.json_response({"status": "ok"})


async def _peer_states(request: web.Request) -> dict[str, str]:
    """Each peer's gRPC health within HEALTH_DEADLINE_SECONDS (UNAVAILABLE when it is late)."""
    gateway = request.app[GATEWAY]
    clients = gateway.peers.all()
    deadline = gateway.settings.health_deadline_seconds
    states = await asyncio.gather(*(client.health(deadline) for client in clients))
    return {client.service: state for client, state in zip(clients, states, strict=True)}


def _limiter_state(request: web.Request) -> str:
    degraded = request.app[GATEWAY].access.is_limiter_degraded
    return "unknown" if degraded is None else ("degraded" if degraded else "ok")


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    """Readiness: the query path (auth and search) answers its gRPC health check in time.

    Ingest is left out on purpose: queries do not need it, and a busy or stopped ingest would
    otherwise take every gateway out of rotation at once. /health/detail shows it.
    """
    if request.app[GATEWAY].is_draining:
        return web.json_response({"status": "draining"}, status=503)
    states = await _peer_states(request)
    peers = {name: state for name, state in states.items() if name in QUERY_PATH_PEERS}
    is_ready = all(state == "SERVING" for state in peers.values())
    body = {
        "status": "ready" if is_ready else "not_ready",
        "peers": peers,
        "rateLimiter": _limiter_state(request),
    }
    return web.json_response(body, status=200 if is_ready else 503)


@routes.get("/health/detail")
async def health_detail(request: web.Request) -> web.Response:
    """Every peer's state, ingest included, for people and dashboards; always 200."""
    gateway = request.app[GATEWAY]
    peers = await _peer_states(request)
    is_ready = not gateway.is_draining and all(
        peers[name] == "SERVING" for name in QUERY_PATH_PEERS
    )
    body = {
        "status": "ok" if all(state == "SERVING" for state in peers.values()) else "degraded",
        "ready": is_ready,
        "draining": gateway.is_draining,
        "peers": peers,
        "rateLimiter": _limiter_state(request),
    }
    return web.json_response(body)


@routes.get("/metrics")
async def metrics(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(REGISTRY))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[GATEWAY].settings.api_base_url))


# -- search and context ------------------------------------------------------------------------


async def _search(request: web.Request, library_name: str, query: str) -> web.Response:
    answer = await request.app[GATEWAY].peers.search.resolve_library(library_name, query)
    return web.json_response({"results": [library_json(m.library) for m in answer.matches]})


@routes.get("/api/v2/libs/search")
@_bad_request_wrapper
async def search_v2(request: web.Request) -> web.Response:
    library_name = _query_text(request, "libraryName", "query", required=True)
    return await _search(request, library_name, _query_text(request, "query"))


@routes.get("/api/v1/search")
@_bad_request_wrapper
async def search_v1(request: web.Request) -> web.Response:
    query = _query_text(request, "query", required=True)
    return await _search(request, query, query)


async def _context(request: web.Request, library_id: str, version: str, query: str) -> web.Response:
    kind = request.query.get("type", "txt").strip() or "txt"
    if kind not in ("txt", "json"):
        raise BadRequest("'type' must be 'txt' or 'json'")
    budget = _budget(request)
    project = _query_text(request, "project")
    lookup = await request.app[GATEWAY].peers.search.query_docs(
        library_id, query, budget, version, project
    )
    if isinstance(lookup, LibraryUnknown):
        return _library_unknown(lookup)
    if isinstance(lookup, VersionMissing):
        return _version_missing(lookup)
    if kind == "json":
        return web.json_response(context_json(lookup))
    return web.Response(text=lookup.text, content_type="text/plain")


def _library_unknown(missing: LibraryUnknown) -> web.Response:
    close = f" Did you mean {', '.join(missing.suggestions)}?" if missing.suggestions else ""
    message = (
        f"Library '{missing.library_id}' is not indexed.{close} Find IDs with /api/v2/libs/search"
    )
    body = {"error": "not_found", "message": message, "suggestions": missing.suggestions}
    return web.json_response(body, status=404)


def _version_missing(missing: VersionMissing) -> web.Response:
    listed = ", ".join(missing.available) or "none yet"
    message = (
        f"Version '{missing.version}' of {missing.library_id} is not indexed. Available "
        f"versions: {listed}"
    )
    hint = missing.ingest_hint()
    body = {
        "error": "version_not_found",
        "message": f"{message}. {hint}" if hint else message,
        "availableVersions": missing.available,
        "registryReleases": missing.registry_releases,
        "ingestSource": missing.ingest_source,
    }
    return web.json_response(body, status=404)


@routes.get("/api/v2/context")
@_bad_request_wrapper
async def context_v2(request: web.Request) -> web.Response:
    library_id = _query_text(request, "libraryId", "library_id", required=True)
    if not library_id.startswith("/"):
        raise BadRequest("'libraryId' must look like '/org/project'")
    return await _context(request, library_id, "", _query_text(request, "query", "topic"))


# -- admin -------------------------------------------------------------------------------------


def _require(request: web.Request, scope: str) -> auth_pb2.Principal:
    principal = request[PRINCIPAL]
    if principal.is_anonymous:
        raise web.HTTPUnauthorized(
            text="sign in or send an API key as 'Authorization: Bearer <key>'",
            content_type="text/plain",
        )
    if scope == "admin" and "admin" not in principal.scopes:
        raise web.HTTPForbidden(
            text="this needs an API key with the 'admin' scope", content_type="text/plain"
        )
    if scope == "user" and not principal.user_id:
        raise web.HTTPForbidden(
            text="this needs a signed-in user's session or API key", content_type="text/plain"
        )
    return principal


def job_json(job: ingest_pb2.Job) -> dict[str, Any]:
    body = _to_json(job)
    body["state"] = ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    return body


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    seconds = request.app[GATEWAY].settings.http_body_seconds
    try:
        async with asyncio.timeout(seconds):
            body = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"the body did not arrive within {seconds:g} seconds; send it whole, at once",
            content_type="text/plain",
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    where = find_unpaired_surrogate(body)
    if where is not None:
        raise BadRequest(
            f"{where} holds an unpaired UTF-16 surrogate (such as \\ud800), which is not "
            "Unicode text; send the body as valid UTF-8 JSON"
        )
    return body


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT32_MAX:
        raise BadRequest(f"'{name}' must be a whole number from 0 to {_INT32_MAX}")
    return value


def _str_field(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string")
    if required and not value.strip():
        raise BadRequest(f"'{name}' is required")
    return _checked(name, value).strip()


@routes.post("/api/v1/admin/sources")
@_bad_request_wrapper
async def submit_source(request: web.Request) -> web.Response:
    _require(request, "admin")
    body = await _json_body(request)
    make_default = body.get("makeDefault", True)
    if not isinstance(make_default, bool):
        raise BadRequest("'makeDefault' must be true or false")
    submit = ingest_pb2.SubmitSourceRequest(
        source=_str_field(body, "source", required=True),
        library_id=_str_field(body, "libraryId"),
        version=_str_field(body, "version"),
        ref=_str_field(body, "ref"),
        max_pages=_int_field(body, "maxPages"),
        max_depth=_int_field(body, "maxDepth"),
        make_default=make_default,
    )
    reply = await request.app[GATEWAY].peers.ingest.submit_source(submit)
    return web.json_response({"job": job_json(reply.job)}, status=202)


@routes.post(r"/api/v1/admin/libraries/{library_id:.+}/refresh")
@_bad_request_wrapper
async def refresh_library(request: web.Request) -> web.Response:
    _require(request, "admin")
    body = await _json_body(request)
    library_id = "/" + request.match_info["library_id"].strip("/")
    reply = await request.app[GATEWAY].peers.ingest.refresh_library(
        library_id, _str_field(body, "version")
    )
    return web.json_response({"job": job_json(reply.job)}, status=202)


@routes.get("/api/v1/admin/jobs")
@_bad_request_wrapper
async def list_jobs(request: web.Request) -> web.Response:
    _require(request, "admin")
    states: list[ingest_pb2.JobState.ValueType] = []
    for raw in request.query.getall("state", []):
        for name in raw.split(","):
            try:
                states.append(ingest_pb2.JobState.Value(f"JOB_STATE_{name.strip().upper()}"))
            except ValueError:
                raise BadRequest(
                    f"unknown state {name!r}; use queued, running, succeeded, failed, cancelled"
                ) from None
    raw_limit = request.query.get("limit", "50")
    if not (raw_limit.isdecimal() and len(raw_limit) <= 3) or not 1 <= int(raw_limit) <= 500:
        raise BadRequest("'limit' must be a whole number from 1 to 500")
    reply = await request.app[GATEWAY].peers.ingest.list_jobs(
        _checked("libraryId", request.query.get("libraryId", "")), states, int(raw_limit)
    )
    return web.json_response({"jobs": [job_json(job) for job in reply.jobs]})


@routes.get("/api/v1/admin/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.get_job(request.match_info["job_id"])
    return web.json_response({"job": job_json(reply.job)})


@routes.post("/api/v1/admin/jobs/{job_id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.cancel_job(request.match_info["job_id"])
    return web.json_response({"job": job_json(reply.job)})


# -- account -----------------------------------------------------------------------------------


def key_json(key: auth_pb2.ApiKey) -> dict[str, Any]:
    return _to_json(key)


@routes.get("/api/v1/account/keys")
async def list_keys(request: web.Request) -> web.Response:
    principal = _require(request, "user")
    reply = await request.app[GATEWAY].peers.auth.list_api_keys(
        principal.user_id, caller_credential=credential_from(request.headers)
    )
    return web.json_response({"keys": [key_json(key) for key in reply.keys]})


@routes.post("/api/v1/account/keys")
@_bad_request_wrapper
async def create_key(request: web.Request) -> web.Response:
    principal = _require(request, "user")
    body = await _json_body(request)
    scopes = body.get("scopes", ["read"])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise BadRequest("'scopes' must be a list of strings such as [\"read\"]")
    # Auth refuses scopes beyond the caller's own and re-checks the credential (not cached).
    reply = await request.app[GATEWAY].peers.auth.create_api_key(
        principal.user_id,
        _str_field(body, "name"),
        scopes,
        caller_credential=credential_from(request.headers),
    )
    return web.json_response({"key": key_json(reply.key), "secret": reply.secret}, status=201)


@routes.delete("/api/v1/account/keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    principal = _require(request, "user")
    gateway = request.app[GATEWAY]
    reply = await gateway.peers.auth.revoke_api_key(
        principal.user_id,
        request.match_info["key_id"],
        caller_credential=credential_from(request.headers),
    )
    gateway.access.forget_key(reply.key.key_id)
    return web.json_response({"key": key_json(reply.key)})


@routes.get("/api/v1/account/usage")
@_bad_request_wrapper
async def usage(request: web.Request) -> web.Response:
    principal = _require(request, "user")
    raw_days = request.query.get("days", "30")
    if not (raw_days.isdecimal() and len(raw_days) <= 3) or not 1 <= int(raw_days) <= 366:
        raise BadRequest("'days' must be a whole number from 1 to 366")
    reply = await request.app[GATEWAY].peers.auth.get_usage(
        principal.user_id, _checked("keyId", request.query.get("keyId", "")), int(raw_days)
    )
    return web.json_response({"days": [_to_json(day) for day in reply.days]})


# -- sign-in -----------------------------------------------------------------------------------


@routes.get("/auth/github/login")
async def github_login(request: web.Request) -> web.Response:
    base = request.app[GATEWAY].settings.api_base_url
    reply = await request.app[GATEWAY].peers.auth.start_sign_in(f"{base}/auth/github/callback")
    raise web.HTTPFound(reply.authorize_url)


@routes.get("/auth/github/callback")
@_bad_request_wrapper
async def github_callback(request: web.Request) -> web.Response:
    code = _query_text(request, "code", required=True)
    state = _query_text(request, "state", required=True)
    reply = await request.app[GATEWAY].peers.auth.complete_sign_in(code, state)
    return web.json_response({"tokens": _to_json(reply.tokens), "user": _to_json(reply.user)})


@routes.post("/auth/refresh")
@_bad_request_wrapper
async def refresh_session(request: web.Request) -> web.Response:
    body = await _json_body(request)
    reply = await request.app[GATEWAY].peers.auth.refresh_session(
        _str_field(body, "refreshToken", required=True)
    )
    return web.json_response({"tokens": _to_json(reply.tokens)})


# -- v1 context (last: its pattern would swallow the paths above) -----------------------------


@routes.get("/api/v1/{owner}/{repo}")
@_bad_request_wrapper
async def context_v1(request: web.Request) -> web.Response:
    library_id = _checked(
        "libraryId", f"/{request.match_info['owner']}/{request.match_info['repo']}"
    )
    return await _context(request, library_id, "", _query_text(request, "topic", "query"))


@routes.get("/api/v1/{owner}/{repo}/{version:.+}")
@_bad_request_wrapper
async def context_v1_version(request: web.Request) -> web.Response:
    library_id = _checked(
        "libraryId", f"/{request.match_info['owner']}/{request.match_info['repo']}"
    )
    version = _checked("version", request.match_info["version"])
    return await _context(request, library_id, version, _query_text(request, "topic", "query"))
