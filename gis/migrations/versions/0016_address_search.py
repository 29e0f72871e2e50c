"""Address search (地址匹配): the building's address and name keys, generated and indexed

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-03 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As grid/models.py ADDRESS_KEY_SQL and NAME_KEY_SQL (a migration keeps its own copy).
_FULL_WIDTH = "translate({col}, '０１２３４５６７８９', '0123456789')"
ADDRESS_KEY_SQL = "reverse(regexp_replace(" + _FULL_WIDTH.format(col="address") + ", '\\s', '', 'g'))"
NAME_KEY_SQL = (
    "regexp_replace("
    + _FULL_WIDTH.format(col="name")
    + ", '(社区|小区|花园|村)?0*([0-9]+)(号楼|栋|幢|座|号)$', '#\\2')"
)


def upgrade() -> None:
    op.add_column('building', sa.Column('address_key', sa.Text(), sa.Computed(ADDRESS_KEY_SQL, persisted=True)))
    op.add_column('building', sa.Column('name_key', sa.Text(), sa.Computed(NAME_KEY_SQL, persisted=True)))
    op.create_index(
        'ix_building_address_key',
        'building',
        ['address_key'],
        postgresql_ops={'address_key': 'text_pattern_ops'},
    )
    op.create_index('ix_building_name_key', 'building', ['name_key'])


def downgrade() -> None:
    op.drop_index('ix_building_name_key', table_name='building')
    op.drop_index('ix_building_address_key', table_name='building')
    op.drop_column('building', 'name_key')
    op.drop_column('building', 'address_key')
