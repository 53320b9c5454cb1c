"""Fixtures: hand-written fake auth, search and ingest gRPC servers, and the gateway on port 0."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc
import pytest
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    PROTOCOL_VERSION_META_KEY,
)
from mcp_types.version import LATEST_MODERN_VERSION
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.gateway.config import Settings
from twinmcp.gateway.server import RunningGateway, start
from twinmcp.grpcserver import RunningServer, ServerOptions, start_server
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.telemetry import configure_telemetry
from twinmcp.search.crosslib import CrossAnswer, Hit, Searched, render_answer
from twinmcp.search.library import LibraryInfo, LibraryMeta, VersionInfo, version_not_indexed
from twinmcp.search.projects import project_label, project_note
from twinmcp.search.rendering import Header, render_docs
from twinmcp.search.service import error_metadata, search_message, snippet_message
from twinmcp.search.snippets import KIND_CODE, KIND_INFO, SnippetRecord
from twinmcp.search.v1 import search_pb2, search_pb2_grpc
from twinmcp.search.versionrange import best_match, is_partial, is_range
from twinmcp.tokens import count_tokens

MODERN = LATEST_MODERN_VERSION
META = {
    PROTOCOL_VERSION_META_KEY: MODERN,
    CLIENT_CAPABILITIES_META_KEY: {},
    CLIENT_INFO_META_KEY: {"name": "tests", "version": "1"},
}

_provider = configure_telemetry("gateway-tests", {})


# -- auth ---------------------------------------------------------------------------------------


@dataclass
class FakeAuth(auth_pb2_grpc.AuthServiceServicer):
    """Behaves like the auth service per auth.proto, with an in-memory key table."""

    keys: dict[str, auth_pb2.Principal] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    cache_ttl_seconds: int = 1
    limit: int = 100
    is_degraded: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    authenticate_calls: int = 0
    has_batch_checks: bool = True  # False: an auth service from before BatchCheckRateLimits
    batch_sizes: list[int] = field(default_factory=list)
    batch_calls: int = 0
    api_keys: dict[str, auth_pb2.ApiKey] = field(default_factory=dict)
    sign_in_states: set[str] = field(default_factory=set)
    redirect_uris: list[str] = field(default_factory=list)
    usage: list[Any] | None = None  # UsageDay rows GetUsage answers from, when set
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.add_key("read-key", "u1", ["read"], auth_pb2.TIER_FREE)
        self.add_key("admin-key", "u2", ["read", "admin"], auth_pb2.TIER_PREMIUM)
        self.add_key("service-key", "", ["read"], auth_pb2.TIER_FREE)

    def add_key(self, secret: str, user_id: str, scopes: list[str], tier: int) -> str:
        key_id = f"k{next(self._ids)}"
        self.keys[secret] = auth_pb2.Principal(
            user_id=user_id,
            key_id=key_id,
            login=user_id or "service",
            tier=tier,  # type: ignore[arg-type]
            scopes=scopes,
            rate_limit_subject=f"key:{key_id}",
        )
        self.api_keys[key_id] = auth_pb2.ApiKey(
            key_id=key_id, prefix=secret[:4], name=secret, scopes=scopes, user_id=user_id
        )
        return key_id

    async def Authenticate(self, request: Any, context: Any) -> Any:
        self.authenticate_calls += 1
        if not request.credential:
            principal = auth_pb2.Principal(
                tier=auth_pb2.TIER_ANONYMOUS,
                scopes=["read"],
                is_anonymous=True,
                rate_limit_subject=f"ip:{request.client_address}",
            )
            return auth_pb2.AuthenticateResponse(principal=principal, cache_ttl_seconds=60)
        principal = self.keys.get(request.credential)
        if principal is None or principal.key_id in self.revoked:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "API key is invalid or revoked")
        return auth_pb2.AuthenticateResponse(
            principal=principal, cache_ttl_seconds=self.cache_ttl_seconds
        )

    async def BatchCheckRateLimits(self, request: Any, context: Any) -> Any:
        self.batch_calls += 1
        if not self.has_batch_checks:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        self.batch_sizes.append(len(request.checks))
        return auth_pb2.BatchCheckRateLimitsResponse(
            results=[await self.CheckRateLimit(check, context) for check in request.checks]
        )

    async def CheckRateLimit(self, request: Any, context: Any) -> Any:
        used = self.counts.get(request.subject, 0) + max(request.cost, 1)
        self.counts[request.subject] = used
        allowed = used <= self.limit
        return auth_pb2.CheckRateLimitResponse(
            allowed=allowed,
            limit=self.limit,
            remaining=max(self.limit - used, 0),
            reset_seconds=42,
            retry_after_seconds=0 if allowed else 42,
            is_degraded=self.is_degraded,
        )

    async def CreateApiKey(self, request: Any, context: Any) -> Any:
        caller = self.keys.get(request.caller_credential)
        if request.caller_credential and (caller is None or caller.key_id in self.revoked):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "API key is invalid or revoked")
        excess = sorted(set(request.scopes) - set(caller.scopes)) if caller is not None else []
        if excess:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"the calling credential lacks the scopes {', '.join(excess)}; a key never has "
                "more scopes than the credential that creates it",
            )
        secret = f"new-{next(self._ids)}"
        key_id = self.add_key(
            secret, request.user_id, list(request.scopes) or ["read"], auth_pb2.TIER_FREE
        )
        self.api_keys[key_id].name = request.name
        return auth_pb2.CreateApiKeyResponse(key=self.api_keys[key_id], secret=secret)

    async def ListApiKeys(self, request: Any, context: Any) -> Any:
        keys = [k for k in self.api_keys.values() if k.user_id == request.user_id]
        return auth_pb2.ListApiKeysResponse(keys=keys)

    async def RevokeApiKey(self, request: Any, context: Any) -> Any:
        key = self.api_keys.get(request.key_id)
        if key is None or key.user_id != request.user_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no key {request.key_id}")
        self.revoked.add(request.key_id)
        key.is_revoked = True
        return auth_pb2.RevokeApiKeyResponse(key=key)

    async def GetUsage(self, request: Any, context: Any) -> Any:
        if self.usage is not None:
            days = [d for d in self.usage if request.key_id in ("", d.key_id)]
            return auth_pb2.GetUsageResponse(days=days)
        day = auth_pb2.UsageDay(date="2026-01-01", key_id="k1", requests=3)
        return auth_pb2.GetUsageResponse(days=[day] if request.user_id == "u1" else [])

    async def ListUsers(self, request: Any, context: Any) -> Any:
        caller = self.keys.get(request.caller_credential)
        if caller is None or "admin" not in caller.scopes:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "needs the 'admin' scope")
        ids = sorted({p.user_id for p in self.keys.values() if p.user_id})
        after = [i for i in ids if i > request.page_token]
        size = request.page_size or 100
        users = [
            (await self.GetUser(auth_pb2.GetUserRequest(user_id=i), context)).user
            for i in after[:size]
        ]
        token = after[size - 1] if len(after) > size else ""
        return auth_pb2.ListUsersResponse(users=users, next_page_token=token)

    async def GetUser(self, request: Any, context: Any) -> Any:
        logins = {p.user_id: p.login for p in self.keys.values() if p.user_id}
        if request.user_id not in logins:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no user {request.user_id}")
        is_admin = any(
            "admin" in p.scopes for p in self.keys.values() if p.user_id == request.user_id
        )
        return auth_pb2.GetUserResponse(
            user=auth_pb2.User(
                user_id=request.user_id,
                login=logins[request.user_id],
                tier=auth_pb2.TIER_FREE,
                is_admin=is_admin,
            )
        )

    async def StartSignIn(self, request: Any, context: Any) -> Any:
        self.redirect_uris.append(request.redirect_uri)
        state = f"state-{next(self._ids)}"
        self.sign_in_states.add(state)
        url = f"http://127.0.0.1:9/login/oauth/authorize?state={state}"
        return auth_pb2.StartSignInResponse(authorize_url=url, state=state)

    async def CompleteSignIn(self, request: Any, context: Any) -> Any:
        if request.state not in self.sign_in_states:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown or expired state")
        self.sign_in_states.discard(request.state)
        tokens = auth_pb2.SessionTokens(
            access_token="access", refresh_token="refresh", expires_in_seconds=3600
        )
        return auth_pb2.CompleteSignInResponse(
            tokens=tokens, user=auth_pb2.User(user_id="u1", login="octocat")
        )

    async def RefreshSession(self, request: Any, context: Any) -> Any:
        if request.refresh_token != "refresh":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "refresh token is invalid")
        tokens = auth_pb2.SessionTokens(
            access_token="access2", refresh_token="refresh2", expires_in_seconds=3600
        )
        return auth_pb2.RefreshSessionResponse(tokens=tokens)


# -- search -------------------------------------------------------------------------------------


def _snippet(n: int, kind: int, title: str, content: str, language: str = "") -> Any:
    return search_pb2.Snippet(
        snippet_id=f"s{n}",
        kind=kind,  # type: ignore[arg-type]
        title=title,
        description=f"About {title.lower()}.",
        language=language,
        content=content,
        breadcrumb=["Tutorial", title],
        source_path=f"docs/tutorial/{n}.md",
        source_url=f"https://fastapi.tiangolo.com/tutorial/{n}/",
        anchor=f"part-{n}",
        tokens=count_tokens(content),
        score=1.0 / n,
    )


CODE = search_pb2.SNIPPET_KIND_CODE
INFO = search_pb2.SNIPPET_KIND_INFO

FASTAPI_SNIPPETS = [
    _snippet(
        1,
        CODE,
        "Add CORS middleware",
        "from fastapi.middleware.cors import CORSMiddleware\n"
        "app.add_middleware(CORSMiddleware, allow_origins=['*'])",
        "python",
    ),
    _snippet(2, INFO, "CORS", "CORS means cross-origin resource sharing. " * 20),
    *[
        _snippet(n, CODE, f"Example {n}", f"print('example {n}')\n" * 60, "python")
        for n in range(3, 30)
    ],
]

FASTAPI = search_pb2.Library(
    library_id="/fastapi/fastapi",
    title="FastAPI",
    description="FastAPI framework, high performance, easy to learn",
    source_type=search_pb2.SOURCE_TYPE_GITHUB,
    source_url="https://github.com/fastapi/fastapi",
    snippet_count=len(FASTAPI_SNIPPETS),
    token_count=sum(s.tokens for s in FASTAPI_SNIPPETS),
    trust_score=9.1,
    stars=80000,
    versions=[
        search_pb2.LibraryVersion(version="0.110.0", snippet_count=29, is_default=True),
        search_pb2.LibraryVersion(version="0.100.0", snippet_count=20),
    ],
    default_version="0.110.0",
    package_names=["fastapi"],
    rules=["Use async def for I/O-bound endpoints."],
    updated_at="2026-01-02T03:04:05Z",
)


def _record(snippet: search_pb2.Snippet) -> SnippetRecord:
    kind = KIND_CODE if snippet.kind == search_pb2.SNIPPET_KIND_CODE else KIND_INFO
    return SnippetRecord(
        snippet.snippet_id,
        kind,
        snippet.title,
        snippet.description,
        snippet.language,
        snippet.content,
        tuple(snippet.breadcrumb),
        snippet.source_path,
        snippet.source_url,
        snippet.anchor,
        snippet.tokens,
    )


# As search's libraryid.py: what an id's owner and name, and a version name, may hold; a
# range ("^1.2", ">=1.4,<2") is resolved against the indexed versions (versionrange.py).
# Search refuses anything else as INVALID_ARGUMENT.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-+/]*$")


_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _split_version(library_id: str, version: str) -> tuple[str, str]:
    """("/o/r", version) of "/o/r/v", "/o/r@v" or "/o/r" with `version`; `version` wins."""
    library_id, _, embedded = library_id.partition("@")
    parts = [part for part in library_id.split("/") if part]
    if len(parts) > 2:
        embedded = "/".join(parts[2:])
    return "/" + "/".join(parts[:2]), (version or embedded).strip()


def _select_version(known: list[str], version: str) -> str | None:
    """As QueryDocs: the version named, else the best indexed one a range or partial admits."""
    found = _find_version(known, version)
    if found is not None or not (is_range(version) or is_partial(version)):
        return found
    return best_match(version, known)


def _find_version(known: list[str], version: str) -> str | None:
    """The indexed version `version` names; a leading "v" is not significant (search.proto)."""
    if version in known:
        return version
    bare = version.lower().removeprefix("v")
    return next((v for v in known if v.lower().removeprefix("v") == bare), None)


async def _refuse_version(context: Any, library_id: str, known: list[str], asked: str) -> None:
    """FAILED_PRECONDITION as search answers it: search's own message and trailing metadata."""
    info = LibraryInfo(
        meta=LibraryMeta(library_id=library_id),
        versions=[VersionInfo(v, "", 0, 0, None, False, "", 0) for v in known],
    )
    error = version_not_indexed(info, asked)
    context.set_trailing_metadata(tuple(error_metadata(error)))
    await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))


