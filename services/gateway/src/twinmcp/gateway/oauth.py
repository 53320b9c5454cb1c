"""MCP authorization over HTTP: protected-resource and authorization-server metadata, the
authorize (consent), token, registration and revocation endpoints, and the /mcp challenge."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from html import escape
from typing import Any

from aiohttp import web
from mcp_types.jsonrpc import INVALID_REQUEST
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway import mcp
from twinmcp.gateway.access import client_address, credential_from
from twinmcp.gateway.config import Settings
from twinmcp.gateway.errors import InvalidArgument, NotFound, Unauthenticated
from twinmcp.gateway.state import GATEWAY, PRINCIPAL

routes = web.RouteTableDef()

SCOPE = "read"  # what every MCP tool needs
SCOPES_SUPPORTED = ("read", "offline_access")
PRM_PATH = "/.well-known/oauth-protected-resource"
CSRF_COOKIE = "twinmcp_oauth_csrf"
# GitHub accepts sub-paths of the OAuth app's registered callback (/auth/github/callback).
GITHUB_CALLBACK = "/auth/github/callback/mcp"
# Which pending request a GitHub sign-in answers, and the state it must come back with.
GITHUB_COOKIE = "twinmcp_oauth_github"
_MAX_FORM_BYTES = 16 * 1024
# The consent page runs no script and may not be framed (clickjacking); no form-action, since
# a browser applies it to the redirect to the client that follows the form.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def resource_url(settings: Settings) -> str:
    """This gateway's protected resource (RFC 8707/9728): its MCP endpoint."""
    return f"{settings.api_base_url}/mcp"


def is_metadata_served(settings: Settings) -> bool:
    return settings.oauth_server or settings.mcp_require_auth


def challenge(settings: Settings, error: str = "") -> str:
    """The WWW-Authenticate value: where the resource's metadata is and what scope to ask."""
    if not is_metadata_served(settings):
        return 'Bearer realm="twinmcp"'
    parts = [f'error="{error}"'] if error else []
    parts += [
        f'resource_metadata="{settings.api_base_url}{PRM_PATH}/mcp"',
        f'scope="{SCOPE}"',
    ]
    return "Bearer " + ", ".join(parts)


async def refuse_on_mcp(request: web.Request, principal: auth_pb2.Principal) -> web.Response | None:
    """401 for an anonymous caller when sign-in is required; 403 insufficient_scope for a
    token without the scope the tools need. None: go ahead."""
    if request.path != "/mcp" or request.method != "POST":
        return None
    settings = request.app[GATEWAY].settings
    if principal.is_anonymous:
        if not settings.mcp_require_auth:
            return None
        status, error, message = (
            401,
            "",
            "Sign-in required: this server accepts an OAuth access token (your MCP client "
            "signs in by itself) or an API key as 'Authorization: Bearer <key>'.",
        )
    elif SCOPE in principal.scopes or "admin" in principal.scopes:
        return None
    else:
        status, error, message = (
            403,
            "insufficient_scope",
            f"This token lacks the '{SCOPE}' scope the tools need; sign in again granting it.",
        )
    return mcp.error_response(
        request,
        await mcp.request_id_of(request),
        INVALID_REQUEST,
        message,
        status,
        headers={"WWW-Authenticate": challenge(settings, error)},
    )


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
    return _json({"error": error, "error_description": description}, status, headers)


async def _over_limit(request: web.Request) -> str:
    """Why the caller's address may not register or start a sign-in now ("" when it may): each
    costs a database row or a metadata fetch, so they count against the anonymous limit."""
    gateway = request.app[GATEWAY]
    address = client_address(
        request.remote, request.headers.get("X-Forwarded-For"), gateway.settings.trusted_proxies
    )
    budget = await gateway.access.charge(await gateway.access.principal("", address))
    if budget.is_allowed:
        return ""
    return (
        f"Too many sign-in requests from this address; retry in "
        f"{max(budget.retry_after_seconds, 1)} seconds."
    )


def _require_server(request: web.Request) -> Settings:
    settings = request.app[GATEWAY].settings
    if not settings.oauth_server:
        raise web.HTTPNotFound(
            text="sign-in from MCP clients is off on this server (OAUTH_SERVER=false)",
            content_type="text/plain",
        )
    return settings


