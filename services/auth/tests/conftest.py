"""Shared fixtures: settings builders, started auth servers, clients and a GitHub stand-in."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import pytest
from aiohttp import web
from support.databases import REDIS_TEST_URL, fresh_postgres_database
from twinmcp.auth.config import Settings
from twinmcp.auth.server import AuthServer, start
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.runtime.ports import free_port

JWT_SECRET = "test-secret-" + "x" * 40


class FakeClock:
    """Seconds since the epoch that only move when a test moves them."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(data_dir: Path, **env: str) -> Settings:
    base = {
        "AUTH_GRPC_PORT": "0",
        "AUTH_METRICS_PORT": "-1",
        "TWINMCP_DATA_DIR": str(data_dir),
        "JWT_SECRET": JWT_SECRET,
        "RATE_LIMIT_REDIS_PREFIX": f"test:auth:{uuid.uuid4().hex}",
        "USAGE_FLUSH_SECONDS": "60",
    }
    base.update(env)
    # Tests listen on loopback only.
    return dataclasses.replace(Settings.from_env(base), host="127.0.0.1")


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    """Builds settings for a test server from environment overrides."""

    def build(**env: str) -> Settings:
        return make_settings(tmp_path, **env)

    return build


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_750_032_000.0 + 3600)  # 2025-06-16T01:00:00Z


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres_database("twinmcp_auth_test") as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    return REDIS_TEST_URL


@pytest.fixture
def closed_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@dataclass
class Client:
    """A started server and a stub talking to it."""

    server: AuthServer
    channel: grpc.aio.Channel
    stub: auth_pb2_grpc.AuthServiceStub

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    async def admin_key(self, login: str = "operator") -> tuple[auth_pb2.User, str]:
        user = (
            await self.stub.CreateUser(
                auth_pb2.CreateUserRequest(login=login, tier=auth_pb2.TIER_FREE, is_admin=True),
                timeout=10,
            )
        ).user
        created = await self.stub.CreateApiKey(
            auth_pb2.CreateApiKeyRequest(user_id=user.user_id, name="cli", scopes=["admin"]),
            timeout=10,
        )
        return user, created.secret


@dataclass
class Servers:
    started: list[Client] = field(default_factory=list)

    async def start(self, settings: Settings, clock: Callable[[], float] | None = None) -> Client:
        server = await start(settings, clock=clock)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        client = Client(server, channel, auth_pb2_grpc.AuthServiceStub(channel))
        self.started.append(client)
        return client


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    started = Servers()
    yield started
    for client in started.started:
        await client.channel.close()
        await client.server.stop()


@pytest.fixture
async def sqlite_auth(servers: Servers, tmp_path: Path) -> Client:
    """An auth server on SQLite with in-process limits: the embedded defaults."""
    return await servers.start(make_settings(tmp_path))


# GitHub stand-in: the authorize, token and user endpoints of an OAuth app, as GitHub behaves.


@dataclass
class PendingCode:
    challenge: str
    redirect_uri: str
    github_id: int
    is_used: bool = False


@dataclass
class GitHubStandIn:
    client_id: str
    client_secret: str
    base_url: str = ""
    next_user: dict[str, Any] = field(
        default_factory=lambda: {"id": 4242, "login": "octocat", "email": "octo@example.com"}
    )
    codes: dict[str, PendingCode] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)

    async def authorize(self, request: web.Request) -> web.Response:
        """The user approves at once: redirect back with a fresh single-use code."""
        query = request.query
        if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256":
            return web.Response(status=400, text="bad authorize request")
        code = secrets.token_hex(10)
        user = dict(self.next_user)
        self.users[user["id"]] = user
        self.codes[code] = PendingCode(query["code_challenge"], query["redirect_uri"], user["id"])
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        raise web.HTTPFound(target)

    async def access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("Accept") != "application/json":
            return web.Response(status=406)
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return web.json_response({"error": "incorrect_client_credentials"})
        pending = self.codes.get(str(form.get("code", "")))
        if pending is None or pending.is_used:
            return web.json_response({"error": "bad_verification_code"})
        pending.is_used = True
        verifier = str(form.get("code_verifier", ""))
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if challenge != pending.challenge or form.get("redirect_uri") != pending.redirect_uri:
            return web.json_response({"error": "bad_verification_code"})
        token = f"gho_{secrets.token_hex(16)}"
        self.tokens[token] = self.users[pending.github_id]
        return web.json_response({"access_token": token, "token_type": "bearer", "scope": ""})

    async def user(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response(self.tokens[token])


@pytest.fixture
async def github() -> AsyncIterator[GitHubStandIn]:
    stand_in = GitHubStandIn(client_id="Iv1.test", client_secret="github-secret-value")
    app = web.Application()
    app.router.add_get("/login/oauth/authorize", stand_in.authorize)
    app.router.add_post("/login/oauth/access_token", stand_in.access_token)
    app.router.add_get("/user", stand_in.user)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stand_in.base_url = f"http://127.0.0.1:{port}"
    yield stand_in
    await runner.cleanup()