@dataclass
class FakeSearch(search_pb2_grpc.SearchServiceServicer):
    """Behaves like the search service per search.proto over one indexed library: the same
    status codes and trailing metadata (test_search_contract.py holds the real one to it)."""

    libraries: dict[str, Any] = field(default_factory=lambda: {FASTAPI.library_id: FASTAPI})
    queries: list[Any] = field(default_factory=list)
    searches: list[Any] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    slow_cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    # WatchLibraries: None answers UNIMPLEMENTED (an older search service); a queue streams
    # the library ids put into it after the sync message, and None put into it ends the watch.
    changes: asyncio.Queue[str | None] | None = None
    is_feed_complete: bool = True
    watches: int = 0
    library_reads: int = 0
    # RegisterProject's projects: name -> the packages they lock.
    projects: dict[str, list[Any]] = field(default_factory=dict)

    async def ResolveLibrary(self, request: Any, context: Any) -> Any:
        name = request.library_name.lower()
        matches = [
            search_pb2.LibraryMatch(library=lib, score=1.0, match_reason="exact")
            for lib in self.libraries.values()
            if name and (name in lib.title.lower() or name in lib.package_names)
        ]
        return search_pb2.ResolveLibraryResponse(matches=matches[: request.limit or 10])

    async def QueryDocs(self, request: Any, context: Any) -> Any:
        self.queries.append(request)
        self.metadata.append({k: v for k, v in context.invocation_metadata()})
        if request.query == "hang until cancelled":
            self.slow_started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.slow_cancelled.set()
                raise
        library_id, version = _split_version(request.library_id, request.version)
        segments = library_id.strip("/").split("/")
        if len(segments) < 2 or not all(_SEGMENT.match(part) for part in segments):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"library_id {request.library_id!r} is not of the form /owner/repo",
            )
        if version and not _VERSION_NAME.match(version) and not is_range(version):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"version {version!r} is not a valid version name"
            )
        library = await self._library_or_abort(library_id, context)
        known = [v.version for v in library.versions]
        locked = await self._locked_version(request, library, context)
        # The version the project locks, unless one is asked.
        version = version or locked
        served = _select_version(known, version) if version else library.default_version
        if served is None:
            await _refuse_version(context, library_id, known, version)
        budget = request.tokens or 5000
        chosen, used = [], 0
        for snippet in FASTAPI_SNIPPETS:
            if used + snippet.tokens > budget:
                break
            chosen.append(snippet)
            used += snippet.tokens
        # Rendered by search's own code, as search answers: the text within the budget and
        # the snippets it shows.
        label = project_label(request.project.strip(), request.project_format.strip())
        note = project_note(label, served, locked) if label else ""
        header = Header(library_id, library.title, served, known, list(library.rules), 0, note)
        rendered = render_docs(header, [_record(s) for s in chosen], budget)
        return search_pb2.QueryDocsResponse(
            library_id=library_id,
            version=served,
            snippets=[snippet_message(s, 0.0) for s in rendered.snippets],
            tokens_used=count_tokens(rendered.text),
            available_versions=known,
            title=library.title,
            rules=library.rules,
            text=rendered.text,
            locked_version=locked,
            project_note=note,
        )

    async def _locked_version(self, request: Any, library: Any, context: Any) -> str:
        """As search: the version the request's project locks of `library` ("" for none);
        INVALID_ARGUMENT for a project never registered."""
        if request.project:
            if request.project not in self.projects:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"no project named {request.project!r} is registered; register it with "
                    "POST /api/v1/admin/projects (its manifests and lockfiles), or leave the "
                    "project out",
                )
            packages = self.projects[request.project]
        else:
            packages = list(request.locked_packages)
        names = {name.lower() for name in library.package_names}
        return next((p.version for p in packages if p.version and p.name.lower() in names), "")

    async def SearchDocs(self, request: Any, context: Any) -> Any:
        """As search's SearchDocs over the one library: hints, strict version, budget."""
        self.searches.append(request)
        if not request.query.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "query is empty; ask a question")
        if len(request.libraries) > 4:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"libraries has {len(request.libraries)} entries; the limit is 4",
            )
        if request.version and len(request.libraries) != 1:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"version {request.version!r} needs exactly one library",
            )
        for hint in request.libraries:
            library_id, _ = _split_version(hint, "")
            if library_id not in self.libraries and hint.lower() not in ("fastapi",):
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"library {hint[:80]!r} names no documented library",
                )
        known = [v.version for v in FASTAPI.versions]
        locked = await self._locked_version(request, FASTAPI, context)
        served = _find_version(known, request.version) if request.version else "0.110.0"
        if not request.version and locked:
            # As search: the version the project locks, where it is indexed.
            served = _find_version(known, locked) or served
        if served is None:
            await _refuse_version(context, FASTAPI.library_id, known, request.version)
        budget = request.tokens or 5000
        hits, used = [], 0
        for snippet in FASTAPI_SNIPPETS:
            if used + snippet.tokens + 40 > budget:
                break
            hits.append(Hit(_record(snippet), snippet.score, FASTAPI.library_id, served))
            used += snippet.tokens + 40
        searched = Searched(
            library_id=FASTAPI.library_id,
            version=served,
            title=FASTAPI.title,
            relevance=1.0,
            reason="hint" if request.libraries else "content",
            available_versions=known,
            rules=list(FASTAPI.rules),
            locked_version=locked,
        )
        # Rendered by search's own code, as search answers: the text within the budget, and
        # the hits it shows.
        label = project_label(request.project, request.project_format)
        answer = render_answer(CrossAnswer(hits, [searched], used), budget, label)
        return search_message(answer)

    async def WatchLibraries(self, request: Any, context: Any) -> Any:
        if self.changes is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "no WatchLibraries here")
        self.watches += 1
        yield search_pb2.LibraryChange(is_sync=True, is_complete=self.is_feed_complete)
        while (library_id := await self.changes.get()) is not None:
            yield search_pb2.LibraryChange(library_id=library_id)

    async def GetLibrary(self, request: Any, context: Any) -> Any:
        self.library_reads += 1
        library = await self._library_or_abort(request.library_id, context)
        return search_pb2.GetLibraryResponse(library=library)

    async def _library_or_abort(self, library_id: str, context: Any) -> Any:
        library = self.libraries.get(library_id)
        if library is not None:
            return library
        # Search suggests documented libraries whose name is close: here, the same repo name.
        name = library_id.rsplit("/", 1)[-1].lower()
        suggestions = [i for i in self.libraries if i.rsplit("/", 1)[-1].lower() == name]
        context.set_trailing_metadata(
            (("library-id", library_id), ("suggested-library-ids", ",".join(suggestions)))
        )
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        await context.abort(
            grpc.StatusCode.NOT_FOUND, f"library {library_id} is not indexed.{hint}"
        )

    async def ListLibraries(self, request: Any, context: Any) -> Any:
        return search_pb2.ListLibrariesResponse(libraries=list(self.libraries.values()))

    async def RegisterProject(self, request: Any, context: Any) -> Any:
        """As search: a malformed name is INVALID_ARGUMENT; FastAPI's package is claimed."""
        if not _PROJECT_NAME.match(request.name):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"project name {request.name!r} is not valid"
            )
        self.projects[request.name] = list(request.packages)
        return search_pb2.RegisterProjectResponse(
            packages=[
                search_pb2.ProjectPackage(
                    package=p,
                    library_id=FASTAPI.library_id if p.name.lower() == "fastapi" else "",
                    is_version_indexed=p.name.lower() == "fastapi"
                    and p.version in {v.version for v in FASTAPI.versions},
                )
                for p in request.packages
            ]
        )


