"""followed libraries: registry packages whose new releases are ingested on a schedule

Revision ID: 0002_ingest_follows
Revises: 0001_ingest_jobs
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_ingest_follows"
down_revision = "0001_ingest_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_follows",
        sa.Column("library_id", sa.String(512), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("seen", sa.JSON, nullable=False),
        sa.Column("queued", sa.JSON, nullable=False),
        sa.Column("newest_release", sa.String(256), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("followed_at", sa.Float, nullable=False),
        sa.Column("checked_at", sa.Float, nullable=True),
        sa.Column("claimed_at", sa.Float, nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("ingest_follows")
