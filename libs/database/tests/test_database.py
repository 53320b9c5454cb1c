"""Database URLs get async drivers; replicas starting together on one database migrate it once."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text
from twinmcp.database import create_engine, database_url, migrate
from twinmcp.runtime.settings import SettingsError

ENV = """
from sqlalchemy import Column, Integer, MetaData, Table
from twinmcp.database import run_alembic_env

metadata = MetaData()
Table("things", metadata, Column("id", Integer, primary_key=True))
run_alembic_env(metadata)
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
"""


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(textwrap.dedent(ENV))
    (folder / "versions" / "0001_things.py").write_text(textwrap.dedent(REVISION))
    return folder


@pytest.mark.parametrize("attempt", range(5))
async def test_replicas_migrating_one_sqlite_file_together_all_succeed(
    tmp_path: Path, migrations: Path, attempt: int
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / f'shared-{attempt}.db'}"
    engines = [create_engine(url) for _ in range(4)]
    try:
        await asyncio.gather(
            *(migrate(engine, migrations, "alembic_version_test") for engine in engines)
        )
        async with engines[0].connect() as connection:
            versions = (await connection.execute(text("SELECT * FROM alembic_version_test"))).all()
        assert versions == [("0001",)]
    finally:
        for engine in engines:
            await engine.dispose()


def test_database_url_picks_async_drivers(tmp_path: object) -> None:
    url = database_url({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}, "auth")
    assert url.startswith("postgresql+asyncpg://")
    local = database_url({"TWINMCP_DATA_DIR": str(tmp_path)}, "auth")
    assert local.startswith("sqlite+aiosqlite:///") and local.endswith("auth.db")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        database_url({"DATABASE_URL": "mysql://x"}, "auth")
