"""Which Host and Origin the gateway answers for: strict parsing and the allow-lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# Names a browser on this machine uses for a local server; anything else could be DNS rebinding.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")

# host[:port] and nothing else (RFC 9110 7.2 without userinfo): a DNS name or IPv4 address, or
# a bracketed IPv6 literal, an optional trailing dot, and a port of 1-5 digits.
_HOST = re.compile(
    r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9_.-]*[a-z0-9])?)\.?(?::(?P<port>[0-9]{1,5}))?"
)


@dataclass(frozen=True)
class HostPort:
    name: str  # lower-case; IPv6 literals keep their brackets
    port: int | None = None


def parse_host(value: str) -> HostPort | None:
    """`value` as host[:port], or None for anything else: userinfo (`a@b`), a path, spaces,
    an empty or out-of-range port, several names."""
    match = _HOST.fullmatch(value.lower())
    if match is None:
        return None
    port = match["port"]
    if port is not None and not 0 < int(port) < 65536:
        return None
    return HostPort(match["name"], int(port) if port is not None else None)


def host_of_url(url: str) -> str:
    """The Host a client sends to reach `url` (name only: proxies often drop the port)."""
    parts = urlsplit(url)
    name = (parts.hostname or "").lower()
    return f"[{name}]" if ":" in name else name


def origin_of_url(url: str) -> str:
    """scheme://host[:port] of `url`, as a browser sends it in Origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


@dataclass(frozen=True)
class HostPolicy:
    """Hosts and Origins served: loopback names, the API_BASE_URL's, and configured ones.

    An allowed host without a port matches any port; "*" switches a check off (behind a proxy
    that already validates Host). The syntax of Host is checked either way.
    """

    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    public_url: str = ""

    def is_allowed_host(self, host: HostPort) -> bool:
        if "*" in self.allowed_hosts or host.name in LOCAL_HOSTS:
            return True
        if self.public_url and host.name == host_of_url(self.public_url):
            return True
        for entry in self.allowed_hosts:
            allowed = parse_host(entry)
            if (
                allowed is not None
                and allowed.name == host.name
                and allowed.port in (None, host.port)
            ):
                return True
        return False

    def is_allowed_origin(self, origin: str) -> bool:
        if "*" in self.allowed_origins:
            return True
        wanted = origin.rstrip("/").lower()
        known = [entry.rstrip("/").lower() for entry in self.allowed_origins]
        if self.public_url:
            known.append(origin_of_url(self.public_url))
        if wanted in known:
            return True
        parts = urlsplit(origin)
        name = (parts.hostname or "").lower()
        return (
            parts.scheme in ("http", "https")
            and parts.username is None
            and parts.path in ("", "/")
            and (name in LOCAL_HOSTS or f"[{name}]" in LOCAL_HOSTS)
        )
