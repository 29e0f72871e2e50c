"""spatial frame: admin units, grids, buildings, houses

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 01:39:50.587362
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # DATABASE_URL may name a database where nobody created the extension yet.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table('admin_unit',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.Enum('district', 'street', 'community', name='admin_level'), nullable=False),
    sa.Column('parent_code', sa.String(length=12), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint("code ~ '^[0-9]{12}$'", name=op.f('ck_admin_unit_code_12_digits')),
    sa.CheckConstraint('district_code = substr(code, 1, 6)', name=op.f('ck_admin_unit_district_prefix')),
    sa.ForeignKeyConstraint(['parent_code'], ['admin_unit.code'], name=op.f('fk_admin_unit_parent_code_admin_unit')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_admin_unit'))
    )
    op.create_geospatial_index('idx_admin_unit_geom', 'admin_unit', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_admin_unit_district_code'), 'admin_unit', ['district_code'], unique=False)
    op.create_index(op.f('ix_admin_unit_parent_code'), 'admin_unit', ['parent_code'], unique=False)
    op.create_geospatial_table('grid',
    sa.Column('code', sa.String(length=15), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('grid_type', sa.Enum('basic', 'dedicated', name='grid_type'), nullable=False),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f('ck_grid_code_15_digits')),
    sa.CheckConstraint('ST_IsValid(geom)', name=op.f('ck_grid_geom_valid')),
    sa.CheckConstraint('substr(code, 1, 12) = community_code', name=op.f('ck_grid_code_in_community')),
    sa.ForeignKeyConstraint(['community_code'], ['admin_unit.code'], name=op.f('fk_grid_community_code_admin_unit')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_grid'))
    )
    op.create_geospatial_index('idx_grid_geom', 'grid', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_grid_community_code'), 'grid', ['community_code'], unique=False)
    op.create_index(op.f('ix_grid_district_code'), 'grid', ['district_code'], unique=False)
    op.create_geospatial_table('building',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('floors', sa.Integer(), nullable=True),
    sa.Column('use', sa.Enum('residential', 'commercial', 'office', 'industrial', 'public', 'mixed', 'other', name='building_use'), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint('ST_IsValid(geom)', name=op.f('ck_building_geom_valid')),
    sa.ForeignKeyConstraint(['grid_code'], ['grid.code'], name=op.f('fk_building_grid_code_grid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_building')),
    sa.UniqueConstraint('code', name=op.f('uq_building_code'))
    )
    op.create_geospatial_index('idx_building_geom', 'building', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_building_district_code'), 'building', ['district_code'], unique=False)
    op.create_index(op.f('ix_building_grid_code'), 'building', ['grid_code'], unique=False)
    op.create_table('house',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('floor', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=20), nullable=False),
    sa.Column('use', sa.Enum('self_occupied', 'rented', 'commercial', 'vacant', name='house_use'), nullable=False),
    sa.Column('area_m2', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_house_building_id_building'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_house')),
    sa.UniqueConstraint('building_id', 'unit', 'floor', 'room', name='uq_house_address')
    )
    op.create_index('ix_house_building_id', 'house', ['building_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_house_building_id', table_name='house')
    op.drop_table('house')
    op.drop_index(op.f('ix_building_grid_code'), table_name='building')
    op.drop_index(op.f('ix_building_district_code'), table_name='building')
    op.drop_geospatial_index('idx_building_geom', table_name='building', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('building')
    op.drop_index(op.f('ix_grid_district_code'), table_name='grid')
    op.drop_index(op.f('ix_grid_community_code'), table_name='grid')
    op.drop_geospatial_index('idx_grid_geom', table_name='grid', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('grid')
    op.drop_index(op.f('ix_admin_unit_parent_code'), table_name='admin_unit')
    op.drop_index(op.f('ix_admin_unit_district_code'), table_name='admin_unit')
    op.drop_geospatial_index('idx_admin_unit_geom', table_name='admin_unit', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('admin_unit')
    for enum_name in ('house_use', 'building_use', 'grid_type', 'admin_level'):
        op.execute(f'DROP TYPE IF EXISTS {enum_name}')