# -- ingest -------------------------------------------------------------------------------------


@dataclass
class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    jobs: dict[str, Any] = field(default_factory=dict)
    follows: dict[str, Any] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def _new(self, library_id: str, source: str, version: str) -> Any:
        job = ingest_pb2.Job(
            job_id=f"job-{next(self._ids)}",
            library_id=library_id,
            source=source,
            version=version or "latest",
            state=ingest_pb2.JOB_STATE_QUEUED,
            created_at="2026-01-01T00:00:00Z",
        )
        self.jobs[job.job_id] = job
        return job

    async def SubmitSource(self, request: Any, context: Any) -> Any:
        if request.source.startswith("ftp:"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "source must be a folder, git or https URL"
            )
        registry, _, package = request.source.partition(":")
        if registry in {"pypi", "npm"}:
            # As ingest settles a registry source: /<registry>/<name> (no repository is
            # named here) at the pinned release.
            if registry == "pypi":
                name, _, version = package.partition("==")
            else:  # a scoped name starts with its own "@"
                rest, _, version = package[1:].partition("@")
                name = package[:1] + rest
            return ingest_pb2.SubmitSourceResponse(
                job=self._new(
                    request.library_id or f"/{registry}/{name.removeprefix('@')}",
                    request.source,
                    request.version or version,
                )
            )
        library_id = request.library_id or "/" + "/".join(
            request.source.rstrip("/").split("/")[-2:]
        )
        return ingest_pb2.SubmitSourceResponse(
            job=self._new(library_id, request.source, request.version)
        )

    async def GetJob(self, request: Any, context: Any) -> Any:
        job = self.jobs.get(request.job_id)
        if job is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id}")
        return ingest_pb2.GetJobResponse(job=job)

    async def ListJobs(self, request: Any, context: Any) -> Any:
        jobs = [
            j
            for j in self.jobs.values()
            if (not request.library_id or j.library_id == request.library_id)
            and (not request.states or j.state in request.states)
        ]
        return ingest_pb2.ListJobsResponse(jobs=jobs[: request.limit or 50])

    async def CancelJob(self, request: Any, context: Any) -> Any:
        job = self.jobs.get(request.job_id)
        if job is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id}")
        job.state = ingest_pb2.JOB_STATE_CANCELLED
        return ingest_pb2.CancelJobResponse(job=job)

    async def RefreshLibrary(self, request: Any, context: Any) -> Any:
        if request.library_id != FASTAPI.library_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"library {request.library_id} unknown")
        return ingest_pb2.RefreshLibraryResponse(
            job=self._new(request.library_id, FASTAPI.source_url, request.version)
        )

    async def FollowLibrary(self, request: Any, context: Any) -> Any:
        """As ingest: only the one registry library (pypi:fastapi) can be followed."""
        if request.library_id != FASTAPI.library_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.library_id} never ingested")
        followed = ingest_pb2.FollowedLibrary(
            library_id=request.library_id,
            source="pypi:fastapi",
            followed_at="2026-01-01T00:00:00Z",
            newest_release="0.110.0",
        )
        self.follows[request.library_id] = followed
        return ingest_pb2.FollowLibraryResponse(library=followed)

    async def UnfollowLibrary(self, request: Any, context: Any) -> Any:
        if self.follows.pop(request.library_id, None) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.library_id} is not followed")
        return ingest_pb2.UnfollowLibraryResponse()

    async def ListFollowedLibraries(self, request: Any, context: Any) -> Any:
        return ingest_pb2.ListFollowedLibrariesResponse(libraries=list(self.follows.values()))


