"""Recurrence clusters (重复发生) and their 源头治理 (root-cause) tasks

Adds `recurrence_rule` (a category's own threshold: events, metres, days; reference table),
`recurrence_cluster` (events of one category repeated in one place, and the task it raised for
the lead unit: deadline, acceptance, closing report) and `recurrence_member` (which events a
cluster counts; one cluster per event), both distributed by district like the events.

Revision ID: 0033
Revises: 0035
Create Date: 2026-12-03 20:00:00.000000
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0033"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("open", "accepted", "closed")


def upgrade() -> None:
    status = postgresql.ENUM(*STATUSES, name="recurrence_status", create_type=False)
    status.create(op.get_bind(), checkfirst=True)
    dept_type = postgresql.ENUM(name="department_type", create_type=False)
    op.create_table(
        "recurrence_rule",
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("min_events", sa.Integer(), nullable=False),
        sa.Column("radius_m", sa.Numeric(8, 1, asdecimal=False), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("category_code"),
        sa.CheckConstraint("min_events >= 2", name="ck_recurrence_rule_min_events"),
        sa.CheckConstraint("radius_m > 0", name="ck_recurrence_rule_radius"),
        sa.CheckConstraint("window_days >= 1", name="ck_recurrence_rule_window"),
    )
    op.create_table(
        "recurrence_cluster",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("category_code", sa.String(8), nullable=False),
        sa.Column("place_code", sa.String(15), nullable=False),
        sa.Column("status", status, nullable=False),
        sa.Column("lead_type", dept_type, nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("department_unit.id"), nullable=True),
        sa.Column("routing", sa.Text(), nullable=False),
        sa.Column("radius_m", sa.Numeric(8, 1, asdecimal=False), nullable=False),
        sa.Column("min_events", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.Geometry("POINT", srid=4490, spatial_index=False),
            nullable=False,
        ),
        sa.Column("spread_m", sa.Numeric(10, 1, asdecimal=False), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("first_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("closing_report", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", "district_code"),
    )
    op.create_index(
        "idx_recurrence_cluster_geom", "recurrence_cluster", ["geom"], postgresql_using="gist"
    )
    op.create_index(
        "ix_recurrence_cluster_unit_status", "recurrence_cluster", ["unit_id", "status"]
    )
    op.create_index(
        "ix_recurrence_cluster_place",
        "recurrence_cluster",
        ["district_code", "category_code", "status"],
    )
    op.create_table(
        "recurrence_member",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "district_code"),
        sa.ForeignKeyConstraint(
            ["cluster_id", "district_code"],
            ["recurrence_cluster.id", "recurrence_cluster.district_code"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "district_code"],
            ["event.id", "event.district_code"],
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_recurrence_member_cluster_id", "recurrence_member", ["cluster_id"])


def downgrade() -> None:
    op.drop_table("recurrence_member")
    op.drop_table("recurrence_cluster")
    op.drop_table("recurrence_rule")
    op.execute("DROP TYPE IF EXISTS recurrence_status")
