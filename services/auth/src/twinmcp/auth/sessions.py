"""Session access tokens: short-lived HS256 JWTs, the algorithm pinned on both ends."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt
from twinmcp.auth.errors import UnauthenticatedError
from twinmcp.auth.limits import Clock

ALGORITHM = "HS256"
ISSUER = "twinmcp-auth"
AUDIENCE = "twinmcp"


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in_seconds: int


class SessionTokens:
    """Issues and verifies access tokens; anything not HS256-signed by us is refused."""

    def __init__(self, secret: str, lifetime_seconds: int, clock: Clock) -> None:
        self._secret = secret
        self._lifetime = lifetime_seconds
        self._clock = clock

    def issue(self, user_id: str) -> AccessToken:
        now = int(self._clock())
        claims = {
            "sub": user_id,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + self._lifetime,
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        return AccessToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), self._lifetime)

    def verify(self, token: str) -> str:
        """The user id the token was issued to, or UnauthenticatedError saying why not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise UnauthenticatedError("session token is malformed; sign in again") from None
        if header.get("alg") != ALGORITHM:
            raise UnauthenticatedError(
                f"session token algorithm {header.get('alg')!r} is not accepted; "
                f"only {ALGORITHM} tokens issued by TwinMCP are"
            )
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry is judged below by the service clock (injectable in tests), not PyJWT's.
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise UnauthenticatedError(
                "session token signature is not valid; sign in again"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise UnauthenticatedError(
                f"session token is not valid ({exc}); sign in again"
            ) from None
        if claims.get("typ") != "access":
            raise UnauthenticatedError("this token is not a session access token; sign in again")
        expires_at = claims["exp"]
        if not isinstance(expires_at, int) or expires_at <= int(self._clock()):
            raise UnauthenticatedError(
                "session token has expired; call RefreshSession or sign in again"
            )
        return str(claims["sub"])
