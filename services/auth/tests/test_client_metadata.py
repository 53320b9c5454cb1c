"""Redirect URI rules: what a client may register (RFC 8252) and what matches at authorization."""

from __future__ import annotations

import pytest
from twinmcp.auth.client_metadata import (
    ClientMetadataError,
    check_redirect_uri,
    matches_redirect_uri,
)


@pytest.mark.parametrize(
    "uri",
    [
        "https://vscode.dev/redirect",
        "http://127.0.0.1:33418/",
        "http://localhost:6274/oauth/callback",
        "http://[::1]/callback",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "com.example.app:/oauth2redirect",
    ],
)
def test_web_loopback_and_native_app_redirects_may_be_registered(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(1)",
        "JavaScript://x/%0aalert(1)",
        "data:text/html,<script>",
        "file:///etc/passwd",
        "http://evil.example/callback",
        "http://127.0.0.1.evil.example/callback",
        "https://app.example/cb#frag",
        "https://user@app.example/cb",
        "/relative/callback",
        "https://app.example/c b",
    ],
)
def test_script_local_remote_http_and_malformed_redirects_are_refused(uri: str) -> None:
    with pytest.raises(ClientMetadataError):
        check_redirect_uri(uri)


def test_a_loopback_redirect_matches_on_any_port_and_nothing_else_varies() -> None:
    registered = ["http://127.0.0.1/callback", "https://app.example/cb"]
    assert matches_redirect_uri(registered, "http://127.0.0.1:51234/callback")
    assert matches_redirect_uri(registered, "https://app.example/cb")
    assert not matches_redirect_uri(registered, "http://localhost:51234/callback")
    assert not matches_redirect_uri(registered, "http://127.0.0.1:51234/callback/")
    assert not matches_redirect_uri(registered, "http://127.0.0.1:51234/callback?x=1")
    assert not matches_redirect_uri(registered, "https://app.example:8443/cb")
    assert not matches_redirect_uri(registered, "https://app.example/cb?next=/")
    assert not matches_redirect_uri(registered, "https://APP.example/cb")
