"""Event status transferred (已移交): a case handed to another district (跨区移交)

The district code of an event is its distribution column and never changes, so a transfer
files a new case in the receiving district and ends the old one with this status.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ALTER TYPE … ADD VALUE cannot be used in the transaction that adds it: commit it alone.
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE event_status ADD VALUE IF NOT EXISTS 'transferred'")


def downgrade() -> None:
    # PostgreSQL cannot drop one value of an enum; the value stays, unused by older code,
    # until 0003's downgrade drops the whole type.
    pass
