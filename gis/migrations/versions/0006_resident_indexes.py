"""full indexes on residence.resident_id and household.head_id

Deleting a resident cascades to residence and sets household.head_id to NULL; without these
indexes each delete scanned both tables (200k deletes took 14 minutes).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_residence_resident_id'), 'residence', ['resident_id'], unique=False)
    op.create_index(op.f('ix_household_head_id'), 'household', ['head_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_household_head_id'), table_name='household')
    op.drop_index(op.f('ix_residence_resident_id'), table_name='residence')
