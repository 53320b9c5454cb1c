"""The AuthService RPCs of the OAuth authorization server: proto <-> OAuthServer."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from twinmcp.auth.accounts import AccountStore
from twinmcp.auth.authority import Authority, Principal
from twinmcp.auth.client_metadata import ClientMetadataError
from twinmcp.auth.errors import (
    AuthError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from twinmcp.auth.oauth_server import (
    AuthorizationParams,
    OAuthServer,
    Refusal,
    TokenParams,
)
from twinmcp.auth.oauth_store import Grant
from twinmcp.auth.v1 import auth_pb2

logger = logging.getLogger(__name__)

Reply = TypeVar("Reply")

_STATUS: dict[type[AuthError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
}


async def _mapped(context: grpc.aio.ServicerContext[Any, Any], work: Awaitable[Reply]) -> Reply:
    try:
        return await work
    except AuthError as exc:
        await context.abort(_STATUS.get(type(exc), grpc.StatusCode.INVALID_ARGUMENT), str(exc))
        raise  # abort raises; this line only satisfies the type checker


def _grant(grant: Grant) -> auth_pb2.OAuthGrant:
    created = Timestamp()
    created.FromDatetime(grant.created_at.astimezone(dt.UTC))
    return auth_pb2.OAuthGrant(
        grant_id=grant.grant_id,
        user_id=grant.user_id,
        client_id=grant.client_id,
        client_name=grant.client_name,
        scopes=list(grant.scopes),
        resource=grant.resource,
        created_at=created,
        is_revoked=grant.is_revoked,
    )


class OAuthRpc:
    """Mixed into AuthServicer; protocol refusals are answers (`error`), not RPC errors."""

    _authority: Authority
    _store: AccountStore
    _cache_ttl: int

    def _ttl_for(self, principal: Principal) -> int:
        """How long a gateway may keep this principal: never past its token's expiry."""
        if not principal.expires_at:
            return self._cache_ttl
        left = int(principal.expires_at - self._store.now().timestamp())
        return max(min(self._cache_ttl, left), 0)

    def _oauth(self) -> OAuthServer:
        if self._authority.oauth is None:
            raise FailedPreconditionError("the OAuth authorization server is not running")
        return self._authority.oauth

    async def RegisterOAuthClient(
        self,
        request: auth_pb2.RegisterOAuthClientRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.RegisterOAuthClientResponse:
        async def work() -> auth_pb2.RegisterOAuthClientResponse:
            try:
                client = await self._oauth().register(
                    request.client_name,
                    list(request.redirect_uris),
                    list(request.grant_types),
                    list(request.response_types),
                    request.token_endpoint_auth_method,
                )
            except ClientMetadataError as exc:
                is_uri = "redirect" in str(exc)
                return auth_pb2.RegisterOAuthClientResponse(
                    error="invalid_redirect_uri" if is_uri else "invalid_client_metadata",
                    error_description=str(exc),
                )
            return auth_pb2.RegisterOAuthClientResponse(
                client_id=client.client_id,
                client_id_issued_at=int(self._store.now().timestamp()),
                client_name=client.name,
                redirect_uris=list(client.redirect_uris),
            )

        return await _mapped(context, work())

    async def StartAuthorization(
        self,
        request: auth_pb2.StartAuthorizationRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.StartAuthorizationResponse:
        async def work() -> auth_pb2.StartAuthorizationResponse:
            start = await self._oauth().start(
                AuthorizationParams(
                    request.response_type,
                    request.client_id,
                    request.redirect_uri,
                    request.state,
                    request.code_challenge,
                    request.code_challenge_method,
                    request.scope,
                    request.resource,
                    request.served_resource,
                    request.issuer,
                )
            )
            reply = auth_pb2.StartAuthorizationResponse(
                request_id=start.request_id,
                redirect_uri=start.redirect_uri,
                scopes=list(start.scopes),
                resource=start.resource,
                error_redirect_url=start.error_redirect_url,
            )
            if start.client is not None:
                reply.client_id = start.client.client_id
                reply.client_name = start.client.name
            if start.refusal is not None:
                reply.error = start.refusal.error
                reply.error_description = start.refusal.description
            return reply

        return await _mapped(context, work())

    async def CompleteAuthorization(
        self,
        request: auth_pb2.CompleteAuthorizationRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.CompleteAuthorizationResponse:
        async def work() -> auth_pb2.CompleteAuthorizationResponse:
            oauth = self._oauth()
            if not request.is_approved:
                url = await oauth.deny(request.request_id, request.issuer)
            else:
                try:
                    user = await self._authority.user_of(request.credential)
                except (UnauthenticatedError, NotFoundError) as exc:
                    reply = auth_pb2.CompleteAuthorizationResponse(error_description=str(exc))
                    pending = await oauth.pending(request.request_id)
                    if pending is not None:
                        reply.client_id = pending.client_id
                        reply.client_name = pending.client_name
                        reply.redirect_uri = pending.redirect_uri
                        reply.scopes.extend(pending.scopes)
                    return reply
                url = await oauth.approve(request.request_id, user, request.issuer)
            if url is None:
                raise NotFoundError(
                    "this sign-in request has expired or was already answered; start again "
                    "from your MCP client"
                )
            return auth_pb2.CompleteAuthorizationResponse(redirect_url=url)

        return await _mapped(context, work())

    async def ExchangeOAuthToken(
        self,
        request: auth_pb2.ExchangeOAuthTokenRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.ExchangeOAuthTokenResponse:
        async def work() -> auth_pb2.ExchangeOAuthTokenResponse:
            answer = await self._oauth().exchange(
                TokenParams(
                    request.grant_type,
                    request.code,
                    request.redirect_uri,
                    request.client_id,
                    request.code_verifier,
                    request.refresh_token,
                    request.resource,
                    request.scope,
                )
            )
            if isinstance(answer, Refusal):
                return auth_pb2.ExchangeOAuthTokenResponse(
                    error=answer.error, error_description=answer.description
                )
            return auth_pb2.ExchangeOAuthTokenResponse(
                access_token=answer.access_token,
                token_type="Bearer",
                expires_in=answer.expires_in,
                refresh_token=answer.refresh_token,
                scope=answer.scope,
            )

        return await _mapped(context, work())

    async def RevokeOAuthToken(
        self,
        request: auth_pb2.RevokeOAuthTokenRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.RevokeOAuthTokenResponse:
        async def work() -> auth_pb2.RevokeOAuthTokenResponse:
            await self._oauth().revoke_token(request.token, request.client_id)
            return auth_pb2.RevokeOAuthTokenResponse()

        return await _mapped(context, work())

    async def ListOAuthGrants(
        self,
        request: auth_pb2.ListOAuthGrantsRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.ListOAuthGrantsResponse:
        async def work() -> auth_pb2.ListOAuthGrantsResponse:
            grants = await self._authority.list_grants(
                request.user_id, request.client_id, request.caller_credential
            )
            return auth_pb2.ListOAuthGrantsResponse(grants=[_grant(g) for g in grants])

        return await _mapped(context, work())

    async def RevokeOAuthGrant(
        self,
        request: auth_pb2.RevokeOAuthGrantRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> auth_pb2.RevokeOAuthGrantResponse:
        async def work() -> auth_pb2.RevokeOAuthGrantResponse:
            grant = await self._authority.revoke_grant(
                request.user_id, request.grant_id, request.caller_credential
            )
            return auth_pb2.RevokeOAuthGrantResponse(grant=_grant(grant))

        return await _mapped(context, work())
