"""Alembic environment of the search service (run through twinmcp.database.migrate)."""

from twinmcp.database import run_alembic_env
from twinmcp.search.models import Base

run_alembic_env(Base.metadata)