# -- metadata ----------------------------------------------------------------------------------


@routes.get(PRM_PATH)
@routes.get(f"{PRM_PATH}/mcp")
async def protected_resource(request: web.Request) -> web.Response:
    """RFC 9728 metadata of /mcp (at the root and at the path-inserted well-known URL)."""
    settings = request.app[GATEWAY].settings
    if not is_metadata_served(settings):
        raise web.HTTPNotFound(text="this server takes no OAuth tokens", content_type="text/plain")
    body: dict[str, Any] = {
        "resource": resource_url(settings),
        "authorization_servers": [settings.api_base_url] if settings.oauth_server else [],
        "scopes_supported": [SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "TwinMCP",
        "resource_documentation": f"{settings.api_base_url}/openapi.json",
    }
    return _json(body, headers={"Access-Control-Allow-Origin": "*"})


@routes.get("/.well-known/oauth-authorization-server")
@routes.get("/.well-known/openid-configuration")
async def authorization_server(request: web.Request) -> web.Response:
    """RFC 8414 metadata (also where OpenID-style clients look for it)."""
    settings = _require_server(request)
    base = settings.api_base_url
    body = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "registration_endpoint": f"{base}/oauth/register",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
        "service_documentation": f"{base}/openapi.json",
    }
    return _json(body, headers={"Access-Control-Allow-Origin": "*"})


# -- the authorization endpoint ----------------------------------------------------------------

_AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "resource",
)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · TwinMCP</title>"
        '<link rel="stylesheet" href="/dashboard/static/dashboard.css"></head>'
        f'<body><main class="narrow"><p class="brand">TwinMCP</p>{body}</main></body></html>'
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=_PAGE_HEADERS)


def _error_page(message: str, status: int = 400) -> web.Response:
    return _page(
        "Sign-in refused",
        f'<h1>Sign-in refused</h1><p class="error" role="alert">{escape(message)}</p>'
        '<p class="hint">Nothing was sent back to the application. Start again from your '
        "MCP client.</p>",
        status,
    )


def _dashboard_credential(request: web.Request) -> str:
    """The credential this browser is signed in to the dashboard with, or ""."""
    # Imported here: the dashboard package imports the middleware, which imports this module.
    from twinmcp.gateway.dashboard.sessions import COOKIE  # noqa: PLC0415
    from twinmcp.gateway.dashboard.views import DASHBOARD  # noqa: PLC0415

    dashboard = request.app.get(DASHBOARD)
    if dashboard is None:
        return ""
    session = dashboard.codec.open(request.cookies.get(COOKIE, ""))
    return session.credential if session is not None else ""


def _sign_in_choices(is_signed_in: bool, is_github: bool) -> str:
    if is_signed_in:
        return (
            '<p class="notice">This browser is signed in to the TwinMCP dashboard: Allow uses '
            "that account. Paste a key below only to use another one.</p>"
        )
    if is_github:
        return '<p class="hint">No key at hand? Use "Allow with GitHub" below.</p>'
    return ""


def _consent_page(
    request_id: str,
    csrf: str,
    client_name: str,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    error: str = "",
    choices: str = "",
    is_github: bool = False,
) -> web.Response:
    who = escape(client_name or "An MCP client")
    github_button = (
        '<button type="submit" name="decision" value="github">Allow with GitHub</button> '
        if is_github
        else ""
    )
    alert = f'<p class="error" role="alert" id="consent-error">{escape(error)}</p>' if error else ""
    body = (
        f"<h1>Allow {who} to use TwinMCP?</h1>{alert}"
        '<div class="card">'
        f"<p><strong>{who}</strong> (client <code>{escape(client_id)}</code>) asks to read "
        "library documentation on your behalf, counted against your account's limits.</p>"
        f'<p class="hint">Scopes: {escape(" ".join(scopes))}. You will be sent back to '
        f"<code>{escape(redirect_uri)}</code>.</p></div>"
        f"{choices}"
        '<form method="post" action="/oauth/authorize" class="card">'
        f'<input type="hidden" name="request_id" value="{escape(request_id)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<label for="api_key">Your TwinMCP API key</label>'
        '<input id="api_key" name="api_key" type="password" autocomplete="current-password" '
        'spellcheck="false">'
        '<p class="hint">The key is checked once and never given to the application; it gets '
        "its own token, which you can revoke (GET/DELETE /api/v1/account/grants).</p>"
        '<button type="submit" name="decision" value="approve">Allow</button> '
        f"{github_button}"
        '<button type="submit" name="decision" value="deny">Deny</button>'
        "</form>"
    )
    return _page("Allow access", body)


