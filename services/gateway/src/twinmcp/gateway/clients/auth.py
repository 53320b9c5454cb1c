"""The auth service's client: credentials, rate limits (batched), keys, users, sign-in, OAuth."""

from __future__ import annotations

import asyncio
import logging

import grpc
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.gateway.clients.base import PeerClient
from twinmcp.gateway.clients.batching import Coalescer
from twinmcp.gateway.errors import translate
from twinmcp.runtime.telemetry import trace_metadata

logger = logging.getLogger(__name__)


class AuthClient(PeerClient):
    service = "auth"
    grpc_service = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name

    def __init__(self, channel: grpc.aio.Channel, deadline: float) -> None:
        super().__init__(channel, deadline)
        self.stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._is_batching = True
        self._checks = Coalescer(self._check_all)

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
        return await self._checks.submit(request)

    async def _check_all(
        self, checks: list[auth_pb2.CheckRateLimitRequest]
    ) -> list[auth_pb2.CheckRateLimitResponse]:
        if len(checks) == 1:
            return [await self._call(self.stub.CheckRateLimit, checks[0])]
        request = auth_pb2.BatchCheckRateLimitsRequest(checks=checks)
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
                    *(self._call(self.stub.CheckRateLimit, check) for check in checks)
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
