"""people

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:10:54.543487
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=50), nullable=False),
    sa.Column('full_name', sa.String(length=50), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('grid_worker', 'inspector', 'dispatcher', 'command', 'leader', 'admin', name='staff_role'), nullable=False),
    sa.Column('department_unit_id', sa.Integer(), nullable=True),
    sa.Column('area_code', sa.String(length=12), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    op.create_table('visit_interval',
    sa.Column('group_type', sa.Enum('elderly_alone', 'disabled', 'low_income', 'left_behind', 'entitled', 'released_prisoner', 'community_correction', 'mental_disorder', 'drug_user', 'key_youth', name='special_group_type'), nullable=False),
    sa.Column('min_danger_level', sa.Integer(), nullable=False),
    sa.Column('interval_days', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('group_type', 'min_danger_level', name=op.f('pk_visit_interval'))
    )
    op.create_table('staff_grid',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=False),
    sa.ForeignKeyConstraint(['grid_code'], ['grid.code'], name=op.f('fk_staff_grid_grid_code_grid'), ondelete='CASCADE', initially='DEFERRED', deferrable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_grid_staff_id_staff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'grid_code', name=op.f('pk_staff_grid'))
    )
    op.create_index(op.f('ix_staff_grid_grid_code'), 'staff_grid', ['grid_code'], unique=False)
    op.create_geospatial_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('org_type', sa.Enum('enterprise', 'individual_business', 'shop', 'school', 'hospital', 'social_organisation', 'government', 'other', name='organisation_type'), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('grid_code', sa.String(length=15), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('legal_representative', sa.String(length=50), nullable=True),
    sa.Column('responsible_person', sa.String(length=50), nullable=True),
    sa.Column('responsible_phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('responsible_phone_masked', sa.String(length=20), nullable=True),
    sa.Column('staff_count', sa.Integer(), nullable=True),
    sa.Column('fire_key_unit', sa.Boolean(), nullable=False),
    sa.Column('security_key_unit', sa.Boolean(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_organisation_building_id_building')),
    sa.ForeignKeyConstraint(['grid_code'], ['grid.code'], name=op.f('fk_organisation_grid_code_grid'), initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_organisation_credit_code'))
    )
    op.create_geospatial_index('idx_organisation_geom', 'organisation', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_organisation_building_id'), 'organisation', ['building_id'], unique=False)
    op.create_index(op.f('ix_organisation_district_code'), 'organisation', ['district_code'], unique=False)
    op.create_index(op.f('ix_organisation_grid_code'), 'organisation', ['grid_code'], unique=False)
    op.create_index(op.f('ix_organisation_name'), 'organisation', ['name'], unique=False)
    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('head_id', sa.Integer(), nullable=True),
    sa.Column('house_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('grid_code', sa.String(length=15), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.ForeignKeyConstraint(['grid_code'], ['grid.code'], name=op.f('fk_household_grid_code_grid'), initially='DEFERRED', deferrable=True),
    sa.ForeignKeyConstraint(['house_id'], ['house.id'], name=op.f('fk_household_house_id_house')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household')),
    sa.UniqueConstraint('code', name=op.f('uq_household_code'))
    )
    op.create_index(op.f('ix_household_district_code'), 'household', ['district_code'], unique=False)
    op.create_index(op.f('ix_household_grid_code'), 'household', ['grid_code'], unique=False)
    op.create_index(op.f('ix_household_house_id'), 'household', ['house_id'], unique=False)
    op.create_table('resident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doc_type', sa.Enum('id_card', 'passport', 'hk_macau_permit', 'taiwan_permit', 'hk_macau_residence', 'taiwan_residence', 'foreign_permanent', 'other', name='document_type'), nullable=False),
    sa.Column('doc_enc', sa.LargeBinary(), nullable=False),
    sa.Column('doc_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('doc_masked', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('former_name', sa.String(length=50), nullable=True),
    sa.Column('sex', sa.Enum('male', 'female', 'unknown', name='sex'), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('ethnicity', sa.String(length=20), nullable=True),
    sa.Column('native_place', sa.String(length=100), nullable=True),
    sa.Column('registered_address', sa.String(length=300), nullable=True),
    sa.Column('phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('phone_masked', sa.String(length=20), nullable=True),
    sa.Column('education', sa.String(length=20), nullable=True),
    sa.Column('occupation', sa.String(length=50), nullable=True),
    sa.Column('employer', sa.String(length=200), nullable=True),
    sa.Column('marital_status', sa.String(length=10), nullable=True),
    sa.Column('political_status', sa.String(length=20), nullable=True),
    sa.Column('residence_type', sa.Enum('registered', 'floating', 'overseas', 'unregistered', name='residence_type'), nullable=False),
    sa.Column('origin', sa.String(length=200), nullable=True),
    sa.Column('arrival_date', sa.Date(), nullable=True),
    sa.Column('arrival_reason', sa.String(length=50), nullable=True),
    sa.Column('permit_number', sa.String(length=40), nullable=True),
    sa.Column('permit_expiry', sa.Date(), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('relation_to_head', sa.String(length=20), nullable=True),
    sa.Column('house_id', sa.Integer(), nullable=True),
    sa.Column('grid_code', sa.String(length=15), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("residence_type <> 'floating' OR origin IS NOT NULL", name=op.f('ck_resident_floating_has_origin')),
    sa.ForeignKeyConstraint(['grid_code'], ['grid.code'], name=op.f('fk_resident_grid_code_grid'), initially='DEFERRED', deferrable=True),
    sa.ForeignKeyConstraint(['house_id'], ['house.id'], name=op.f('fk_resident_house_id_house')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_resident_household_id_household'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resident')),
    sa.UniqueConstraint('doc_type', 'doc_hash', name='uq_resident_document')
    )
    op.create_index(op.f('ix_resident_birth_date'), 'resident', ['birth_date'], unique=False)
    op.create_index(op.f('ix_resident_district_code'), 'resident', ['district_code'], unique=False)
    op.create_index('ix_resident_grid_active', 'resident', ['grid_code', 'active'], unique=False)
    op.create_index(op.f('ix_resident_house_id'), 'resident', ['house_id'], unique=False)
    op.create_index(op.f('ix_resident_household_id'), 'resident', ['household_id'], unique=False)
    op.create_index(op.f('ix_resident_name'), 'resident', ['name'], unique=False)
    op.create_index(op.f('ix_resident_residence_type'), 'resident', ['residence_type'], unique=False)
    # household ↔ resident reference each other: the head's key is added once both exist.
    op.create_foreign_key(op.f('fk_household_head_id_resident'), 'household', 'resident',
                          ['head_id'], ['id'], ondelete='SET NULL')
    op.create_table('pii_access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('fields', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_pii_access_log_organisation_id_organisation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_pii_access_log_resident_id_resident'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_pii_access_log_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pii_access_log'))
    )
    op.create_index(op.f('ix_pii_access_log_resident_id'), 'pii_access_log', ['resident_id'], unique=False)
    op.create_index(op.f('ix_pii_access_log_staff_id'), 'pii_access_log', ['staff_id'], unique=False)
    op.create_table('residence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('house_id', sa.Integer(), nullable=False),
    sa.Column('moved_in', sa.Date(), nullable=False),
    sa.Column('moved_out', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=100), nullable=True),
    sa.CheckConstraint('moved_out IS NULL OR moved_out >= moved_in', name=op.f('ck_residence_out_after_in')),
    sa.ForeignKeyConstraint(['house_id'], ['house.id'], name=op.f('fk_residence_house_id_house')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_residence_resident_id_resident'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_residence'))
    )
    op.create_index('ix_residence_house_period', 'residence', ['house_id', 'moved_in', 'moved_out'], unique=False)
    op.create_index('uq_residence_open', 'residence', ['resident_id'], unique=True, postgresql_where='moved_out IS NULL')
    op.create_table('special_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('group_type', sa.Enum('elderly_alone', 'disabled', 'low_income', 'left_behind', 'entitled', 'released_prisoner', 'community_correction', 'mental_disorder', 'drug_user', 'key_youth', name='special_group_type'), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('danger_level', sa.Integer(), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('visit_interval_days', sa.Integer(), nullable=False),
    sa.Column('last_visit_on', sa.Date(), nullable=True),
    sa.Column('next_visit_due', sa.Date(), nullable=False),
    sa.Column('responsible_staff_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('danger_level BETWEEN 0 AND 5', name=op.f('ck_special_group_danger_level_0_5')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_special_group_resident_id_resident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['responsible_staff_id'], ['staff.id'], name=op.f('fk_special_group_responsible_staff_id_staff'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_special_group'))
    )
    op.create_index('ix_special_group_due', 'special_group', ['next_visit_due'], unique=False, postgresql_where='ended_on IS NULL')
    op.create_index(op.f('ix_special_group_group_type'), 'special_group', ['group_type'], unique=False)
    op.create_index(op.f('ix_special_group_resident_id'), 'special_group', ['resident_id'], unique=False)
    op.create_geospatial_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('special_group_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.ForeignKeyConstraint(['special_group_id'], ['special_group.id'], name=op.f('fk_visit_special_group_id_special_group'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_visit_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit'))
    )
    op.create_index(op.f('ix_visit_special_group_id'), 'visit', ['special_group_id'], unique=False)
    # Default visit intervals (走访周期) in days; admins edit them per deployment.
    defaults = [
        ("elderly_alone", 0, 7), ("disabled", 0, 90), ("low_income", 0, 90),
        ("left_behind", 0, 30), ("entitled", 0, 90), ("released_prisoner", 0, 30),
        ("community_correction", 0, 30), ("mental_disorder", 0, 90),
        ("mental_disorder", 1, 30), ("mental_disorder", 3, 14), ("drug_user", 0, 30),
        ("key_youth", 0, 30),
    ]
    op.execute(
        "INSERT INTO visit_interval (group_type, min_danger_level, interval_days) VALUES "
        + ", ".join(f"('{t}', {level}, {days})" for t, level, days in defaults)
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_visit_special_group_id'), table_name='visit')
    op.drop_geospatial_table('visit')
    op.drop_index(op.f('ix_special_group_resident_id'), table_name='special_group')
    op.drop_index(op.f('ix_special_group_group_type'), table_name='special_group')
    op.drop_index('ix_special_group_due', table_name='special_group', postgresql_where='ended_on IS NULL')
    op.drop_table('special_group')
    op.drop_index('uq_residence_open', table_name='residence', postgresql_where='moved_out IS NULL')
    op.drop_index('ix_residence_house_period', table_name='residence')
    op.drop_table('residence')
    op.drop_index(op.f('ix_pii_access_log_staff_id'), table_name='pii_access_log')
    op.drop_index(op.f('ix_pii_access_log_resident_id'), table_name='pii_access_log')
    op.drop_table('pii_access_log')
    op.drop_constraint(op.f('fk_household_head_id_resident'), 'household', type_='foreignkey')
    op.drop_index(op.f('ix_resident_residence_type'), table_name='resident')
    op.drop_index(op.f('ix_resident_name'), table_name='resident')
    op.drop_index(op.f('ix_resident_household_id'), table_name='resident')
    op.drop_index(op.f('ix_resident_house_id'), table_name='resident')
    op.drop_index('ix_resident_grid_active', table_name='resident')
    op.drop_index(op.f('ix_resident_district_code'), table_name='resident')
    op.drop_index(op.f('ix_resident_birth_date'), table_name='resident')
    op.drop_table('resident')
    op.drop_index(op.f('ix_household_house_id'), table_name='household')
    op.drop_index(op.f('ix_household_grid_code'), table_name='household')
    op.drop_index(op.f('ix_household_district_code'), table_name='household')
    op.drop_table('household')
    op.drop_index(op.f('ix_organisation_name'), table_name='organisation')
    op.drop_index(op.f('ix_organisation_grid_code'), table_name='organisation')
    op.drop_index(op.f('ix_organisation_district_code'), table_name='organisation')
    op.drop_index(op.f('ix_organisation_building_id'), table_name='organisation')
    op.drop_geospatial_index('idx_organisation_geom', table_name='organisation', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('organisation')
    op.drop_index(op.f('ix_staff_grid_grid_code'), table_name='staff_grid')
    op.drop_table('staff_grid')
    op.drop_table('visit_interval')
    op.drop_table('staff')
    for enum_name in ("special_group_type", "residence_type", "sex", "document_type",
                      "organisation_type", "staff_role"):
        op.execute(f"DROP TYPE IF EXISTS {enum_name}")
