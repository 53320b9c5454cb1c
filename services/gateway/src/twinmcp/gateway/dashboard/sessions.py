"""Dashboard sessions: an encrypted, authenticated cookie holding the signed-in credential."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

COOKIE = "twinmcp_session"
# A session ends this long after sign-in whatever happens; signing in again is one paste.
MAX_AGE_SECONDS = 12 * 3600
_NONCE_BYTES = 12
# Cookies above ~4 kB are dropped by browsers; a longer one is garbage or an attack.
_MAX_COOKIE_CHARS = 4000


@dataclass(frozen=True)
class Session:
    """What the cookie carries. `credential` (an API key or a session token) never leaves the
    server in the clear: the cookie is AES-GCM sealed with a key only the gateway holds."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    credential: str = ""
    refresh_token: str = ""
    oauth_state: str = ""  # the GitHub sign-in this browser started, bound to its callback
    issued_at: float = field(default_factory=time.time)

    @property
    def is_signed_in(self) -> bool:
        return bool(self.credential)

    def signed_in(self, credential: str, refresh_token: str = "") -> Session:
        # A new CSRF token at sign-in: one planted before it is worthless after.
        return Session(credential=credential, refresh_token=refresh_token)

    def refreshed(self, credential: str, refresh_token: str) -> Session:
        # The same session with new tokens: its CSRF token stays, so an open form still works.
        return replace(self, credential=credential, refresh_token=refresh_token)

    def with_oauth_state(self, state: str) -> Session:
        return replace(self, oauth_state=state)

    def is_valid_csrf(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionCodec:
    """Seals sessions into cookie values and opens them; a tampered, foreign or expired cookie
    opens as None. Without a configured secret the key is random per process, so sessions end
    when the gateway restarts (set DASHBOARD_SECRET when several replicas serve the dashboard)."""

    def __init__(self, secret: str) -> None:
        material = secret.encode() if secret else os.urandom(32)
        key = hashlib.sha256(b"twinmcp dashboard session v1\x00" + material).digest()
        self._aead = AESGCM(key)

    def seal(self, session: Session) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, json.dumps(asdict(session)).encode(), COOKIE.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, value: str, now: float | None = None) -> Session | None:
        if not value or len(value) > _MAX_COOKIE_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], COOKIE.encode())
            fields = json.loads(plain)
            session = Session(**fields)
        except (binascii.Error, ValueError, InvalidTag, TypeError):
            return None
        if (now if now is not None else time.time()) - session.issued_at > MAX_AGE_SECONDS:
            return None
        return session
