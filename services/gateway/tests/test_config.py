"""Settings come from the environment; a bad value names its variable."""

from __future__ import annotations

import pytest
from twinmcp.gateway.config import Settings
from twinmcp.gateway.hosts import HostPort
from twinmcp.runtime.settings import SettingsError


def test_defaults_suit_a_laptop() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.search_addr == "127.0.0.1:50052"
    assert settings.mcp_max_body_bytes == 1024 * 1024


def test_lists_and_proxies_are_parsed() -> None:
    settings = Settings.from_env(
        {"ALLOWED_HOSTS": "docs.example.com, api.example.com", "TRUSTED_PROXIES": "10.0.0.0/8"}
    )
    assert settings.allowed_hosts == ("docs.example.com", "api.example.com")
    assert str(settings.trusted_proxies[0]) == "10.0.0.0/8"


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "http"), ("SEARCH_ADDR", "nowhere"), ("TRUSTED_PROXIES", "not-an-ip")],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_slow_client_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"HTTP_KEEPALIVE_SECONDS": "20", "HTTP_BODY_SECONDS": "5", "HTTP_MAX_CONNECTIONS": "64"}
    )
    assert settings.http_keepalive_seconds == 20.0
    assert settings.http_body_seconds == 5.0
    assert settings.http_max_connections == 64
    with pytest.raises(SettingsError, match="HTTP_MAX_CONNECTIONS"):
        Settings.from_env({"HTTP_MAX_CONNECTIONS": "0"})


def test_the_public_url_decides_the_served_host_and_origin() -> None:
    policy = Settings.from_env({"API_BASE_URL": "https://docs.example.com/"}).host_policy
    assert policy.is_allowed_host(HostPort("docs.example.com", 443))
    assert policy.is_allowed_origin("https://docs.example.com")
    assert not policy.is_allowed_origin("https://evil.example.com")
