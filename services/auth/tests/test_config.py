"""Settings: defaults, and bad values stop start-up naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from twinmcp.auth.config import Settings
from twinmcp.runtime.settings import SettingsError


def test_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    settings = Settings.from_env({"TWINMCP_DATA_DIR": str(tmp_path)})
    assert (settings.grpc_port, settings.metrics_port) == (50051, 9101)
    assert (settings.anon_rpm, settings.anon_rpd) == (30, 1000)
    assert (settings.free_rpm, settings.free_rpd) == (100, 10000)
    assert (settings.premium_rpm, settings.premium_rpd) == (1000, 0)
    assert settings.cache_ttl_seconds == 10
    assert settings.access_token_seconds == 900
    assert settings.redis_url is None
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.github_oauth_url == "https://github.com"
    assert settings.github_api_url == "https://api.github.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT_FREE_RPM", "lots"),
        ("RATE_LIMIT_PREMIUM_RPM", "0"),
        ("AUTH_GRPC_PORT", "70000"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("GITHUB_API_URL", "ftp://example.com"),
        ("JWT_SECRET", "short"),
        ("OAUTH_CLIENT_ID", "only-the-id"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"TWINMCP_DATA_DIR": str(tmp_path), name: value})


def test_secrets_do_not_show_in_the_settings_repr(tmp_path: Path) -> None:
    jwt_secret = "j" * 40
    settings = Settings.from_env(
        {
            "TWINMCP_DATA_DIR": str(tmp_path),
            "JWT_SECRET": jwt_secret,
            "OAUTH_CLIENT_ID": "Iv1.abc",
            "OAUTH_CLIENT_SECRET": "oauth-secret-value",
            "DATABASE_URL": "postgresql://auth:database-secret-value@127.0.0.1:5432/auth",
        }
    )
    assert jwt_secret not in repr(settings)
    assert "oauth-secret-value" not in repr(settings)
    assert "database-secret-value" not in repr(settings)


def test_the_listen_address_is_a_setting(tmp_path: Path) -> None:
    assert Settings.from_env({"TWINMCP_DATA_DIR": str(tmp_path)}).host == "0.0.0.0"
    env = {"TWINMCP_DATA_DIR": str(tmp_path), "AUTH_GRPC_HOST": "127.0.0.1"}
    assert Settings.from_env(env).host == "127.0.0.1"