@routes.get("/oauth/authorize")
async def authorize(request: web.Request) -> web.StreamResponse:
    settings = _require_server(request)
    for name in _AUTHORIZE_PARAMS:
        if len(request.query.getall(name, [])) > 1:
            return _error_page(f"The request repeats the parameter {name!r} (RFC 6749 3.1).")
    values = {name: request.query.get(name, "") for name in _AUTHORIZE_PARAMS}
    refusal = await _over_limit(request)
    if refusal:
        return _error_page(refusal, 429)
    if any(len(value) > 4000 for value in values.values()):
        return _error_page("A parameter of the request is too long.")
    start = await request.app[GATEWAY].peers.auth.start_authorization(
        auth_pb2.StartAuthorizationRequest(
            **values, served_resource=resource_url(settings), issuer=settings.api_base_url
        )
    )
    if start.error:
        if start.error_redirect_url:
            raise web.HTTPFound(start.error_redirect_url)
        # The client or its redirect URI is not trusted: never redirect (no open redirector).
        return _error_page(start.error_description)
    csrf = secrets.token_urlsafe(24)
    response = _consent_page(
        start.request_id,
        csrf,
        start.client_name,
        start.client_id,
        start.redirect_uri,
        list(start.scopes),
        choices=_sign_in_choices(bool(_dashboard_credential(request)), settings.is_github_sign_in),
        is_github=settings.is_github_sign_in,
    )
    _set_csrf(response, settings, csrf)
    return response


def _set_csrf(response: web.Response, settings: Settings, csrf: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        path="/oauth/authorize",
        httponly=True,
        samesite="Strict",
        secure=settings.api_base_url.startswith("https://"),
        max_age=600,
    )


async def _form(request: web.Request) -> dict[str, str]:
    if (request.content_length or 0) > _MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(_MAX_FORM_BYTES, request.content_length or 0)
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPBadRequest(
            text="send the form as application/x-www-form-urlencoded", content_type="text/plain"
        )
    seconds = request.app[GATEWAY].settings.http_body_seconds
    try:
        async with asyncio.timeout(seconds):
            posted = await request.post()
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"the form did not arrive within {seconds:g} seconds", content_type="text/plain"
        ) from None
    return {key: value for key, value in posted.items() if isinstance(value, str)}


@routes.post("/oauth/authorize")
async def authorize_decision(request: web.Request) -> web.StreamResponse:
    settings = _require_server(request)
    form = await _form(request)
    refusal = await _over_limit(request)
    if refusal:
        return _error_page(refusal, 429)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    posted = form.get("csrf", "")
    if not cookie or not posted or not hmac.compare_digest(cookie.encode(), posted.encode()):
        return _error_page(
            "This form did not come from the page TwinMCP showed you (its CSRF token does not "
            "match), so it was refused.",
            403,
        )
    auth = request.app[GATEWAY].peers.auth
    if form.get("decision") == "github" and settings.is_github_sign_in:
        # Consent given by this (CSRF-checked) click; GitHub only says who the user is.
        return await _start_github(request, settings, form.get("request_id", ""))
    try:
        done = await auth.complete_authorization(
            auth_pb2.CompleteAuthorizationRequest(
                request_id=form.get("request_id", ""),
                credential=form.get("api_key", "").strip() or _dashboard_credential(request),
                is_approved=form.get("decision") == "approve",
                issuer=settings.api_base_url,
            )
        )
    except NotFound as error:
        return _error_page(error.message, 400)
    if done.error_description:
        csrf = secrets.token_urlsafe(24)
        response = _consent_page(
            form.get("request_id", ""),
            csrf,
            done.client_name,
            done.client_id,
            done.redirect_uri,
            list(done.scopes),
            error=done.error_description,
            choices=_sign_in_choices(False, settings.is_github_sign_in),
            is_github=settings.is_github_sign_in,
        )
        response.set_status(401)
        _set_csrf(response, settings, csrf)
        return response
    # 303: the browser follows with a GET, never re-posting the form to the client.
    raise web.HTTPSeeOther(done.redirect_url)


