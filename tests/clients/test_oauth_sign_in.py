"""Sign-in from the MCP client: the official Python SDK's OAuth client against the real stack
(gateway as protected resource and authorization server, auth behind it), plus the attacks an
authorization server must refuse."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import httpx2
import pytest
import pytest_asyncio
from aiohttp import web
from mcp.client.auth import OAuthClientProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from twinmcp.gateway.config import Settings as GatewaySettings
from twinmcp.gateway.server import start as start_gateway
from twinmcp.runtime.ports import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

REDIRECT_URI = "http://127.0.0.1:33418/callback"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "attacker", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@dataclass
class OAuthStack:
    base: str
    api_key: str
    stack: Any
    metadata_server: str = ""  # where the test's client metadata documents are served
    documents: dict[str, Any] = field(default_factory=dict)

    @property
    def mcp(self) -> str:
        return f"{self.base}/mcp"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def signin(
    tmp_path_factory: pytest.TempPathFactory, clients: Any
) -> AsyncIterator[OAuthStack]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    documents: dict[str, Any] = {}

    async def document(request: web.Request) -> web.Response:
        body = documents.get(request.path)
        if body is None:
            return web.Response(status=404)
        return web.json_response(body)

    metadata_app = web.Application()
    metadata_app.router.add_get("/{name:.*}", document)
    runner = web.AppRunner(metadata_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    metadata_port = runner.addresses[0][1]
    try:
        async with clients.client_stack(
            tmp_path_factory.mktemp("oauth"),
            # Revocation is seen at once (a gateway otherwise keeps an answer up to 10 s).
            auth_env={"OAUTH_METADATA_ALLOW_LOOPBACK": "true", "AUTH_CACHE_TTL_SECONDS": "0"},
            PORT=str(port),
            API_BASE_URL=base,
            OAUTH_SERVER="true",
            MCP_REQUIRE_AUTH="true",
        ) as stack:
            yield OAuthStack(
                base, stack.api_key, stack, f"http://127.0.0.1:{metadata_port}", documents
            )
    finally:
        await runner.cleanup()


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def _browser() -> aiohttp.ClientSession:
    # unsafe: keep cookies set by an IP-addressed host (the consent page's CSRF cookie).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no hidden {name} in the page:\n{html[:2000]}"
    return match.group(1)


class ScriptedBrowser:
    """What a person does: opens the authorization URL, pastes a key, clicks Allow."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.redirect: str = ""
        self.pages: list[str] = []

    async def open(self, authorization_url: str) -> None:
        async with _browser() as browser:
            async with browser.get(authorization_url, allow_redirects=False) as page:
                html = await page.text()
                self.pages.append(html)
                assert page.status == 200, html
                assert "script" not in page.headers["Content-Security-Policy"]
            form = {
                "request_id": _hidden(html, "request_id"),
                "csrf": _hidden(html, "csrf"),
                "api_key": self.api_key,
                "decision": "approve",
            }
            base = authorization_url.split("/oauth/")[0]
            async with browser.post(
                f"{base}/oauth/authorize", data=form, allow_redirects=False
            ) as answer:
                assert answer.status == 303, await answer.text()
                self.redirect = answer.headers["Location"]

    async def callback(self) -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(self.redirect).query)
        return AuthorizationCodeResult(
            code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
        )


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_python_sdk_signs_in_through_the_browser_then_lists_tools_and_queries_docs(
    signin: OAuthStack, clients: Any, mode: str
) -> None:
    browser = ScriptedBrowser(signin.api_key)
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=signin.mcp,
        client_metadata=OAuthClientMetadata(
            client_name="SDK test client",
            redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(signin.mcp, http_client=http), mode=mode) as client,
    ):
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == clients.TOOL_NAMES
        docs = await client.call_tool(
            "query-docs", {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION}
        )
        assert docs.is_error is False
        assert clients.CORS_CODE in docs.content[0].text  # type: ignore[union-attr]
        # An hour later: the SDK refreshes by itself, and the refresh token rotates.
        first = storage.tokens
        assert first is not None
        provider.context.token_expiry_time = time.time() - 1
        again = await client.call_tool(
            "query-docs", {"libraryId": clients.LIBRARY_ID, "query": clients.QUESTION}
        )
        assert again.is_error is False
        assert storage.tokens is not None
        assert storage.tokens.access_token != first.access_token
        assert storage.tokens.refresh_token != first.refresh_token
        assert len(browser.pages) == 1  # no second trip through the browser
    assert "SDK test client" in browser.pages[0]
    assert storage.tokens is not None and storage.tokens.access_token.startswith("tmoa_")
    assert storage.tokens.refresh_token is not None
    # The token's audience is this gateway's /mcp (RFC 8707), carried in the redirect's iss too.
    assert parse_qs(urlsplit(browser.redirect).query)["iss"] == [signin.base]


