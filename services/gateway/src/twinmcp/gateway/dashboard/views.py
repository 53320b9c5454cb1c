"""The dashboard's pages and forms: sign-in, keys and usage, libraries, jobs and sources, users."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from aiohttp import web
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway.access import client_address, credential_problem
from twinmcp.gateway.arguments import check_text
from twinmcp.gateway.dashboard.charts import client_configs, usage_chart
from twinmcp.gateway.dashboard.sessions import COOKIE, MAX_AGE_SECONDS, Session, SessionCodec
from twinmcp.gateway.errors import InputError, PeerError, Unauthenticated
from twinmcp.gateway.hosts import host_of_url
from twinmcp.gateway.rendering import is_documented, package_labels
from twinmcp.gateway.rest_registry import (
    ACCEPTED_FILES,
    MAX_PROJECT_FILES,
    project_files,
    project_name,
    register_project_files,
)
from twinmcp.gateway.schemas import Project
from twinmcp.gateway.state import GATEWAY
from twinmcp.ingest.v1 import ingest_pb2
from twinmcp.search.v1 import search_pb2
from twinmcp.tokens import count_tokens

routes = web.RouteTableDef()

PREFIX = "/dashboard"
SIGN_IN = f"{PREFIX}/sign-in"
# GitHub accepts a redirect_uri below the OAuth app's registered callback, which the REST
# sign-in already uses: the dashboard's callback is a sub-path of it.
GITHUB_CALLBACK = "/auth/github/callback/dashboard"
USAGE_DAYS = 14
_LIBRARY_PAGES = 20  # of 100: the list shows at most 2,000 libraries
_JOBS_SHOWN = 50
_USERS_PAGE = 100
_ACTIVE_JOBS = (ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING)
_SCOPES = ("read", "admin")
# What the add-source form offers: every kind ingest accepts (ingest.sources.SourceKind), with
# an example; registry kinds are written "pypi:<name>" / "npm:<name>" on the wire.
SOURCE_KINDS = (
    ("local", "Local folder", "/srv/docs/my-lib"),
    ("archive", "Local archive (.zip, .tar.gz)", "/srv/docs/my-lib-1.2.tar.gz"),
    ("github", "GitHub repository", "https://github.com/owner/repo/tree/main"),
    ("git", "Git URL", "https://git.example.com/owner/repo.git"),
    ("website", "Website (crawled)", "https://docs.example.com/"),
    ("llmstxt", "llms.txt", "https://example.com/llms.txt"),
    ("pypi", "PyPI package", "requests==2.32.3"),
    ("npm", "npm package", "hono@4"),
)
_REGISTRY_KINDS = ("pypi", "npm")
_MAX_PROJECT_INGESTS = 500  # a large lockfile's packages, not a bulk import


@dataclass
class Dashboard:
    codec: SessionCodec
    templates: jinja2.Environment


DASHBOARD = web.AppKey("dashboard", Dashboard)


@dataclass
class Visit:
    """One request's view of its browser session."""

    session: Session
    principal: auth_pb2.Principal | None = None
    form: Mapping[str, str] = field(default_factory=dict)
    scopes_asked: list[str] = field(default_factory=list)
    is_dirty: bool = False  # the cookie must be sent again
    notice: str = ""

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and "admin" in self.principal.scopes


Page = Callable[[web.Request, Visit], Awaitable[web.StreamResponse]]


# -- sessions and rendering --------------------------------------------------------------------


def _address(request: web.Request) -> str:
    settings = request.app[GATEWAY].settings
    return client_address(
        request.remote, request.headers.get("X-Forwarded-For"), settings.trusted_proxies
    )


def _is_https(request: web.Request) -> bool:
    return request.secure or request.app[GATEWAY].settings.api_base_url.startswith("https://")


