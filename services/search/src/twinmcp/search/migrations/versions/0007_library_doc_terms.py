"""library doc_terms: the words a library's default documentation uses, which resolution reads

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Libraries published before keep "[]" until their default version is published again.
    with op.batch_alter_table("search_libraries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("doc_terms", sa.Text(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("search_libraries", schema=None) as batch_op:
        batch_op.drop_column("doc_terms")
