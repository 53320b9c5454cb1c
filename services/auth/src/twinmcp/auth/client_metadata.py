"""OAuth clients: redirect URI rules (RFC 8252) and Client ID Metadata Documents, fetched safely."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Schemes a browser must never be sent to with a code: script, inline data, local files.
_REFUSED_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "about", "blob"})
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
MAX_DOCUMENT_BYTES = 10 * 1024
FETCH_SECONDS = 5.0


class ClientMetadataError(Exception):
    """Client metadata (registered or fetched) cannot be used; the message says why."""


@dataclass(frozen=True)
class ClientInfo:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]


def check_redirect_uri(uri: str) -> str:
    """`uri` when it may be registered as a redirect URI, else ClientMetadataError.

    https anywhere; http only to a loopback address (RFC 8252 7.3); a private-use scheme of a
    native app (`cursor://`, `com.example.app:/cb`, RFC 8252 7.1); never a fragment.
    """
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise ClientMetadataError(f"redirect URIs are strings of 1 to {MAX_URI_LENGTH} characters")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme or parts.fragment or "#" in uri:
        raise ClientMetadataError(
            f"redirect URI {uri!r} must be absolute and have no fragment (RFC 6749 3.1.2)"
        )
    if scheme in _REFUSED_SCHEMES:
        raise ClientMetadataError(f"redirect URI scheme {scheme!r} is not allowed")
    if scheme in ("http", "https") and (not parts.hostname or parts.username is not None):
        raise ClientMetadataError(f"redirect URI {uri!r} needs a host and no user name")
    if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ClientMetadataError(
            f"redirect URI {uri!r} uses http to a host other than 127.0.0.1, [::1] or "
            "localhost; use https, or a loopback address for a local client (RFC 8252)"
        )
    if any(ch.isspace() for ch in uri):
        raise ClientMetadataError(f"redirect URI {uri!r} holds whitespace")
    return uri


def check_redirect_uris(uris: Any) -> tuple[str, ...]:
    if not isinstance(uris, list) or not uris:
        raise ClientMetadataError("redirect_uris is required: a list of at least one URI")
    if len(uris) > MAX_REDIRECT_URIS:
        raise ClientMetadataError(f"at most {MAX_REDIRECT_URIS} redirect URIs per client")
    return tuple(check_redirect_uri(uri) for uri in uris)


def is_loopback_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def matches_redirect_uri(registered: Sequence[str], presented: str) -> bool:
    """Exact string match; for http loopback redirects the port may differ (RFC 8252 7.3),
    since a native app listens on whatever port the system gives it."""
    if presented in registered:
        return True
    if not is_loopback_redirect(presented):
        return False
    asked = urlsplit(presented)
    for uri in registered:
        known = urlsplit(uri)
        if (
            is_loopback_redirect(uri)
            and known.hostname == asked.hostname
            and known.path == asked.path
            and known.query == asked.query
            and not asked.fragment
        ):
            return True
    return False


def is_metadata_url(client_id: str) -> bool:
    """Whether a client_id names a metadata document (a URL) rather than a registration."""
    return client_id.startswith(("https://", "http://"))


# IPv6 prefixes that deliver to the IPv4 address in their last 32 bits (NAT64, IPv4-compatible,
# SIIT): that address is the one to judge. The local-use NAT64 prefix is never public.
_IPV4_IN_LOW_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if any(ip in network for network in _IPV4_IN_LOW_BITS):
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(v4 is not None and not _is_public(str(v4)) for v4 in embedded):
            return False
    return ip.is_global and not ip.is_multicast


def _is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback


class _CheckedResolver(AbstractResolver):
    """Refuses the addresses it would connect to unless public, so DNS rebinding cannot reach
    an internal host after the first check."""

    def __init__(self, allow_loopback: bool) -> None:
        self._inner = ThreadedResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = result["host"]
            if not (_is_public(address) or (self._allow_loopback and _is_loopback(address))):
                raise ClientMetadataError(
                    f"client_id host {host} resolves to {address}, a private, loopback or "
                    "link-local address; client metadata is fetched only from public hosts"
                )
        return results

    async def close(self) -> None:
        await self._inner.close()


class MetadataDocuments:
    """Fetches Client ID Metadata Documents: public hosts only, no redirects, small, quick.

    `allow_loopback` (tests only) also admits http URLs and addresses on this machine.
    """

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self._allow_loopback = allow_loopback
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=_CheckedResolver(self._allow_loopback)),
                timeout=aiohttp.ClientTimeout(total=FETCH_SECONDS),
                headers={"Accept": "application/json", "User-Agent": "TwinMCP-auth"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        is_local_http = (
            self._allow_loopback and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        )
        if parts.scheme != "https" and not is_local_http:
            raise ClientMetadataError(f"client_id {url!r} must be an https URL")
        if (
            not parts.hostname
            or parts.username is not None
            or parts.fragment
            or parts.path in ("", "/")
            or "/./" in f"{parts.path}/"
            or "/../" in f"{parts.path}/"
            or len(url) > MAX_URI_LENGTH
        ):
            raise ClientMetadataError(
                f"client_id {url!r} must be an https URL with a path, no user name, fragment "
                "or dot segments"
            )
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return
        if not (_is_public(str(literal)) or (self._allow_loopback and literal.is_loopback)):
            raise ClientMetadataError(
                f"client_id host {parts.hostname} is a private, loopback or link-local address; "
                "client metadata is fetched only from public hosts"
            )

    async def fetch(self, url: str) -> ClientInfo:
        self.check_url(url)
        try:
            async with self._http().get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise ClientMetadataError(
                        f"client metadata document {url} answered HTTP {response.status}, "
                        "not 200 (redirects are not followed)"
                    )
                if (response.content_length or 0) > MAX_DOCUMENT_BYTES:
                    raise ClientMetadataError(_too_big(url))
                body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientMetadataError(
                f"client metadata document {url} could not be fetched ({type(exc).__name__})"
            ) from None
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ClientMetadataError(_too_big(url))
        try:
            document = json.loads(body)
        except ValueError:
            raise ClientMetadataError(f"client metadata document {url} is not JSON") from None
        return _client_from_document(url, document)


def _too_big(url: str) -> str:
    return f"client metadata document {url} is larger than {MAX_DOCUMENT_BYTES} bytes"


def _client_from_document(url: str, document: Any) -> ClientInfo:
    if not isinstance(document, dict):
        raise ClientMetadataError(f"client metadata document {url} is not a JSON object")
    if document.get("client_id") != url:
        raise ClientMetadataError(
            f"client metadata document {url} names client_id "
            f"{str(document.get('client_id'))[:200]!r}; it must be its own URL"
        )
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise ClientMetadataError(
            f"client metadata document {url} asks for token_endpoint_auth_method {method!r}; "
            "only public clients ('none') are supported"
        )
    name = document.get("client_name", "")
    if not isinstance(name, str):
        raise ClientMetadataError(f"client_name in {url} must be a string")
    return ClientInfo(url, name.strip()[:200], check_redirect_uris(document.get("redirect_uris")))
