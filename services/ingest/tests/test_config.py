"""Ingest settings: what they read from the environment, and what their repr never shows."""

from __future__ import annotations

from pathlib import Path

from twinmcp.ingest.config import Settings

SECRETS = {
    "OPENAI_API_KEY": "sk-openai-secret-value",
    "GITHUB_TOKEN": "ghp-github-secret-value",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
    "DATABASE_URL": "postgresql://ingest:database-secret-value@127.0.0.1:5432/ingest",
}


def test_secrets_do_not_show_in_the_settings_repr(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"TWINMCP_DATA_DIR": str(tmp_path), "S3_BUCKET": "docs", **SECRETS}
    )
    shown = repr(settings)
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        assert SECRETS[name] not in shown, name
    assert "database-secret-value" not in shown


def test_the_secrets_are_still_read_for_the_code_that_needs_them(tmp_path: Path) -> None:
    settings = Settings.from_env({"TWINMCP_DATA_DIR": str(tmp_path), **SECRETS})
    assert settings.embedding_env["OPENAI_API_KEY"] == SECRETS["OPENAI_API_KEY"]
    assert "database-secret-value" in settings.database_url


def test_the_listen_address_is_a_setting(tmp_path: Path) -> None:
    assert Settings.from_env({"TWINMCP_DATA_DIR": str(tmp_path)}).host == "0.0.0.0"
    env = {"TWINMCP_DATA_DIR": str(tmp_path), "INGEST_GRPC_HOST": "127.0.0.1"}
    assert Settings.from_env(env).host == "127.0.0.1"
