"""Alembic environment of the auth service; run through twinmcp.runtime.database.migrate."""

from twinmcp.auth.models import Base
from twinmcp.runtime.database import run_alembic_env

run_alembic_env(Base.metadata)
