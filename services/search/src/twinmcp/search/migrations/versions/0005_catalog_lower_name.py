"""catalog entries indexed by lower-cased name: a library's popularity is read by it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

`Store.library` reads a documented library's download rank from the catalog entries of its
packages, by lower-cased name, whenever a replica refreshes what it knows of the library (at
most once a second per library, so on most queries at a thousand libraries). Without this
index that read scanned the 30k-entry catalog: 12-19 ms of every such query (bench.scale_bench).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_search_catalog_entries_lower_name",
        "search_catalog_entries",
        [sa.text("lower(name)")],
    )


def downgrade() -> None:
    op.drop_index("ix_search_catalog_entries_lower_name", "search_catalog_entries")
