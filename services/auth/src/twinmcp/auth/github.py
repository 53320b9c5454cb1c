"""GitHub OAuth: the authorize URL, the code-for-token exchange and the signed-in user."""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from twinmcp.auth.errors import UnauthenticatedError, UpstreamUnavailableError

logger = logging.getLogger(__name__)

SCOPE = "read:user user:email"


@dataclass(frozen=True)
class GitHubUser:
    github_id: int
    login: str
    email: str


def code_challenge(verifier: str) -> str:
    """PKCE S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class GitHubOAuth:
    """Talks to github.com (or a stand-in at the configured base URLs)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        oauth_url: str,
        api_url: str,
        client_id: str,
        client_secret: str,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._http = http
        self._oauth_url = oauth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def authorize_url(self, state: str, verifier: str, redirect_uri: str) -> str:
        query = urlencode(
            {
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "scope": SCOPE,
                "state": state,
                "code_challenge": code_challenge(verifier),
                "code_challenge_method": "S256",
                "allow_signup": "true",
            }
        )
        return f"{self._oauth_url}/login/oauth/authorize?{query}"

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> str:
        """The user's GitHub access token for this authorization code."""
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        body = await self._json(
            "POST",
            f"{self._oauth_url}/login/oauth/access_token",
            data=form,
            headers={"Accept": "application/json"},
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            # GitHub answers 200 with an `error` field for a bad, used or expired code.
            error = body.get("error", "no access token")
            raise UnauthenticatedError(
                f"GitHub refused the authorization code ({error}); start sign-in again"
            )
        return token

    async def fetch_user(self, access_token: str) -> GitHubUser:
        body = await self._json(
            "GET",
            f"{self._api_url}/user",
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/vnd.github+json",
            },
        )
        github_id, login = body.get("id"), body.get("login")
        if not isinstance(github_id, int) or not isinstance(login, str) or not login:
            raise UnauthenticatedError("GitHub did not return the signed-in user; sign in again")
        email = body.get("email")
        return GitHubUser(github_id, login, email if isinstance(email, str) else "")

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._http.request(method, url, timeout=self._timeout, **kwargs) as reply:
                if reply.status >= 500:
                    raise UpstreamUnavailableError(
                        f"GitHub answered {reply.status}; try signing in again shortly"
                    )
                if reply.status in (401, 403):
                    raise UnauthenticatedError("GitHub refused the sign-in; start sign-in again")
                body = await reply.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("GitHub request failed: %s", type(exc).__name__)
            raise UpstreamUnavailableError(
                "GitHub could not be reached; try signing in again shortly"
            ) from None
        except ValueError:
            raise UpstreamUnavailableError(
                "GitHub answered with something that is not JSON"
            ) from None
        if not isinstance(body, dict):
            raise UpstreamUnavailableError("GitHub answered with something unexpected")
        return body
