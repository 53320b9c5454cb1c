"""The OAuth 2.1 authorization server MCP clients sign in through: code + PKCE, tokens, grants."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from twinmcp.auth.accounts import User
from twinmcp.auth.client_metadata import (
    ClientInfo,
    ClientMetadataError,
    MetadataDocuments,
    check_redirect_uris,
    is_metadata_url,
    matches_redirect_uri,
)
from twinmcp.auth.errors import UnauthenticatedError
from twinmcp.auth.oauth_store import ACCESS_PREFIX, Grant, OAuthStore, PendingRequest

logger = logging.getLogger(__name__)

# "read" is what every MCP tool needs; "offline_access" only says the client wants refresh
# tokens (SEP-2207), which it gets either way.
SCOPES = ("read", "offline_access")
DEFAULT_SCOPES = ("read",)
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_STATE_CHARS = 1000
MAX_CLIENT_NAME = 200


def is_access_token(credential: str) -> bool:
    return credential.startswith(ACCESS_PREFIX)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def same_resource(a: str, b: str) -> bool:
    """RFC 8707 resources compared as the client sends them, ignoring one trailing slash."""
    return a.rstrip("/") == b.rstrip("/")


def with_query(uri: str, params: dict[str, str]) -> str:
    """`uri` with `params` added to its query (keeping what the client registered there)."""
    parts = urlsplit(uri)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@dataclass(frozen=True)
class Refusal:
    """An RFC 6749 error answer: `error` code and what to do about it."""

    error: str
    description: str


@dataclass(frozen=True)
class AuthorizationStart:
    request_id: str = ""
    client: ClientInfo | None = None
    redirect_uri: str = ""
    scopes: tuple[str, ...] = ()
    resource: str = ""
    refusal: Refusal | None = None
    error_redirect_url: str = ""  # empty with a refusal: never redirect, show the error


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str
    scope: str


@dataclass(frozen=True)
class AuthorizationParams:
    response_type: str
    client_id: str
    redirect_uri: str
    state: str
    code_challenge: str
    code_challenge_method: str
    scope: str
    resource: str
    served_resource: str
    issuer: str


@dataclass(frozen=True)
class TokenParams:
    grant_type: str
    code: str
    redirect_uri: str
    client_id: str
    code_verifier: str
    refresh_token: str
    resource: str
    scope: str


@dataclass(frozen=True)
class AccessPrincipal:
    user: User
    scopes: tuple[str, ...]
    expires_at: dt.datetime


class OAuthServer:
    """Authorization code + PKCE (S256 only), resource-bound tokens, rotating refresh tokens."""

    def __init__(
        self,
        store: OAuthStore,
        documents: MetadataDocuments,
        *,
        access_lifetime: dt.timedelta,
        refresh_lifetime: dt.timedelta,
        request_lifetime: dt.timedelta,
        code_lifetime: dt.timedelta = dt.timedelta(seconds=120),
    ) -> None:
        self._store = store
        self._documents = documents
        self._access_lifetime = access_lifetime
        self._refresh_lifetime = refresh_lifetime
        self._request_lifetime = request_lifetime
        self._code_lifetime = code_lifetime

    async def close(self) -> None:
        await self._documents.close()

    # Clients

    async def register(
        self,
        name: str,
        redirect_uris: list[str],
        grant_types: list[str],
        response_types: list[str],
        auth_method: str,
    ) -> ClientInfo:
        """RFC 7591 registration of a public client; ClientMetadataError says what to fix.

        Every client is registered public (`none`, PKCE) whatever method it asks for: RFC 7591
        3.2.1 lets the server substitute, and a desktop client cannot keep a secret anyway.
        """
        del auth_method
        unknown = set(grant_types) - {"authorization_code", "refresh_token"}
        if unknown:
            raise ClientMetadataError(
                f"grant_types {', '.join(sorted(unknown))} are not supported; use "
                "authorization_code and refresh_token"
            )
        if set(response_types) - {"code"}:
            raise ClientMetadataError("response_types must be ['code']")
        uris = check_redirect_uris(redirect_uris)
        return await self._store.create_client(name.strip()[:MAX_CLIENT_NAME], uris)

    async def _client(self, client_id: str) -> ClientInfo:
        if is_metadata_url(client_id):
            return await self._documents.fetch(client_id)
        client = await self._store.find_client(client_id)
        if client is None:
            raise ClientMetadataError(
                "client_id is not registered here; register the client (POST to the "
                "registration endpoint) or use a client ID metadata document URL"
            )
        return client

    # The authorization endpoint

    async def start(self, params: AuthorizationParams) -> AuthorizationStart:
        """Validates a request: until the client and redirect URI are trusted, errors are shown
        to the user and never redirected (RFC 6749 4.1.2.1: no open redirector)."""
        if not params.client_id:
            return AuthorizationStart(refusal=Refusal("invalid_request", "client_id is missing"))
        try:
            client = await self._client(params.client_id)
        except ClientMetadataError as exc:
            return AuthorizationStart(refusal=Refusal("invalid_client", str(exc)))
        # Always required (never defaulted), so the token request can be held to it exactly.
        redirect_uri = params.redirect_uri
        if not redirect_uri or not matches_redirect_uri(client.redirect_uris, redirect_uri):
            return AuthorizationStart(
                refusal=Refusal(
                    "invalid_request",
                    "redirect_uri is missing or not one registered for this client; the client "
                    "must send one of its registered redirect URIs exactly",
                )
            )
        refusal, scopes = self._check_request(params)
        if refusal is not None:
            reply = {"error": refusal.error, "error_description": refusal.description}
            if params.state:
                reply["state"] = params.state
            if params.issuer:
                reply["iss"] = params.issuer
            return AuthorizationStart(
                client=client,
                refusal=refusal,
                error_redirect_url=with_query(redirect_uri, reply),
            )
        resource = params.resource or params.served_resource
        pending = PendingRequest(
            client.client_id,
            client.name,
            redirect_uri,
            params.state,
            params.code_challenge,
            scopes,
            resource,
        )
        request_id = await self._store.save_request(pending, self._request_lifetime)
        return AuthorizationStart(request_id, client, redirect_uri, scopes, resource)

    def _check_request(self, params: AuthorizationParams) -> tuple[Refusal | None, tuple[str, ...]]:
        if params.response_type != "code":
            return Refusal("unsupported_response_type", "response_type must be 'code'"), ()
        if not params.state or len(params.state) > MAX_STATE_CHARS:
            return Refusal(
                "invalid_request",
                f"state is required (1 to {MAX_STATE_CHARS} characters): it is how the client "
                "tells this answer from a forged one",
            ), ()
        if params.code_challenge_method != "S256" or not _CHALLENGE.fullmatch(
            params.code_challenge
        ):
            return Refusal(
                "invalid_request",
                "PKCE is required: send code_challenge (base64url SHA-256, 43 characters) with "
                "code_challenge_method=S256 (plain is not accepted)",
            ), ()
        if params.resource and not same_resource(params.resource, params.served_resource):
            return Refusal(
                "invalid_target",
                f"resource {params.resource[:200]!r} is not served here; ask for "
                f"{params.served_resource}",
            ), ()
        asked = tuple(dict.fromkeys(params.scope.split())) if params.scope else DEFAULT_SCOPES
        unknown = [scope for scope in asked if scope not in SCOPES]
        if unknown:
            return Refusal(
                "invalid_scope",
                f"unknown scope(s) {' '.join(unknown)[:200]}; supported: {' '.join(SCOPES)}",
            ), ()
        return None, asked

    async def pending(self, request_id: str) -> PendingRequest | None:
        return await self._store.find_request(request_id)

    async def approve(self, request_id: str, user: User, issuer: str) -> str | None:
        """The redirect carrying a fresh code, or None when the request is gone or taken."""
        pending = await self._store.find_request(request_id)
        if pending is None or not await self._store.take_request(request_id):
            return None
        code = await self._store.create_grant(user.user_id, pending, self._code_lifetime)
        logger.info("user %s authorized OAuth client %s", user.user_id, pending.client_id)
        reply = {"code": code, "state": pending.state}
        if issuer:
            reply["iss"] = issuer
        return with_query(pending.redirect_uri, reply)

    async def deny(self, request_id: str, issuer: str) -> str | None:
        pending = await self._store.find_request(request_id)
        if pending is None or not await self._store.take_request(request_id):
            return None
        reply = {
            "error": "access_denied",
            "error_description": "the user declined",
            "state": pending.state,
        }
        if issuer:
            reply["iss"] = issuer
        return with_query(pending.redirect_uri, reply)

    # The token endpoint

    async def exchange(self, params: TokenParams) -> Tokens | Refusal:
        if not params.client_id:
            return Refusal("invalid_request", "client_id is required")
        if params.grant_type == "authorization_code":
            return await self._exchange_code(params)
        if params.grant_type == "refresh_token":
            return await self._refresh(params)
        return Refusal(
            "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
        )

    async def _exchange_code(self, params: TokenParams) -> Tokens | Refusal:
        if not params.code or not params.redirect_uri or not params.code_verifier:
            return Refusal("invalid_request", "code, redirect_uri and code_verifier are required")
        if not _VERIFIER.fullmatch(params.code_verifier):
            return Refusal("invalid_grant", "code_verifier must be 43 to 128 unreserved characters")
        # The code is spent before it is checked, so a wrong verifier cannot be retried.
        spent = await self._store.spend_code(params.code)
        if spent is None:
            return Refusal("invalid_grant", "authorization code is not valid")
        grant = spent.grant
        if not spent.is_first_use:
            # A replayed code means it leaked: what it produced is revoked (RFC 6749 4.1.2).
            await self._store.revoke_grant(grant.grant_id)
            logger.warning("authorization code replayed; grant %s revoked", grant.grant_id)
            return Refusal(
                "invalid_grant",
                "authorization code was already used; the tokens issued for it are revoked",
            )
        if spent.is_expired or grant.is_revoked:
            return Refusal("invalid_grant", "authorization code has expired; sign in again")
        if grant.client_id != params.client_id:
            return Refusal("invalid_grant", "authorization code was issued to another client")
        if params.redirect_uri != spent.redirect_uri:
            return Refusal(
                "invalid_grant", "redirect_uri differs from the one the code was issued for"
            )
        if not hmac.compare_digest(pkce_challenge(params.code_verifier), spent.code_challenge):
            return Refusal("invalid_grant", "code_verifier does not match the code_challenge")
        if params.resource and not same_resource(params.resource, grant.resource):
            return Refusal("invalid_target", "resource differs from the one authorized")
        return await self._issue(grant)

    async def _refresh(self, params: TokenParams) -> Tokens | Refusal:
        if not params.refresh_token:
            return Refusal("invalid_request", "refresh_token is required")
        spent = await self._store.spend_refresh(params.refresh_token)
        if spent is None:
            return Refusal("invalid_grant", "refresh token is not valid; sign in again")
        grant = spent.grant
        if grant.client_id != params.client_id:
            return Refusal("invalid_grant", "refresh token was issued to another client")
        if not spent.is_first_use:
            # Rotation makes every refresh token single-use; a second use means two holders.
            await self._store.revoke_grant(grant.grant_id)
            logger.warning("refresh token reused; grant %s revoked", grant.grant_id)
            return Refusal(
                "invalid_grant",
                "refresh token was already used; this sign-in is revoked, sign in again",
            )
        if spent.is_expired or grant.is_revoked:
            return Refusal("invalid_grant", "refresh token has expired or was revoked")
        if params.resource and not same_resource(params.resource, grant.resource):
            return Refusal("invalid_target", "resource differs from the one authorized")
        if params.scope and set(params.scope.split()) - set(grant.scopes):
            return Refusal("invalid_scope", "a refresh cannot add scopes the user did not grant")
        return await self._issue(grant)

    async def _issue(self, grant: Grant) -> Tokens:
        issued = await self._store.issue_tokens(
            grant.grant_id, self._access_lifetime, self._refresh_lifetime
        )
        return Tokens(
            issued.access_token,
            int(self._access_lifetime.total_seconds()),
            issued.refresh_token,
            " ".join(grant.scopes),
        )

    # Revocation and verification

    async def revoke_token(self, token: str, client_id: str) -> None:
        """RFC 7009: revokes the token's grant (its access and refresh tokens alike). Unknown
        tokens, and tokens of another client, change nothing and are not an error."""
        grant = await self._store.grant_of(token.strip())
        if grant is not None and grant.client_id == client_id:
            await self._store.revoke_grant(grant.grant_id)

    async def verify(self, token: str, resource: str) -> AccessPrincipal:
        holder = await self._store.access_holder(token)
        if holder is None:
            raise UnauthenticatedError("OAuth access token is not valid; sign in again")
        if holder.grant.is_revoked:
            raise UnauthenticatedError("OAuth access token was revoked; sign in again")
        if holder.expires_at <= self._store.now():
            raise UnauthenticatedError("OAuth access token has expired; refresh it or sign in")
        if not resource or not same_resource(resource, holder.grant.resource):
            # Audience binding (RFC 8707): a token is good only at the resource it names.
            raise UnauthenticatedError(
                "OAuth access token was issued for another resource; get a token for this one"
            )
        return AccessPrincipal(holder.user, holder.grant.scopes, holder.expires_at)

    async def list_grants(self, user_id: str, client_id: str) -> list[Grant]:
        return await self._store.list_grants(user_id, client_id.strip())

    async def revoke_grant(self, user_id: str, grant_id: str) -> Grant:
        return await self._store.revoke_user_grant(user_id, grant_id)
