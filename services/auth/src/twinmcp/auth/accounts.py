"""Users, API keys, refresh tokens, usage rows and OAuth sign-in state in SQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from twinmcp.auth import keys
from twinmcp.auth.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    UnauthenticatedError,
)
from twinmcp.auth.limits import Clock, Tier
from twinmcp.auth.models import ApiKeyRow, OAuthStateRow, RefreshTokenRow, UsageDayRow, UserRow

MAX_LOGIN_LENGTH = 100
MAX_KEY_NAME_LENGTH = 200


@dataclass(frozen=True)
class User:
    user_id: str
    login: str
    email: str
    tier: Tier
    is_admin: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    prefix: str
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    is_revoked: bool
    user_id: str


@dataclass(frozen=True)
class UsageDay:
    day: dt.date
    key_id: str
    requests: int


@dataclass(frozen=True)
class SignInState:
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class RefreshToken:
    token: str  # `tmcr_<id>_<secret>`; the caller gets it once, only its hash is stored
    user_id: str


REFRESH_PREFIX = "tmcr_"


def utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back without a zone; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User(row.id, row.login, row.email, Tier(row.tier), row.is_admin, utc(row.created_at))


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        key_id=row.id,
        prefix=f"{keys.KEY_PREFIX}{row.id}",
        name=row.name,
        scopes=tuple(row.scopes.split()),
        created_at=utc(row.created_at),
        last_used_at=utc(row.last_used_at) if row.last_used_at else None,
        is_revoked=row.revoked_at is not None,
        user_id=row.user_id,
    )


def requested_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes a new key asks for, sorted and deduplicated; none means ["read"]."""
    wanted = sorted(set(scopes)) or ["read"]
    unknown = [scope for scope in wanted if scope not in keys.SCOPES]
    if unknown:
        raise InvalidArgumentError(
            f"unknown scope(s) {', '.join(unknown)}; use 'read' and/or 'admin'"
        )
    return wanted


