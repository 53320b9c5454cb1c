"""MCP sign-in through GitHub: the consent page's "Allow with GitHub" against a local stand-in of
GitHub's OAuth endpoints, auth and the gateway real."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from twinmcp.runtime.ports import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

REDIRECT_URI = "http://127.0.0.1:33420/callback"
CLIENT_ID = "Iv1.mcp-test"
CLIENT_SECRET = "github-secret-for-tests"


@dataclass
class GitHub:
    """GitHub's authorize, token and user endpoints; the user approves at once."""

    base: str = ""
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> challenge, uri
    tokens: set[str] = field(default_factory=set)
    authorized: int = 0

    async def authorize(self, request: web.Request) -> web.Response:
        query = request.query
        assert query["client_id"] == CLIENT_ID
        self.authorized += 1
        code = secrets.token_hex(8)
        self.codes[code] = (query["code_challenge"], query["redirect_uri"])
        raise web.HTTPFound(
            f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        )

    async def access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        challenge, uri = self.codes.pop(str(form["code"]), ("", ""))
        verifier = str(form.get("code_verifier", ""))
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if digest.rstrip(b"=").decode() != challenge or form.get("redirect_uri") != uri:
            return web.json_response({"error": "bad_verification_code"})
        token = f"gho_{secrets.token_hex(8)}"
        self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer"})

    async def user(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response({"id": 777, "login": "mona", "email": "mona@example.com"})


@dataclass
class GitHubStack:
    base: str
    github: GitHub


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def github_stack(
    tmp_path_factory: pytest.TempPathFactory, clients: Any
) -> AsyncIterator[GitHubStack]:
    github = GitHub()
    app = web.Application()
    app.router.add_get("/login/oauth/authorize", github.authorize)
    app.router.add_post("/login/oauth/access_token", github.access_token)
    app.router.add_get("/user", github.user)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    github.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        async with clients.client_stack(
            tmp_path_factory.mktemp("oauth-github"),
            auth_env={
                "OAUTH_CLIENT_ID": CLIENT_ID,
                "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
                "GITHUB_OAUTH_URL": github.base,
                "GITHUB_API_URL": github.base,
            },
            PORT=str(port),
            API_BASE_URL=base,
            OAUTH_SERVER="true",
            MCP_REQUIRE_AUTH="true",
            OAUTH_CLIENT_ID=CLIENT_ID,
        ):
            yield GitHubStack(base, github)
    finally:
        await runner.cleanup()


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, html[:2000]
    return match.group(1)


async def _consent(http: aiohttp.ClientSession, base: str) -> tuple[str, str, str]:
    """Registers a client and opens its consent page: (client_id, verifier, page)."""
    async with http.post(
        f"{base}/oauth/register", json={"client_name": "gh client", "redirect_uris": [REDIRECT_URI]}
    ) as answer:
        client_id = (await answer.json())["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": "gh-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": f"{base}/mcp",
        }
    )
    async with http.get(f"{base}/oauth/authorize?{query}") as page:
        assert page.status == 200
        return client_id, verifier, await page.text()


async def test_allow_with_github_signs_in_the_github_user_and_the_client_gets_a_token(
    github_stack: GitHubStack,
) -> None:
    base = github_stack.base
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        client_id, verifier, html = await _consent(browser, base)
        assert 'value="github">Allow with GitHub' in html
        # The browser follows GitHub's redirect back to the gateway, which redirects to the client.
        async with browser.post(
            f"{base}/oauth/authorize",
            data={
                "request_id": _hidden(html, "request_id"),
                "csrf": _hidden(html, "csrf"),
                "decision": "github",
            },
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303, await answer.text()
            to_github = answer.headers["Location"]
        assert to_github.startswith(f"{github_stack.github.base}/login/oauth/authorize?")
        async with browser.get(to_github, allow_redirects=False) as answer:
            back = answer.headers["Location"]
        assert back.startswith(f"{base}/auth/github/callback/mcp?")
        async with browser.get(back, allow_redirects=False) as answer:
            assert answer.status == 303, await answer.text()
            redirect = answer.headers["Location"]
    sent = parse_qs(urlsplit(redirect).query)
    assert redirect.startswith(REDIRECT_URI)
    assert sent["state"] == ["gh-state"]
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": sent["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        ) as answer:
            tokens = await answer.json()
            assert answer.status == 200, tokens
        async with http.post(
            f"{base}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={
                "Authorization": f"Bearer {tokens['access_token']}",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        ) as answer:
            assert answer.status == 200, await answer.text()


async def test_a_github_callback_this_browser_did_not_start_is_refused(
    github_stack: GitHubStack,
) -> None:
    base = github_stack.base
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as victim:
        _, _, html = await _consent(victim, base)
        async with victim.post(
            f"{base}/oauth/authorize",
            data={
                "request_id": _hidden(html, "request_id"),
                "csrf": _hidden(html, "csrf"),
                "decision": "github",
            },
            allow_redirects=False,
        ) as answer:
            to_github = answer.headers["Location"]
        async with victim.get(to_github, allow_redirects=False) as answer:
            back = answer.headers["Location"]
    # Another browser (no cookie from the consent page) replaying the callback gets nothing.
    async with (
        aiohttp.ClientSession() as attacker,
        attacker.get(back, allow_redirects=False) as answer,
    ):
        assert answer.status == 403
        assert "Location" not in answer.headers
