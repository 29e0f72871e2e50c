"""The command centre's workflow, shared ground: tiers, 立案 by judgement, own stage clocks

Adds the `tier` type (community, street, district, city), the tier an event is held at and the
tier a category starts at, whether a grid worker's report of a category is registered at once,
the area a tier's centre serves, the statuses 待立案 (pending) and 不予立案 (refused), and the
command centre's own stages 立案 (register) and 派遣 (dispatch). Existing rows keep today's
behaviour: district tier, registered at once.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIERS = ("community", "street", "district", "city")


def upgrade() -> None:
    op.execute("ALTER TYPE event_status ADD VALUE IF NOT EXISTS 'pending'")
    op.execute("ALTER TYPE event_status ADD VALUE IF NOT EXISTS 'refused'")
    op.execute("ALTER TYPE stage_kind ADD VALUE IF NOT EXISTS 'register'")
    op.execute("ALTER TYPE stage_kind ADD VALUE IF NOT EXISTS 'dispatch'")
    tier = postgresql.ENUM(*TIERS, name="tier", create_type=False)
    tier.create(op.get_bind(), checkfirst=True)
    op.add_column(
        "event", sa.Column("tier", tier, nullable=False, server_default="district")
    )
    op.add_column(
        "event_category",
        sa.Column("start_tier", tier, nullable=False, server_default="district"),
    )
    op.add_column(
        "event_category",
        sa.Column("auto_register", sa.Boolean(), nullable=False, server_default="true"),
    )
    op.add_column("department_unit", sa.Column("area_code", sa.String(12), nullable=True))
    op.create_index("ix_department_unit_area_code", "department_unit", ["area_code"])


def downgrade() -> None:
    # Enum values cannot be dropped; cases in the new states go back to where they would have
    # been without them (pending → reported for the check, refused → voided).
    op.execute("UPDATE event SET status = 'reported' WHERE status = 'pending'")
    op.execute("UPDATE event SET status = 'voided' WHERE status = 'refused'")
    op.execute(
        "UPDATE event SET stage = NULL, stage_started_at = NULL, stage_deadline = NULL "
        "WHERE stage IN ('register', 'dispatch')"
    )
    op.execute("DELETE FROM event_stage WHERE stage IN ('register', 'dispatch')")
    op.drop_index("ix_department_unit_area_code", table_name="department_unit")
    op.drop_column("department_unit", "area_code")
    op.drop_column("event_category", "auto_register")
    op.drop_column("event_category", "start_tier")
    op.drop_column("event", "tier")
    op.execute("DROP TYPE IF EXISTS tier")
