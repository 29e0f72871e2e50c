"""Event status 已移交 (transferred): a case handed to another district's centre

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL takes a new enum value inside a transaction; only its use must wait for commit.
    op.execute("ALTER TYPE event_status ADD VALUE IF NOT EXISTS 'transferred' AFTER 'self_resolved'")


def downgrade() -> None:
    # An enum value cannot be dropped; rows that use it go back to 已作废 (voided) first, and
    # the type keeps the unused value, which the older code never writes.
    op.execute("UPDATE event SET status = 'voided' WHERE status = 'transferred'")