# -- wiring -------------------------------------------------------------------------------------

_FAST_STOP = ServerOptions(host="127.0.0.1", port=0, grace_seconds=0)


async def start_fake(name: str, servicer: Any, port: int = 0) -> RunningServer:
    options = ServerOptions(host="127.0.0.1", port=port, grace_seconds=0)
    if isinstance(servicer, FakeAuth):
        register, service = (
            auth_pb2_grpc.add_AuthServiceServicer_to_server,
            "twinmcp.auth.v1.AuthService",
        )
    elif isinstance(servicer, FakeSearch):
        register, service = (
            search_pb2_grpc.add_SearchServiceServicer_to_server,
            "twinmcp.search.v1.SearchService",
        )
    else:
        register, service = (
            ingest_pb2_grpc.add_IngestServiceServicer_to_server,
            "twinmcp.ingest.v1.IngestService",
        )
    return await start_server(name, lambda s: register(servicer, s), [service], options)


@dataclass
class Stack:
    auth: FakeAuth
    search: Any  # the FakeSearch servicer; the real search server in test_search_contract.py
    ingest: FakeIngest
    servers: dict[str, RunningServer]
    gateway: RunningGateway
    http: aiohttp.ClientSession

    META = META
    MODERN = MODERN

    @property
    def url(self) -> str:
        return self.gateway.url

    @staticmethod
    def request(method: str, params: dict[str, Any] | None = None, id: Any = 1) -> dict[str, Any]:
        return modern_request(method, params, id)

    @staticmethod
    def call(
        name: str, arguments: dict[str, Any], *, modern: bool = True, id: Any = 1
    ) -> dict[str, Any]:
        return tool_call(name, arguments, modern=modern, id=id)

    async def restart(self, name: str) -> None:
        """Starts the same fake again on the port it had, as a restarted peer would."""
        servicer = {"auth": self.auth, "search": self.search, "ingest": self.ingest}[name]
        port = self.servers[name].port
        self.servers[name] = await start_fake(f"fake-{name}", servicer, port)

    async def mcp(
        self,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        modern: bool = True,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """POSTs to /mcp; modern requests get the routing headers their body implies."""
        sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if modern and isinstance(body, dict):
            sent["MCP-Protocol-Version"] = MODERN
            sent["Mcp-Method"] = str(body.get("method"))
            name = (body.get("params") or {}).get("name")
            if name is not None:
                sent["Mcp-Name"] = str(name)
        sent.update(headers or {})
        for key in [k for k, v in sent.items() if v == ""]:
            del sent[key]
        data = raw if raw is not None else __import__("json").dumps(body).encode()
        async with self.http.post(f"{self.url}/mcp", data=data, headers=sent) as response:
            text = await response.text()
            parsed = (
                __import__("json").loads(text) if text and "json" in response.content_type else text
            )
            return response.status, dict(response.headers), parsed


def modern_request(
    method: str, params: dict[str, Any] | None = None, id: Any = 1
) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": id,
        "method": method,
        "params": {**(params or {}), "_meta": dict(META)},
    }


