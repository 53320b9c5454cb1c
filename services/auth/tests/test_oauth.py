"""GitHub sign-in end to end against a local stand-in of GitHub's OAuth and user endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import aiohttp
import grpc
import pytest
from twinmcp.auth.v1 import auth_pb2

if TYPE_CHECKING:
    from twinmcp.auth.config import Settings

    from conftest import Client, GitHubStandIn, Servers

CALLBACK = "http://127.0.0.1:3000/auth/callback"


@pytest.fixture
async def oauth_auth(
    servers: Servers, settings_for: Callable[..., Settings], github: GitHubStandIn
) -> Client:
    return await servers.start(
        settings_for(
            OAUTH_CLIENT_ID=github.client_id,
            OAUTH_CLIENT_SECRET=github.client_secret,
            GITHUB_OAUTH_URL=github.base_url,
            GITHUB_API_URL=github.base_url,
        )
    )


async def _approve(authorize_url: str) -> tuple[str, str]:
    """Plays the browser: opens the authorize URL and reads the code off the redirect."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(authorize_url, allow_redirects=False) as reply,
    ):
        assert reply.status == 302, await reply.text()
        location = reply.headers["Location"]
    assert location.startswith(CALLBACK)
    query = parse_qs(urlsplit(location).query)
    return query["code"][0], query["state"][0]


async def _start(client: Client) -> auth_pb2.StartSignInResponse:
    return await client.stub.StartSignIn(
        auth_pb2.StartSignInRequest(redirect_uri=CALLBACK), timeout=10
    )


async def _complete(client: Client, code: str, state: str) -> auth_pb2.CompleteSignInResponse:
    return await client.stub.CompleteSignIn(
        auth_pb2.CompleteSignInRequest(code=code, state=state), timeout=10
    )


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_the_authorize_url_carries_state_and_a_pkce_s256_challenge(
    oauth_auth: Client, github: GitHubStandIn
) -> None:
    started = await _start(oauth_auth)
    url = urlsplit(started.authorize_url)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert started.authorize_url.startswith(f"{github.base_url}/login/oauth/authorize?")
    assert query["client_id"] == github.client_id
    assert query["state"] == started.state
    assert query["redirect_uri"] == CALLBACK
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(started.state) >= 40


async def test_a_first_github_sign_in_creates_a_free_user_with_a_working_session(
    oauth_auth: Client,
) -> None:
    started = await _start(oauth_auth)
    code, state = await _approve(started.authorize_url)
    assert state == started.state
    signed_in = await _complete(oauth_auth, code, state)
    assert signed_in.user.login == "octocat"
    assert signed_in.user.email == "octo@example.com"
    assert signed_in.user.tier == auth_pb2.TIER_FREE
    assert signed_in.tokens.expires_in_seconds == 900
    principal = (
        await oauth_auth.stub.Authenticate(
            auth_pb2.AuthenticateRequest(credential=signed_in.tokens.access_token), timeout=10
        )
    ).principal
    assert principal.user_id == signed_in.user.user_id
    assert principal.rate_limit_subject == f"user:{signed_in.user.user_id}"
    assert list(principal.scopes) == ["read"]
    # Signing in again finds the same account.
    code, state = await _approve((await _start(oauth_auth)).authorize_url)
    again = await _complete(oauth_auth, code, state)
    assert again.user.user_id == signed_in.user.user_id


async def test_a_wrong_state_is_refused(oauth_auth: Client) -> None:
    code, _state = await _approve((await _start(oauth_auth)).authorize_url)
    error = await _refused(_complete(oauth_auth, code, "not-the-state"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "start sign-in again" in (error.details() or "")


async def test_a_replayed_code_is_refused(oauth_auth: Client) -> None:
    code, state = await _approve((await _start(oauth_auth)).authorize_url)
    await _complete(oauth_auth, code, state)
    same_state = await _refused(_complete(oauth_auth, code, state))
    assert same_state.code() == grpc.StatusCode.INVALID_ARGUMENT
    fresh_state = (await _start(oauth_auth)).state
    fresh = await _refused(_complete(oauth_auth, code, fresh_state))
    assert fresh.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "bad_verification_code" in (fresh.details() or "")


async def test_refresh_tokens_rotate_and_a_reused_one_ends_the_session(
    oauth_auth: Client,
) -> None:
    code, state = await _approve((await _start(oauth_auth)).authorize_url)
    first = (await _complete(oauth_auth, code, state)).tokens
    second = (
        await oauth_auth.stub.RefreshSession(
            auth_pb2.RefreshSessionRequest(refresh_token=first.refresh_token), timeout=10
        )
    ).tokens
    assert second.refresh_token != first.refresh_token
    assert second.access_token
    reused = await _refused(
        oauth_auth.stub.RefreshSession(
            auth_pb2.RefreshSessionRequest(refresh_token=first.refresh_token), timeout=10
        )
    )
    assert reused.code() == grpc.StatusCode.UNAUTHENTICATED
    # The theft signal revoked the whole family, including the newest token.
    revoked = await _refused(
        oauth_auth.stub.RefreshSession(
            auth_pb2.RefreshSessionRequest(refresh_token=second.refresh_token), timeout=10
        )
    )
    assert revoked.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_github_being_down_is_unavailable_not_internal(
    servers: Servers, settings_for: Callable[..., Settings], closed_redis_url: str
) -> None:
    dead = closed_redis_url.replace("redis://", "http://").rsplit("/", 1)[0]
    client = await servers.start(
        settings_for(
            OAUTH_CLIENT_ID="Iv1.x",
            OAUTH_CLIENT_SECRET="y",
            GITHUB_OAUTH_URL=dead,
            GITHUB_API_URL=dead,
        )
    )
    state = (await _start(client)).state
    error = await _refused(_complete(client, "some-code", state))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
