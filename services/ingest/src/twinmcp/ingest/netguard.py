"""HTTP fetching that cannot be turned against us: SSRF checks, redirect and size limits."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from twinmcp.ingest.errors import HostileInput, InvalidSource, SourceUnavailable

logger = logging.getLogger(__name__)

USER_AGENT = "TwinMCP-ingest/0.1 (+documentation indexer)"


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 well-known prefix,
# IPv4-compatible (deprecated) and SIIT IPv4-translated. A NAT64 gateway or a dual stack host
# delivers these to the embedded IPv4 address, so that address is the one to judge.
_IPV4_IN_LOW_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)
# The local-use NAT64 prefix translates into whatever network the operator chose: never public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, 6to4, Teredo, NAT64...)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in network for network in _IPV4_IN_LOW_BITS):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_blocked_address(address: str) -> bool:
    """Loopback, private, link-local (cloud metadata), reserved and multicast are off limits."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return True
        if any(_is_blocked(v4) for v4 in embedded_ipv4(ip)):
            return True
    return _is_blocked(ip)


def _is_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not ip.is_global or ip.is_multicast


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address `host` resolves to; refuses if any is private (unless allowed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        addresses = [host.strip("[]")]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise SourceUnavailable(f"cannot resolve {host!r}: {exc.strerror}") from exc
        addresses = sorted({str(info[4][0]) for info in infos})
    if not allow_private:
        for address in addresses:
            if is_blocked_address(address):
                raise HostileInput(
                    f"{host} resolves to {address}, a private, loopback or link-local address; "
                    "ingest only fetches public hosts"
                )
    return addresses


class GuardedResolver(AbstractResolver):
    """Checks the addresses aiohttp is about to connect to, so DNS rebinding cannot slip by."""

    def __init__(self, allow_private: bool, trusted_hosts: frozenset[str] = frozenset()) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private
        self._trusted_hosts = trusted_hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private and host.lower() not in self._trusted_hosts:
            for result in results:
                if is_blocked_address(result["host"]):
                    raise HostileInput(
                        f"{host} resolves to {result['host']}, a private address; refused"
                    )
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]


class SafeHttp:
    """GETs public http(s) URLs with a redirect limit, a byte limit and a content-type check."""

    def __init__(
        self,
        *,
        allow_private: bool,
        max_redirects: int = 5,
        timeout: float = 30.0,
        trusted_hosts: frozenset[str] = frozenset(),
    ) -> None:
        """`trusted_hosts`: hosts the operator configured (a package registry, maybe a private
        mirror); their addresses are not checked. Every other host, including redirects and
        download links in their answers, is."""
        self.allow_private = allow_private
        self.max_redirects = max_redirects
        self.trusted_hosts = frozenset(host.lower() for host in trusted_hosts)
        resolver = GuardedResolver(allow_private, self.trusted_hosts)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=resolver, limit=8),
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        await self._session.close()

    async def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidSource(f"{url!r} is not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        is_trusted = parts.hostname.lower() in self.trusted_hosts
        await resolve_checked(parts.hostname, port, allow_private=self.allow_private or is_trusted)

    async def get(
        self,
        url: str,
        *,
        max_bytes: int,
        content_types: tuple[str, ...] = (),
    ) -> Fetched:
        """Follows redirects itself so each hop is checked; raises on a refused step."""
        current = url
        for _hop in range(self.max_redirects + 1):
            await self.check_url(current)
            try:
                async with self._session.get(current, allow_redirects=False) as response:
                    if response.status in {301, 302, 303, 307, 308}:
                        location = response.headers.get("Location")
                        if not location:
                            raise SourceUnavailable(f"{current} redirected without a Location")
                        current = urljoin(current, location)
                        continue
                    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                    if (
                        response.status == 200
                        and content_types
                        and (content_type.lower() not in content_types)
                    ):
                        raise InvalidSource(
                            f"{current} is {content_type or 'of unknown type'}, "
                            f"not {' or '.join(content_types)}"
                        )
                    body = await _read_limited(response, max_bytes, current)
                    return Fetched(
                        current,
                        response.status,
                        content_type,
                        body,
                        {k: v for k, v in response.headers.items()},
                    )
            except aiohttp.ClientError as exc:
                raise SourceUnavailable(f"fetching {current} failed: {exc}") from exc
            except TimeoutError as exc:
                raise SourceUnavailable(f"fetching {current} timed out") from exc
        raise HostileInput(f"{url} redirected more than {self.max_redirects} times; refused")


async def _read_limited(response: Any, max_bytes: int, url: str) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise InvalidSource(f"{url} is {declared} bytes, over the {max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > max_bytes:
            raise InvalidSource(f"{url} is larger than the {max_bytes}-byte limit; refused")
        chunks.append(chunk)
    return b"".join(chunks)
