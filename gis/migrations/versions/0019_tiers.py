"""Tiers and 立案 by judgement, given to the shipped categories already loaded

0018 added each category's start tier and auto_register at district / registered at once, so
nothing changed. This gives the categories of the shipped table (events/data/categories.csv)
that still carry those defaults the table's values: most disputes (矛盾纠纷) and people's needs
(民生服务) start at the community, street-level city matters at the street; disputes and
people's needs wait for the command centre's judgement (立案). Categories an admin has versioned
since keep what the admin chose; the downgrade puts the defaults back.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The shipped table's values (events/data/categories.csv) when this migration was written.
COMMUNITY = (
    '0301', '0302', '0304', '0305', '0306', '0309', '0312', '0313', '0314', '0317', '0319',
    '0401', '0402', '0404', '0405', '0406', '0505',
)
STREET = (
    '0303', '0307', '0308', '0310', '0315', '0403', '0502', '0504', '0601', '0602', '0603',
    '0604', '0605', '0606', '0701', '0702', '0703', '0704', '0802', '0803', '0804', '0901',
    '0902', '0903', '1001', '1002', '1003', '1004',
)
JUDGED = (
    '0301', '0302', '0303', '0304', '0305', '0306', '0307', '0308', '0309', '0310', '0311',
    '0312', '0313', '0314', '0315', '0316', '0317', '0318', '0319', '0401', '0402', '0403',
    '0404', '0405', '0406',
)

_AT_DEFAULTS = "valid_to IS NULL AND version = 1 AND start_tier = 'district' AND auto_register"


def upgrade() -> None:
    for tier, codes in (("community", COMMUNITY), ("street", STREET)):
        op.execute(
            sa.text(
                f"UPDATE event_category SET start_tier = :tier WHERE {_AT_DEFAULTS} "
                "AND code = ANY(:codes)"
            ).bindparams(tier=tier, codes=list(codes))
        )
    op.execute(
        sa.text(
            "UPDATE event_category SET auto_register = false WHERE valid_to IS NULL "
            "AND version = 1 AND auto_register AND code = ANY(:codes)"
        ).bindparams(codes=list(JUDGED))
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE event_category SET start_tier = 'district', auto_register = true "
            "WHERE version = 1 AND code = ANY(:codes)"
        ).bindparams(codes=sorted({*COMMUNITY, *STREET, *JUDGED}))
    )
