"""Alembic environment for the ingest tables (version table alembic_version_ingest)."""

from twinmcp.ingest.jobs import metadata
from twinmcp.runtime.database import run_alembic_env

run_alembic_env(metadata)
