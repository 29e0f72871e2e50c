"""Supervision with teeth (督办单): supervision orders and sanctions against units

Adds `supervision_order` (the case, the unit, the demand, the level 一般督办/重点督办/挂牌督办,
the reply deadline, the unit's reply, the escalation to the leader, the lifting of a listed
order) and `unit_sanction` (约谈 / 通报 recorded against a unit), both distributed by district
like the event they belong to. `event.supervision_level` now names the highest order level of
the running stage: the old light names are mapped (yellow → general, red → key).

Revision ID: 0022
Revises: 0024
Create Date: 2026-12-03 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0022'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("general", "key", "listed")
STATUSES = ("open", "replied", "lifted")
SANCTIONS = ("interview", "notice")


def upgrade() -> None:
    level = postgresql.ENUM(*LEVELS, name="supervision_level", create_type=False)
    status = postgresql.ENUM(*STATUSES, name="supervision_status", create_type=False)
    sanction = postgresql.ENUM(*SANCTIONS, name="sanction_kind", create_type=False)
    stage = postgresql.ENUM(name="stage_kind", create_type=False)
    for kind in (level, status, sanction):
        kind.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "supervision_order",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("step_id", sa.BigInteger(), nullable=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("department_unit.id"), nullable=False),
        sa.Column("level", level, nullable=False),
        sa.Column("demand", sa.Text(), nullable=False),
        sa.Column("stage", stage, nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_on_time", sa.Boolean(), nullable=True),
        sa.Column("escalated_to_leader_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
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
    op.create_index("ix_supervision_order_event_id", "supervision_order", ["event_id"])
    op.create_index(
        "ix_supervision_order_unit_status", "supervision_order", ["unit_id", "status"]
    )
    op.create_index(
        "ix_supervision_order_unanswered",
        "supervision_order",
        ["reply_deadline"],
        postgresql_where="status = 'open' AND escalated_to_leader_at IS NULL",
    )
    op.create_index(
        "ix_supervision_order_listed",
        "supervision_order",
        ["district_code"],
        postgresql_where="level = 'listed' AND lifted_at IS NULL",
    )
    op.create_table(
        "unit_sanction",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("department_unit.id"), nullable=False),
        sa.Column("kind", sanction, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "district_code"),
        sa.ForeignKeyConstraint(
            ["order_id", "district_code"],
            ["supervision_order.id", "supervision_order.district_code"],
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "district_code"],
            ["event.id", "event.district_code"],
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_unit_sanction_unit_id", "unit_sanction", ["unit_id"])
    op.execute(
        "UPDATE event SET supervision_level = CASE supervision_level "
        "WHEN 'yellow' THEN 'general' WHEN 'red' THEN 'key' END "
        "WHERE supervision_level IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE event SET supervision_level = CASE supervision_level "
        "WHEN 'general' THEN 'yellow' ELSE 'red' END "
        "WHERE supervision_level IS NOT NULL"
    )
    op.drop_table("unit_sanction")
    op.drop_table("supervision_order")
    for name in ("sanction_kind", "supervision_status", "supervision_level"):
        op.execute(f"DROP TYPE IF EXISTS {name}")
