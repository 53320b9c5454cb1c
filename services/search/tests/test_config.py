"""Settings from the environment: defaults, and bad values named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest
from twinmcp.runtime.settings import SettingsError
from twinmcp.search.config import Settings


def test_defaults_use_the_embedded_backends(tmp_path: Path) -> None:
    settings = Settings.from_env({"TWINMCP_DATA_DIR": str(tmp_path)})
    assert settings.grpc_port == 50052 and settings.metrics_port == 9102
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.redis_url is None and settings.pinecone_api_key is None
    assert settings.redis_cache_ttl == 3600


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SEARCH_GRPC_PORT": "abc"}, "SEARCH_GRPC_PORT"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"REDIS_CACHE_TTL": "0"}, "REDIS_CACHE_TTL"),
        ({"PINECONE_API_KEY": "k"}, "PINECONE_API_KEY"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"SEARCH_MALLOC_MMAP_THRESHOLD_KB": "-1"}, "SEARCH_MALLOC_MMAP_THRESHOLD_KB"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"TWINMCP_DATA_DIR": str(tmp_path), **env})
    assert named in str(error.value)


def test_the_pinecone_key_never_appears_in_the_settings_repr(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"TWINMCP_DATA_DIR": str(tmp_path), "PINECONE_API_KEY": "sekrit", "PINECONE_HOST": "h"}
    )
    assert "sekrit" not in repr(settings)
