"""The AuthService servicer: proto <-> domain, and domain errors -> gRPC status codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.exc import InterfaceError, OperationalError
from twinmcp.auth.accounts import AccountStore, ApiKey, User
from twinmcp.auth.authority import Authority, Principal, Session
from twinmcp.auth.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
    UpstreamUnavailableError,
)
from twinmcp.auth.limits import Decision, Tier
from twinmcp.auth.oauth_rpc import OAuthRpc
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.grpcserver import ErrorTable

# A database that cannot be reached is the server's trouble: the caller is told to retry, and
# the driver's message (which can name the connection) stays out of the answer.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError, ConnectionError)


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, DATABASE_UNREACHABLE):
        return "the auth database is unreachable; retry shortly"
    return str(exc)


ERRORS = ErrorTable(
    {
        InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
        NotFoundError: grpc.StatusCode.NOT_FOUND,
        AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
        UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
        PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
        FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
        UpstreamUnavailableError: grpc.StatusCode.UNAVAILABLE,
        **dict.fromkeys(DATABASE_UNREACHABLE, grpc.StatusCode.UNAVAILABLE),
    },
    message=_error_message,
)

TIER_TO_PROTO = {
    Tier.ANONYMOUS: auth_pb2.TIER_ANONYMOUS,
    Tier.FREE: auth_pb2.TIER_FREE,
    Tier.PREMIUM: auth_pb2.TIER_PREMIUM,
}
TIER_FROM_PROTO: dict[int, Tier] = {int(value): key for key, value in TIER_TO_PROTO.items()}


def _timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(dt.UTC))
    return stamp


def _user(user: User) -> auth_pb2.User:
    return auth_pb2.User(
        user_id=user.user_id,
        login=user.login,
        email=user.email,
        tier=TIER_TO_PROTO[user.tier],
        created_at=_timestamp(user.created_at),
        is_admin=user.is_admin,
    )


def _key(key: ApiKey) -> auth_pb2.ApiKey:
    return auth_pb2.ApiKey(
        key_id=key.key_id,
        prefix=key.prefix,
        name=key.name,
        scopes=list(key.scopes),
        created_at=_timestamp(key.created_at),
        last_used_at=_timestamp(key.last_used_at),
        is_revoked=key.is_revoked,
        user_id=key.user_id,
    )


def _principal(principal: Principal) -> auth_pb2.Principal:
    return auth_pb2.Principal(
        user_id=principal.user_id,
        key_id=principal.key_id,
        login=principal.login,
        tier=TIER_TO_PROTO[principal.tier],
        scopes=list(principal.scopes),
        is_anonymous=principal.is_anonymous,
        rate_limit_subject=principal.rate_limit_subject,
    )


def _tokens(session: Session) -> auth_pb2.SessionTokens:
    return auth_pb2.SessionTokens(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in_seconds=session.expires_in_seconds,
    )


def _decision(decision: Decision) -> auth_pb2.CheckRateLimitResponse:
    return auth_pb2.CheckRateLimitResponse(
        allowed=decision.is_allowed,
        limit=decision.limit,
        remaining=decision.remaining,
        reset_seconds=decision.reset_seconds,
        retry_after_seconds=decision.retry_after_seconds,
        day_limit=decision.day_limit,
        day_remaining=decision.day_remaining,
        is_degraded=decision.is_degraded,
    )


def _tier(value: int, *, default: Tier | None = None) -> Tier:
    if value == auth_pb2.TIER_UNSPECIFIED and default is not None:
        return default
    tier = TIER_FROM_PROTO.get(value)
    if tier is None:
        raise InvalidArgumentError(
            "tier is required: TIER_ANONYMOUS, TIER_FREE or TIER_PREMIUM (the principal's tier)"
        )
    return tier


class AuthServicer(OAuthRpc, auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, authority: Authority, store: AccountStore, cache_ttl_seconds: int) -> None:
        self._authority = authority
        self._store = store
        self._cache_ttl = cache_ttl_seconds

    async def Authenticate(
        self, request: auth_pb2.AuthenticateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.AuthenticateResponse:
        principal = await self._authority.authenticate(
            request.credential, request.client_address, request.resource
        )
        return auth_pb2.AuthenticateResponse(
            principal=_principal(principal), cache_ttl_seconds=self._ttl_for(principal)
        )

    async def CheckRateLimit(
        self, request: auth_pb2.CheckRateLimitRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.CheckRateLimitResponse:
        decision = await self._authority.check_rate_limit(
            request.subject, _tier(request.tier), request.cost
        )
        return _decision(decision)

    async def BatchCheckRateLimits(
        self,
        request: auth_pb2.BatchCheckRateLimitsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.BatchCheckRateLimitsResponse:
        checks = [(check.subject, _tier(check.tier), check.cost) for check in request.checks]
        decisions = await self._authority.check_rate_limits(checks)
        return auth_pb2.BatchCheckRateLimitsResponse(
            results=[_decision(decision) for decision in decisions]
        )

    async def CreateApiKey(
        self, request: auth_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.CreateApiKeyResponse:
        key, secret = await self._authority.create_key(
            request.user_id, request.name, request.scopes, request.caller_credential
        )
        return auth_pb2.CreateApiKeyResponse(key=_key(key), secret=secret)

    async def ListApiKeys(
        self, request: auth_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.ListApiKeysResponse:
        found = await self._authority.list_keys(request.user_id, request.caller_credential)
        return auth_pb2.ListApiKeysResponse(keys=[_key(key) for key in found])

    async def RevokeApiKey(
        self, request: auth_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.RevokeApiKeyResponse:
        key = await self._authority.revoke_key(
            request.user_id, request.key_id, request.caller_credential
        )
        return auth_pb2.RevokeApiKeyResponse(key=_key(key))

    async def GetUsage(
        self, request: auth_pb2.GetUsageRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.GetUsageResponse:
        days = await self._authority.get_usage(request.user_id, request.key_id, request.days)
        return auth_pb2.GetUsageResponse(
            days=[
                auth_pb2.UsageDay(
                    date=day.day.isoformat(), key_id=day.key_id, requests=day.requests
                )
                for day in days
            ]
        )

    async def CreateUser(
        self, request: auth_pb2.CreateUserRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.CreateUserResponse:
        user = await self._store.create_user(
            request.login,
            request.email,
            _tier(request.tier, default=Tier.FREE),
            request.is_admin,
        )
        return auth_pb2.CreateUserResponse(user=_user(user))

    async def GetUser(
        self, request: auth_pb2.GetUserRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.GetUserResponse:
        return auth_pb2.GetUserResponse(user=_user(await self._store.get_user(request.user_id)))

    async def ListUsers(
        self, request: auth_pb2.ListUsersRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.ListUsersResponse:
        users, next_token = await self._authority.list_users(
            request.caller_credential, request.page_size, request.page_token
        )
        return auth_pb2.ListUsersResponse(
            users=[_user(user) for user in users], next_page_token=next_token
        )

    async def StartSignIn(
        self, request: auth_pb2.StartSignInRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.StartSignInResponse:
        start = await self._authority.start_sign_in(request.redirect_uri)
        return auth_pb2.StartSignInResponse(authorize_url=start.authorize_url, state=start.state)

    async def CompleteSignIn(
        self, request: auth_pb2.CompleteSignInRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.CompleteSignInResponse:
        session, user = await self._authority.complete_sign_in(request.code, request.state)
        return auth_pb2.CompleteSignInResponse(tokens=_tokens(session), user=_user(user))

    async def RefreshSession(
        self, request: auth_pb2.RefreshSessionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> auth_pb2.RefreshSessionResponse:
        session = await self._authority.refresh_session(request.refresh_token)
        return auth_pb2.RefreshSessionResponse(tokens=_tokens(session))