async def _open_visit(request: web.Request, *, is_fresh: bool = False) -> Visit:
    """The browser's session and, when it is signed in, who it is (asked of auth, cached;
    `is_fresh` asks auth anew, for admin pages, as the admin API does)."""
    session = request.app[DASHBOARD].codec.open(request.cookies.get(COOKIE, ""))
    if session is None:
        return Visit(Session(), is_dirty=True)
    if not session.is_signed_in:
        return Visit(session)
    access = request.app[GATEWAY].access
    try:
        principal = await access.principal(session.credential, _address(request), is_fresh=is_fresh)
    except Unauthenticated:
        if not session.refresh_token:
            return _ended()
        try:
            tokens = (
                await request.app[GATEWAY].peers.auth.refresh_session(session.refresh_token)
            ).tokens
            session = session.refreshed(tokens.access_token, tokens.refresh_token)
            principal = await access.principal(session.credential, _address(request))
        except Unauthenticated:
            return _ended()
        return Visit(session, principal, is_dirty=True)
    if principal.is_anonymous or not principal.user_id:
        return _ended()
    return Visit(session, principal)


def _ended() -> Visit:
    return Visit(
        Session(),
        is_dirty=True,
        notice="Your session ended: the key was revoked or the sign-in expired. Sign in again.",
    )


def _keep(request: web.Request, visit: Visit, response: web.StreamResponse) -> None:
    if visit.is_dirty:
        response.set_cookie(
            COOKIE,
            request.app[DASHBOARD].codec.seal(visit.session),
            max_age=MAX_AGE_SECONDS,
            path="/",
            httponly=True,
            secure=_is_https(request),
            samesite="Lax",
        )


def render(
    request: web.Request, visit: Visit, template: str, status: int = 200, **context: Any
) -> web.Response:
    settings = request.app[GATEWAY].settings
    html = (
        request.app[DASHBOARD]
        .templates.get_template(template)
        .render(
            visit=visit,
            csrf=visit.session.csrf,
            principal=visit.principal,
            is_admin=visit.is_admin,
            is_github_sign_in=settings.is_github_sign_in,
            path=request.path,
            **context,
        )
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    _keep(request, visit, response)
    return response


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    """An error as a page, for requests the dashboard's own handlers did not answer."""
    html = (
        request.app[DASHBOARD]
        .templates.get_template("error.html")
        .render(
            visit=Visit(Session()),
            csrf="",
            principal=None,
            is_admin=False,
            is_github_sign_in=False,
            path=request.path,
            title=title,
            message=message,
        )
    )
    return web.Response(text=html, content_type="text/html", status=status)


async def _read_form(request: web.Request) -> tuple[dict[str, str], list[str]]:
    seconds = request.app[GATEWAY].settings.http_body_seconds
    try:
        async with asyncio.timeout(seconds):
            posted = await request.post()
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"the form did not arrive within {seconds:g} seconds; send it again",
            content_type="text/plain",
        ) from None
    values = {name: value for name, value in posted.items() if isinstance(value, str)}
    scopes = [value for value in posted.getall("scopes", []) if isinstance(value, str)]
    return values, scopes


def _next_path(raw: str) -> str:
    """Where to go after sign-in: only a dashboard path of this site (no open redirect)."""
    if not raw.startswith(PREFIX) or "\\" in raw or not all("!" <= char <= "~" for char in raw):
        return PREFIX  # control characters would split the Location header
    parts = urlsplit(raw)
    return PREFIX if parts.scheme or parts.netloc else raw


