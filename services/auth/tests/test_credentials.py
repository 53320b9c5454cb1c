"""Unit tests of the API key format and of session token verification."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from twinmcp.auth import keys
from twinmcp.auth.errors import UnauthenticatedError
from twinmcp.auth.sessions import SessionTokens

SECRET = "s" * 64


def test_a_new_key_is_recognisable_and_only_its_hash_is_kept() -> None:
    new = keys.generate_key()
    assert new.secret.startswith(f"tmcp_{new.key_id}_")
    assert new.prefix == f"tmcp_{new.key_id}"
    assert new.secret not in new.secret_hash
    assert keys.is_matching(new.secret, new.secret_hash)
    # Another last character (a random secret ends in "x" one time in 62).
    other = "y" if new.secret.endswith("x") else "x"
    assert not keys.is_matching(new.secret[:-1] + other, new.secret_hash)


def test_a_key_parses_back_to_its_public_id() -> None:
    new = keys.generate_key()
    parsed = keys.parse_key(new.secret)
    assert parsed is not None
    assert parsed.key_id == new.key_id


@pytest.mark.parametrize(
    "credential",
    ["tmcp_", "tmcp_short_abc", "tmcp_abcdefghijkl_tooshort", "tmcp_ABCDEFGHIJKL_" + "a" * 43],
)
def test_a_malformed_key_does_not_parse(credential: str) -> None:
    assert keys.parse_key(credential) is None


def test_two_keys_never_share_a_secret() -> None:
    assert len({keys.generate_key().secret for _ in range(200)}) == 200


def _now() -> float:
    return 1_750_000_000.0


def test_an_issued_session_token_verifies_to_its_user() -> None:
    tokens = SessionTokens(SECRET, 900, _now)
    issued = tokens.issue("user-1")
    assert issued.expires_in_seconds == 900
    assert tokens.verify(issued.token) == "user-1"


def test_an_expired_session_token_is_refused_with_a_clear_message() -> None:
    clock = [_now()]
    tokens = SessionTokens(SECRET, 900, lambda: clock[0])
    issued = tokens.issue("user-1")
    clock[0] += 901
    with pytest.raises(UnauthenticatedError, match="expired"):
        tokens.verify(issued.token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    forged = SessionTokens("another-secret" * 4, 900, _now).issue("user-1").token
    with pytest.raises(UnauthenticatedError, match="signature"):
        SessionTokens(SECRET, 900, _now).verify(forged)


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_alg_none_token_is_refused() -> None:
    claims = {
        "sub": "user-1",
        "iss": "twinmcp-auth",
        "aud": "twinmcp",
        "iat": int(_now()),
        "exp": int(_now()) + 900,
        "typ": "access",
    }
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."
    with pytest.raises(UnauthenticatedError, match="algorithm 'none' is not accepted"):
        SessionTokens(SECRET, 900, _now).verify(unsigned)


def test_a_token_using_another_algorithm_is_refused() -> None:
    claims = {
        "sub": "user-1",
        "iss": "twinmcp-auth",
        "aud": "twinmcp",
        "iat": int(_now()),
        "exp": int(_now()) + 900,
        "typ": "access",
    }
    token = jwt.encode(claims, SECRET, algorithm="HS512")
    with pytest.raises(UnauthenticatedError, match="not accepted"):
        SessionTokens(SECRET, 900, _now).verify(token)


def test_a_tampered_payload_is_refused() -> None:
    token = SessionTokens(SECRET, 900, _now).issue("user-1").token
    header, _payload, signature = token.split(".")
    claims = {
        "sub": "admin",
        "iss": "twinmcp-auth",
        "aud": "twinmcp",
        "iat": int(_now()),
        "exp": int(_now()) + 900,
        "typ": "access",
    }
    with pytest.raises(UnauthenticatedError, match="signature"):
        SessionTokens(SECRET, 900, _now).verify(f"{header}.{_segment(claims)}.{signature}")
