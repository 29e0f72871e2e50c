"""Standard addresses (标准地址, 一标): road, door plate, building, unit, floor and room

Adds `std_address` (a stable code per address, its level, parent, full text, point and grid,
below the communities of admin_unit), distributed by district, and `address_code` on building
and house: the one address each is attached to. Existing buildings and houses are attached by
`gridgov migrate` after the migrations (grid.std_address.attach_all), not here: a migration
keeps no copy of the address reader.

Revision ID: 0028
Revises: 0029
Create Date: 2026-12-03 16:30:00.000000
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0028'
down_revision: str | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("road", "door", "building", "unit", "floor", "room")
LENGTHS = {"road": 15, "door": 19, "building": 23, "unit": 25, "floor": 28, "room": 32}
LENGTH_BY_LEVEL = " ".join(f"WHEN '{level}' THEN {n}" for level, n in LENGTHS.items())


def upgrade() -> None:
    level = postgresql.ENUM(*LEVELS, name="address_level", create_type=False)
    level.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "std_address",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("level", level, nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("parent_code", sa.String(32), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("match_key", sa.Text(), nullable=True),
        sa.Column("full_text", sa.String(300), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4490, spatial_index=False, nullable=False
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[0-9]+$'", name=op.f("ck_std_address_code_digits")),
        sa.CheckConstraint(
            f"length(code) = CASE level::text {LENGTH_BY_LEVEL} END",
            name=op.f("ck_std_address_code_fits_level"),
        ),
        sa.CheckConstraint(
            "substr(code, 1, 12) = community_code", name=op.f("ck_std_address_code_in_community")
        ),
        sa.CheckConstraint(
            "substr(code, 1, 6) = district_code", name=op.f("ck_std_address_code_in_district")
        ),
        sa.CheckConstraint(
            "parent_code IS NULL OR substr(code, 1, length(parent_code)) = parent_code",
            name=op.f("ck_std_address_code_under_parent"),
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["admin_unit.code"],
            name=op.f("fk_std_address_community_code_admin_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_code", "district_code"],
            ["std_address.code", "std_address.district_code"],
            name=op.f("fk_std_address_parent_code_std_address"),
        ),
        sa.PrimaryKeyConstraint("code", "district_code", name=op.f("pk_std_address")),
    )
    op.create_index(op.f("ix_std_address_community_code"), "std_address", ["community_code"])
    op.create_index("ix_std_address_parent_code", "std_address", ["parent_code"])
    op.create_index(
        "ix_std_address_match_key",
        "std_address",
        ["match_key"],
        postgresql_where=sa.text("level IN ('door', 'building')"),
    )
    op.create_index(
        "uq_std_address_sibling",
        "std_address",
        ["district_code", sa.text("coalesce(parent_code, community_code)"), "level", "match_key"],
        unique=True,
        postgresql_where=sa.text("level <> 'building'"),
    )
    op.create_index("idx_std_address_geom", "std_address", ["geom"], postgresql_using="gist")
    for table in ("building", "house"):
        op.add_column(table, sa.Column("address_code", sa.String(32), nullable=True))
        op.create_foreign_key(
            f"fk_{table}_address_code_std_address",
            table,
            "std_address",
            ["address_code", "district_code"],
            ["code", "district_code"],
        )
        op.create_unique_constraint(
            f"uq_{table}_address_code", table, ["address_code", "district_code"]
        )


def downgrade() -> None:
    for table in ("house", "building"):
        op.drop_constraint(f"uq_{table}_address_code", table, type_="unique")
        op.drop_constraint(f"fk_{table}_address_code_std_address", table, type_="foreignkey")
        op.drop_column(table, "address_code")
    op.drop_index("idx_std_address_geom", table_name="std_address", postgresql_using="gist")
    op.drop_index("uq_std_address_sibling", table_name="std_address")
    op.drop_index("ix_std_address_match_key", table_name="std_address")
    op.drop_index("ix_std_address_parent_code", table_name="std_address")
    op.drop_index(op.f("ix_std_address_community_code"), table_name="std_address")
    op.drop_table("std_address")
    sa.Enum(name="address_level").drop(op.get_bind(), checkfirst=True)
