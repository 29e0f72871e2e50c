"""login_failure (the shared login throttle) and staff.token_version (revocable tokens)

Failed logins were counted in each server process's memory, successes included; they now live
in one small table that every process reads. Each account's token version is put in its tokens
and bumped on sign-out, a new password or disabling, which revokes every token issued before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'staff', sa.Column('token_version', sa.Integer(), server_default='0', nullable=False)
    )
    op.create_table(
        'login_failure',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column(
            'at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure')),
    )
    op.create_index('ix_login_failure_address_at', 'login_failure', ['address', 'at'])
    op.create_index('ix_login_failure_username_at', 'login_failure', ['username', 'at'])
    op.create_index(op.f('ix_login_failure_at'), 'login_failure', ['at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_login_failure_at'), table_name='login_failure')
    op.drop_index('ix_login_failure_username_at', table_name='login_failure')
    op.drop_index('ix_login_failure_address_at', table_name='login_failure')
    op.drop_table('login_failure')
    op.drop_column('staff', 'token_version')
