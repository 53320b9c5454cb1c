"""OAuth authorization server: registered clients, pending requests, grants, codes, tokens."""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_oauth_clients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_oauth_clients")),
    )
    op.create_table(
        "auth_oauth_requests",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_auth_oauth_requests")),
    )
    op.create_table(
        "auth_oauth_grants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["auth_users.id"],
            name=op.f("fk_auth_oauth_grants_user_id_auth_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_oauth_grants")),
    )
    with op.batch_alter_table("auth_oauth_grants", schema=None) as batch_op:
        batch_op.create_index("ix_auth_oauth_grants_user_id", ["user_id"], unique=False)
    op.create_table(
        "auth_oauth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=32), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["auth_oauth_grants.id"],
            name=op.f("fk_auth_oauth_codes_grant_id_auth_oauth_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_auth_oauth_codes")),
    )
    op.create_table(
        "auth_oauth_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("grant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["auth_oauth_grants.id"],
            name=op.f("fk_auth_oauth_tokens_grant_id_auth_oauth_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_oauth_tokens")),
    )
    with op.batch_alter_table("auth_oauth_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_auth_oauth_tokens_grant_id", ["grant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_oauth_tokens_grant_id")
    op.drop_table("auth_oauth_tokens")
    op.drop_table("auth_oauth_codes")
    with op.batch_alter_table("auth_oauth_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_oauth_grants_user_id")
    op.drop_table("auth_oauth_grants")
    op.drop_table("auth_oauth_requests")
    op.drop_table("auth_oauth_clients")
