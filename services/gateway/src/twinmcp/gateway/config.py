"""Gateway settings, read once from the environment mapping."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from twinmcp.gateway.hosts import HostPolicy, parse_host
from twinmcp.runtime.settings import (
    SettingsError,
    env_address,
    env_bool,
    env_float,
    env_int,
    env_optional,
    env_port,
    env_str,
    env_url,
)


def _csv(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(
    name: str, raw: str | None
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in _csv(raw):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"{name} has {part!r}, which is not an IP address or CIDR range "
                "(example: 10.0.0.0/8,127.0.0.1)"
            ) from None
    return tuple(networks)


def _hosts(raw: str | None) -> tuple[str, ...]:
    hosts = _csv(raw)
    for entry in hosts:
        if entry != "*" and parse_host(entry) is None:
            raise SettingsError(
                f"ALLOWED_HOSTS has {entry!r}, which is not host[:port] "
                "(example: docs.example.com,api.example.com:8443)"
            )
    return hosts


def _origins(raw: str | None) -> tuple[str, ...]:
    origins = _csv(raw)
    for entry in origins:
        scheme, sep, rest = entry.partition("://")
        if entry != "*" and (
            scheme not in ("http", "https") or not sep or parse_host(rest.rstrip("/")) is None
        ):
            raise SettingsError(
                f"ALLOWED_ORIGINS has {entry!r}, which is not scheme://host[:port] "
                "(example: https://app.example.com)"
            )
    return origins


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3000
    auth_addr: str = "127.0.0.1:50051"
    search_addr: str = "127.0.0.1:50052"
    ingest_addr: str = "127.0.0.1:50053"
    api_base_url: str = "http://localhost:3000"
    # Loopback names and API_BASE_URL's host are always served; these add more. "*" switches a
    # check off (behind a proxy that already validates Host).
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    mcp_max_body_bytes: int = 1024 * 1024
    grpc_deadline_seconds: float = 10.0
    health_deadline_seconds: float = 1.0
    auth_cache_max_seconds: int = 60
    default_tokens: int = 5000
    min_tokens: int = 500
    max_tokens: int = 25000
    # On SIGTERM /ready answers 503 this long before the listener closes (a load balancer stops
    # sending), then in-flight requests get the grace period to finish.
    drain_seconds: float = 0.0
    grace_seconds: float = 10.0
    # Slow clients: an idle keep-alive connection, or one that has not sent a whole request
    # head this long after connecting or after its last answer, is closed (longer than the
    # 60 s upstream keep-alive of NGINX, so NGINX never reuses a socket being closed here); a
    # request body must arrive within http_body_seconds; connections above the cap get a 503.
    http_keepalive_seconds: float = 75.0
    http_body_seconds: float = 30.0
    http_max_connections: int = 1000
    # query-docs answers kept at the edge while search's change feed vouches for them (0: off).
    answer_cache_mb: int = 64
    answer_cache_max_age_seconds: float = 60.0
    # Dashboard: the key its session cookies are sealed with (DASHBOARD_SECRET, else
    # JWT_SECRET; empty: random per process), and whether GitHub sign-in is offered.
    dashboard_secret: str = field(default="", repr=False)
    is_github_sign_in: bool = False
    # MCP sign-in: OAUTH_SERVER serves the OAuth authorization server (metadata, authorize,
    # token...); MCP_REQUIRE_AUTH answers /mcp without credentials with a 401 challenge.
    oauth_server: bool = False
    mcp_require_auth: bool = False

    @property
    def host_policy(self) -> HostPolicy:
        return HostPolicy(self.allowed_hosts, self.allowed_origins, self.api_base_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        base = env_url(
            env, "API_BASE_URL", schemes=("http", "https"), default="http://localhost:3000"
        )
        max_tokens = env_int(env, "MAX_TOKENS", 25000, minimum=1000)
        return cls(
            host=env_str(env, "HOST", "127.0.0.1"),
            port=env_port(env, "PORT", 3000),
            auth_addr=env_address(env, "AUTH_ADDR", "127.0.0.1:50051"),
            search_addr=env_address(env, "SEARCH_ADDR", "127.0.0.1:50052"),
            ingest_addr=env_address(env, "INGEST_ADDR", "127.0.0.1:50053"),
            api_base_url=(base or "http://localhost:3000").rstrip("/"),
            allowed_origins=_origins(env_optional(env, "ALLOWED_ORIGINS")),
            allowed_hosts=_hosts(env_optional(env, "ALLOWED_HOSTS")),
            trusted_proxies=_networks("TRUSTED_PROXIES", env_optional(env, "TRUSTED_PROXIES")),
            mcp_max_body_bytes=env_int(
                env, "MCP_MAX_BODY_BYTES", 1024 * 1024, minimum=1024, maximum=64 * 1024 * 1024
            ),
            grpc_deadline_seconds=env_float(env, "GRPC_DEADLINE_SECONDS", 10.0, minimum=0.05),
            health_deadline_seconds=env_float(env, "HEALTH_DEADLINE_SECONDS", 1.0, minimum=0.05),
            auth_cache_max_seconds=env_int(env, "AUTH_CACHE_MAX_SECONDS", 60, minimum=0),
            default_tokens=env_int(env, "DEFAULT_TOKENS", 5000, minimum=100),
            min_tokens=env_int(env, "MIN_TOKENS", 500, minimum=100),
            max_tokens=max_tokens,
            drain_seconds=env_float(env, "SHUTDOWN_DRAIN_SECONDS", 0.0, minimum=0.0),
            grace_seconds=env_float(env, "SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0.0),
            http_keepalive_seconds=env_float(env, "HTTP_KEEPALIVE_SECONDS", 75.0, minimum=0.1),
            http_body_seconds=env_float(env, "HTTP_BODY_SECONDS", 30.0, minimum=0.1),
            http_max_connections=env_int(env, "HTTP_MAX_CONNECTIONS", 1000, minimum=1),
            answer_cache_mb=env_int(env, "GATEWAY_ANSWER_CACHE_MB", 64, minimum=0, maximum=65536),
            answer_cache_max_age_seconds=env_float(
                env, "GATEWAY_ANSWER_CACHE_SECONDS", 60.0, minimum=0.1
            ),
            dashboard_secret=env_str(env, "DASHBOARD_SECRET", env_str(env, "JWT_SECRET", "")),
            is_github_sign_in=bool(env_str(env, "OAUTH_CLIENT_ID", "")),
            oauth_server=env_bool(env, "OAUTH_SERVER", default=False),
            mcp_require_auth=env_bool(env, "MCP_REQUIRE_AUTH", default=False),
        )
