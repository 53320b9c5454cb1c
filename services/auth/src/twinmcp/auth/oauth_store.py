"""The OAuth authorization server's SQL: clients, pending requests, grants, codes and tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from twinmcp.auth.accounts import User, utc
from twinmcp.auth.client_metadata import ClientInfo
from twinmcp.auth.errors import NotFoundError
from twinmcp.auth.limits import Clock, Tier
from twinmcp.auth.models import (
    OAuthClientRow,
    OAuthCodeRow,
    OAuthGrantRow,
    OAuthRequestRow,
    OAuthTokenRow,
    UserRow,
)

CLIENT_PREFIX = "tmoc_"
ACCESS_PREFIX = "tmoa_"
REFRESH_PREFIX = "tmor_"
_KEEP_AFTER_EXPIRY = dt.timedelta(hours=1)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PendingRequest:
    client_id: str
    client_name: str
    redirect_uri: str
    state: str
    code_challenge: str
    scopes: tuple[str, ...]
    resource: str


@dataclass(frozen=True)
class Grant:
    grant_id: str
    user_id: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    resource: str
    created_at: dt.datetime
    is_revoked: bool


@dataclass(frozen=True)
class SpentCode:
    grant: Grant
    redirect_uri: str
    code_challenge: str
    is_expired: bool
    is_first_use: bool  # False: the code was presented before (a replay)


@dataclass(frozen=True)
class SpentRefresh:
    grant: Grant
    is_expired: bool
    is_first_use: bool


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class AccessHolder:
    grant: Grant
    user: User
    expires_at: dt.datetime


def _grant(row: OAuthGrantRow) -> Grant:
    return Grant(
        row.id,
        row.user_id,
        row.client_id,
        row.client_name,
        tuple(row.scopes.split()),
        row.resource,
        utc(row.created_at),
        row.revoked_at is not None,
    )


def _token_id(token: str, prefix: str) -> str | None:
    if not token.startswith(prefix):
        return None
    token_id, sep, secret = token[len(prefix) :].partition("_")
    return token_id if sep and secret and len(token_id) == 32 else None


class OAuthStore:
    """Every statement of the authorization server; only hashes of secrets are stored."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._clock = clock

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    # Clients registered dynamically

    async def create_client(self, name: str, redirect_uris: tuple[str, ...]) -> ClientInfo:
        client_id = f"{CLIENT_PREFIX}{secrets.token_urlsafe(24)}"
        async with self._sessions.begin() as session:
            session.add(
                OAuthClientRow(
                    id=client_id,
                    name=name,
                    redirect_uris=json.dumps(list(redirect_uris)),
                    created_at=self.now(),
                )
            )
        return ClientInfo(client_id, name, redirect_uris)

    async def find_client(self, client_id: str) -> ClientInfo | None:
        async with self._sessions() as session:
            row = await session.get(OAuthClientRow, client_id) if client_id else None
        if row is None:
            return None
        return ClientInfo(row.id, row.name, tuple(json.loads(row.redirect_uris)))

    # Authorization requests waiting for consent

    async def save_request(self, pending: PendingRequest, lifetime: dt.timedelta) -> str:
        request_id = secrets.token_urlsafe(32)
        now = self.now()
        # Starting a sign-in is rare next to token use: the moment to drop what is dead. Spent
        # codes and tokens are kept until they expire so that a replay is still recognised.
        dead = now - _KEEP_AFTER_EXPIRY
        async with self._sessions.begin() as session:
            await session.execute(delete(OAuthRequestRow).where(OAuthRequestRow.expires_at < now))
            await session.execute(delete(OAuthCodeRow).where(OAuthCodeRow.expires_at < dead))
            await session.execute(delete(OAuthTokenRow).where(OAuthTokenRow.expires_at < dead))
            session.add(
                OAuthRequestRow(
                    id_hash=_sha256(request_id),
                    client_id=pending.client_id,
                    client_name=pending.client_name,
                    redirect_uri=pending.redirect_uri,
                    state=pending.state,
                    code_challenge=pending.code_challenge,
                    scopes=" ".join(pending.scopes),
                    resource=pending.resource,
                    expires_at=now + lifetime,
                )
            )
        return request_id

    async def find_request(self, request_id: str) -> PendingRequest | None:
        async with self._sessions() as session:
            row = await session.get(OAuthRequestRow, _sha256(request_id)) if request_id else None
        if row is None or utc(row.expires_at) < self.now():
            return None
        return PendingRequest(
            row.client_id,
            row.client_name,
            row.redirect_uri,
            row.state,
            row.code_challenge,
            tuple(row.scopes.split()),
            row.resource,
        )

    async def take_request(self, request_id: str) -> bool:
        """Consumes a pending request exactly once: the DELETE that removes it wins."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(OAuthRequestRow).where(OAuthRequestRow.id_hash == _sha256(request_id))
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # Grants and codes

    async def create_grant(
        self, user_id: str, pending: PendingRequest, code_lifetime: dt.timedelta
    ) -> str:
        """A grant for the approved request and its one authorization code; returns the code."""
        code = secrets.token_urlsafe(32)
        grant_id = uuid.uuid4().hex
        now = self.now()
        async with self._sessions.begin() as session:
            session.add(
                OAuthGrantRow(
                    id=grant_id,
                    user_id=user_id,
                    client_id=pending.client_id,
                    client_name=pending.client_name,
                    scopes=" ".join(pending.scopes),
                    resource=pending.resource,
                    created_at=now,
                )
            )
            await session.flush()
            session.add(
                OAuthCodeRow(
                    code_hash=_sha256(code),
                    grant_id=grant_id,
                    redirect_uri=pending.redirect_uri,
                    code_challenge=pending.code_challenge,
                    expires_at=now + code_lifetime,
                )
            )
        return code

    async def spend_code(self, code: str) -> SpentCode | None:
        """Marks a code used; a code seen before comes back with is_first_use False."""
        now = self.now()
        async with self._sessions.begin() as session:
            found = (
                await session.execute(
                    select(OAuthCodeRow, OAuthGrantRow)
                    .join(OAuthGrantRow, OAuthGrantRow.id == OAuthCodeRow.grant_id)
                    .where(OAuthCodeRow.code_hash == _sha256(code))
                )
            ).one_or_none()
            if found is None:
                return None
            code_row, grant_row = found
            spent = await session.execute(
                update(OAuthCodeRow)
                .where(OAuthCodeRow.code_hash == code_row.code_hash)
                .where(OAuthCodeRow.used_at.is_(None))
                .values(used_at=now)
            )
            return SpentCode(
                _grant(grant_row),
                code_row.redirect_uri,
                code_row.code_challenge,
                utc(code_row.expires_at) < now,
                spent.rowcount == 1,  # type: ignore[attr-defined]
            )

    async def revoke_grant(self, grant_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OAuthGrantRow)
                .where(OAuthGrantRow.id == grant_id)
                .where(OAuthGrantRow.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )

    # Tokens

    async def issue_tokens(
        self, grant_id: str, access_lifetime: dt.timedelta, refresh_lifetime: dt.timedelta
    ) -> IssuedTokens:
        now = self.now()
        made: dict[str, str] = {}
        async with self._sessions.begin() as session:
            for kind, prefix, lifetime in (
                ("access", ACCESS_PREFIX, access_lifetime),
                ("refresh", REFRESH_PREFIX, refresh_lifetime),
            ):
                token_id = uuid.uuid4().hex
                token = f"{prefix}{token_id}_{secrets.token_urlsafe(32)}"
                session.add(
                    OAuthTokenRow(
                        id=token_id,
                        grant_id=grant_id,
                        kind=kind,
                        token_hash=_sha256(token),
                        expires_at=now + lifetime,
                    )
                )
                made[kind] = token
        return IssuedTokens(made["access"], made["refresh"])

    async def _token(
        self, token: str, prefix: str, kind: str
    ) -> tuple[OAuthTokenRow, OAuthGrantRow, UserRow] | None:
        token_id = _token_id(token, prefix)
        if token_id is None:
            return None
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(OAuthTokenRow, OAuthGrantRow, UserRow)
                    .join(OAuthGrantRow, OAuthGrantRow.id == OAuthTokenRow.grant_id)
                    .join(UserRow, UserRow.id == OAuthGrantRow.user_id)
                    .where(OAuthTokenRow.id == token_id)
                )
            ).one_or_none()
        # Compare even when the id is unknown so timing does not reveal which ids exist.
        stored = found[0].token_hash if found is not None else "0" * 64
        is_match = hmac.compare_digest(stored, _sha256(token))
        if found is None or not is_match or found[0].kind != kind:
            return None
        return found[0], found[1], found[2]

    async def spend_refresh(self, token: str) -> SpentRefresh | None:
        found = await self._token(token, REFRESH_PREFIX, "refresh")
        if found is None:
            return None
        token_row, grant_row, _user_row = found
        now = self.now()
        async with self._sessions.begin() as session:
            spent = await session.execute(
                update(OAuthTokenRow)
                .where(OAuthTokenRow.id == token_row.id)
                .where(OAuthTokenRow.used_at.is_(None))
                .values(used_at=now)
            )
        return SpentRefresh(
            _grant(grant_row),
            utc(token_row.expires_at) < now,
            spent.rowcount == 1,  # type: ignore[attr-defined]
        )

    async def access_holder(self, token: str) -> AccessHolder | None:
        found = await self._token(token, ACCESS_PREFIX, "access")
        if found is None:
            return None
        token_row, grant_row, user_row = found
        user = User(
            user_row.id,
            user_row.login,
            user_row.email,
            Tier(user_row.tier),
            user_row.is_admin,
            utc(user_row.created_at),
        )
        return AccessHolder(_grant(grant_row), user, utc(token_row.expires_at))

    async def grant_of(self, token: str) -> Grant | None:
        """The grant an access or refresh token belongs to, whatever its state."""
        for prefix, kind in ((ACCESS_PREFIX, "access"), (REFRESH_PREFIX, "refresh")):
            found = await self._token(token, prefix, kind)
            if found is not None:
                return _grant(found[1])
        return None

    # Listing and revoking on the user's behalf

    async def list_grants(self, user_id: str, client_id: str) -> list[Grant]:
        query = select(OAuthGrantRow).order_by(OAuthGrantRow.created_at, OAuthGrantRow.id)
        if user_id:
            query = query.where(OAuthGrantRow.user_id == user_id)
        if client_id:
            query = query.where(OAuthGrantRow.client_id == client_id)
        async with self._sessions() as session:
            return [_grant(row) for row in (await session.execute(query)).scalars()]

    async def revoke_user_grant(self, user_id: str, grant_id: str) -> Grant:
        async with self._sessions.begin() as session:
            row = await session.get(OAuthGrantRow, grant_id) if grant_id else None
            if row is None or row.user_id != user_id:
                raise NotFoundError(f"user {user_id!r} has no OAuth grant {grant_id!r}")
            if row.revoked_at is None:
                row.revoked_at = self.now()
            return _grant(row)
