"""Users, API keys, authentication, usage and migrations through the real server."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import jwt
import pytest
from sqlalchemy import inspect, text
from twinmcp.auth.server import MIGRATIONS, VERSION_TABLE
from twinmcp.auth.v1 import auth_pb2
from twinmcp.database import create_engine, database_url, migrate

if TYPE_CHECKING:
    from twinmcp.auth.config import Settings

    from conftest import Client, FakeClock, Servers

JWT_SECRET = "test-secret-" + "x" * 40


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def _authenticate(client: Client, credential: str) -> auth_pb2.AuthenticateResponse:
    return await client.stub.Authenticate(
        auth_pb2.AuthenticateRequest(credential=credential, client_address="203.0.113.9"),
        timeout=10,
    )


async def test_an_admin_key_authenticates_to_its_user_with_admin_scope(sqlite_auth: Client) -> None:
    user, secret = await sqlite_auth.admin_key()
    assert secret.startswith("tmcp_")
    reply = await _authenticate(sqlite_auth, secret)
    principal = reply.principal
    assert principal.user_id == user.user_id
    assert principal.login == "operator"
    assert principal.tier == auth_pb2.TIER_FREE
    assert list(principal.scopes) == ["admin"]
    assert not principal.is_anonymous
    assert principal.rate_limit_subject == f"key:{principal.key_id}"
    assert secret.startswith(f"tmcp_{principal.key_id}_")
    assert reply.cache_ttl_seconds == 10


async def test_a_revoked_key_is_refused(sqlite_auth: Client) -> None:
    user, secret = await sqlite_auth.admin_key()
    key_id = (await _authenticate(sqlite_auth, secret)).principal.key_id
    revoked = await sqlite_auth.stub.RevokeApiKey(
        auth_pb2.RevokeApiKeyRequest(user_id=user.user_id, key_id=key_id), timeout=10
    )
    assert revoked.key.is_revoked
    error = await _refused(_authenticate(sqlite_auth, secret))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in (error.details() or "")


@pytest.mark.parametrize(
    "credential",
    [
        "tmcp_abcdefghijkl_" + "A" * 43,  # well formed, never issued
        "tmcp_nope",
        "Bearer something",
        "a.b.c",
    ],
)
async def test_an_unknown_or_malformed_credential_is_unauthenticated(
    sqlite_auth: Client, credential: str
) -> None:
    error = await _refused(_authenticate(sqlite_auth, credential))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details()


async def test_a_key_with_a_wrong_secret_is_refused(sqlite_auth: Client) -> None:
    _user, secret = await sqlite_auth.admin_key()
    tampered = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    error = await _refused(_authenticate(sqlite_auth, tampered))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_empty_credential_is_the_anonymous_principal_of_the_address(
    sqlite_auth: Client,
) -> None:
    principal = (await _authenticate(sqlite_auth, "")).principal
    assert principal.is_anonymous
    assert principal.tier == auth_pb2.TIER_ANONYMOUS
    assert principal.rate_limit_subject == "ip:203.0.113.9"
    assert principal.user_id == ""


async def test_api_key_secrets_never_appear_in_logs(
    sqlite_auth: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        user, secret = await sqlite_auth.admin_key("logcheck")
        principal = (await _authenticate(sqlite_auth, secret)).principal
        await _refused(_authenticate(sqlite_auth, secret[:-3] + "zzz"))
        await sqlite_auth.stub.CheckRateLimit(
            auth_pb2.CheckRateLimitRequest(
                subject=principal.rate_limit_subject, tier=principal.tier
            ),
            timeout=10,
        )
        await sqlite_auth.server.usage.flush()
        await sqlite_auth.stub.RevokeApiKey(
            auth_pb2.RevokeApiKeyRequest(user_id=user.user_id, key_id=principal.key_id),
            timeout=10,
        )
        await _refused(_authenticate(sqlite_auth, secret))
    body = secret.split("_", 2)[2]
    assert caplog.records, "the scenario should have logged something to check"
    logged = (
        "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
        + caplog.text
    )
    assert body not in logged
    assert body[:16] not in logged


async def test_keys_are_listed_with_prefix_name_and_last_use(sqlite_auth: Client) -> None:
    user, secret = await sqlite_auth.admin_key()
    second = await sqlite_auth.stub.CreateApiKey(
        auth_pb2.CreateApiKeyRequest(user_id=user.user_id, name="laptop"), timeout=10
    )
    assert list(second.key.scopes) == ["read"]
    for _ in range(50):  # a storm of uses costs one write at the next flush
        await _authenticate(sqlite_auth, secret)
    await sqlite_auth.server.usage.flush()
    listed = (
        await sqlite_auth.stub.ListApiKeys(
            auth_pb2.ListApiKeysRequest(user_id=user.user_id), timeout=10
        )
    ).keys
    by_name = {key.name: key for key in listed}
    assert set(by_name) == {"cli", "laptop"}
    assert by_name["cli"].HasField("last_used_at")
    assert not by_name["laptop"].HasField("last_used_at")
    assert by_name["laptop"].prefix == f"tmcp_{second.key.key_id}"
    assert by_name["cli"].created_at.seconds > 0
    assert all(not key.is_revoked for key in listed)


async def test_usage_is_counted_per_key_per_day_and_persisted(
    servers: Servers, settings_for: Callable[..., Settings], postgres_url: str, clock: FakeClock
) -> None:
    client = await servers.start(settings_for(DATABASE_URL=postgres_url), clock)
    user, secret = await client.admin_key()
    subject = (await _authenticate(client, secret)).principal.rate_limit_subject
    check = auth_pb2.CheckRateLimitRequest(subject=subject, tier=auth_pb2.TIER_FREE)
    for _ in range(7):
        await client.stub.CheckRateLimit(check, timeout=10)
    await client.server.usage.flush()  # what a periodic flush does
    clock.advance(86_400)
    for _ in range(3):
        await client.stub.CheckRateLimit(check, timeout=10)
    usage = await client.stub.GetUsage(auth_pb2.GetUsageRequest(user_id=user.user_id), timeout=10)
    assert [(day.date, day.requests) for day in usage.days] == [
        ("2025-06-17", 3),
        ("2025-06-16", 7),
    ]
    assert {day.key_id for day in usage.days} == {subject.removeprefix("key:")}
    # A fresh server on the same database sees the same numbers: they were persisted.
    await client.server.stop()
    again = await servers.start(settings_for(DATABASE_URL=postgres_url), clock)
    one_day = await again.stub.GetUsage(
        auth_pb2.GetUsageRequest(user_id=user.user_id, days=1), timeout=10
    )
    assert [(day.date, day.requests) for day in one_day.days] == [("2025-06-17", 3)]


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_forged_expired_and_alg_none_session_tokens_are_unauthenticated(
    servers: Servers, settings_for: Callable[..., Settings], clock: FakeClock
) -> None:
    client = await servers.start(settings_for(), clock)
    user, _secret = await client.admin_key()
    now = int(clock())
    claims = {
        "sub": user.user_id,
        "iss": "twinmcp-auth",
        "aud": "twinmcp",
        "iat": now,
        "exp": now + 900,
        "typ": "access",
    }
    valid = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    principal = (await _authenticate(client, valid)).principal
    assert principal.rate_limit_subject == f"user:{user.user_id}"
    assert set(principal.scopes) == {"read", "admin"}
    cases = {
        "signature": jwt.encode(claims, "forged-" * 8, algorithm="HS256"),
        "algorithm 'none'": f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}.",
        "expired": jwt.encode({**claims, "exp": now - 1}, JWT_SECRET, algorithm="HS256"),
    }
    for expected, token in cases.items():
        error = await _refused(_authenticate(client, token))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert expected in (error.details() or ""), error.details()
    clock.advance(901)
    error = await _refused(_authenticate(client, valid))
    assert "expired" in (error.details() or "")


async def test_user_and_key_requests_that_make_no_sense_say_what_to_fix(
    sqlite_auth: Client,
) -> None:
    stub = sqlite_auth.stub
    plain = (await stub.CreateUser(auth_pb2.CreateUserRequest(login="plain"), timeout=10)).user
    assert plain.tier == auth_pb2.TIER_FREE and not plain.is_admin
    cases = [
        (
            stub.CreateUser(auth_pb2.CreateUserRequest(login="plain"), timeout=10),
            grpc.StatusCode.ALREADY_EXISTS,
        ),
        (
            stub.CreateUser(auth_pb2.CreateUserRequest(login=""), timeout=10),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.CreateUser(
                auth_pb2.CreateUserRequest(login="x", tier=auth_pb2.TIER_ANONYMOUS), timeout=10
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.GetUser(auth_pb2.GetUserRequest(user_id="nobody"), timeout=10),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            stub.CreateApiKey(
                auth_pb2.CreateApiKeyRequest(user_id=plain.user_id, scopes=["admin"]), timeout=10
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
        (
            stub.CreateApiKey(
                auth_pb2.CreateApiKeyRequest(user_id=plain.user_id, scopes=["write"]), timeout=10
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(user_id="nobody"), timeout=10),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            stub.RevokeApiKey(
                auth_pb2.RevokeApiKeyRequest(user_id=plain.user_id, key_id="nokey"), timeout=10
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            stub.GetUsage(auth_pb2.GetUsageRequest(user_id=plain.user_id, days=5000), timeout=10),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            stub.StartSignIn(auth_pb2.StartSignInRequest(), timeout=10),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ]
    for call, code in cases:
        error = await _refused(call)
        assert error.code() == code, error.details()
        assert error.details()
    fetched = (await stub.GetUser(auth_pb2.GetUserRequest(user_id=plain.user_id), timeout=10)).user
    assert fetched.login == "plain"


async def _migrated_tables(url: str, tmp_path: Path) -> tuple[set[str], list[str]]:
    engine = create_engine(url)
    try:
        await migrate(engine, MIGRATIONS, VERSION_TABLE)
        await migrate(engine, MIGRATIONS, VERSION_TABLE)  # a second run is a no-op
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            versions = (
                (await connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")))
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    return tables, list(versions)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_migrations_build_the_schema_on_sqlite_and_postgresql(
    backend: str, tmp_path: Path, postgres_url: str
) -> None:
    env = {"TWINMCP_DATA_DIR": str(tmp_path)}
    if backend == "postgresql":
        env["DATABASE_URL"] = postgres_url
    tables, versions = await _migrated_tables(database_url(env, "auth"), tmp_path)
    assert {
        "auth_users",
        "auth_api_keys",
        "auth_usage_days",
        "auth_oauth_states",
        "auth_refresh_tokens",
        "auth_oauth_clients",
        "auth_oauth_requests",
        "auth_oauth_grants",
        "auth_oauth_codes",
        "auth_oauth_tokens",
        VERSION_TABLE,
    } <= tables
    assert versions == ["0002"]
