"""The REST API: Context7-compatible search and context, admin jobs, account keys, sign-in."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway import schemas
from twinmcp.gateway.access import credential_from
from twinmcp.gateway.arguments import check_text, find_unpaired_surrogate
from twinmcp.gateway.clients.search import LibraryUnknown, VersionMissing
from twinmcp.gateway.errors import InputError
from twinmcp.gateway.openapi import openapi_document
from twinmcp.gateway.projects import (
    NO_PROJECT,
    Project,
    read_project_off_loop,
)
from twinmcp.gateway.rendering import context_answer, library_answer
from twinmcp.gateway.schemas import (
    ContextBody,
    ContextParams,
    ContextV1Params,
    JobsParams,
    LibrarySearchBody,
    LibrarySearchParams,
    LibrarySearchV1Params,
    NewKeyRequest,
    RefreshRequest,
    SessionRefresh,
    SignInParams,
    SourceSubmission,
    UsageParams,
    params,
    validated,
)
from twinmcp.gateway.state import GATEWAY, PRINCIPAL
from twinmcp.ingest.v1 import ingest_pb2

routes = web.RouteTableDef()

# The peers a query needs; readiness follows only these.
QUERY_PATH_PEERS = ("auth", "search")


def _to_json(message: Message) -> dict[str, Any]:
    return MessageToDict(message, always_print_fields_with_no_presence=True)


def json_answer(
    answer: BaseModel, status: int = 200, *, exclude_none: bool = False
) -> web.Response:
    """`answer` as the JSON body; exclude_none where a None field is left out of the shape."""
    return web.json_response(
        answer.model_dump(mode="json", exclude_none=exclude_none), status=status
    )


def _budget(request: web.Request, tokens: int | None) -> int:
    """The token budget asked (None: the default), within the policy's floor and cap."""
    return request.app[GATEWAY].tools.tokens.budget(tokens)


# -- probes ------------------------------------------------------------------------------------


@routes.get("/health")
async def health(_request: web.Request) -> web.Response:
    """Liveness: the process answers HTTP."""
    return json_answer(schemas.Health())


async def _peer_states(request: web.Request) -> dict[str, str]:
    """Each peer's gRPC health within HEALTH_DEADLINE_SECONDS (UNAVAILABLE when it is late)."""
    gateway = request.app[GATEWAY]
    clients = gateway.peers.all()
    deadline = gateway.settings.health_deadline_seconds
    states = await asyncio.gather(*(client.health(deadline) for client in clients))
    return {client.service: state for client, state in zip(clients, states, strict=True)}


def _limiter_state(request: web.Request) -> schemas.LimiterState:
    degraded = request.app[GATEWAY].access.is_limiter_degraded
    return "unknown" if degraded is None else ("degraded" if degraded else "ok")


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    """Readiness: the query path (auth and search) answers its gRPC health check in time.

    Ingest is left out on purpose: queries do not need it, and a busy or stopped ingest would
    otherwise take every gateway out of rotation at once. /health/detail shows it.
    """
    if request.app[GATEWAY].is_draining:
        return json_answer(schemas.Ready(status="draining"), 503, exclude_none=True)
    states = await _peer_states(request)
    peers = {name: state for name, state in states.items() if name in QUERY_PATH_PEERS}
    is_ready = all(state == "SERVING" for state in peers.values())
    body = schemas.Ready(
        status="ready" if is_ready else "not_ready",
        peers=peers,
        rateLimiter=_limiter_state(request),
    )
    return json_answer(body, 200 if is_ready else 503, exclude_none=True)


@routes.get("/health/detail")
async def health_detail(request: web.Request) -> web.Response:
    """Every peer's state, ingest included, for people and dashboards; always 200."""
    gateway = request.app[GATEWAY]
    peers = await _peer_states(request)
    is_ready = not gateway.is_draining and all(
        peers[name] == "SERVING" for name in QUERY_PATH_PEERS
    )
    body = schemas.HealthDetail(
        status="ok" if all(state == "SERVING" for state in peers.values()) else "degraded",
        ready=is_ready,
        draining=gateway.is_draining,
        peers=peers,
        rateLimiter=_limiter_state(request),
    )
    return json_answer(body)


@routes.get("/metrics")
async def metrics(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(REGISTRY))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[GATEWAY].settings.api_base_url))


# -- search and context ------------------------------------------------------------------------


async def _search(
    request: web.Request, library_name: str, query: str, project: Project = NO_PROJECT
) -> web.Response:
    answer = await request.app[GATEWAY].peers.search.resolve_library(
        library_name, query, project=project.name, packages=project.packages
    )
    results = [library_answer(m.library) for m in answer.matches]
    if project.is_given:
        results = [
            result.model_copy(update={"lockedVersion": match.locked_version})
            for result, match in zip(results, answer.matches, strict=True)
        ]
    return json_answer(schemas.SearchResults(results=results), exclude_none=True)