class AccountStore:
    """Every SQL statement of the service; callers get plain dataclasses back."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._clock = clock

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    # Users

    async def create_user(self, login: str, email: str, tier: Tier, is_admin: bool) -> User:
        login = login.strip()
        if not login:
            raise InvalidArgumentError("login is required; give the user a name")
        if len(login) > MAX_LOGIN_LENGTH:
            raise InvalidArgumentError(f"login is longer than {MAX_LOGIN_LENGTH} characters")
        if tier is Tier.ANONYMOUS:
            raise InvalidArgumentError("a user's tier is TIER_FREE or TIER_PREMIUM, not anonymous")
        row = UserRow(
            id=uuid.uuid4().hex,
            login=login,
            email=email.strip(),
            tier=tier.value,
            is_admin=is_admin,
            created_at=self.now(),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExistsError(
                f"a user with login {login!r} already exists; pick another login"
            ) from None
        return _user(row)

    async def get_user(self, user_id: str) -> User:
        async with self._sessions() as session:
            row = await session.get(UserRow, user_id) if user_id else None
        if row is None:
            raise NotFoundError(f"no user with id {user_id!r}")
        return _user(row)

    async def list_users(self, after_login: str, limit: int) -> list[User]:
        """Up to `limit` users whose login sorts after `after_login`, in login order."""
        query = (
            select(UserRow).where(UserRow.login > after_login).order_by(UserRow.login).limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars()
            return [_user(row) for row in rows]

    async def find_user(self, user_id: str) -> User | None:
        async with self._sessions() as session:
            row = await session.get(UserRow, user_id)
        return _user(row) if row is not None else None

    async def sign_in_github_user(self, github_id: int, login: str, email: str) -> User:
        """The user linked to this GitHub account, created on first sign-in (free tier)."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(select(UserRow).where(UserRow.github_id == github_id))
            ).scalar_one_or_none()
            if row is not None:
                if email and row.email != email:
                    row.email = email
                return _user(row)
        for candidate in (login, f"{login}-{github_id}"):
            try:
                async with self._sessions.begin() as session:
                    row = UserRow(
                        id=uuid.uuid4().hex,
                        login=candidate[:MAX_LOGIN_LENGTH],
                        email=email,
                        tier=Tier.FREE.value,
                        is_admin=False,
                        github_id=github_id,
                        created_at=self.now(),
                    )
                    session.add(row)
                return _user(row)
            except IntegrityError:
                # Either the login belongs to an operator-made account (try the suffixed one)
                # or a concurrent sign-in of the same GitHub user won: read its row.
                async with self._sessions() as session:
                    existing = (
                        await session.execute(select(UserRow).where(UserRow.github_id == github_id))
                    ).scalar_one_or_none()
                if existing is not None:
                    return _user(existing)
        raise AlreadyExistsError(f"could not give GitHub user {login!r} a unique login")

    # API keys

    async def create_key(
        self, user_id: str, name: str, scopes: Iterable[str], *, caller_key_id: str = ""
    ) -> tuple[ApiKey, str]:
        """A new key; when a key asks (`caller_key_id`), only while that key is not revoked."""
        wanted = requested_scopes(scopes)
        if len(name) > MAX_KEY_NAME_LENGTH:
            raise InvalidArgumentError(f"key name is longer than {MAX_KEY_NAME_LENGTH} characters")
        user = await self.get_user(user_id)
        if "admin" in wanted and not user.is_admin:
            raise FailedPreconditionError(
                f"user {user.login!r} is not an admin; an admin-scoped key needs a user "
                "created with is_admin=true"
            )
        new = keys.generate_key()
        row = ApiKeyRow(
            id=new.key_id,
            user_id=user_id,
            name=name.strip(),
            secret_hash=new.secret_hash,
            scopes=" ".join(wanted),
            created_at=self.now(),
        )
        async with self._sessions.begin() as session:
            if caller_key_id:
                # Locks the caller's row against a concurrent revoke: a revoke committed before
                # this point refuses the new key; one arriving later waits and revokes after it.
                caller = (
                    await session.execute(
                        select(ApiKeyRow.revoked_at)
                        .where(ApiKeyRow.id == caller_key_id)
                        .with_for_update()
                    )
                ).one_or_none()
                if caller is None or caller.revoked_at is not None:
                    raise UnauthenticatedError("API key has been revoked; create a new one")
            session.add(row)
        return _key(row), new.secret

    async def verify_key(self, credential: str) -> tuple[ApiKey, User]:
        parsed = keys.parse_key(credential)
        if parsed is None:
            raise UnauthenticatedError(
                "API key is malformed; expected tmcp_<id>_<secret> as issued by CreateApiKey"
            )
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(ApiKeyRow, UserRow)
                    .join(UserRow, UserRow.id == ApiKeyRow.user_id)
                    .where(ApiKeyRow.id == parsed.key_id)
                )
            ).one_or_none()
        # Compare even when the id is unknown so timing does not reveal which ids exist.
        stored_hash = found[0].secret_hash if found is not None else "0" * 64
        is_match = keys.is_matching(parsed.secret, stored_hash)
        if found is None or not is_match:
            raise UnauthenticatedError("API key is not valid; check it or create a new one")
        key_row, user_row = found
        if key_row.revoked_at is not None:
            raise UnauthenticatedError("API key has been revoked; create a new one")
        return _key(key_row), _user(user_row)

    async def list_keys(self, user_id: str) -> list[ApiKey]:
        await self.get_user(user_id)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(ApiKeyRow)
                    .where(ApiKeyRow.user_id == user_id)
                    .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
                )
            ).scalars()
            return [_key(row) for row in rows]

    async def revoke_key(self, user_id: str, key_id: str) -> ApiKey:
        async with self._sessions.begin() as session:
            row = await session.get(ApiKeyRow, key_id) if key_id else None
            if row is None or row.user_id != user_id:
                raise NotFoundError(f"user {user_id!r} has no API key {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = self.now()
            return _key(row)

    async def touch_keys(self, last_used: Mapping[str, dt.datetime]) -> None:
        """Records when keys were last used: one UPDATE per key per flush, never going back."""
        if not last_used:
            return
        async with self._sessions.begin() as session:
            for key_id, when in last_used.items():
                await session.execute(
                    update(ApiKeyRow)
                    .where(ApiKeyRow.id == key_id)
                    .where((ApiKeyRow.last_used_at.is_(None)) | (ApiKeyRow.last_used_at < when))
                    .values(last_used_at=when)
                )

    # Usage

    async def add_usage(self, counts: Mapping[tuple[str, str, dt.date], int]) -> None:
        """Adds per-(user, key, day) request counts; additive so every replica may flush."""
        if not counts:
            return
        values = [
            {"user_id": user_id, "key_id": key_id, "day": day, "requests": n}
            for (user_id, key_id, day), n in sorted(counts.items())
        ]
        dialect = self._engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(UsageDayRow).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "key_id", "day"],
            set_={"requests": UsageDayRow.requests + statement.excluded.requests},
        )
        async with self._sessions.begin() as session:
            await session.execute(statement)

    async def get_usage(self, user_id: str, key_id: str, since: dt.date) -> list[UsageDay]:
        await self.get_user(user_id)
        query = (
            select(UsageDayRow)
            .where(UsageDayRow.user_id == user_id)
            .where(UsageDayRow.day >= since)
            .order_by(UsageDayRow.day.desc(), UsageDayRow.key_id)
        )
        if key_id:
            query = query.where(UsageDayRow.key_id == key_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars()
            return [UsageDay(row.day, row.key_id, row.requests) for row in rows]

    async def owners_of(self, key_ids: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(key_ids))
        if not wanted:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(ApiKeyRow.id, ApiKeyRow.user_id).where(ApiKeyRow.id.in_(wanted))
            )
            return {key_id: user_id for key_id, user_id in rows}

    # OAuth sign-in state

    async def save_sign_in_state(
        self, state: str, code_verifier: str, redirect_uri: str, lifetime: dt.timedelta
    ) -> None:
        now = self.now()
        async with self._sessions.begin() as session:
            # Expired states are useless; clearing them here keeps the table small.
            await session.execute(delete(OAuthStateRow).where(OAuthStateRow.expires_at < now))
            session.add(
                OAuthStateRow(
                    state_hash=_sha256(state),
                    code_verifier=code_verifier,
                    redirect_uri=redirect_uri,
                    expires_at=now + lifetime,
                )
            )

    async def take_sign_in_state(self, state: str) -> SignInState | None:
        """Consumes a state exactly once: the DELETE that removes it is the one that wins."""
        if not state:
            return None
        async with self._sessions.begin() as session:
            row = await session.get(OAuthStateRow, _sha256(state))
            if row is None:
                return None
            result = await session.execute(
                delete(OAuthStateRow).where(OAuthStateRow.state_hash == row.state_hash)
            )
            if result.rowcount != 1 or utc(row.expires_at) < self.now():  # type: ignore[attr-defined]
                return None
            return SignInState(row.code_verifier, row.redirect_uri)

    # Refresh tokens

    async def issue_refresh_token(
        self, user_id: str, lifetime: dt.timedelta, family_id: str | None = None
    ) -> RefreshToken:
        token_id = uuid.uuid4().hex
        token = f"{REFRESH_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        async with self._sessions.begin() as session:
            session.add(
                RefreshTokenRow(
                    id=token_id,
                    user_id=user_id,
                    family_id=family_id or uuid.uuid4().hex,
                    token_hash=_sha256(token),
                    expires_at=self.now() + lifetime,
                )
            )
        return RefreshToken(token, user_id)

    async def rotate_refresh_token(self, token: str, lifetime: dt.timedelta) -> RefreshToken:
        """Spends a refresh token and issues its successor in the same family.

        A token presented twice means it leaked: the whole family is revoked, so whoever holds
        the other copy is signed out too.
        """
        invalid = UnauthenticatedError("refresh token is not valid; sign in again")
        if not token.startswith(REFRESH_PREFIX):
            raise invalid
        token_id = token[len(REFRESH_PREFIX) :].partition("_")[0]
        now = self.now()
        async with self._sessions.begin() as session:
            row = await session.get(RefreshTokenRow, token_id)
            if row is None or not hmac.compare_digest(row.token_hash, _sha256(token)):
                raise invalid
            if row.revoked_at is not None or utc(row.expires_at) < now:
                raise invalid
            spent = await session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.id == token_id)
                .where(RefreshTokenRow.used_at.is_(None))
                .values(used_at=now)
            )
            is_reuse = spent.rowcount != 1  # type: ignore[attr-defined]
            if is_reuse:
                await session.execute(
                    update(RefreshTokenRow)
                    .where(RefreshTokenRow.family_id == row.family_id)
                    .values(revoked_at=now)
                )
            user_id, family_id = row.user_id, row.family_id
        if is_reuse:
            raise UnauthenticatedError(
                "refresh token was already used; every session from it is now signed out, "
                "sign in again"
            )
        return await self.issue_refresh_token(user_id, lifetime, family_id)
