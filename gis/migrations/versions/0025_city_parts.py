"""City parts (城市部件): the inventory of fixed public facilities, and the part an event names

Adds `city_part` (16-digit GB/T 30428.2 identification code = county + 大类 + 小类 + sequence,
the type from the shipped catalogue, a point, the state, the owner unit), distributed by
district, and `event.part_code`: the part a case concerns, whose owner unit routing uses.

Revision ID: 0025
Revises: 0026 (chained after the ledger history at merge)
Create Date: 2026-12-03 13:15:00.000000
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0025'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("normal", "damaged", "missing", "occupied", "removed")


def upgrade() -> None:
    state = postgresql.ENUM(*STATES, name="part_state", create_type=False)
    state.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "city_part",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("type_code", sa.String(4), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("state", state, nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4490, spatial_index=False, nullable=False
            ),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[0-9]{16}$'", name=op.f("ck_city_part_code_16_digits")),
        sa.CheckConstraint(
            "substr(code, 1, 6) = district_code", name=op.f("ck_city_part_code_in_district")
        ),
        sa.CheckConstraint(
            "substr(code, 7, 4) = type_code", name=op.f("ck_city_part_code_has_type")
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"],
            ["department_unit.id"],
            name=op.f("fk_city_part_owner_unit_id_department_unit"),
        ),
        sa.PrimaryKeyConstraint("code", "district_code", name=op.f("pk_city_part")),
    )
    op.create_index(op.f("ix_city_part_district_code"), "city_part", ["district_code"])
    op.create_index(op.f("ix_city_part_owner_unit_id"), "city_part", ["owner_unit_id"])
    op.create_index("ix_city_part_type_code", "city_part", ["type_code"])
    op.create_index(
        "idx_city_part_geom", "city_part", ["geom"], postgresql_using="gist"
    )
    op.add_column("event", sa.Column("part_code", sa.String(16), nullable=True))
    op.create_foreign_key(
        "fk_event_part_code_city_part",
        "event",
        "city_part",
        ["part_code", "district_code"],
        ["code", "district_code"],
    )


def downgrade() -> None:
    op.drop_constraint("fk_event_part_code_city_part", "event", type_="foreignkey")
    op.drop_column("event", "part_code")
    op.drop_index("idx_city_part_geom", table_name="city_part", postgresql_using="gist")
    op.drop_index("ix_city_part_type_code", table_name="city_part")
    op.drop_index(op.f("ix_city_part_owner_unit_id"), table_name="city_part")
    op.drop_index(op.f("ix_city_part_district_code"), table_name="city_part")
    op.drop_table("city_part")
    sa.Enum(name="part_state").drop(op.get_bind(), checkfirst=True)