async def _start_github(
    request: web.Request, settings: Settings, request_id: str
) -> web.StreamResponse:
    start = await request.app[GATEWAY].peers.auth.start_sign_in(
        f"{settings.api_base_url}{GITHUB_CALLBACK}"
    )
    response = web.Response(status=303, headers={"Location": start.authorize_url})
    response.set_cookie(
        GITHUB_COOKIE,
        f"{request_id}.{start.state}",
        path=GITHUB_CALLBACK,
        httponly=True,
        # Lax: the cookie must come back on GitHub's top-level redirect to the callback.
        samesite="Lax",
        secure=settings.api_base_url.startswith("https://"),
        max_age=600,
    )
    return response


@routes.get(GITHUB_CALLBACK)
async def github_callback(request: web.Request) -> web.StreamResponse:
    """GitHub's answer to "Allow with GitHub": the user it names approves the pending request."""
    settings = _require_server(request)
    request_id, _, expected = request.cookies.get(GITHUB_COOKIE, "").partition(".")
    state = request.query.get("state", "")
    if not (request_id and expected and state) or not hmac.compare_digest(
        expected.encode(), state.encode()
    ):
        return _error_page(
            "This GitHub sign-in was not started from this browser's consent page; start "
            "again from your MCP client.",
            403,
        )
    auth = request.app[GATEWAY].peers.auth
    code = request.query.get("code", "")
    try:
        if code:
            signed_in = await auth.complete_sign_in(code, state)
            done = await auth.complete_authorization(
                auth_pb2.CompleteAuthorizationRequest(
                    request_id=request_id,
                    credential=signed_in.tokens.access_token,
                    is_approved=True,
                    issuer=settings.api_base_url,
                )
            )
        else:  # the user declined at GitHub
            done = await auth.complete_authorization(
                auth_pb2.CompleteAuthorizationRequest(
                    request_id=request_id, is_approved=False, issuer=settings.api_base_url
                )
            )
    except (NotFound, InvalidArgument, Unauthenticated) as error:
        return _error_page(error.message, 400)
    if done.error_description:
        return _error_page(done.error_description, 401)
    response = web.Response(status=303, headers={"Location": done.redirect_url})
    response.del_cookie(GITHUB_COOKIE, path=GITHUB_CALLBACK)
    return response


# -- token, registration, revocation -----------------------------------------------------------


@routes.post("/oauth/token")
async def token(request: web.Request) -> web.Response:
    _require_server(request)
    try:
        form = await _form(request)
    except web.HTTPBadRequest as error:
        return _oauth_error("invalid_request", error.text or "bad form")
    answer = await request.app[GATEWAY].peers.auth.exchange_oauth_token(
        auth_pb2.ExchangeOAuthTokenRequest(
            grant_type=form.get("grant_type", ""),
            code=form.get("code", ""),
            redirect_uri=form.get("redirect_uri", ""),
            client_id=form.get("client_id", ""),
            code_verifier=form.get("code_verifier", ""),
            refresh_token=form.get("refresh_token", ""),
            resource=form.get("resource", ""),
            scope=form.get("scope", ""),
        )
    )
    if answer.error:
        status = 401 if answer.error == "invalid_client" else 400
        return _oauth_error(answer.error, answer.error_description, status)
    body = {
        "access_token": answer.access_token,
        "token_type": answer.token_type,
        "expires_in": answer.expires_in,
        "refresh_token": answer.refresh_token,
        "scope": answer.scope,
    }
    return _json(body, headers=_NO_STORE)


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of strings")
    return value


