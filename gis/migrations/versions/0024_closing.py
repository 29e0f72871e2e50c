"""核查 and 结案 by the right people: the command centre's own 结案 clock

Adds the stage 结案 (close): a case whose on-site check passed waits, verified, for the
command centre to close it, on a clock of its own (setting CLOSE_LIMIT), instead of closing by
itself. Citizens' cases still close by the reply to the caller (答复).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 11:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE stage_kind ADD VALUE IF NOT EXISTS 'close'")


def downgrade() -> None:
    # Enum values cannot be dropped. Before this revision a passed check closed the case at
    # once: cases waiting for 结案 are closed at the moment their check passed.
    op.execute(
        "UPDATE event SET status = 'closed', closed_at = stage_started_at, stage = NULL, "
        "stage_started_at = NULL, stage_deadline = NULL WHERE stage = 'close'"
    )
    op.execute("DELETE FROM event_stage WHERE stage = 'close'")
