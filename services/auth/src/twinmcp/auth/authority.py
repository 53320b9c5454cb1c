"""Who is calling and how much they may do: credentials to principals, limits, sign-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from twinmcp.auth import keys
from twinmcp.auth.accounts import AccountStore, ApiKey, UsageDay, User, requested_scopes
from twinmcp.auth.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from twinmcp.auth.github import GitHubOAuth
from twinmcp.auth.limits import Decision, Limiter, Tier, TierLimits
from twinmcp.auth.oauth_server import OAuthServer, is_access_token
from twinmcp.auth.oauth_store import Grant
from twinmcp.auth.sessions import SessionTokens
from twinmcp.auth.usage import UsageRecorder

logger = logging.getLogger(__name__)

MAX_SUBJECT_LENGTH = 200
MAX_COST = 1000
MAX_BATCH = 1000
MAX_USAGE_DAYS = 366
DEFAULT_USERS_PAGE = 100
MAX_USERS_PAGE = 1000


@dataclass(frozen=True)
class Principal:
    user_id: str
    key_id: str
    login: str
    tier: Tier
    scopes: tuple[str, ...]
    is_anonymous: bool
    rate_limit_subject: str
    expires_at: float = 0.0  # seconds since the epoch when the credential dies; 0: not known


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in_seconds: int


@dataclass(frozen=True)
class SignInStart:
    authorize_url: str
    state: str


class Authority:
    """The service's behaviour, independent of gRPC."""

    def __init__(
        self,
        store: AccountStore,
        limiter: Limiter,
        limits: dict[Tier, TierLimits],
        usage: UsageRecorder,
        sessions: SessionTokens,
        github: GitHubOAuth | None,
        *,
        refresh_lifetime: dt.timedelta,
        sign_in_lifetime: dt.timedelta,
        default_redirect_uri: str,
        oauth: OAuthServer | None = None,
    ) -> None:
        self.oauth = oauth
        self._store = store
        self._limiter = limiter
        self._limits = limits
        self._usage = usage
        self._sessions = sessions
        self._github = github
        self._refresh_lifetime = refresh_lifetime
        self._sign_in_lifetime = sign_in_lifetime
        self._default_redirect_uri = default_redirect_uri

    # Authentication

    async def authenticate(
        self, credential: str, client_address: str, resource: str = ""
    ) -> Principal:
        credential = credential.strip()
        if not credential:
            address = client_address.strip() or "unknown"
            return Principal("", "", "", Tier.ANONYMOUS, (), True, f"ip:{address}")
        if keys.looks_like_key(credential):
            key, user = await self._store.verify_key(credential)
            self._usage.note_key_used(key.key_id)
            return Principal(
                user.user_id,
                key.key_id,
                user.login,
                user.tier,
                _held_now(key.scopes, user),
                False,
                f"key:{key.key_id}",
            )
        if is_access_token(credential) and self.oauth is not None:
            if not resource:
                raise UnauthenticatedError(
                    "an OAuth access token is accepted only by the resource it was issued for; "
                    "use an API key or a session token here"
                )
            held = await self.oauth.verify(credential, resource)
            user = held.user
            return Principal(
                user.user_id,
                "",
                user.login,
                user.tier,
                _held_now(held.scopes, user),
                False,
                f"user:{user.user_id}",
                held.expires_at.timestamp(),
            )
        if credential.count(".") == 2:
            user = await self._session_user(self._sessions.verify(credential))
            scopes = ("admin", "read") if user.is_admin else ("read",)
            return Principal(
                user.user_id, "", user.login, user.tier, scopes, False, f"user:{user.user_id}"
            )
        raise UnauthenticatedError(
            "credential is neither a TwinMCP API key (tmcp_...) nor a session token"
        )

    async def _session_user(self, user_id: str) -> User:
        user = await self._store.find_user(user_id)
        if user is None:
            raise UnauthenticatedError("session token names a user that no longer exists")
        return user

    # API keys, managed by an operator (no caller credential) or by the user's own credential

    async def create_key(
        self, user_id: str, name: str, scopes: Sequence[str], caller_credential: str
    ) -> tuple[ApiKey, str]:
        """A new key; a caller's credential must hold every scope it asks for.

        Otherwise a read-only key of an admin user could mint itself an admin key.
        """
        caller = await self._key_manager(caller_credential, user_id)
        wanted = requested_scopes(scopes)
        if caller is not None:
            excess = sorted(set(wanted) - keys.granted_scopes(caller.scopes))
            if excess:
                held = ", ".join(sorted(caller.scopes)) or "none"
                raise PermissionDeniedError(
                    f"this credential has scope(s) {held} and cannot create a key with "
                    f"scope(s) {', '.join(excess)}: a key never gets a scope its creator lacks; "
                    "create it with a credential that has them (an admin key or an admin's "
                    "signed-in session)"
                )
        caller_key_id = caller.key_id if caller is not None else ""
        return await self._store.create_key(user_id, name, wanted, caller_key_id=caller_key_id)

    async def list_users(
        self, caller_credential: str, page_size: int, page_token: str
    ) -> tuple[list[User], str]:
        """A page of users in login order and the next page's token ("" after the last);
        for an operator, or a credential with the admin scope checked afresh."""
        if caller_credential:
            caller = await self.authenticate(caller_credential, "")
            if caller.is_anonymous:
                raise UnauthenticatedError(
                    "caller_credential is blank; send the caller's API key or session token"
                )
            if "admin" not in caller.scopes:
                raise PermissionDeniedError(
                    "listing users needs a credential with the 'admin' scope; this one has "
                    f"{', '.join(caller.scopes) or 'none'}"
                )
        if not 0 <= page_size <= MAX_USERS_PAGE:
            raise InvalidArgumentError(
                f"page_size must be from 0 to {MAX_USERS_PAGE} (0: {DEFAULT_USERS_PAGE})"
            )
        size = page_size or DEFAULT_USERS_PAGE
        users = await self._store.list_users(page_token, size + 1)
        return users[:size], users[size - 1].login if len(users) > size else ""

    async def list_keys(self, user_id: str, caller_credential: str) -> list[ApiKey]:
        await self._key_manager(caller_credential, user_id)
        return await self._store.list_keys(user_id)

    async def revoke_key(self, user_id: str, key_id: str, caller_credential: str) -> ApiKey:
        await self._key_manager(caller_credential, user_id)
        return await self._store.revoke_key(user_id, key_id)

    async def _key_manager(self, credential: str, user_id: str) -> Principal | None:
        """The caller managing `user_id`'s keys, checked afresh; None for an operator call.

        Never a principal cached by a gateway: a key revoked a moment ago must not mint,
        list or revoke keys (it is refused here as revoked).
        """
        if not credential:
            return None
        caller = await self.authenticate(credential, "")
        if caller.is_anonymous:
            raise UnauthenticatedError(
                "caller_credential is blank; send the caller's API key or session token"
            )
        if caller.user_id != user_id:
            raise PermissionDeniedError(
                "this credential belongs to another user; a key or session manages only "
                "its own user's keys"
            )
        return caller

    # OAuth: consent by a signed-in user, and the user's grants

    async def user_of(self, credential: str) -> User:
        """The user an API key or session token belongs to (never an OAuth token: one grant
        cannot mint another)."""
        if not credential.strip():
            raise UnauthenticatedError("sign in: paste an API key (tmcp_...) to continue")
        principal = await self.authenticate(credential, "")
        return await self._store.get_user(principal.user_id)

    async def list_grants(
        self, user_id: str, client_id: str, caller_credential: str
    ) -> list[Grant]:
        """A user's grants; an operator (no credential) may leave user_id out to see every
        user's grants of one client, e.g. to sign a compromised client out everywhere."""
        if not user_id and not caller_credential:
            if not client_id.strip():
                raise InvalidArgumentError("name a user_id, a client_id, or both")
            return await self._oauth_server().list_grants("", client_id)
        await self._key_manager(caller_credential, user_id)
        await self._store.get_user(user_id)
        return await self._oauth_server().list_grants(user_id, client_id)

    async def revoke_grant(self, user_id: str, grant_id: str, caller_credential: str) -> Grant:
        await self._key_manager(caller_credential, user_id)
        return await self._oauth_server().revoke_grant(user_id, grant_id)

    def _oauth_server(self) -> OAuthServer:
        if self.oauth is None:
            raise FailedPreconditionError("the OAuth authorization server is not running")
        return self.oauth

    # Rate limits

    def limits_for(self, tier: Tier) -> TierLimits:
        return self._limits[tier]

    async def check_rate_limit(self, subject: str, tier: Tier, cost: int) -> Decision:
        return await self._check(subject, tier, _valid_cost(subject, cost))

    async def check_rate_limits(self, checks: Sequence[tuple[str, Tier, int]]) -> list[Decision]:
        """Each check decided and counted on its own, as by check_rate_limit, in order.

        All are validated before any is counted. They run concurrently so a Redis limiter
        sends them in one pipeline (each still its own atomic script call).
        """
        if len(checks) > MAX_BATCH:
            raise InvalidArgumentError(f"at most {MAX_BATCH} checks per call; split the batch")
        valid = [(subject, tier, _valid_cost(subject, cost)) for subject, tier, cost in checks]
        return list(await asyncio.gather(*(self._check(*check) for check in valid)))

    async def _check(self, subject: str, tier: Tier, cost: int) -> Decision:
        decision = await self._limiter.check(subject, cost, self._limits[tier])
        if decision.is_allowed:
            self._usage.record_request(subject, cost)
        return decision

    # Sign-in (GitHub OAuth, authorization code + state + PKCE S256)

    def _oauth(self) -> GitHubOAuth:
        if self._github is None:
            raise FailedPreconditionError(
                "GitHub sign-in is not configured; set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET"
            )
        return self._github

    async def start_sign_in(self, redirect_uri: str) -> SignInStart:
        github = self._oauth()
        redirect_uri = redirect_uri.strip() or self._default_redirect_uri
        if not redirect_uri.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                "redirect_uri is required (an http(s) URL of the gateway's callback), or set "
                "API_BASE_URL so the default can be used"
            )
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, inside PKCE's 43..128
        await self._store.save_sign_in_state(state, verifier, redirect_uri, self._sign_in_lifetime)
        return SignInStart(github.authorize_url(state, verifier, redirect_uri), state)

    async def complete_sign_in(self, code: str, state: str) -> tuple[Session, User]:
        github = self._oauth()
        if not code.strip():
            raise InvalidArgumentError("code is required; pass the code GitHub sent back")
        pending = await self._store.take_sign_in_state(state.strip())
        if pending is None:
            raise InvalidArgumentError(
                "sign-in state is unknown, expired or already used; start sign-in again"
            )
        token = await github.exchange_code(
            code.strip(), pending.code_verifier, pending.redirect_uri
        )
        profile = await github.fetch_user(token)
        user = await self._store.sign_in_github_user(
            profile.github_id, profile.login, profile.email
        )
        logger.info("user %s signed in with GitHub", user.user_id)
        return await self._new_session(user.user_id), user

    async def refresh_session(self, refresh_token: str) -> Session:
        if not refresh_token.strip():
            raise InvalidArgumentError("refresh_token is required")
        rotated = await self._store.rotate_refresh_token(
            refresh_token.strip(), self._refresh_lifetime
        )
        access = self._sessions.issue(rotated.user_id)
        return Session(access.token, rotated.token, access.expires_in_seconds)

    async def _new_session(self, user_id: str) -> Session:
        refresh = await self._store.issue_refresh_token(user_id, self._refresh_lifetime)
        access = self._sessions.issue(user_id)
        return Session(access.token, refresh.token, access.expires_in_seconds)

    # Usage

    async def get_usage(self, user_id: str, key_id: str, days: int) -> list[UsageDay]:
        if days < 0 or days > MAX_USAGE_DAYS:
            raise InvalidArgumentError(f"days must be between 1 and {MAX_USAGE_DAYS}")
        days = days or 30
        # This replica's unflushed counts go first so the answer includes them.
        await self._usage.flush()
        since = self._store.now().date() - dt.timedelta(days=days - 1)
        return await self._store.get_usage(user_id, key_id.strip(), since)


def _held_now(scopes: Sequence[str], user: User) -> tuple[str, ...]:
    """The scopes a credential carries today: 'admin' only while its user is an admin.

    Scopes are stored when a key or grant is made; a user demoted since must not keep
    administering through a credential made before. Such a key keeps the 'read' that 'admin'
    implies, so it still reads docs.
    """
    if user.is_admin:
        return tuple(scopes)
    return tuple(dict.fromkeys("read" if scope == "admin" else scope for scope in scopes))


def _valid_cost(subject: str, cost: int) -> int:
    """The cost to count (0 means 1), once subject and cost are known to be acceptable."""
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidArgumentError(
            "subject is required (at most 200 characters); pass the principal's "
            "rate_limit_subject from Authenticate"
        )
    if cost < 0 or cost > MAX_COST:
        raise InvalidArgumentError(f"cost must be between 0 and {MAX_COST}")
    return cost or 1
