"""考评 (evaluation): one score per closed case with its components and whom it counts for

Adds `event_evaluation` (distributed by district like the event it belongs to): the score of a
closed case from its timeline and the caller's satisfaction (events.evaluation), the facts it
came from and the unit, department, tier, street, community, grid and grid worker it is
counted for. `gridgov evaluate --month YYYY-MM` fills it for cases closed before it existed.
A partial index on `event_step` finds the cases with an approved extension (延期率).

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-03 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0023'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    status = postgresql.ENUM(name="event_status", create_type=False)
    satisfaction = postgresql.ENUM(name="satisfaction", create_type=False)
    tier = postgresql.ENUM(name="tier", create_type=False)
    op.create_table(
        "event_evaluation",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("score", sa.Numeric(5, 2), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("stages", sa.Integer(), nullable=False),
        sa.Column("late_stages", sa.Integer(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("reworks", sa.Integer(), nullable=False),
        sa.Column("supervisions", sa.Integer(), nullable=False),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("satisfaction", satisfaction, nullable=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("department_unit.id"), nullable=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=True),
        sa.Column("tier", tier, nullable=False),
        sa.Column("street_code", sa.String(12), nullable=True),
        sa.Column("community_code", sa.String(12), nullable=True),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("worker_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("components", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "district_code"),
        sa.ForeignKeyConstraint(
            ["event_id", "district_code"],
            ["event.id", "event.district_code"],
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_event_evaluation_closed", "event_evaluation", ["closed_at"])
    # 延期率: whether a case had an extension approved, without reading its whole history.
    op.create_index(
        "ix_event_step_extension",
        "event_step",
        ["event_id"],
        postgresql_where="action = 'approve-extension'",
    )


def downgrade() -> None:
    op.drop_index("ix_event_step_extension", table_name="event_step")
    op.drop_table("event_evaluation")
