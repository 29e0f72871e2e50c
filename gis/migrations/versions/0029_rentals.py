"""Rentals and floating residents (出租屋与流动人口)

Adds `rental` (a house let out: landlord, lease, 治安责任书, declared use, rooms) and
`rental_tenant` (who lives in it, moved in/out), both distributed by district, and the
floating resident's residence registration date (`resident.registered_on`, 居住登记).

Revision ID: 0029
Revises: 0030
Create Date: 2026-12-03 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | None = '0030'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("active", "closed")


def upgrade() -> None:
    op.add_column("resident", sa.Column("registered_on", sa.Date(), nullable=True))
    rental_status = postgresql.ENUM(*STATUSES, name="rental_status", create_type=False)
    rental_status.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "rental",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("house_id", sa.Integer(), nullable=False),
        sa.Column("landlord_resident_id", sa.Integer(), nullable=True),
        sa.Column("landlord_organisation_id", sa.Integer(), nullable=True),
        sa.Column("lease_start", sa.Date(), nullable=False),
        sa.Column("lease_end", sa.Date(), nullable=True),
        sa.Column("responsibility_signed_on", sa.Date(), nullable=True),
        sa.Column("declared_use", sa.String(50), nullable=True),
        sa.Column("rooms", sa.Integer(), nullable=True),
        sa.Column("status", rental_status, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(landlord_resident_id IS NULL) <> (landlord_organisation_id IS NULL)",
            name=op.f("ck_rental_one_landlord"),
        ),
        sa.CheckConstraint(
            "lease_end IS NULL OR lease_end >= lease_start", name=op.f("ck_rental_end_after_start")
        ),
        sa.CheckConstraint("rooms IS NULL OR rooms > 0", name=op.f("ck_rental_rooms_positive")),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)",
            name=op.f("ck_rental_closed_when_closed"),
        ),
        sa.ForeignKeyConstraint(
            ["house_id", "district_code"],
            ["house.id", "house.district_code"],
            name=op.f("fk_rental_house_id_house"),
        ),
        sa.ForeignKeyConstraint(
            ["landlord_resident_id", "district_code"],
            ["resident.id", "resident.district_code"],
            name=op.f("fk_rental_landlord_resident_id_resident"),
        ),
        sa.ForeignKeyConstraint(
            ["landlord_organisation_id", "district_code"],
            ["organisation.id", "organisation.district_code"],
            name=op.f("fk_rental_landlord_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_rental")),
    )
    op.create_index("ix_rental_house_id", "rental", ["house_id"])
    op.create_index(
        "uq_rental_house_active",
        "rental",
        ["house_id", "district_code"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "rental_tenant",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("rental_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("moved_in", sa.Date(), nullable=False),
        sa.Column("moved_out", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "moved_out IS NULL OR moved_out >= moved_in",
            name=op.f("ck_rental_tenant_out_after_in"),
        ),
        sa.ForeignKeyConstraint(
            ["rental_id", "district_code"],
            ["rental.id", "rental.district_code"],
            name=op.f("fk_rental_tenant_rental_id_rental"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id", "district_code"],
            ["resident.id", "resident.district_code"],
            name=op.f("fk_rental_tenant_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_rental_tenant")),
    )
    op.create_index("ix_rental_tenant_resident_id", "rental_tenant", ["resident_id"])
    op.create_index("ix_rental_tenant_rental_id", "rental_tenant", ["rental_id"])
    op.create_index(
        "uq_rental_tenant_open",
        "rental_tenant",
        ["rental_id", "resident_id", "district_code"],
        unique=True,
        postgresql_where=sa.text("moved_out IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("rental_tenant")
    op.drop_table("rental")
    sa.Enum(name="rental_status").drop(op.get_bind(), checkfirst=True)
    op.drop_column("resident", "registered_on")
