"""The address search reads the standard addresses: drop the building's own search keys

The search (grid/addresses.py) now finds door plates and buildings by `std_address.match_key`
(migration 0028). The building's reversed address `address_key` and the indexes on it and on
`name_key` served only the old search; `name_key` itself stays (the standard address of a
building is made from it).

Revision ID: 0031
Revises: 0028
Create Date: 2026-12-03 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0031'
down_revision: str | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As migration 0016 made it (a migration keeps its own copy).
ADDRESS_KEY_SQL = (
    "reverse(regexp_replace(translate(address, '０１２３４５６７８９', '0123456789'), "
    "'\\s', '', 'g'))"
)


def upgrade() -> None:
    op.drop_index('ix_building_name_key', table_name='building')
    op.drop_index('ix_building_address_key', table_name='building')
    op.drop_column('building', 'address_key')


def downgrade() -> None:
    op.add_column(
        'building',
        sa.Column('address_key', sa.Text(), sa.Computed(ADDRESS_KEY_SQL, persisted=True)),
    )
    op.create_index(
        'ix_building_address_key',
        'building',
        ['address_key'],
        postgresql_ops={'address_key': 'text_pattern_ops'},
    )
    op.create_index('ix_building_name_key', 'building', ['name_key'])
