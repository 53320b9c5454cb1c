"""Typed clients of the auth, search and ingest services; every call carries a deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.gateway.answers import EdgeAnswers
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel
from twinmcp.runtime.telemetry import trace_metadata
from twinmcp.search.v1 import search_pb2, search_pb2_grpc

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PeerError(Exception):
    """A peer service refused or failed a call; `status` is the HTTP status to answer with."""

    status = 502
    code = "upstream_error"

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.message = message


class PeerUnavailable(PeerError):
    status = 503
    code = "service_unavailable"


class NotFound(PeerError):
    status = 404
    code = "not_found"


class InvalidArgument(PeerError):
    status = 400
    code = "invalid_argument"


class Unauthenticated(PeerError):
    status = 401
    code = "unauthenticated"


class Forbidden(PeerError):
    status = 403
    code = "forbidden"


class Conflict(PeerError):
    status = 409
    code = "conflict"


class RateLimited(PeerError):
    status = 429
    code = "rate_limited"


# The one table turning a peer's status code into the gateway's error.
_ERRORS: dict[grpc.StatusCode, type[PeerError]] = {
    grpc.StatusCode.UNAVAILABLE: PeerUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: PeerUnavailable,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.FAILED_PRECONDITION: Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
}


def translate(service: str, error: grpc.aio.AioRpcError) -> PeerError:
    kind = _ERRORS.get(error.code(), PeerError)
    if kind is PeerUnavailable:
        return PeerUnavailable(service, f"{service} service unavailable, retry shortly")
    detail = error.details() or error.code().name
    if kind is PeerError:
        logger.warning("%s answered %s: %s", service, error.code().name, detail)
        return PeerError(service, f"{service} service failed ({error.code().name}); retry later")
    return kind(service, detail)


class _Client:
    service = ""
    grpc_service = ""  # full proto name, for span names

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        self.channel = channel
        self.deadline = deadline
        self._health = health_pb2_grpc.HealthStub(channel)

    async def _call(self, method: Callable[..., Awaitable[T]], request: Message) -> T:
        try:
            return await self._send(method, request)
        except grpc.aio.AioRpcError as error:
            raise translate(self.service, error) from None

    async def _send(self, method: Callable[..., Awaitable[T]], request: Message) -> T:
        # Channels are opened untraced (see _channel): the trace context goes as metadata.
        name = f"{self.grpc_service}/{type(request).__name__.removesuffix('Request')}"
        return await method(request, timeout=self.deadline, metadata=trace_metadata(name))

    async def health(self, deadline: float) -> str:
        """The peer's health status name, or UNAVAILABLE when it does not answer in time."""
        try:
            reply = await self._health.Check(
                health_pb2.HealthCheckRequest(),
                timeout=deadline,
                metadata=trace_metadata("grpc.health.v1.Health/Check"),
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return "UNAVAILABLE"
            return error.code().name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


_PendingCheck = tuple[
    auth_pb2.CheckRateLimitRequest, "asyncio.Future[auth_pb2.CheckRateLimitResponse]"
]


class AuthClient(_Client):
    service = "auth"
    grpc_service = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        super().__init__(channel, deadline)
        self.stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._is_batching = True
        self._checks: list[_PendingCheck] = []
        self._sends: set[asyncio.Task[None]] = set()

    async def authenticate(
        self, credential: str, client_address: str, resource: str = ""
    ) -> auth_pb2.AuthenticateResponse:
        request = auth_pb2.AuthenticateRequest(
            credential=credential, client_address=client_address, resource=resource
        )
        return await self._call(self.stub.Authenticate, request)

    async def check_rate_limit(
        self, subject: str, tier: auth_pb2.Tier.ValueType, cost: int = 1
    ) -> auth_pb2.CheckRateLimitResponse:
        """Counts one request; checks made in the same event-loop turn go in one call.

        Each check is still decided and counted on its own, atomically, in the auth service
        (BatchCheckRateLimits); batching only saves the per-call cost of gRPC on both sides,
        which is most of the cost of a check. A lone check waits for nothing.
        """
        request = auth_pb2.CheckRateLimitRequest(subject=subject, tier=tier, cost=cost)
        if not self._is_batching:
            return await self._call(self.stub.CheckRateLimit, request)
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[auth_pb2.CheckRateLimitResponse] = loop.create_future()
        if not self._checks:
            loop.call_soon(self._send_checks)
        self._checks.append((request, reply))
        return await reply

    def _send_checks(self) -> None:
        batch, self._checks = self._checks, []
        task = asyncio.get_running_loop().create_task(self._check_batch(batch))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _check_batch(self, batch: list[_PendingCheck]) -> None:
        try:
            if len(batch) == 1:
                replies = [await self._call(self.stub.CheckRateLimit, batch[0][0])]
            else:
                replies = await self._batch_call(batch)
        except PeerError as error:
            for _request, reply in batch:
                if not reply.done():
                    reply.set_exception(error)
            return
        for (_request, reply), result in zip(batch, replies, strict=True):
            if not reply.done():  # the caller hung up meanwhile; its check was still counted
                reply.set_result(result)

    async def _batch_call(
        self, batch: list[_PendingCheck]
    ) -> list[auth_pb2.CheckRateLimitResponse]:
        request = auth_pb2.BatchCheckRateLimitsRequest(checks=[check for check, _ in batch])
        name = f"{self.grpc_service}/BatchCheckRateLimits"
        try:
            answer = await self.stub.BatchCheckRateLimits(
                request, timeout=self.deadline, metadata=trace_metadata(name)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise translate(self.service, error) from None
            # An auth service older than BatchCheckRateLimits (during a rolling upgrade).
            logger.warning("auth has no BatchCheckRateLimits; checking rate limits one by one")
            self._is_batching = False
            return list(
                await asyncio.gather(
                    *(self._call(self.stub.CheckRateLimit, check) for check, _ in batch)
                )
            )
        return list(answer.results)

    # Key management sends the caller's own credential: auth checks it afresh (never a cached
    # principal) and refuses a key with scopes the credential lacks.

    async def create_api_key(
        self, user_id: str, name: str, scopes: list[str], *, caller_credential: str
    ) -> auth_pb2.CreateApiKeyResponse:
        request = auth_pb2.CreateApiKeyRequest(
            user_id=user_id, name=name, scopes=scopes, caller_credential=caller_credential
        )
        return await self._call(self.stub.CreateApiKey, request)

    async def list_api_keys(
        self, user_id: str, *, caller_credential: str
    ) -> auth_pb2.ListApiKeysResponse:
        request = auth_pb2.ListApiKeysRequest(user_id=user_id, caller_credential=caller_credential)
        return await self._call(self.stub.ListApiKeys, request)

    async def revoke_api_key(
        self, user_id: str, key_id: str, *, caller_credential: str
    ) -> auth_pb2.RevokeApiKeyResponse:
        request = auth_pb2.RevokeApiKeyRequest(
            user_id=user_id, key_id=key_id, caller_credential=caller_credential
        )
        return await self._call(self.stub.RevokeApiKey, request)

    async def get_usage(self, user_id: str, key_id: str, days: int) -> auth_pb2.GetUsageResponse:
        request = auth_pb2.GetUsageRequest(user_id=user_id, key_id=key_id, days=days)
        return await self._call(self.stub.GetUsage, request)

    async def get_user(self, user_id: str) -> auth_pb2.GetUserResponse:
        return await self._call(self.stub.GetUser, auth_pb2.GetUserRequest(user_id=user_id))

    async def list_users(
        self, page_size: int, page_token: str, *, caller_credential: str
    ) -> auth_pb2.ListUsersResponse:
        request = auth_pb2.ListUsersRequest(
            page_size=page_size, page_token=page_token, caller_credential=caller_credential
        )
        return await self._call(self.stub.ListUsers, request)

    async def start_sign_in(self, redirect_uri: str) -> auth_pb2.StartSignInResponse:
        request = auth_pb2.StartSignInRequest(redirect_uri=redirect_uri)
        return await self._call(self.stub.StartSignIn, request)

    async def complete_sign_in(self, code: str, state: str) -> auth_pb2.CompleteSignInResponse:
        request = auth_pb2.CompleteSignInRequest(code=code, state=state)
        return await self._call(self.stub.CompleteSignIn, request)

    async def refresh_session(self, refresh_token: str) -> auth_pb2.RefreshSessionResponse:
        request = auth_pb2.RefreshSessionRequest(refresh_token=refresh_token)
        return await self._call(self.stub.RefreshSession, request)

    # The OAuth authorization server (gateway/oauth.py serves its HTTP side).

    async def register_oauth_client(
        self, request: auth_pb2.RegisterOAuthClientRequest
    ) -> auth_pb2.RegisterOAuthClientResponse:
        return await self._call(self.stub.RegisterOAuthClient, request)

    async def start_authorization(
        self, request: auth_pb2.StartAuthorizationRequest
    ) -> auth_pb2.StartAuthorizationResponse:
        return await self._call(self.stub.StartAuthorization, request)

    async def complete_authorization(
        self, request: auth_pb2.CompleteAuthorizationRequest
    ) -> auth_pb2.CompleteAuthorizationResponse:
        return await self._call(self.stub.CompleteAuthorization, request)

    async def exchange_oauth_token(
        self, request: auth_pb2.ExchangeOAuthTokenRequest
    ) -> auth_pb2.ExchangeOAuthTokenResponse:
        return await self._call(self.stub.ExchangeOAuthToken, request)

    async def revoke_oauth_token(
        self, request: auth_pb2.RevokeOAuthTokenRequest
    ) -> auth_pb2.RevokeOAuthTokenResponse:
        return await self._call(self.stub.RevokeOAuthToken, request)

    async def list_oauth_grants(
        self, request: auth_pb2.ListOAuthGrantsRequest
    ) -> auth_pb2.ListOAuthGrantsResponse:
        return await self._call(self.stub.ListOAuthGrants, request)

    async def revoke_oauth_grant(
        self, request: auth_pb2.RevokeOAuthGrantRequest
    ) -> auth_pb2.RevokeOAuthGrantResponse:
        return await self._call(self.stub.RevokeOAuthGrant, request)


@dataclass(frozen=True)
class LibraryUnknown:
    """Search has no documentation of `library_id`; `suggestions` are documented ids close to it."""

    library_id: str
    suggestions: list[str]


@dataclass(frozen=True)
class VersionMissing:
    """`library_id` is indexed but not `version`; search never serves another version instead."""

    library_id: str
    version: str
    available: list[str]
    # For a library ingested from a package registry: the registry's releases that fit the
    # version asked, best first, and the source that ingests the first ("pypi:flask==3.0.3").
    registry_releases: list[str] = field(default_factory=list)
    ingest_source: str = ""

    def ingest_hint(self) -> str:
        """The sentence saying what the registry has and how to ingest it ("" for none)."""
        if not self.ingest_source:
            return ""
        first = self.registry_releases[0] if self.registry_releases else self.ingest_source
        return (
            f"The package registry has {', '.join(self.registry_releases) or first}; "
            f"ingest {first} with `twinmcp ingest {self.ingest_source}`."
        )


# What search answers a documentation lookup: the answer, or what is missing (search.proto).
DocsLookup = search_pb2.QueryDocsResponse | LibraryUnknown | VersionMissing


def _missing_docs(
    error: grpc.aio.AioRpcError, library_id: str, version: str
) -> LibraryUnknown | VersionMissing | None:
    """What search's refusal of QueryDocs says is missing; None for any other refusal.

    `library_id` and `version` (as sent) stand in for the trailing metadata a search service
    older than it left out.
    """
    trailing = {key: value for key, value in error.trailing_metadata() or ()}

    def listed(key: str) -> list[str]:
        value = trailing.get(key, "")
        return [item for item in value.split(",") if item] if isinstance(value, str) else []

    named = trailing.get("library-id")
    library = named if isinstance(named, str) and named else library_id
    if error.code() == grpc.StatusCode.NOT_FOUND:
        return LibraryUnknown(library, listed("suggested-library-ids"))
    if error.code() == grpc.StatusCode.FAILED_PRECONDITION and "available-versions" in trailing:
        asked = trailing.get("requested-version")
        source = trailing.get("ingest-source")
        return VersionMissing(
            library,
            asked if isinstance(asked, str) and asked else version,
            listed("available-versions"),
            listed("registry-releases"),
            source if isinstance(source, str) else "",
        )
    return None


class SearchClient(_Client):
    service = "search"
    grpc_service = search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name

    def __init__(
        self, channel: grpc.aio.Channel, deadline: float, answers: EdgeAnswers | None = None
    ) -> None:
        super().__init__(channel, deadline)
        self.stub = search_pb2_grpc.SearchServiceStub(channel)
        self.answers = answers if answers is not None else EdgeAnswers(0)

    async def resolve_library(
        self, library_name: str, query: str, limit: int = 10, project: str = ""
    ) -> search_pb2.ResolveLibraryResponse:
        request = search_pb2.ResolveLibraryRequest(
            library_name=library_name, query=query, limit=limit, project=project
        )
        return await self._call(self.stub.ResolveLibrary, request)

    async def register_project(
        self, name: str, packages: list[search_pb2.LockedPackage]
    ) -> search_pb2.RegisterProjectResponse:
        request = search_pb2.RegisterProjectRequest(name=name, packages=packages)
        return await self._call(self.stub.RegisterProject, request)

    async def get_library(self, library_id: str) -> search_pb2.GetLibraryResponse:
        request = search_pb2.GetLibraryRequest(library_id=library_id)
        return await self._call(self.stub.GetLibrary, request)

    async def list_libraries(
        self, page_size: int, page_token: str = ""
    ) -> search_pb2.ListLibrariesResponse:
        request = search_pb2.ListLibrariesRequest(page_size=page_size, page_token=page_token)
        return await self._call(self.stub.ListLibraries, request)

    async def query_docs(
        self, library_id: str, query: str, tokens: int, version: str = "", project: str = ""
    ) -> DocsLookup:
        """Search's answer, or what it said is missing: which library and which version is
        search's call alone, so the answer is rendered as it comes. `project` (a registered
        name) asks for the version the project locks."""
        # The project is part of the question: the same library may be answered at another
        # version for it ("\x00" is in no version name).
        key = self.answers.key(
            library_id, f"{version}\x00{project}" if project else version, query, tokens
        )
        kept = self.answers.get(key)
        if kept is not None:
            return kept
        stamp = self.answers.stamp()
        request = search_pb2.QueryDocsRequest(
            library_id=library_id, query=query, tokens=tokens, version=version, project=project
        )
        try:
            reply = await self._send(self.stub.QueryDocs, request)
        except grpc.aio.AioRpcError as error:
            missing = _missing_docs(error, library_id, version)
            if missing is None:
                raise translate(self.service, error) from None
            return missing
        self.answers.put(key, stamp, reply)
        return reply


class IngestClient(_Client):
    service = "ingest"
    grpc_service = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        super().__init__(channel, deadline)
        self.stub = ingest_pb2_grpc.IngestServiceStub(channel)

    async def submit_source(
        self, request: ingest_pb2.SubmitSourceRequest
    ) -> ingest_pb2.SubmitSourceResponse:
        return await self._call(self.stub.SubmitSource, request)

    async def get_job(self, job_id: str) -> ingest_pb2.GetJobResponse:
        return await self._call(self.stub.GetJob, ingest_pb2.GetJobRequest(job_id=job_id))

    async def list_jobs(
        self, library_id: str, states: list[ingest_pb2.JobState.ValueType], limit: int
    ) -> ingest_pb2.ListJobsResponse:
        request = ingest_pb2.ListJobsRequest(library_id=library_id, states=states, limit=limit)
        return await self._call(self.stub.ListJobs, request)

    async def cancel_job(self, job_id: str) -> ingest_pb2.CancelJobResponse:
        return await self._call(self.stub.CancelJob, ingest_pb2.CancelJobRequest(job_id=job_id))

    async def refresh_library(
        self, library_id: str, version: str
    ) -> ingest_pb2.RefreshLibraryResponse:
        request = ingest_pb2.RefreshLibraryRequest(library_id=library_id, version=version)
        return await self._call(self.stub.RefreshLibrary, request)

    async def follow_library(self, library_id: str) -> ingest_pb2.FollowLibraryResponse:
        request = ingest_pb2.FollowLibraryRequest(library_id=library_id)
        return await self._call(self.stub.FollowLibrary, request)

    async def unfollow_library(self, library_id: str) -> ingest_pb2.UnfollowLibraryResponse:
        request = ingest_pb2.UnfollowLibraryRequest(library_id=library_id)
        return await self._call(self.stub.UnfollowLibrary, request)

    async def list_followed_libraries(self) -> ingest_pb2.ListFollowedLibrariesResponse:
        request = ingest_pb2.ListFollowedLibrariesRequest()
        return await self._call(self.stub.ListFollowedLibraries, request)


def _channel(target: str) -> grpc.aio.Channel:
    # No tracing interceptor: grpc.aio runs one in an extra task per call; _call sends the
    # trace context as metadata instead.
    return open_channel(target, is_traced=False)


@dataclass
class Peers:
    """The three peers and their channels; closed together on shutdown."""

    auth: AuthClient
    search: SearchClient
    ingest: IngestClient

    @classmethod
    def open(
        cls,
        auth_addr: str,
        search_addr: str,
        ingest_addr: str,
        deadline: float,
        answers: EdgeAnswers | None = None,
    ) -> Peers:
        return cls(
            AuthClient(_channel(auth_addr), deadline),
            SearchClient(_channel(search_addr), deadline, answers),
            IngestClient(_channel(ingest_addr), deadline),
        )

    def all(self) -> list[_Client]:
        return [self.auth, self.search, self.ingest]

    async def close(self) -> None:
        for client in self.all():
            await client.channel.close()