# -- the same endpoints driven by hand: what an attacker (or a broken client) can send --------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _register(base: str, redirect_uris: list[str], name: str = "hand client") -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/oauth/register",
            json={"client_name": name, "redirect_uris": redirect_uris},
        ) as answer,
    ):
        return answer.status, await answer.json()


@dataclass
class Authorized:
    client_id: str
    verifier: str
    code: str
    redirect: str


def _authorize_query(
    client_id: str, challenge: str, *, redirect_uri: str = REDIRECT_URI, **extra: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "read",
        **extra,
    }
    return urlencode({k: v for k, v in params.items() if v is not None})


async def _authorize(
    stack: OAuthStack, client_id: str = "", *, base: str = "", **extra: str
) -> Authorized:
    """Registers (unless given a client), signs in on the consent page, returns the code."""
    base = base or stack.base
    if not client_id:
        status, registered = await _register(base, [REDIRECT_URI])
        assert status == 201, registered
        client_id = registered["client_id"]
    verifier, challenge = _pkce()
    async with _browser() as browser:
        url = f"{base}/oauth/authorize?{_authorize_query(client_id, challenge, **extra)}"
        async with browser.get(url, allow_redirects=False) as page:
            html = await page.text()
            assert page.status == 200, html
        form = {
            "request_id": _hidden(html, "request_id"),
            "csrf": _hidden(html, "csrf"),
            "api_key": stack.api_key,
            "decision": "approve",
        }
        async with browser.post(
            f"{base}/oauth/authorize", data=form, allow_redirects=False
        ) as answer:
            assert answer.status == 303, await answer.text()
            redirect = answer.headers["Location"]
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    return Authorized(client_id, verifier, code, redirect)


async def _token(base: str, **form: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/oauth/token", data=form) as answer,
    ):
        assert answer.headers.get("Cache-Control") == "no-store"
        return answer.status, await answer.json()


async def _exchange(base: str, got: Authorized, **override: str) -> tuple[int, dict[str, Any]]:
    form = {
        "grant_type": "authorization_code",
        "code": got.code,
        "redirect_uri": REDIRECT_URI,
        "client_id": got.client_id,
        "code_verifier": got.verifier,
        "resource": f"{base}/mcp",
        **override,
    }
    return await _token(base, **form)


async def _mcp(base: str, token: str | None) -> tuple[int, dict[str, str], Any]:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/mcp", json=INITIALIZE, headers=headers) as answer,
    ):
        return answer.status, dict(answer.headers), await answer.text()


async def test_protected_resource_and_authorization_server_metadata_are_published(
    signin: OAuthStack,
) -> None:
    async with aiohttp.ClientSession() as http:
        for path in (
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp",
        ):
            async with http.get(f"{signin.base}{path}") as answer:
                assert answer.status == 200
                prm = await answer.json()
            assert prm["resource"] == signin.mcp
            assert prm["authorization_servers"] == [signin.base]
            assert prm["scopes_supported"] == ["read"]
            assert prm["bearer_methods_supported"] == ["header"]
        for path in (
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ):
            async with http.get(f"{signin.base}{path}") as answer:
                assert answer.status == 200
                asm = await answer.json()
            assert asm["issuer"] == signin.base
            assert asm["code_challenge_methods_supported"] == ["S256"]
            assert asm["response_types_supported"] == ["code"]
            assert asm["client_id_metadata_document_supported"] is True
            assert asm["registration_endpoint"] == f"{signin.base}/oauth/register"
            assert asm["revocation_endpoint"] == f"{signin.base}/oauth/revoke"


