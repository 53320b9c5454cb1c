"""SQLAlchemy async engines from DATABASE_URL (PostgreSQL) or a SQLite file, and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from twinmcp.runtime.settings import SettingsError, data_dir, env_int, env_url


def database_url(env: Mapping[str, str], service: str) -> str:
    """The async URL: DATABASE_URL if set, else a SQLite file of the service's own."""
    raw = env_url(env, "DATABASE_URL", schemes=("postgresql", "postgres", "sqlite"))
    if raw is None:
        return f"sqlite+aiosqlite:///{data_dir(env) / f'{service}.db'}"
    try:
        url = make_url(raw)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types for a bad URL
        raise SettingsError(f"DATABASE_URL is not a valid database URL: {exc}") from None
    backend = url.get_backend_name()
    if backend in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    return url.render_as_string(hide_password=False)


def database_pool_size(env: Mapping[str, str]) -> int:
    """DATABASE_POOL_SIZE: connections each process keeps (and may add as overflow)."""
    return env_int(env, "DATABASE_POOL_SIZE", 10, minimum=1, maximum=1000)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine with a pool of `pool_size`; SQLite gets WAL and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


async def migrate(engine: AsyncEngine, migrations: Path, version_table: str) -> None:
    """Upgrades the service's tables to head with Alembic, on SQLite and PostgreSQL alike.

    `migrations` is the folder holding env.py and versions/; each service keeps its own
    version table so several services can share one database.
    """

    def _upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.set_main_option("version_table", version_table)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together must not run the same migration twice; the lock is
            # released when this transaction ends.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": version_table}
            )
        await connection.run_sync(_upgrade)


@contextlib.asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Holds an exclusive lock on `<database>.migrate-lock` while a SQLite file is migrated.

    SQLite has no advisory locks and Python's driver does not wrap DDL in a transaction, so two
    replicas starting together on one file would both create the version table and one would
    die. Other engines (and in-memory databases) pass straight through.
    """
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of a service's migrations/env.py: runs with the connection `migrate` passed."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through twinmcp.database.migrate")
    version_table = context.config.get_main_option("version_table") or "alembic_version"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


__all__ = ["create_engine", "database_url", "migrate", "run_alembic_env"]