@routes.get("/api/v2/libs/search")
async def search_v2(request: web.Request) -> web.Response:
    asked = params(LibrarySearchParams, request.query)
    return await _search(
        request, asked.libraryName, asked.query, await read_project_off_loop(asked.project)
    )


@routes.post("/api/v2/libs/search")
async def search_v2_post(request: web.Request) -> web.Response:
    """As GET, the parameters in a JSON body: a lockfile sent as `project` fits there."""
    asked = validated(LibrarySearchBody, await _json_body(request))
    return await _search(
        request, asked.libraryName, asked.query, await read_project_off_loop(asked.project)
    )


@routes.get("/api/v1/search")
async def search_v1(request: web.Request) -> web.Response:
    query = params(LibrarySearchV1Params, request.query).query
    return await _search(request, query, query)


async def _context(
    request: web.Request,
    library_id: str,
    version: str,
    query: str,
    tokens: int | None,
    kind: str,
    project: Project = NO_PROJECT,
) -> web.Response:
    lookup = await request.app[GATEWAY].tools.docs.query_docs(
        library_id, query, _budget(request, tokens), version, project
    )
    if isinstance(lookup, LibraryUnknown):
        return _library_unknown(lookup)
    if isinstance(lookup, VersionMissing):
        return _version_missing(lookup)
    if kind == "json":
        answer = context_answer(lookup)
        if project.is_given:
            answer = answer.model_copy(
                update={"lockedVersion": lookup.locked_version, "projectNote": lookup.project_note}
            )
        return json_answer(answer, exclude_none=True)
    return web.Response(text=lookup.text, content_type="text/plain")


def _library_unknown(missing: LibraryUnknown) -> web.Response:
    close = f" Did you mean {', '.join(missing.suggestions)}?" if missing.suggestions else ""
    message = (
        f"Library '{missing.library_id}' is not indexed.{close} Find IDs with /api/v2/libs/search"
    )
    body = schemas.Error(error="not_found", message=message, suggestions=missing.suggestions)
    return json_answer(body, 404, exclude_none=True)


def _version_missing(missing: VersionMissing) -> web.Response:
    listed = ", ".join(missing.available) or "none yet"
    message = (
        f"Version '{missing.version}' of {missing.library_id} is not indexed. Available "
        f"versions: {listed}"
    )
    hint = missing.ingest_hint()
    body = schemas.Error(
        error="version_not_found",
        message=f"{message}. {hint}" if hint else message,
        availableVersions=missing.available,
        registryReleases=missing.registry_releases,
        ingestSource=missing.ingest_source,
    )
    return json_answer(body, 404, exclude_none=True)


@routes.get("/api/v2/context")
async def context_v2(request: web.Request) -> web.Response:
    asked = params(ContextParams, request.query)
    project = await read_project_off_loop(asked.project)
    return await _context(
        request, asked.libraryId, "", asked.query, asked.tokens, asked.type, project
    )


@routes.post("/api/v2/context")
async def context_v2_post(request: web.Request) -> web.Response:
    """As GET, the parameters in a JSON body: a lockfile sent as `project` fits there."""
    asked = validated(ContextBody, await _json_body(request))
    project = await read_project_off_loop(asked.project)
    return await _context(
        request, asked.libraryId, "", asked.query, asked.tokens, asked.type, project
    )


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
        raise InputError("the body must be a JSON object") from None
    except RecursionError:
        # json recurses once per level: a body nested a few thousand deep is refused, not a 500.
        raise InputError(
            "the body nests arrays or objects too deeply; send a flat JSON object"
        ) from None
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"the body did not arrive within {seconds:g} seconds; send it whole, at once",
            content_type="text/plain",
        ) from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    where = find_unpaired_surrogate(body)
    if where is not None:
        raise InputError(
            f"{where} holds an unpaired UTF-16 surrogate (such as \\ud800), which is not "
            "Unicode text; send the body as valid UTF-8 JSON"
        )
    return body


@routes.post("/api/v1/admin/sources")
async def submit_source(request: web.Request) -> web.Response:
    _require(request, "admin")
    body = validated(SourceSubmission, await _json_body(request))
    submit = ingest_pb2.SubmitSourceRequest(
        source=body.source,
        library_id=body.libraryId,
        version=body.version,
        ref=body.ref,
        max_pages=body.maxPages,
        max_depth=body.maxDepth,
        make_default=body.makeDefault,
    )
    reply = await request.app[GATEWAY].peers.ingest.submit_source(submit)
    return web.json_response({"job": job_json(reply.job)}, status=202)


