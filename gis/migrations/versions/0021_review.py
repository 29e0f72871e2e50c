"""Return review and dispute rulings (退回审核, 争议裁定)

A unit's return waits for the command centre, which accepts it (re-dispatch), rejects it (back
to the unit with the ruling) or, when two units have returned the case, rules which unit leads.
Each ruling is kept in `dispute_ruling` (distributed by district like its event), with the
dispatch rule made from it, if any.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 09:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispute_ruling",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("step_id", sa.BigInteger(), nullable=False),
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("community_code", sa.String(12), nullable=True),
        sa.Column("street_code", sa.String(12), nullable=True),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("unit_ids", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("department_unit.id"), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("ruled_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("ruled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "dispatch_rule_id", sa.Integer(), sa.ForeignKey("dispatch_rule.id"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", "district_code"),
        sa.ForeignKeyConstraint(
            ["event_id", "district_code"],
            ["event.id", "event.district_code"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id", "district_code"], ["event_step.id", "event_step.district_code"]
        ),
    )
    op.create_index("ix_dispute_ruling_event_id", "dispute_ruling", ["event_id"])


def downgrade() -> None:
    op.drop_table("dispute_ruling")
