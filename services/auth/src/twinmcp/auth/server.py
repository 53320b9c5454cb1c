"""Builds and runs the auth gRPC server with its database, limiter and background flushers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc
from grpc_health.v1 import health_pb2
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from twinmcp.auth.accounts import AccountStore
from twinmcp.auth.authority import Authority
from twinmcp.auth.client_metadata import MetadataDocuments
from twinmcp.auth.config import Settings
from twinmcp.auth.github import GitHubOAuth
from twinmcp.auth.limits import (
    Clock,
    FailoverLimiter,
    Limiter,
    LocalLimiter,
    RedisLimiter,
    Tier,
    TierLimits,
)
from twinmcp.auth.oauth_server import OAuthServer
from twinmcp.auth.oauth_store import OAuthStore
from twinmcp.auth.service import ERRORS, AuthServicer
from twinmcp.auth.sessions import SessionTokens
from twinmcp.auth.usage import UsageRecorder
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.database import create_engine, migrate
from twinmcp.grpcserver import (
    RunningServer,
    ServerOptions,
    serve_until_signalled,
    start_server,
)

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_auth"
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
# Health of this name is NOT_SERVING while rate limits are counted per process (Redis
# unreachable); the gateway can show it in /ready. It is SERVING when limits are exact.
RATE_LIMIT_STORE_HEALTH = "twinmcp.auth.v1.RateLimitStore"
REDIS_CONNECTIONS = 64


@dataclass
class AuthServer:
    """A started auth service; `port` is the bound gRPC port."""

    running: RunningServer
    engine: AsyncEngine
    limiter: Limiter
    usage: UsageRecorder
    http: aiohttp.ClientSession | None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    oauth: OAuthServer | None = None

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def metrics_port(self) -> int:
        return self.running.metrics_port

    async def stop(self) -> None:
        await self.running.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.usage.flush()
        await self.limiter.close()
        if self.http is not None:
            await self.http.close()
        if self.oauth is not None:
            await self.oauth.close()
        await self.engine.dispose()


def tier_limits(settings: Settings) -> dict[Tier, TierLimits]:
    return {
        Tier.ANONYMOUS: TierLimits(settings.anon_rpm, settings.anon_rpd),
        Tier.FREE: TierLimits(settings.free_rpm, settings.free_rpd),
        Tier.PREMIUM: TierLimits(settings.premium_rpm, settings.premium_rpd),
    }


async def start(settings: Settings, *, clock: Clock | None = None) -> AuthServer:
    """Migrates the database, connects the limiter and starts serving.

    `clock` (seconds since the epoch) is for tests; by default the wall clock is used, and the
    Redis limiter reads Redis's own clock so every replica agrees on the window boundaries.
    """
    wall: Clock = clock or time.time
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    store = AccountStore(engine, wall)
    usage = UsageRecorder(store)
    tasks: set[asyncio.Task[None]] = set()
    health_updates: set[asyncio.Task[None]] = set()
    running: RunningServer | None = None

    def on_degraded_change(is_degraded: bool) -> None:
        if running is None:
            return
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if is_degraded
            else health_pb2.HealthCheckResponse.SERVING
        )
        task = asyncio.get_running_loop().create_task(
            running.health.set(RATE_LIMIT_STORE_HEALTH, status)
        )
        health_updates.add(task)
        task.add_done_callback(health_updates.discard)

    limiter: Limiter
    failover: FailoverLimiter | None = None
    if settings.redis_url:
        # A blocking pool queues checks for a free connection under a burst; the default pool
        # raises "too many connections" instead, which would read as Redis being down.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_CONNECTIONS,
            timeout=max(settings.redis_timeout_seconds * 4, 1.0),
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_timeout_seconds,
            health_check_interval=30,
        )
        redis = Redis(connection_pool=pool)
        shared = RedisLimiter(redis, settings.rate_limit_prefix, clock)
        failover = FailoverLimiter(
            shared, wall, retry_seconds=settings.redis_retry_seconds, on_change=on_degraded_change
        )
        limiter = failover
    else:
        logger.info("REDIS_URL is not set; rate limits are counted in this process only")
        limiter = LocalLimiter(wall)

    if settings.jwt_secret is not None:
        jwt_secret = settings.jwt_secret.get()
    else:
        logger.warning(
            "JWT_SECRET is not set; using a random per-process secret, so sessions do not "
            "survive a restart nor work across replicas"
        )
        jwt_secret = secrets.token_hex(32)

    http: aiohttp.ClientSession | None = None
    github: GitHubOAuth | None = None
    if settings.oauth_client_id and settings.oauth_client_secret is not None:
        http = aiohttp.ClientSession()
        github = GitHubOAuth(
            http,
            settings.github_oauth_url,
            settings.github_api_url,
            settings.oauth_client_id,
            settings.oauth_client_secret.get(),
        )
    default_redirect = (
        f"{settings.api_base_url.rstrip('/')}/auth/callback" if settings.api_base_url else ""
    )
    oauth = OAuthServer(
        OAuthStore(engine, wall),
        MetadataDocuments(allow_loopback=settings.oauth_metadata_allow_loopback),
        access_lifetime=dt.timedelta(seconds=settings.oauth_access_token_seconds),
        refresh_lifetime=dt.timedelta(days=settings.oauth_refresh_token_days),
        request_lifetime=dt.timedelta(seconds=settings.sign_in_seconds),
    )
    authority = Authority(
        store,
        limiter,
        tier_limits(settings),
        usage,
        SessionTokens(jwt_secret, settings.access_token_seconds, wall),
        github,
        refresh_lifetime=dt.timedelta(days=settings.refresh_token_days),
        sign_in_lifetime=dt.timedelta(seconds=settings.sign_in_seconds),
        default_redirect_uri=default_redirect,
        oauth=oauth,
    )
    servicer = AuthServicer(authority, store, settings.cache_ttl_seconds)

    def register(server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)

    running = await start_server(
        "auth",
        register,
        [SERVICE_NAME],
        ServerOptions(
            host=settings.host,
            port=settings.grpc_port,
            metrics_port=settings.metrics_port,
            drain_seconds=settings.drain_seconds,
            grace_seconds=settings.grace_seconds,
        ),
        errors=ERRORS,
    )
    await running.health.set(RATE_LIMIT_STORE_HEALTH, health_pb2.HealthCheckResponse.SERVING)
    if failover is not None:
        await failover.probe()
        tasks.add(
            asyncio.create_task(_probe_while_degraded(failover, settings.redis_retry_seconds))
        )
    tasks.add(asyncio.create_task(usage.run(settings.usage_flush_seconds)))
    return AuthServer(running, engine, limiter, usage, http, tasks, oauth)


async def _probe_while_degraded(limiter: FailoverLimiter, interval_seconds: float) -> None:
    # Requests retry Redis on their own; this brings health back even when no traffic arrives.
    while True:
        await asyncio.sleep(interval_seconds)
        if limiter.is_degraded:
            await limiter.probe()


async def serve(settings: Settings) -> None:
    server = await start(settings)
    try:
        await serve_until_signalled(server.running)
    finally:
        await server.stop()