@routes.post("/oauth/register")
async def register(request: web.Request) -> web.Response:
    """RFC 7591 dynamic registration of a public client."""
    _require_server(request)
    if (request.content_length or 0) > _MAX_FORM_BYTES:
        return _oauth_error("invalid_client_metadata", "the registration is too large")
    refusal = await _over_limit(request)
    if refusal:
        return _oauth_error("rate_limited", refusal, 429)
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        name = body.get("client_name", "")
        method = body.get("token_endpoint_auth_method", "")
        if not isinstance(name, str) or not isinstance(method, str):
            raise ValueError("client_name and token_endpoint_auth_method must be strings")
        registration = auth_pb2.RegisterOAuthClientRequest(
            client_name=name,
            redirect_uris=_strings(body, "redirect_uris"),
            grant_types=_strings(body, "grant_types"),
            response_types=_strings(body, "response_types"),
            token_endpoint_auth_method=method,
        )
    except ValueError as error:
        return _oauth_error("invalid_client_metadata", str(error))
    except RecursionError:  # json recurses once per level of a body nested thousands deep
        return _oauth_error(
            "invalid_client_metadata", "the registration nests too deeply; send a flat JSON object"
        )
    answer = await request.app[GATEWAY].peers.auth.register_oauth_client(registration)
    if answer.error:
        return _oauth_error(answer.error, answer.error_description)
    return _json(
        {
            "client_id": answer.client_id,
            "client_id_issued_at": answer.client_id_issued_at,
            "client_name": answer.client_name,
            "redirect_uris": list(answer.redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
        201,
        _NO_STORE,
    )


@routes.post("/oauth/revoke")
async def revoke(request: web.Request) -> web.Response:
    """RFC 7009: 200 whether or not the token was known (so it cannot be probed)."""
    _require_server(request)
    try:
        form = await _form(request)
    except web.HTTPBadRequest as error:
        return _oauth_error("invalid_request", error.text or "bad form")
    if not form.get("token"):
        return _oauth_error("invalid_request", "token is required")
    await request.app[GATEWAY].peers.auth.revoke_oauth_token(
        auth_pb2.RevokeOAuthTokenRequest(token=form["token"], client_id=form.get("client_id", ""))
    )
    return web.Response(status=200, headers=_NO_STORE)


# -- the signed-in user's grants ---------------------------------------------------------------


def _grant_json(grant: auth_pb2.OAuthGrant) -> dict[str, Any]:
    return {
        "grantId": grant.grant_id,
        "clientId": grant.client_id,
        "clientName": grant.client_name,
        "scopes": list(grant.scopes),
        "resource": grant.resource,
        "createdAt": grant.created_at.ToJsonString(),
        "isRevoked": grant.is_revoked,
    }


def _user(request: web.Request) -> str:
    principal = request[PRINCIPAL]
    if principal.is_anonymous or not principal.user_id:
        raise web.HTTPUnauthorized(
            text="send your API key as 'Authorization: Bearer <key>'", content_type="text/plain"
        )
    return principal.user_id


def _caller(request: web.Request) -> str:
    return credential_from(request.headers)


@routes.get("/api/v1/account/grants")
async def list_grants(request: web.Request) -> web.Response:
    """The applications the caller let sign in (one grant per consent), newest last."""
    reply = await request.app[GATEWAY].peers.auth.list_oauth_grants(
        auth_pb2.ListOAuthGrantsRequest(
            user_id=_user(request),
            caller_credential=_caller(request),
            client_id=request.query.get("clientId", "")[:2000],
        )
    )
    return _json({"grants": [_grant_json(grant) for grant in reply.grants]})


@routes.delete("/api/v1/account/grants/{grant_id}")
async def revoke_grant(request: web.Request) -> web.Response:
    """Signs an application out: its access and refresh tokens stop working."""
    reply = await request.app[GATEWAY].peers.auth.revoke_oauth_grant(
        auth_pb2.RevokeOAuthGrantRequest(
            user_id=_user(request),
            grant_id=request.match_info["grant_id"][:100],
            caller_credential=_caller(request),
        )
    )
    return _json({"grant": _grant_json(reply.grant)})