async def test_mcp_without_credentials_is_challenged_and_an_api_key_still_works(
    signin: OAuthStack,
) -> None:
    status, headers, _ = await _mcp(signin.base, None)
    assert status == 401
    challenge = headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert (
        f'resource_metadata="{signin.base}/.well-known/oauth-protected-resource/mcp"' in challenge
    )
    assert 'scope="read"' in challenge
    status, _, body = await _mcp(signin.base, signin.api_key)
    assert status == 200, body


async def test_a_token_without_the_read_scope_gets_403_insufficient_scope(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin, scope="offline_access")
    status, tokens = await _exchange(signin.base, got)
    assert status == 200, tokens
    assert tokens["scope"] == "offline_access"
    status, headers, _ = await _mcp(signin.base, tokens["access_token"])
    assert status == 403
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    assert 'scope="read"' in headers["WWW-Authenticate"]


async def test_a_wrong_pkce_verifier_is_refused_and_burns_the_code(signin: OAuthStack) -> None:
    got = await _authorize(signin)
    status, body = await _exchange(signin.base, got, code_verifier=_pkce()[0])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "code_verifier" in body["error_description"]
    # The right verifier afterwards is too late: the code was spent by the failed attempt.
    status, body = await _exchange(signin.base, got)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_a_reused_code_is_refused_and_revokes_the_tokens_it_produced(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin)
    status, tokens = await _exchange(signin.base, got)
    assert status == 200, tokens
    assert (await _mcp(signin.base, tokens["access_token"]))[0] == 200
    status, body = await _exchange(signin.base, got)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert (await _mcp(signin.base, tokens["access_token"]))[0] == 401


async def test_a_redirect_uri_other_than_the_authorized_one_is_refused_at_the_token_endpoint(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin)
    status, body = await _exchange(signin.base, got, redirect_uri="http://127.0.0.1:33418/other")
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
    signin: OAuthStack,
) -> None:
    status, registered = await _register(signin.base, [REDIRECT_URI])
    assert status == 201
    _, challenge = _pkce()
    async with aiohttp.ClientSession() as http:
        for hostile in (
            "https://evil.example/callback",
            "http://127.0.0.1:33418/callback/../../evil",
            "http://127.0.0.1:33418/callback?next=https://evil.example",
            "",
        ):
            query = _authorize_query(registered["client_id"], challenge, redirect_uri=hostile)
            async with http.get(
                f"{signin.base}/oauth/authorize?{query}", allow_redirects=False
            ) as answer:
                assert answer.status == 400, hostile
                assert "Location" not in answer.headers
                assert "text/html" in answer.headers["Content-Type"]
                assert "evil" not in (await answer.text()) or hostile
        # An unknown client is never redirected to either, whatever redirect_uri it names.
        query = _authorize_query("tmoc_unknown", challenge, redirect_uri="https://evil.example/")
        async with http.get(
            f"{signin.base}/oauth/authorize?{query}", allow_redirects=False
        ) as answer:
            assert answer.status == 400
            assert "Location" not in answer.headers


async def test_a_loopback_redirect_may_use_any_port_but_not_another_path(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin, redirect_uri="http://127.0.0.1:5555/callback")
    assert got.redirect.startswith("http://127.0.0.1:5555/callback?")
    _, registered = await _register(signin.base, [REDIRECT_URI])
    _, challenge = _pkce()
    query = _authorize_query(
        registered["client_id"], challenge, redirect_uri="http://127.0.0.1:5555/elsewhere"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{signin.base}/oauth/authorize?{query}", allow_redirects=False) as answer,
    ):
        assert answer.status == 400
        assert "Location" not in answer.headers


