"""Who is calling: credentials from headers, a short cache of AuthService answers, rate limits."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cachetools import LRUCache, TLRUCache
from twinmcp.auth.v1 import auth_pb2
from twinmcp.gateway.clients.auth import AuthClient
from twinmcp.gateway.errors import Unauthenticated

# Context7's clients send their key under any of these; Authorization wins when several are set.
CREDENTIAL_HEADERS = ("X-API-Key", "Context7-API-Key", "X-Context7-API-Key")
_MINUTE_SECONDS = 60  # the auth service counts a request against the minute limit this long
# Callers remembered; past it the least recently seen one is forgotten (one at a time: a
# flood of new addresses never makes every caller pay an Authenticate call at once).
_CACHE_LIMIT = 10_000
# Issued keys and session tokens are printable ASCII (base64url, dots, dashes), well under this.
_MAX_CREDENTIAL_CHARS = 4096

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def credential_from(headers: Mapping[str, str]) -> str:
    """The API key or session token the caller sent, or "" when anonymous."""
    authorization = headers.get("Authorization", "").strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    for name in CREDENTIAL_HEADERS:
        value = headers.get(name, "").strip()
        if value:
            return value
    return ""


def credential_problem(credential: str) -> str | None:
    """Why `credential` cannot be a key this service issued, or None; never quotes it, since
    the message reaches logs and the caller may have pasted the wrong secret."""
    if len(credential) > _MAX_CREDENTIAL_CHARS:
        return (
            f"The API key is {len(credential)} characters long; keys are at most "
            f"{_MAX_CREDENTIAL_CHARS}. Send the key exactly as it was issued."
        )
    if not all("!" <= char <= "~" for char in credential):
        return (
            "The API key holds characters no key has (control characters, spaces or bytes "
            "that are not ASCII). Send the key exactly as it was issued."
        )
    return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The caller's IP; X-Forwarded-For is believed only when it came through a trusted proxy.

    Walks the chain from the nearest hop backwards and stops at the first untrusted address, so
    a client cannot pick its own address by prepending entries.
    """
    address = peer or "unknown"
    if not forwarded_for or not _is_trusted(address, trusted):
        return address
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_address(hop):
            # A garbled or forged entry: the last address a trusted hop vouched for stands.
            break
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


@dataclass(frozen=True)
class Budget:
    """The rate-limit state to show in RateLimit-* headers."""

    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int = 0
    is_allowed: bool = True

    def headers(self) -> dict[str, str]:
        values = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(max(self.reset_seconds, 0)),
        }
        if not self.is_allowed:
            values["Retry-After"] = str(max(self.retry_after_seconds, 1))
        return values


@dataclass
class _Entry:
    principal: auth_pb2.Principal
    expires_at: float


@dataclass
class _Seen:
    budget: Budget
    at: float


def _expiry(key: tuple[str, str], entry: _Entry, now: float) -> float:
    return entry.expires_at


@dataclass
class Access:
    """Authenticates through AuthService and remembers answers for the TTL it grants."""

    auth: AuthClient
    max_cache_seconds: int
    _cache: TLRUCache[tuple[str, str], _Entry] = field(
        default_factory=lambda: TLRUCache(_CACHE_LIMIT, _expiry, timer=time.monotonic)
    )
    _budgets: LRUCache[str, _Seen] = field(default_factory=lambda: LRUCache(_CACHE_LIMIT))
    is_limiter_degraded: bool | None = None
    # This gateway's protected resource: OAuth tokens issued for another are refused.
    resource: str = ""

    async def principal(
        self, credential: str, address: str, *, is_fresh: bool = False
    ) -> auth_pb2.Principal:
        """Who `credential` is; `is_fresh` asks auth even when an answer is cached, for rare
        calls that must see a revocation or demotion made elsewhere at once (admin routes)."""
        # Anonymous answers depend on the address; keyed answers do not.
        key = (credential, "" if credential else address)
        now = time.monotonic()
        entry = None if is_fresh else self._cache.get(key)
        if entry is not None:
            return entry.principal
        try:
            reply = await self.auth.authenticate(credential, address, self.resource)
        except Unauthenticated:
            # A stale cached answer must not keep serving this credential's other calls.
            self._cache.pop(key, None)
            raise
        ttl = min(max(reply.cache_ttl_seconds, 0), self.max_cache_seconds)
        if ttl > 0:
            self._cache[key] = _Entry(reply.principal, now + ttl)
        return reply.principal

    def forget_key(self, key_id: str) -> None:
        """Drops cached answers for a key just revoked, so this gateway refuses it at once."""
        for cached in [k for k, v in self._cache.items() if v.principal.key_id == key_id]:
            self._cache.pop(cached, None)

    async def charge(self, principal: auth_pb2.Principal) -> Budget:
        """Counts one request against the principal's limits."""
        reply = await self.auth.check_rate_limit(principal.rate_limit_subject, principal.tier)
        self.is_limiter_degraded = reply.is_degraded
        budget = Budget(
            limit=reply.limit,
            remaining=reply.remaining,
            reset_seconds=reply.reset_seconds,
            retry_after_seconds=reply.retry_after_seconds,
            is_allowed=reply.allowed,
        )
        self._budgets[principal.rate_limit_subject] = _Seen(budget, time.monotonic())
        return budget

    def last_budget(self, principal: auth_pb2.Principal) -> Budget | None:
        """The budget seen at the last charge, aged, for responses that cost nothing."""
        seen = self._budgets.get(principal.rate_limit_subject)
        if seen is None:
            return None
        elapsed = int(time.monotonic() - seen.at)
        if elapsed >= _MINUTE_SECONDS:
            # Everything counted at that charge has left the rolling minute since.
            return Budget(seen.budget.limit, seen.budget.limit, 0)
        # Some requests may have left the window since; what was left then is a safe lower bound.
        reset = max(seen.budget.reset_seconds - elapsed, 0)
        return Budget(seen.budget.limit, seen.budget.remaining, reset)
