"""Joint cases (主办/协办): a sub-task per assisting unit

One `event_subtask` row (distributed by district like the event it belongs to) per assisting
unit of a dispatched case: its sign-for and handling deadlines on the work calendar, who signed
for it, the handling report (its photos hang on the report's event_step), and how it ended —
done, waived by the command centre with a reason, or cancelled.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBTASK_STATUS = ("dispatched", "signed", "done", "waived", "cancelled")


def upgrade() -> None:
    status = postgresql.ENUM(*SUBTASK_STATUS, name="subtask_status", create_type=False)
    status.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "event_subtask",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("department_unit.id"), nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("sign_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handle_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("report_step_id", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("end_reason", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", "district_code"),
        sa.ForeignKeyConstraint(
            ["event_id", "district_code"],
            ["event.id", "event.district_code"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_step_id", "district_code"], ["event_step.id", "event_step.district_code"]
        ),
    )
    op.create_index("ix_event_subtask_event_id", "event_subtask", ["event_id"])
    op.create_index(
        "ix_event_subtask_unit_open",
        "event_subtask",
        ["unit_id"],
        postgresql_where="ended_at IS NULL",
    )


def downgrade() -> None:
    op.drop_table("event_subtask")
    op.execute("DROP TYPE IF EXISTS subtask_status")
