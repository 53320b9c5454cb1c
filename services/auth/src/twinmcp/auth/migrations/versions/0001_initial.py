"""Users, API keys, usage per key per day, OAuth sign-in state and refresh tokens."""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auth_oauth_states',
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('code_verifier', sa.Text(), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_auth_oauth_states'))
    )
    op.create_table('auth_usage_days',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'key_id', 'day', name=op.f('pk_auth_usage_days'))
    )
    op.create_table('auth_users',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('login', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('github_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_users')),
    sa.UniqueConstraint('github_id', name=op.f('uq_auth_users_github_id')),
    sa.UniqueConstraint('login', name=op.f('uq_auth_users_login'))
    )
    op.create_table('auth_api_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_users.id'], name=op.f('fk_auth_api_keys_user_id_auth_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_api_keys'))
    )
    with op.batch_alter_table('auth_api_keys', schema=None) as batch_op:
        batch_op.create_index('ix_auth_api_keys_user_id', ['user_id'], unique=False)

    op.create_table('auth_refresh_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('family_id', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_users.id'], name=op.f('fk_auth_refresh_tokens_user_id_auth_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_refresh_tokens'))
    )
    with op.batch_alter_table('auth_refresh_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_auth_refresh_tokens_family_id', ['family_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('auth_refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_auth_refresh_tokens_family_id')

    op.drop_table('auth_refresh_tokens')
    with op.batch_alter_table('auth_api_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_auth_api_keys_user_id')

    op.drop_table('auth_api_keys')
    op.drop_table('auth_users')
    op.drop_table('auth_usage_days')
    op.drop_table('auth_oauth_states')