async def test_a_request_without_state_or_pkce_is_sent_back_with_an_error_and_no_code(
    signin: OAuthStack,
) -> None:
    _, registered = await _register(signin.base, [REDIRECT_URI])
    _, challenge = _pkce()
    async with aiohttp.ClientSession() as http:
        for broken in ({"state": ""}, {"code_challenge_method": "plain"}, {"code_challenge": ""}):
            params = parse_qs(_authorize_query(registered["client_id"], challenge))
            query = urlencode({**{k: v[0] for k, v in params.items()}, **broken})
            async with http.get(
                f"{signin.base}/oauth/authorize?{query}", allow_redirects=False
            ) as answer:
                assert answer.status == 302, broken
                sent = parse_qs(urlsplit(answer.headers["Location"]).query)
            assert sent["error"] == ["invalid_request"], broken
            assert "code" not in sent
            assert sent["iss"] == [signin.base]


async def test_a_resource_this_server_does_not_serve_is_refused_as_invalid_target(
    signin: OAuthStack,
) -> None:
    _, registered = await _register(signin.base, [REDIRECT_URI])
    _, challenge = _pkce()
    query = _authorize_query(
        registered["client_id"], challenge, resource="https://other.example/mcp"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{signin.base}/oauth/authorize?{query}", allow_redirects=False) as answer,
    ):
        sent = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert sent["error"] == ["invalid_target"]


