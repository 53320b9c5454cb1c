"""API key format: `tmcp_<public id>_<secret>`, generated, parsed and hashed (never stored)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass

KEY_PREFIX = "tmcp_"
PUBLIC_ID_LENGTH = 12
SECRET_LENGTH = 43  # 43 base62 characters carry 256 bits of randomness
_PUBLIC_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
SCOPES = frozenset({"read", "admin"})
# Every non-anonymous caller may read, so an admin key can do all a read key can.
_IMPLIED = {"read": frozenset({"read"}), "admin": frozenset({"admin", "read"})}


@dataclass(frozen=True)
class NewKey:
    key_id: str  # the public id; also the primary key of the stored row
    prefix: str  # `tmcp_<public id>`: recognisable and safe to show
    secret: str  # the whole key, shown to its owner once
    secret_hash: str


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


def granted_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Every scope a credential holding `scopes` may hand on to a key it creates."""
    return frozenset().union(*(_IMPLIED.get(scope, frozenset()) for scope in scopes))


def generate_key() -> NewKey:
    key_id = "".join(secrets.choice(_PUBLIC_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))
    body = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    whole = f"{KEY_PREFIX}{key_id}_{body}"
    return NewKey(key_id, f"{KEY_PREFIX}{key_id}", whole, hash_secret(whole))


def looks_like_key(credential: str) -> bool:
    return credential.startswith(KEY_PREFIX)


def parse_key(credential: str) -> ParsedKey | None:
    """Splits a key into its public id and the whole secret; None if it is not well formed."""
    rest = credential[len(KEY_PREFIX) :]
    key_id, sep, body = rest.partition("_")
    if (
        not sep
        or len(key_id) != PUBLIC_ID_LENGTH
        or len(body) != SECRET_LENGTH
        or not all(ch in _PUBLIC_ALPHABET for ch in key_id)
        or not all(ch in _SECRET_ALPHABET for ch in body)
    ):
        return None
    return ParsedKey(key_id, credential)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of the whole key.

    A slow password hash buys nothing here: the secret has 256 bits of randomness, so guessing
    is hopeless even at GPU speed, and a fast hash keeps verification off the request path.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def is_matching(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
