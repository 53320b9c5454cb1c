"""The OAuth authorization server over gRPC with a controlled clock, and the guarded fetch of
client metadata documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from aiohttp import web
from sqlalchemy import text
from twinmcp.auth.client_metadata import ClientMetadataError, MetadataDocuments
from twinmcp.auth.oauth_server import pkce_challenge
from twinmcp.auth.v1 import auth_pb2

if TYPE_CHECKING:
    from twinmcp.auth.config import Settings

    from conftest import Client, FakeClock, Servers

RESOURCE = "http://gateway.test/mcp"
ISSUER = "http://gateway.test"
REDIRECT = "http://127.0.0.1/callback"
VERIFIER = "v" * 64


@pytest.fixture
async def auth(servers: Servers, settings_for: Callable[..., Settings], clock: FakeClock) -> Client:
    return await servers.start(settings_for(), clock=clock)


async def _user_key(auth: Client) -> str:
    user = (
        await auth.stub.CreateUser(
            auth_pb2.CreateUserRequest(login="signer", tier=auth_pb2.TIER_PREMIUM), timeout=10
        )
    ).user
    created = await auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=user.user_id, name="k"), timeout=10
    )
    return str(created.secret)


async def _code(auth: Client, key: str) -> tuple[str, str]:
    client = await auth.stub.RegisterOAuthClient(
        auth_pb2.RegisterOAuthClientRequest(client_name="c", redirect_uris=[REDIRECT]), timeout=10
    )
    start = await auth.stub.StartAuthorization(
        auth_pb2.StartAuthorizationRequest(
            response_type="code",
            client_id=client.client_id,
            redirect_uri=REDIRECT,
            state="s",
            code_challenge=pkce_challenge(VERIFIER),
            code_challenge_method="S256",
            served_resource=RESOURCE,
            issuer=ISSUER,
        ),
        timeout=10,
    )
    assert start.error == "", start.error_description
    done = await auth.stub.CompleteAuthorization(
        auth_pb2.CompleteAuthorizationRequest(
            request_id=start.request_id, credential=key, is_approved=True, issuer=ISSUER
        ),
        timeout=10,
    )
    return client.client_id, parse_qs(urlsplit(done.redirect_url).query)["code"][0]


async def _exchange(auth: Client, client_id: str, code: str) -> auth_pb2.ExchangeOAuthTokenResponse:
    return await auth.stub.ExchangeOAuthToken(
        auth_pb2.ExchangeOAuthTokenRequest(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT,
            client_id=client_id,
            code_verifier=VERIFIER,
        ),
        timeout=10,
    )


async def test_an_access_token_carries_the_users_tier_until_it_expires(
    auth: Client, clock: FakeClock
) -> None:
    tokens = await _exchange(auth, *await _code(auth, await _user_key(auth)))
    assert tokens.expires_in == 3600
    answer = await auth.stub.Authenticate(
        auth_pb2.AuthenticateRequest(credential=tokens.access_token, resource=RESOURCE),
        timeout=10,
    )
    assert answer.principal.tier == auth_pb2.TIER_PREMIUM
    assert answer.principal.rate_limit_subject == f"user:{answer.principal.user_id}"
    assert list(answer.principal.scopes) == ["read"]
    clock.advance(3595)
    answer = await auth.stub.Authenticate(
        auth_pb2.AuthenticateRequest(credential=tokens.access_token, resource=RESOURCE),
        timeout=10,
    )
    # A gateway may not keep the principal past the token's end.
    assert answer.cache_ttl_seconds == 5
    clock.advance(5)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await auth.stub.Authenticate(
            auth_pb2.AuthenticateRequest(credential=tokens.access_token, resource=RESOURCE),
            timeout=10,
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in (refused.value.details() or "")


async def test_an_access_token_is_refused_where_no_resource_is_named(auth: Client) -> None:
    tokens = await _exchange(auth, *await _code(auth, await _user_key(auth)))
    # Key management and consent name no resource: a grant cannot mint keys or other grants.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await auth.stub.Authenticate(
            auth_pb2.AuthenticateRequest(credential=tokens.access_token), timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_authorization_code_expires_after_two_minutes(
    auth: Client, clock: FakeClock
) -> None:
    client_id, code = await _code(auth, await _user_key(auth))
    clock.advance(121)
    answer = await _exchange(auth, client_id, code)
    assert answer.error == "invalid_grant"
    assert answer.access_token == ""


@pytest.fixture
async def documents_server() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        if request.path == "/big.json":
            return web.Response(body=b" " * 20_000, content_type="application/json")
        if request.path == "/moved.json":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        return web.json_response({"client_id": str(request.url), "redirect_uris": [REDIRECT]})

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"127.0.0.1:{runner.addresses[0][1]}", hits
    await runner.cleanup()


async def test_a_metadata_host_resolving_to_a_private_address_is_never_contacted(
    documents_server: tuple[str, list[str]],
) -> None:
    address, hits = documents_server
    port = address.rpartition(":")[2]
    documents = MetadataDocuments(allow_loopback=False)
    try:
        with pytest.raises(ClientMetadataError, match="private"):
            await documents.fetch(f"https://localhost:{port}/client.json")
        with pytest.raises(ClientMetadataError, match="private"):
            await documents.fetch(f"https://127.0.0.1:{port}/client.json")
    finally:
        await documents.close()
    assert hits == []


async def test_metadata_documents_are_bounded_in_size_and_never_follow_redirects(
    documents_server: tuple[str, list[str]],
) -> None:
    address, hits = documents_server
    documents = MetadataDocuments(allow_loopback=True)
    try:
        good = await documents.fetch(f"http://{address}/client.json")
        assert good.redirect_uris == (REDIRECT,)
        with pytest.raises(ClientMetadataError, match="larger than"):
            await documents.fetch(f"http://{address}/big.json")
        with pytest.raises(ClientMetadataError, match="redirects are not followed"):
            await documents.fetch(f"http://{address}/moved.json")
    finally:
        await documents.close()
    assert hits == ["/client.json", "/big.json", "/moved.json"]


async def test_expired_codes_and_tokens_are_dropped_when_a_later_sign_in_starts(
    auth: Client, clock: FakeClock
) -> None:
    key = await _user_key(auth)
    await _exchange(auth, *await _code(auth, key))

    async def rows() -> tuple[int, int]:
        async with auth.server.engine.connect() as connection:
            codes = await connection.scalar(text("SELECT count(*) FROM auth_oauth_codes"))
            tokens = await connection.scalar(text("SELECT count(*) FROM auth_oauth_tokens"))
        return int(codes or 0), int(tokens or 0)

    assert await rows() == (1, 2)
    clock.advance(31 * 86400)  # past the refresh token's 30 days, and the hour kept after
    await _code(auth, key)
    assert await rows() == (1, 0)  # only the new code is left


async def test_an_operator_lists_every_users_grants_of_one_client(auth: Client) -> None:
    key = await _user_key(auth)
    client_id, code = await _code(auth, key)
    await _exchange(auth, client_id, code)
    await _code(auth, key)  # another client, another grant
    listed = await auth.stub.ListOAuthGrants(
        auth_pb2.ListOAuthGrantsRequest(client_id=client_id), timeout=10
    )
    assert [grant.client_id for grant in listed.grants] == [client_id]
    revoked = await auth.stub.RevokeOAuthGrant(
        auth_pb2.RevokeOAuthGrantRequest(
            user_id=listed.grants[0].user_id, grant_id=listed.grants[0].grant_id
        ),
        timeout=10,
    )
    assert revoked.grant.is_revoked is True
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await auth.stub.ListOAuthGrants(auth_pb2.ListOAuthGrantsRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
