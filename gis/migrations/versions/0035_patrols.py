"""Patrol tracks (巡查轨迹): a grid worker's patrols of their grids and the GPS points of each

Adds `patrol` (worker, grid, start and end, the phone's key) and `patrol_point` (one row per
patrol and instant: a batch sent twice adds nothing), both distributed by district.

Revision ID: 0035
Revises: 0038
Create Date: 2026-12-03 20:00:00.000000
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("thinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_patrol_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["grid_code", "district_code"],
            ["grid.code", "grid.district_code"],
            name=op.f("fk_patrol_grid_code_grid"),
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_patrol_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_patrol")),
        sa.UniqueConstraint("key", "district_code", name="uq_patrol_key"),
    )
    op.create_index("ix_patrol_staff_started", "patrol", ["staff_id", "started_at"])
    op.create_index("ix_patrol_grid_started", "patrol", ["grid_code", "started_at"])
    op.create_table(
        "patrol_point",
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4490, spatial_index=False, nullable=False
            ),
            nullable=False,
        ),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patrol_id", "district_code"],
            ["patrol.id", "patrol.district_code"],
            name=op.f("fk_patrol_point_patrol_id_patrol"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "patrol_id", "district_code", "recorded_at", name=op.f("pk_patrol_point")
        ),
    )


def downgrade() -> None:
    op.drop_table("patrol_point")
    op.drop_index("ix_patrol_grid_started", table_name="patrol")
    op.drop_index("ix_patrol_staff_started", table_name="patrol")
    op.drop_table("patrol")
