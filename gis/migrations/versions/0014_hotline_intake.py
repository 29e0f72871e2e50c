"""Hotline intake (受理): callers, 诉求类型, ticket numbers, events waiting for a point, and the
access log naming the event whose caller was unmasked

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEAL_TYPES = ("consult", "help", "complaint", "tip_off", "suggestion", "praise")


def upgrade() -> None:
    appeal_type = sa.Enum(*APPEAL_TYPES, name="appeal_type")
    appeal_type.create(op.get_bind(), checkfirst=True)
    op.add_column("event", sa.Column("appeal_type", appeal_type, nullable=True))
    op.add_column("event", sa.Column("caller_name_enc", sa.LargeBinary(), nullable=True))
    op.add_column("event", sa.Column("caller_name_masked", sa.String(40), nullable=True))
    # A case the caller placed by address only waits for the command centre to locate it.
    op.alter_column("event", "geom", nullable=True)
    op.add_column("pii_access_log", sa.Column("event_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_pii_access_log_event_id", "pii_access_log", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_pii_access_log_event_id", table_name="pii_access_log")
    op.drop_column("pii_access_log", "event_id")
    # Older code reads every event as located: cases still waiting for a point are voided.
    op.execute(
        "UPDATE event SET status = 'voided', void_reason = '降级时尚未定位 (unlocated at downgrade)',"
        " geom = ST_SetSRID(ST_MakePoint(0, 0), 4490) WHERE geom IS NULL"
    )
    op.alter_column("event", "geom", nullable=False)
    op.execute("DELETE FROM event_key WHERE kind = 'ticket'")
    op.drop_column("event", "caller_name_masked")
    op.drop_column("event", "caller_name_enc")
    op.drop_column("event", "appeal_type")
    sa.Enum(name="appeal_type").drop(op.get_bind(), checkfirst=True)
