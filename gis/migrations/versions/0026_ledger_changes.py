"""Ledger history (台账变更记录): every write to the house and organisation ledgers

Adds `ledger_change`: who changed which house or organisation when, with the fields before and
after (masked values only), and the idempotency key of a POST so a resent one finds its record.
Distributed by district like the records it describes.

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-03 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0026'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", "district_code"),
        sa.CheckConstraint(
            "action IN ('create', 'update')", name=op.f("ck_ledger_change_action_known")
        ),
    )
    op.create_index("ix_ledger_change_record", "ledger_change", ["entity", "entity_id"])
    op.create_index("ix_ledger_change_staff_id", "ledger_change", ["staff_id"])
    op.create_index("ix_ledger_change_key", "ledger_change", ["idempotency_key"])
    op.create_index(
        "uq_ledger_change_idempotency_key",
        "ledger_change",
        ["district_code", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("ledger_change")
