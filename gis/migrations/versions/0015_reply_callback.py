"""Reply, callback and satisfaction (答复, 回访, 满意度) for citizen-raised cases

A verified citizen case waits in the new `reply` stage for the operator's answer to the
caller; closing it opens a `callback` row (distributed by district like the event it belongs
to) that records the attempts and the caller's satisfaction.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03 06:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALLBACK_STATUS = ("due", "reached", "unreached", "review", "reviewed")
SATISFACTION = ("satisfied", "fairly_satisfied", "dissatisfied")


def upgrade() -> None:
    op.execute("ALTER TYPE stage_kind ADD VALUE IF NOT EXISTS 'reply'")
    status = postgresql.ENUM(*CALLBACK_STATUS, name="callback_status", create_type=False)
    satisfaction = postgresql.ENUM(*SATISFACTION, name="satisfaction", create_type=False)
    status.create(op.get_bind(), checkfirst=True)
    satisfaction.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "callback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_log", postgresql.JSONB(), nullable=False),
        sa.Column("satisfaction", satisfaction, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("reopen_step_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", "district_code"),
        sa.ForeignKeyConstraint(
            ["event_id", "district_code"],
            ["event.id", "event.district_code"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reopen_step_id", "district_code"], ["event_step.id", "event_step.district_code"]
        ),
    )
    op.create_index("ix_callback_event_id", "callback", ["event_id"])
    op.create_index(
        "ix_callback_open_due", "callback", ["due_at"], postgresql_where="ended_at IS NULL"
    )
    op.create_index(
        "ix_callback_review", "callback", ["district_code"], postgresql_where="status = 'review'"
    )


def downgrade() -> None:
    op.drop_table("callback")
    op.execute("DROP TYPE IF EXISTS callback_status")
    op.execute("DROP TYPE IF EXISTS satisfaction")
    # An enum value cannot be dropped; cases waiting for a reply go back to the verify stage's
    # state as before (verified, no running clock) and their reply stages are forgotten.
    op.execute(
        "UPDATE event SET stage = NULL, stage_started_at = NULL, stage_deadline = NULL "
        "WHERE stage = 'reply'"
    )
    op.execute("DELETE FROM event_stage WHERE stage = 'reply'")
