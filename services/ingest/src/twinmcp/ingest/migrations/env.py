"""Alembic environment for the ingest tables (version table alembic_version_ingest)."""

from twinmcp.database import run_alembic_env
from twinmcp.ingest.jobs import metadata

run_alembic_env(metadata)