async def test_a_token_minted_for_another_resource_is_refused(
    signin: OAuthStack, clients: Any
) -> None:
    # A second TwinMCP endpoint sharing the same auth service: its tokens name its own /mcp.
    port = free_port()
    other_base = f"http://127.0.0.1:{port}"
    other = await start_gateway(
        GatewaySettings.from_env(
            {
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "API_BASE_URL": other_base,
                "AUTH_ADDR": f"127.0.0.1:{signin.stack.auth.port}",
                "SEARCH_ADDR": f"127.0.0.1:{signin.stack.search.port}",
                "INGEST_ADDR": f"127.0.0.1:{free_port()}",
                "OAUTH_SERVER": "true",
                "MCP_REQUIRE_AUTH": "true",
            }
        )
    )
    try:
        got = await _authorize(signin, base=other_base)
        status, tokens = await _exchange(other_base, got)
        assert status == 200, tokens
        assert (await _mcp(other_base, tokens["access_token"]))[0] == 200
        status, headers, body = await _mcp(signin.base, tokens["access_token"])
        assert status == 401
        assert 'error="invalid_token"' in headers["WWW-Authenticate"]
        assert "another resource" in body
    finally:
        await other.stop()


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_sign_in(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin)
    _, first = await _exchange(signin.base, got)
    refresh = {"grant_type": "refresh_token", "client_id": got.client_id}
    status, second = await _token(signin.base, **refresh, refresh_token=first["refresh_token"])
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    assert (await _mcp(signin.base, second["access_token"]))[0] == 200
    status, body = await _token(signin.base, **refresh, refresh_token=first["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    # Both holders are signed out: the successor tokens die with the reused one.
    assert (await _mcp(signin.base, second["access_token"]))[0] == 401
    status, body = await _token(signin.base, **refresh, refresh_token=second["refresh_token"])
    assert status == 400


async def test_revocation_ends_the_token_and_unknown_tokens_are_not_an_error(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin)
    _, tokens = await _exchange(signin.base, got)
    async with aiohttp.ClientSession() as http:
        for token in ("tmoa_unknown_token", tokens["refresh_token"]):
            async with http.post(
                f"{signin.base}/oauth/revoke", data={"token": token, "client_id": got.client_id}
            ) as answer:
                assert answer.status == 200
    assert (await _mcp(signin.base, tokens["access_token"]))[0] == 401


async def test_a_user_lists_and_revokes_the_applications_they_let_in(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin)
    _, tokens = await _exchange(signin.base, got)
    key = {"Authorization": f"Bearer {signin.api_key}"}
    async with aiohttp.ClientSession(headers=key) as http:
        async with http.get(
            f"{signin.base}/api/v1/account/grants", params={"clientId": got.client_id}
        ) as answer:
            assert answer.status == 200
            grants = (await answer.json())["grants"]
        assert [(g["clientName"], g["resource"], g["isRevoked"]) for g in grants] == [
            ("hand client", signin.mcp, False)
        ]
        async with http.delete(
            f"{signin.base}/api/v1/account/grants/{grants[0]['grantId']}"
        ) as answer:
            assert answer.status == 200
            assert (await answer.json())["grant"]["isRevoked"] is True
    assert (await _mcp(signin.base, tokens["access_token"]))[0] == 401


async def test_the_consent_form_needs_its_csrf_cookie_and_deny_says_access_denied(
    signin: OAuthStack,
) -> None:
    _, registered = await _register(signin.base, [REDIRECT_URI])
    _, challenge = _pkce()
    url = f"{signin.base}/oauth/authorize?{_authorize_query(registered['client_id'], challenge)}"
    async with _browser() as browser:
        async with browser.get(url) as page:
            html = await page.text()
        form = {"request_id": _hidden(html, "request_id"), "decision": "deny"}
        # A cross-site form (no cookie sent, or a token it cannot know) is refused.
        async with (
            aiohttp.ClientSession() as stranger,
            stranger.post(
                f"{signin.base}/oauth/authorize",
                data={
                    **form,
                    "csrf": _hidden(html, "csrf"),
                    "decision": "approve",
                    "api_key": signin.api_key,
                },
                allow_redirects=False,
            ) as answer,
        ):
            assert answer.status == 403
        async with browser.post(
            f"{signin.base}/oauth/authorize",
            data={**form, "csrf": _hidden(html, "csrf")},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303
            sent = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert sent["error"] == ["access_denied"]
    assert sent["state"] == ["st-123"]


async def test_a_wrong_key_on_the_consent_page_keeps_the_request_and_issues_nothing(
    signin: OAuthStack,
) -> None:
    _, registered = await _register(signin.base, [REDIRECT_URI])
    _, challenge = _pkce()
    url = f"{signin.base}/oauth/authorize?{_authorize_query(registered['client_id'], challenge)}"
    async with _browser() as browser:
        async with browser.get(url) as page:
            html = await page.text()
        async with browser.post(
            f"{signin.base}/oauth/authorize",
            data={
                "request_id": _hidden(html, "request_id"),
                "csrf": _hidden(html, "csrf"),
                "api_key": "tmcp_aaaaaaaaaaaa_" + "b" * 43,
                "decision": "approve",
            },
            allow_redirects=False,
        ) as answer:
            assert answer.status == 401
            assert "Location" not in answer.headers
            again = await answer.text()
    assert "not valid" in again
    # The page comes back whole, for the same pending request, so the user can paste again.
    assert "Allow hand client to use TwinMCP?" in again
    assert _hidden(again, "request_id") == _hidden(html, "request_id")


async def test_client_id_metadata_documents_are_fetched_and_must_name_themselves(
    signin: OAuthStack,
) -> None:
    url = f"{signin.metadata_server}/clients/editor.json"
    signin.documents["/clients/editor.json"] = {
        "client_id": url,
        "client_name": "Metadata Doc Editor",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    }
    got = await _authorize(signin, client_id=url)
    status, tokens = await _exchange(signin.base, got)
    assert status == 200, tokens
    assert (await _mcp(signin.base, tokens["access_token"]))[0] == 200
    liar = f"{signin.metadata_server}/clients/liar.json"
    signin.documents["/clients/liar.json"] = {"client_id": url, "redirect_uris": [REDIRECT_URI]}
    _, challenge = _pkce()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{signin.base}/oauth/authorize?{_authorize_query(liar, challenge)}",
            allow_redirects=False,
        ) as answer,
    ):
        assert answer.status == 400
        assert "Location" not in answer.headers
        assert "must be its own URL" in await answer.text()


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("https://10.0.0.7/client.json", "private"),
        ("https://192.168.1.1/client.json", "private"),
        ("https://169.254.169.254/latest/meta-data/client.json", "private"),
        ("https://[fd00::1]/client.json", "private"),
        ("https://[::ffff:10.0.0.1]/client.json", "private"),
        ("https://[64:ff9b::a00:1]/client.json", "private"),
        ("https://[2002:a00:1::1]/client.json", "private"),
        ("http://example.com/client.json", "must be an https URL"),
        ("https://example.com/", "with a path"),
        ("https://user@example.com/client.json", "no user name"),
    ],
)
async def test_hostile_client_metadata_urls_are_refused_without_a_redirect(
    signin: OAuthStack, client_id: str, reason: str
) -> None:
    _, challenge = _pkce()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{signin.base}/oauth/authorize?{_authorize_query(client_id, challenge)}",
            allow_redirects=False,
        ) as answer,
    ):
        assert answer.status == 400
        assert "Location" not in answer.headers
        assert reason in await answer.text()