def tool_call(
    name: str, arguments: dict[str, Any], *, modern: bool = True, id: Any = 1
) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    if modern:
        return modern_request("tools/call", params, id)
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}


def settings_for(servers: dict[str, RunningServer], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "auth_addr": f"127.0.0.1:{servers['auth'].port}",
        "search_addr": f"127.0.0.1:{servers['search'].port}",
        "ingest_addr": f"127.0.0.1:{servers['ingest'].port}",
        "api_base_url": "http://127.0.0.1:3000",
        "grpc_deadline_seconds": 5.0,
        "health_deadline_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def fake_search() -> FakeSearch:
    return FakeSearch()


@contextlib.asynccontextmanager
async def open_stack(
    search: Any, overrides: dict[str, Any], search_server: Any = None
) -> AsyncIterator[Stack]:
    """The gateway over fake auth and ingest and `search`: a FakeSearch it serves, or the
    running `search_server` (anything with `port` and `stop()`). All stop together."""
    auth, ingest = FakeAuth(), FakeIngest()
    servers = {
        "auth": await start_fake("fake-auth", auth),
        "search": search_server or await start_fake("fake-search", search),
        "ingest": await start_fake("fake-ingest", ingest),
    }
    gateway = await start(settings_for(servers, **overrides))
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        try:
            yield Stack(auth, search, ingest, servers, gateway, http)
        finally:
            await gateway.stop()
            for server in servers.values():
                await server.stop()


@pytest.fixture(name="open_stack")
def open_stack_fixture() -> Callable[..., contextlib.AbstractAsyncContextManager[Stack]]:
    """`open_stack` for test modules, which never import conftest."""
    return open_stack


@pytest.fixture
async def stack(gateway_overrides: dict[str, Any], fake_search: FakeSearch) -> AsyncIterator[Stack]:
    async with open_stack(fake_search, gateway_overrides) as opened:
        yield opened
