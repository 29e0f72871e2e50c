"""import jobs: who runs them (host, pid, heartbeat) and when their error file expires

A job whose runner was killed is recognised at the next start-up (its owner process is gone,
or it has not signalled within the lease) and marked failed instead of staying `running`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('import_job', sa.Column('owner_host', sa.String(length=255), nullable=True))
    op.add_column('import_job', sa.Column('owner_pid', sa.Integer(), nullable=True))
    op.add_column('import_job', sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        'import_job', sa.Column('error_expires_at', sa.DateTime(timezone=True), nullable=True)
    )
    # Error files written before this migration expire a week after their job ended.
    op.execute(
        "UPDATE import_job SET error_expires_at = coalesce(finished_at, now()) + interval '7 days'"
        " WHERE error_path IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column('import_job', 'error_expires_at')
    op.drop_column('import_job', 'heartbeat_at')
    op.drop_column('import_job', 'owner_pid')
    op.drop_column('import_job', 'owner_host')