@routes.post(r"/api/v1/admin/libraries/{library_id:.+}/refresh")
async def refresh_library(request: web.Request) -> web.Response:
    _require(request, "admin")
    body = validated(RefreshRequest, await _json_body(request))
    library_id = check_text("libraryId", "/" + request.match_info["library_id"].strip("/"))
    reply = await request.app[GATEWAY].peers.ingest.refresh_library(library_id, body.version)
    return web.json_response({"job": job_json(reply.job)}, status=202)


@routes.get("/api/v1/admin/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    _require(request, "admin")
    asked = params(JobsParams, request.query)
    states = [ingest_pb2.JobState.Value(f"JOB_STATE_{name.upper()}") for name in asked.state]
    reply = await request.app[GATEWAY].peers.ingest.list_jobs(asked.libraryId, states, asked.limit)
    return web.json_response({"jobs": [job_json(job) for job in reply.jobs]})


@routes.get("/api/v1/admin/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.get_job(
        check_text("jobId", request.match_info["job_id"])
    )
    return web.json_response({"job": job_json(reply.job)})


@routes.post("/api/v1/admin/jobs/{job_id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    _require(request, "admin")
    reply = await request.app[GATEWAY].peers.ingest.cancel_job(
        check_text("jobId", request.match_info["job_id"])
    )
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
async def create_key(request: web.Request) -> web.Response:
    principal = _require(request, "user")
    body = validated(NewKeyRequest, await _json_body(request))
    # Auth refuses scopes beyond the caller's own and re-checks the credential (not cached).
    reply = await request.app[GATEWAY].peers.auth.create_api_key(
        principal.user_id,
        body.name,
        body.scopes,
        caller_credential=credential_from(request.headers),
    )
    return web.json_response({"key": key_json(reply.key), "secret": reply.secret}, status=201)


@routes.delete("/api/v1/account/keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    principal = _require(request, "user")
    gateway = request.app[GATEWAY]
    reply = await gateway.peers.auth.revoke_api_key(
        principal.user_id,
        check_text("keyId", request.match_info["key_id"]),
        caller_credential=credential_from(request.headers),
    )
    gateway.access.forget_key(reply.key.key_id)
    return web.json_response({"key": key_json(reply.key)})


@routes.get("/api/v1/account/usage")
async def usage(request: web.Request) -> web.Response:
    principal = _require(request, "user")
    asked = params(UsageParams, request.query)
    reply = await request.app[GATEWAY].peers.auth.get_usage(
        principal.user_id, asked.keyId, asked.days
    )
    return web.json_response({"days": [_to_json(day) for day in reply.days]})


# -- sign-in -----------------------------------------------------------------------------------


@routes.get("/auth/github/login")
async def github_login(request: web.Request) -> web.Response:
    base = request.app[GATEWAY].settings.api_base_url
    reply = await request.app[GATEWAY].peers.auth.start_sign_in(f"{base}/auth/github/callback")
    raise web.HTTPFound(reply.authorize_url)


@routes.get("/auth/github/callback")
async def github_callback(request: web.Request) -> web.Response:
    asked = params(SignInParams, request.query)
    reply = await request.app[GATEWAY].peers.auth.complete_sign_in(asked.code, asked.state)
    return web.json_response({"tokens": _to_json(reply.tokens), "user": _to_json(reply.user)})


@routes.post("/auth/refresh")
async def refresh_session(request: web.Request) -> web.Response:
    body = validated(SessionRefresh, await _json_body(request))
    reply = await request.app[GATEWAY].peers.auth.refresh_session(body.refreshToken)
    return web.json_response({"tokens": _to_json(reply.tokens)})


# -- v1 context (last: its pattern would swallow the paths above) -----------------------------


@routes.get("/api/v1/{owner}/{repo}")
async def context_v1(request: web.Request) -> web.Response:
    library_id = check_text(
        "libraryId", f"/{request.match_info['owner']}/{request.match_info['repo']}"
    )
    asked = params(ContextV1Params, request.query)
    return await _context(request, library_id, "", asked.topic, asked.tokens, asked.type)


@routes.get("/api/v1/{owner}/{repo}/{version:.+}")
async def context_v1_version(request: web.Request) -> web.Response:
    library_id = check_text(
        "libraryId", f"/{request.match_info['owner']}/{request.match_info['repo']}"
    )
    version = check_text("version", request.match_info["version"])
    asked = params(ContextV1Params, request.query)
    return await _context(request, library_id, version, asked.topic, asked.tokens, asked.type)