@pytest.mark.parametrize(
    "redirect_uris",
    [
        ["javascript:alert(1)"],
        ["data:text/html,hi"],
        ["http://evil.example/callback"],
        ["https://app.example/cb#fragment"],
        [],
        "https://app.example/cb",
    ],
)
async def test_registration_with_a_hostile_redirect_uri_is_refused(
    signin: OAuthStack, redirect_uris: Any
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{signin.base}/oauth/register",
            json={"client_name": "x", "redirect_uris": redirect_uris},
        ) as answer,
    ):
        assert answer.status == 400
        body = await answer.json()
    assert body["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
    assert body["error_description"]


async def test_a_browser_signed_in_to_the_dashboard_allows_without_pasting_a_key(
    signin: OAuthStack,
) -> None:
    _, registered = await _register(signin.base, [REDIRECT_URI])
    verifier, challenge = _pkce()
    url = f"{signin.base}/oauth/authorize?{_authorize_query(registered['client_id'], challenge)}"
    async with _browser() as browser:
        async with browser.get(f"{signin.base}/dashboard/sign-in") as page:
            html = await page.text()
        async with browser.post(
            f"{signin.base}/dashboard/sign-in",
            data={"csrf": _hidden(html, "csrf"), "api_key": signin.api_key, "next": "/dashboard"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303, await answer.text()
        async with browser.get(url) as page:
            html = await page.text()
        assert "signed in to the TwinMCP dashboard" in html
        async with browser.post(
            f"{signin.base}/oauth/authorize",
            data={
                "request_id": _hidden(html, "request_id"),
                "csrf": _hidden(html, "csrf"),
                "api_key": "",
                "decision": "approve",
            },
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303, await answer.text()
            redirect = answer.headers["Location"]
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    got = Authorized(registered["client_id"], verifier, code, redirect)
    status, tokens = await _exchange(signin.base, got)
    assert status == 200, tokens
    assert (await _mcp(signin.base, tokens["access_token"]))[0] == 200


async def test_typescript_sdk_signs_in_through_the_browser_then_queries_docs(
    signin: OAuthStack, clients: Any
) -> None:
    done = await clients.run_node(
        clients.JS_DIR / "ts-sdk-oauth.mjs",
        signin.mcp,
        signin.api_key,
        clients.LIBRARY_ID,
        clients.QUESTION,
        timeout=60,
    )
    assert done.returncode == 0, done.describe()
    out = done.json()
    assert out["signedIn"] is True
    assert out["consentNamesClient"] is True
    assert out["tokenPrefix"] == "tmoa_"
    assert out["hasRefreshToken"] is True
    assert out["tools"] == clients.TOOL_NAMES
    assert out["docs"]["isError"] is False
    assert clients.CORS_CODE in out["docs"]["text"]


async def test_an_access_token_reads_docs_but_cannot_mint_keys_or_grants(
    signin: OAuthStack,
) -> None:
    got = await _authorize(signin)
    _, tokens = await _exchange(signin.base, got)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with aiohttp.ClientSession(headers=bearer) as http:
        async with http.get(
            f"{signin.base}/api/v2/libs/search", params={"libraryName": "fastapi"}
        ) as answer:
            assert answer.status == 200
        async with http.post(f"{signin.base}/api/v1/account/keys", json={"name": "x"}) as answer:
            assert answer.status == 401
        async with http.get(f"{signin.base}/api/v1/account/grants") as answer:
            assert answer.status == 401