def page(*, is_admin: bool = False, is_form: bool = False) -> Callable[[Page], Any]:
    """A dashboard handler for signed-in visitors: others go to sign-in; forms need the CSRF
    token of this browser's session; admin pages need a credential with the admin scope."""

    def wrap(handler: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def run(request: web.Request) -> web.StreamResponse:
            visit = await _open_visit(request, is_fresh=is_admin)
            if visit.principal is None:
                query = {"ended": "1"} if visit.notice else {}
                if request.method == "GET":
                    query["next"] = request.path_qs
                redirect = web.HTTPSeeOther(f"{SIGN_IN}?{urlencode(query)}" if query else SIGN_IN)
                if visit.notice:
                    redirect.del_cookie(COOKIE, path="/")
                raise redirect
            if is_form:
                visit.form, visit.scopes_asked = await _read_form(request)
                if not visit.session.is_valid_csrf(visit.form.get("csrf", "")):
                    return render(
                        request,
                        visit,
                        "error.html",
                        status=403,
                        title="Form refused",
                        message="This form was not sent from this dashboard session (its "
                        "security token is missing or stale). Go back, reload the page and "
                        "send it again.",
                    )
            if is_admin and not visit.is_admin:
                return render(
                    request,
                    visit,
                    "error.html",
                    status=403,
                    title="Administrators only",
                    message="This page needs a credential with the 'admin' scope. Sign in "
                    "with an admin user's key that has it.",
                )
            response = await handler(request, visit)
            _keep(request, visit, response)
            return response

        run.__name__ = handler.__name__
        return run

    return wrap


def _text(visit: Visit, name: str, *, required: str = "") -> str:
    """A form field checked like the REST API's (arguments.LIMITS); `required` says what to
    write when it is empty."""
    value = check_text(name, visit.form.get(name, "")).strip()
    if required and not value:
        raise InputError(f"'{name}' is required: {required}")
    return value


def _whole(visit: Visit, name: str, maximum: int) -> int:
    raw = visit.form.get(name, "").strip() or "0"
    if not (raw.isdecimal() and len(raw) <= 9) or int(raw) > maximum:
        raise InputError(f"'{name}' must be a whole number from 0 to {maximum} (0: the default)")
    return int(raw)


# -- sign-in -----------------------------------------------------------------------------------


@routes.get(SIGN_IN)
async def sign_in_form(request: web.Request) -> web.StreamResponse:
    visit = await _open_visit(request)
    if visit.principal is not None:
        raise web.HTTPSeeOther(_next_path(request.query.get("next", "")))
    if request.query.get("ended") == "1":
        visit.notice = _ended().notice
    return render(
        request, visit, "sign_in.html", next=_next_path(request.query.get("next", "")), error=""
    )


@routes.post(SIGN_IN)
async def sign_in(request: web.Request) -> web.StreamResponse:
    visit = await _open_visit(request)
    visit.form, _ = await _read_form(request)
    target = _next_path(visit.form.get("next", ""))

    def again(status: int, error: str) -> web.Response:
        return render(request, visit, "sign_in.html", status=status, next=target, error=error)

    if not visit.session.is_valid_csrf(visit.form.get("csrf", "")):
        visit.session, visit.is_dirty = Session(), True
        return again(403, "The sign-in form had expired. It has been renewed: send it again.")
    key = visit.form.get("api_key", "").strip()
    problem = credential_problem(key) if key else "Paste an API key."
    if problem is not None:
        return again(400, problem)
    gateway = request.app[GATEWAY]
    # Guessing keys costs the guesser's address its anonymous rate limit.
    anonymous = await gateway.access.principal("", _address(request))
    budget = await gateway.access.charge(anonymous)
    if not budget.is_allowed:
        return again(
            429, f"Too many attempts; retry in {max(budget.retry_after_seconds, 1)} seconds."
        )
    try:
        principal = await gateway.access.principal(key, _address(request))
    except Unauthenticated:
        return again(401, "That key is not valid or has been revoked. Check it and try again.")
    if principal.is_anonymous or not principal.user_id:
        return again(
            403, "That key belongs to no user (a service key). Sign in with a user's API key."
        )
    visit.session, visit.is_dirty = visit.session.signed_in(key), True
    response = web.HTTPSeeOther(target)
    _keep(request, visit, response)
    raise response


@routes.get(f"{SIGN_IN}/github")
async def github_sign_in(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    if not gateway.settings.is_github_sign_in:
        return error_page(
            request,
            404,
            "GitHub sign-in is off",
            "This server has no GitHub OAuth app configured (OAUTH_CLIENT_ID). Sign in with "
            "an API key instead.",
        )
    visit = await _open_visit(request)
    reply = await gateway.peers.auth.start_sign_in(
        f"{gateway.settings.api_base_url}{GITHUB_CALLBACK}"
    )
    visit.session, visit.is_dirty = visit.session.with_oauth_state(reply.state), True
    response = web.HTTPFound(reply.authorize_url)
    _keep(request, visit, response)
    raise response


@routes.get(GITHUB_CALLBACK)
async def github_callback(request: web.Request) -> web.StreamResponse:
    visit = await _open_visit(request)
    state = request.query.get("state", "")
    code = request.query.get("code", "")
    expected = visit.session.oauth_state
    if not (code and state and expected) or not Session(csrf=expected).is_valid_csrf(state):
        return error_page(
            request,
            400,
            "Sign-in not recognised",
            "This GitHub sign-in was not started from this browser, or it was started twice. "
            "Start it again from the sign-in page.",
        )
    reply = await request.app[GATEWAY].peers.auth.complete_sign_in(
        check_text("code", code), check_text("state", state)
    )
    visit.session = visit.session.signed_in(reply.tokens.access_token, reply.tokens.refresh_token)
    visit.is_dirty = True
    response = web.HTTPSeeOther(PREFIX)
    _keep(request, visit, response)
    raise response


@routes.post(f"{PREFIX}/sign-out")
@page(is_form=True)
async def sign_out(request: web.Request, visit: Visit) -> web.StreamResponse:
    response = web.HTTPSeeOther(SIGN_IN)
    response.del_cookie(COOKIE, path="/")
    raise response


# -- account: keys, usage, client configuration ------------------------------------------------


def _mcp_url(request: web.Request) -> str:
    base = request.app[GATEWAY].settings.api_base_url
    if host_of_url(base) == (request.url.host or "").lower():
        return f"{base}/mcp"
    return f"{request.url.origin()}/mcp"


async def _account(
    request: web.Request,
    visit: Visit,
    *,
    status: int = 200,
    created: auth_pb2.CreateApiKeyResponse | None = None,
    error: str = "",
) -> web.Response:
    assert visit.principal is not None
    principal = visit.principal
    auth = request.app[GATEWAY].peers.auth
    shown_key = check_text("keyId", request.query.get("key", ""))
    # Three independent questions to auth, asked together. Usage is filtered by this user, so
    # a key id of someone else's shows nothing. The limits are the answer of a rate-limit
    # check: looking at them counts as one request, as GET /api/v1/account/usage does.
    listed, usage, limits = await asyncio.gather(
        auth.list_api_keys(principal.user_id, caller_credential=visit.session.credential),
        auth.get_usage(principal.user_id, shown_key, USAGE_DAYS),
        auth.check_rate_limit(principal.rate_limit_subject, principal.tier),
    )
    keys = listed.keys
    names = {key.key_id: key.name for key in keys}
    per_key: dict[str, int] = {}
    for day in usage.days:
        per_key[day.key_id] = per_key.get(day.key_id, 0) + int(day.requests)
    today = dt.datetime.now(dt.UTC).date()
    return render(
        request,
        visit,
        "account.html",
        status=status,
        keys=sorted(keys, key=lambda key: (key.is_revoked, -key.created_at.seconds)),
        shown_key=shown_key,
        chart=usage_chart(usage.days, today, USAGE_DAYS, limits.day_limit),
        per_key=sorted(
            ((names.get(key_id, "(no key)"), key_id, count) for key_id, count in per_key.items()),
            key=lambda row: -row[2],
        ),
        limits=limits,
        tier=auth_pb2.Tier.Name(principal.tier).removeprefix("TIER_").lower(),
        created=created,
        configs=client_configs(
            _mcp_url(request), created.secret if created is not None else "YOUR_API_KEY"
        ),
        scopes=_SCOPES,
        error=error,
        revoked=request.query.get("revoked", "")[:64],
    )


@routes.get(PREFIX)
@page()
async def account(request: web.Request, visit: Visit) -> web.StreamResponse:
    return await _account(request, visit)


@routes.post(f"{PREFIX}/keys")
@page(is_form=True)
async def create_key(request: web.Request, visit: Visit) -> web.StreamResponse:
    assert visit.principal is not None
    try:
        name = _text(visit, "name", required="give the key a name, e.g. 'laptop'")
        created = await request.app[GATEWAY].peers.auth.create_api_key(
            visit.principal.user_id,
            name,
            visit.scopes_asked or ["read"],
            caller_credential=visit.session.credential,
        )
    except InputError as error:
        return await _account(request, visit, status=400, error=str(error))
    except PeerError as error:
        # Auth's word: e.g. PERMISSION_DENIED for scopes beyond the signed-in credential's.
        return await _account(request, visit, status=error.status, error=error.message)
    response = await _account(request, visit, created=created)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post(f"{PREFIX}/keys/{{key_id}}/revoke")
@page(is_form=True)
async def revoke_key(request: web.Request, visit: Visit) -> web.StreamResponse:
    assert visit.principal is not None
    gateway = request.app[GATEWAY]
    key_id = check_text("keyId", request.match_info["key_id"])
    try:
        reply = await gateway.peers.auth.revoke_api_key(
            visit.principal.user_id, key_id, caller_credential=visit.session.credential
        )
    except PeerError as error:
        return await _account(request, visit, status=error.status, error=error.message)
    gateway.access.forget_key(reply.key.key_id)
    if reply.key.key_id == visit.principal.key_id:
        # The key this browser signed in with: its session ends with it.
        response = web.HTTPSeeOther(SIGN_IN)
        response.del_cookie(COOKIE, path="/")
        raise response
    raise web.HTTPSeeOther(f"{PREFIX}?revoked={quote(reply.key.key_id)}")


# -- libraries ---------------------------------------------------------------------------------


def _matches(library: search_pb2.Library, words: list[str]) -> bool:
    haystack = " ".join(
        [library.library_id, library.title, *library.package_names, *library.aliases]
    ).casefold()
    return all(word in haystack for word in words)


def library_row(library: search_pb2.Library) -> dict[str, Any]:
    return {
        "id": library.library_id,
        "title": library.title or library.library_id,
        "versions": [v.version for v in library.versions],
        "snippets": library.snippet_count,
        "tokens": library.token_count,
        "source": library.source_url
        or search_pb2.SourceType.Name(library.source_type).removeprefix("SOURCE_TYPE_").lower(),
        "updated": library.updated_at,
        "state": "documented" if is_documented(library) else "catalog only",
        "packages": package_labels(library),
    }


@routes.get(f"{PREFIX}/libraries")
@page()
async def libraries(request: web.Request, visit: Visit) -> web.StreamResponse:
    search = request.app[GATEWAY].peers.search
    query = check_text("query", request.query.get("q", "")).strip()
    found: list[search_pb2.Library] = []
    token = ""
    for _ in range(_LIBRARY_PAGES):
        reply = await search.list_libraries(100, token)
        found.extend(reply.libraries)
        token = reply.next_page_token
        if not token:
            break
    words = query.casefold().split()
    rows = [library_row(lib) for lib in found if _matches(lib, words)]
    return render(
        request, visit, "libraries.html", rows=rows, query=query, is_truncated=bool(token)
    )


@dataclass(frozen=True)
class PlaygroundAnswer:
    text: str
    is_error: bool
    tokens: int  # of the text the agent receives
    budget: int
    version: str
    snippets: int
    milliseconds: float


async def _playground(request: web.Request, library_id: str) -> PlaygroundAnswer:
    """What the MCP tool `query-docs` answers, by calling it as an agent would."""
    gateway = request.app[GATEWAY]
    query = check_text("query", request.query.get("query", "")).strip()
    version = check_text("version", request.query.get("version", "")).strip()
    budget = gateway.tools.tokens.budget(request.query.get("tokens", "").strip() or None)
    asked = f"{library_id}/{version}" if version else library_id
    started = time.perf_counter()
    result = await gateway.tools.call(
        "query-docs", {"libraryId": asked, "query": query, "tokens": budget}
    )
    milliseconds = (time.perf_counter() - started) * 1000
    served, snippets = "", 0
    if not result.is_error:
        # The same lookup the tool made (kept at the edge when answers are kept): which
        # version search served and how many snippets it chose.
        lookup = await gateway.tools.docs.query_docs(asked, query, budget)
        if isinstance(lookup, search_pb2.QueryDocsResponse):
            served, snippets = lookup.version, len(lookup.snippets)
    return PlaygroundAnswer(
        result.text,
        result.is_error,
        count_tokens(result.text),
        budget,
        served,
        snippets,
        milliseconds,
    )


@routes.get(f"{PREFIX}/libraries/{{library_id:.+}}")
@page()
async def library(request: web.Request, visit: Visit) -> web.StreamResponse:
    assert visit.principal is not None
    gateway = request.app[GATEWAY]
    library_id = check_text("libraryId", "/" + request.match_info["library_id"].strip("/"))
    found = (await gateway.peers.search.get_library(library_id)).library
    answer: PlaygroundAnswer | None = None
    error, status = "", 200
    if request.query.get("query", "").strip():
        # A playground query is a documentation request: it counts against the rate limit.
        budget = await gateway.access.charge(visit.principal)
        if not budget.is_allowed:
            error, status = (
                f"Rate limit of {budget.limit} requests per minute reached; retry in "
                f"{max(budget.retry_after_seconds, 1)} seconds.",
                429,
            )
        else:
            try:
                answer = await _playground(request, found.library_id)
            except InputError as problem:  # the query, version or tokens asked
                error, status = str(problem), 400
    return render(
        request,
        visit,
        "library.html",
        status=status,
        library=found,
        row=library_row(found),
        answer=answer,
        error=error,
        form={k: request.query.get(k, "") for k in ("query", "version", "tokens")},
    )


# -- admin: sources and jobs -------------------------------------------------------------------


def job_row(job: ingest_pb2.Job) -> dict[str, Any]:
    progress = job.progress
    return {
        "id": job.job_id,
        "library": job.library_id,
        "version": job.version,
        "source": job.source,
        "state": ingest_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower(),
        "is_active": job.state in _ACTIVE_JOBS,
        "phase": progress.phase,
        "done": progress.files_done,
        "total": progress.files_total,
        "snippets": progress.snippets,
        "error": job.error,
        "created": job.created_at,
        "finished": job.finished_at,
    }


async def _jobs(
    request: web.Request, visit: Visit, *, status: int = 200, error: str = ""
) -> web.Response:
    reply = await request.app[GATEWAY].peers.ingest.list_jobs("", [], _JOBS_SHOWN)
    rows = [job_row(job) for job in reply.jobs]
    return render(
        request,
        visit,
        "jobs.html",
        status=status,
        rows=rows,
        is_live=any(row["is_active"] for row in rows),
        error=error,
        submitted=request.query.get("submitted", "")[:64],
        ingested=request.query.get("ingested", "")[:6],
    )


def _source_form(
    request: web.Request,
    visit: Visit,
    *,
    status: int = 200,
    error: str = "",
    form: Mapping[str, str] | None = None,
) -> web.Response:
    # Its own page: the jobs page reloads itself while jobs run, which would lose typing.
    return render(
        request,
        visit,
        "source.html",
        status=status,
        kinds=SOURCE_KINDS,
        error=error,
        form=dict(form or {}),
    )


@routes.get(f"{PREFIX}/jobs")
@page(is_admin=True)
async def jobs(request: web.Request, visit: Visit) -> web.StreamResponse:
    return await _jobs(request, visit)


@routes.get(f"{PREFIX}/sources")
@page(is_admin=True)
async def source_form(request: web.Request, visit: Visit) -> web.StreamResponse:
    return _source_form(request, visit)


@routes.post(f"{PREFIX}/sources")
@page(is_admin=True, is_form=True)
async def add_source(request: web.Request, visit: Visit) -> web.StreamResponse:
    try:
        kind = visit.form.get("kind", "")
        if kind not in {name for name, _, _ in SOURCE_KINDS}:
            raise InputError("choose what kind of source this is")
        source = _text(visit, "source", required="give a folder, URL or package name")
        if kind in _REGISTRY_KINDS and not source.startswith(f"{kind}:"):
            source = f"{kind}:{source}"
        submit = ingest_pb2.SubmitSourceRequest(
            source=source,
            library_id=_text(visit, "libraryId"),
            version=_text(visit, "version"),
            ref=_text(visit, "ref"),
            max_pages=_whole(visit, "maxPages", 100_000),
            max_depth=_whole(visit, "maxDepth", 100),
            make_default=visit.form.get("makeDefault") == "on",
        )
        reply = await request.app[GATEWAY].peers.ingest.submit_source(submit)
    except InputError as problem:
        return _source_form(request, visit, status=400, error=str(problem), form=visit.form)
    except PeerError as problem:
        return _source_form(
            request, visit, status=problem.status, error=problem.message, form=visit.form
        )
    raise web.HTTPSeeOther(f"{PREFIX}/jobs?submitted={quote(reply.job.job_id)}")


@routes.post(f"{PREFIX}/jobs/{{job_id}}/cancel")
@page(is_admin=True, is_form=True)
async def cancel_job(request: web.Request, visit: Visit) -> web.StreamResponse:
    try:
        await request.app[GATEWAY].peers.ingest.cancel_job(
            check_text("jobId", request.match_info["job_id"])
        )
    except PeerError as problem:
        return await _jobs(request, visit, status=problem.status, error=problem.message)
    raise web.HTTPSeeOther(f"{PREFIX}/jobs")


@routes.post(f"{PREFIX}/refresh")
@page(is_admin=True, is_form=True)
async def refresh_library(request: web.Request, visit: Visit) -> web.StreamResponse:
    try:
        library_id = _text(visit, "libraryId", required="name the library to refresh")
        reply = await request.app[GATEWAY].peers.ingest.refresh_library(
            library_id, _text(visit, "version")
        )
    except InputError as problem:
        return await _jobs(request, visit, status=400, error=str(problem))
    except PeerError as problem:
        return await _jobs(request, visit, status=problem.status, error=problem.message)
    raise web.HTTPSeeOther(f"{PREFIX}/jobs?submitted={quote(reply.job.job_id)}")


# -- admin: projects ---------------------------------------------------------------------------


def _project_form(
    request: web.Request,
    visit: Visit,
    *,
    status: int = 200,
    error: str = "",
    answer: Project | None = None,
) -> web.Response:
    missing = [p for p in answer.packages if not p.isVersionIndexed] if answer else []
    return render(
        request,
        visit,
        "project.html",
        status=status,
        error=error,
        form=dict(visit.form) if answer is None else {},
        answer=answer,
        missing_sources=[p.ingest.removeprefix("twinmcp ingest ") for p in missing],
        accepted=ACCEPTED_FILES,
        max_files=MAX_PROJECT_FILES,
    )


async def _posted_files(request: web.Request, visit: Visit) -> dict[str, str]:
    """The uploaded files and the pasted one, path to text (the form is already read and
    within the app's body cap, as the REST body is)."""
    posted = await request.post()  # kept by aiohttp since the page wrapper read it
    sent: list[tuple[str, bytes | str]] = []
    for item in posted.getall("files", []):
        if isinstance(item, web.FileField) and item.filename:
            sent.append((item.filename, item.file.read()))
    pasted_path = _text(visit, "pastedPath")
    pasted = visit.form.get("pastedContent", "")
    if pasted.strip():
        if not pasted_path:
            raise InputError(
                "name the pasted file with its path from the project's root, e.g. 'uv.lock'"
            )
        sent.append((pasted_path, pasted))
    if not sent:
        raise InputError(
            "choose the project's manifests and lockfiles to upload, or paste one; "
            f"accepted: {ACCEPTED_FILES}"
        )
    if len(sent) > MAX_PROJECT_FILES:
        raise InputError(f"{len(sent)} files were sent; send at most {MAX_PROJECT_FILES}")
    files: dict[str, str] = {}
    for path, content in sent:
        try:
            text = content.decode("utf-8") if isinstance(content, bytes) else content
            text.encode("utf-8")  # a lone surrogate is not text either
        except UnicodeError:
            raise InputError(f"{path[:100]!r} is not UTF-8 text; send the file as it is") from None
        if path.strip().removeprefix("./") in files:
            raise InputError(f"{path[:100]!r} was sent twice; send each file once")
        files[path.strip().removeprefix("./")] = text
    return project_files(files)


@routes.get(f"{PREFIX}/projects")
@page(is_admin=True)
async def project_form(request: web.Request, visit: Visit) -> web.StreamResponse:
    return _project_form(request, visit)


@routes.post(f"{PREFIX}/projects")
@page(is_admin=True, is_form=True)
async def register_project(request: web.Request, visit: Visit) -> web.StreamResponse:
    """What POST /api/v1/admin/projects does, from uploaded files, answered as a table."""
    try:
        name = project_name(_text(visit, "name"))
        files = await _posted_files(request, visit)
        answer = await register_project_files(
            request.app[GATEWAY].peers.search,
            name,
            files,
            transitive=visit.form.get("transitive") == "on",
        )
    except InputError as problem:
        return _project_form(request, visit, status=400, error=str(problem))
    except RecursionError:
        # The JSON and TOML readers recurse once per nesting level.
        return _project_form(
            request,
            visit,
            status=400,
            error="a file nests its data too deeply to be a manifest or lockfile; send the "
            "project's own files",
        )
    except PeerError as problem:
        return _project_form(request, visit, status=problem.status, error=problem.message)
    return _project_form(request, visit, answer=answer)


@routes.post(f"{PREFIX}/projects/ingest")
@page(is_admin=True, is_form=True)
async def ingest_project(request: web.Request, visit: Visit) -> web.StreamResponse:
    """Submits the locked versions not indexed yet, as `twinmcp sync` does: registry sources,
    each its own job, none made the default version."""
    posted = await request.post()
    sources = [s for s in posted.getall("source", []) if isinstance(s, str)]
    if not sources:
        return await _jobs(request, visit, status=400, error="no package was sent to ingest")
    if len(sources) > _MAX_PROJECT_INGESTS:
        return await _jobs(
            request,
            visit,
            status=400,
            error=f"{len(sources)} packages were sent; send at most {_MAX_PROJECT_INGESTS}",
        )
    ingest = request.app[GATEWAY].peers.ingest
    failures: list[str] = []
    status = 200
    for raw in sources:
        try:
            source = check_text("source", raw).strip()
            if not source.startswith(tuple(f"{kind}:" for kind in _REGISTRY_KINDS)):
                raise InputError(f"{source[:100]!r} is not a registry package (pypi: or npm:)")
            await ingest.submit_source(
                ingest_pb2.SubmitSourceRequest(source=source, make_default=False)
            )
        except InputError as problem:
            failures.append(str(problem))
            status = 400
        except PeerError as problem:
            failures.append(f"{raw[:100]}: {problem.message}")
            status = problem.status
    if failures:
        submitted = len(sources) - len(failures)
        return await _jobs(
            request,
            visit,
            status=status,
            error=f"{submitted} of {len(sources)} submitted; refused: " + "; ".join(failures),
        )
    raise web.HTTPSeeOther(f"{PREFIX}/jobs?ingested={len(sources)}")


# -- admin: users ------------------------------------------------------------------------------


def _user_row(user: auth_pb2.User) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "login": user.login,
        "email": user.email,
        "tier": auth_pb2.Tier.Name(user.tier).removeprefix("TIER_").lower(),
        "is_admin": user.is_admin,
        "created": user.created_at.ToJsonString() if user.created_at.seconds else "",
    }


@routes.get(f"{PREFIX}/users")
@page(is_admin=True)
async def users(request: web.Request, visit: Visit) -> web.StreamResponse:
    auth = request.app[GATEWAY].peers.auth
    wanted = check_text("userId", request.query.get("user", "")).strip()
    after = check_text("after", request.query.get("after", ""))
    if wanted:
        try:
            found = [(await auth.get_user(wanted)).user]
        except PeerError as problem:
            return render(
                request,
                visit,
                "users.html",
                status=problem.status,
                users=[],
                wanted=wanted,
                error=problem.message,
                next_token="",
            )
        next_token = ""
    else:
        # Auth checks the signed-in credential afresh: only the admin scope lists users.
        listed = await auth.list_users(
            _USERS_PAGE, after, caller_credential=visit.session.credential
        )
        found, next_token = list(listed.users), listed.next_page_token
    return render(
        request,
        visit,
        "users.html",
        users=[_user_row(user) for user in found],
        wanted=wanted,
        error="",
        next_token=next_token,
    )
