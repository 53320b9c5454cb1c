"""Alembic environment of the auth service; run through twinmcp.database.migrate."""

from twinmcp.auth.models import Base
from twinmcp.database import run_alembic_env

run_alembic_env(Base.metadata)
