"""library identity: the packages a library documents (per registry) and its other names

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('search_libraries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('packages', sa.Text(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('aliases', sa.Text(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('search_libraries', schema=None) as batch_op:
        batch_op.drop_column('aliases')
        batch_op.drop_column('packages')
