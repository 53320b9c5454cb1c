"""registry releases: a registry release's library keeps its package source and release list

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('search_libraries', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('registry_source', sa.String(length=300), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('registry_releases', sa.Text(), nullable=False, server_default='[]')
        )


def downgrade() -> None:
    with op.batch_alter_table('search_libraries', schema=None) as batch_op:
        batch_op.drop_column('registry_releases')
        batch_op.drop_column('registry_source')
