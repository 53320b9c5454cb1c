"""Settings of the auth service, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from twinmcp.database import database_pool_size, database_url
from twinmcp.runtime.settings import (
    Secret,
    SettingsError,
    env_bool,
    env_float,
    env_int,
    env_optional,
    env_port,
    env_secret,
    env_str,
    env_url,
)

MIN_JWT_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Settings:
    grpc_port: int
    metrics_port: int
    database_url: str = field(repr=False)  # may hold a password
    database_pool_size: int
    redis_url: str | None
    rate_limit_prefix: str
    jwt_secret: Secret | None  # None: a random per-process secret (sessions die on restart)
    oauth_client_id: str | None
    oauth_client_secret: Secret | None
    github_oauth_url: str
    github_api_url: str
    api_base_url: str | None
    anon_rpm: int
    anon_rpd: int
    free_rpm: int
    free_rpd: int
    premium_rpm: int
    premium_rpd: int
    cache_ttl_seconds: int
    access_token_seconds: int
    refresh_token_days: int
    sign_in_seconds: int
    usage_flush_seconds: float
    redis_timeout_seconds: float
    redis_retry_seconds: float
    drain_seconds: float
    grace_seconds: float
    host: str = "0.0.0.0"
    # OAuth authorization server for MCP clients (the gateway serves its endpoints).
    oauth_access_token_seconds: int = 3600
    oauth_refresh_token_days: int = 30
    # Tests only: client metadata documents may be fetched over http from loopback.
    oauth_metadata_allow_loopback: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        jwt_secret = env_secret(env, "JWT_SECRET")
        if jwt_secret is not None and len(jwt_secret.get()) < MIN_JWT_SECRET_LENGTH:
            raise SettingsError(
                f"JWT_SECRET is shorter than {MIN_JWT_SECRET_LENGTH} characters; use a long "
                "random value (e.g. `openssl rand -hex 32`)"
            )
        client_id = env_optional(env, "OAUTH_CLIENT_ID")
        client_secret = env_secret(env, "OAUTH_CLIENT_SECRET")
        if bool(client_id) != bool(client_secret):
            raise SettingsError(
                "OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET go together; set both or neither"
            )
        positive = {"minimum": 1}
        return cls(
            grpc_port=env_port(env, "AUTH_GRPC_PORT", 50051),
            host=env_str(env, "AUTH_GRPC_HOST", "0.0.0.0"),
            metrics_port=env_int(env, "AUTH_METRICS_PORT", 9101, minimum=-1, maximum=65535),
            database_url=database_url(env, "auth"),
            database_pool_size=database_pool_size(env),
            redis_url=env_url(env, "REDIS_URL", schemes=("redis", "rediss", "unix")),
            rate_limit_prefix=env_str(env, "RATE_LIMIT_REDIS_PREFIX", "twinmcp:ratelimit"),
            jwt_secret=jwt_secret,
            oauth_client_id=client_id,
            oauth_client_secret=client_secret,
            github_oauth_url=_url(env, "GITHUB_OAUTH_URL", "https://github.com"),
            github_api_url=_url(env, "GITHUB_API_URL", "https://api.github.com"),
            api_base_url=env_url(env, "API_BASE_URL", schemes=("http", "https")),
            anon_rpm=env_int(env, "RATE_LIMIT_ANON_RPM", 30, **positive),
            anon_rpd=env_int(env, "RATE_LIMIT_ANON_RPD", 1000, minimum=0),
            free_rpm=env_int(env, "RATE_LIMIT_FREE_RPM", 100, **positive),
            free_rpd=env_int(env, "RATE_LIMIT_FREE_RPD", 10000, minimum=0),
            premium_rpm=env_int(env, "RATE_LIMIT_PREMIUM_RPM", 1000, **positive),
            premium_rpd=env_int(env, "RATE_LIMIT_PREMIUM_RPD", 0, minimum=0),
            cache_ttl_seconds=env_int(env, "AUTH_CACHE_TTL_SECONDS", 10, minimum=0, maximum=300),
            access_token_seconds=env_int(env, "SESSION_ACCESS_TOKEN_SECONDS", 900, minimum=30),
            refresh_token_days=env_int(env, "SESSION_REFRESH_TOKEN_DAYS", 30, **positive),
            sign_in_seconds=env_int(env, "OAUTH_STATE_SECONDS", 600, minimum=30),
            usage_flush_seconds=env_float(env, "USAGE_FLUSH_SECONDS", 5.0, minimum=0.05),
            redis_timeout_seconds=env_float(
                env, "RATE_LIMIT_REDIS_TIMEOUT_SECONDS", 2.0, minimum=0.01
            ),
            redis_retry_seconds=env_float(env, "RATE_LIMIT_REDIS_RETRY_SECONDS", 1.0, minimum=0.01),
            drain_seconds=env_float(env, "SHUTDOWN_DRAIN_SECONDS", 0.0, minimum=0.0),
            grace_seconds=env_float(env, "SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0.0),
            oauth_access_token_seconds=env_int(
                env, "OAUTH_ACCESS_TOKEN_SECONDS", 3600, minimum=60, maximum=86400
            ),
            oauth_refresh_token_days=env_int(env, "OAUTH_REFRESH_TOKEN_DAYS", 30, **positive),
            oauth_metadata_allow_loopback=env_bool(
                env, "OAUTH_METADATA_ALLOW_LOOPBACK", default=False
            ),
        )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env_url(env, name, schemes=("http", "https"), default=default)
    assert value is not None  # a default was given
    return value
