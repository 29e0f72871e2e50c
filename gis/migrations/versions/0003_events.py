"""events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:23:18.883604
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('dept_type', sa.Enum('police', 'fire', 'civil_affairs', 'urban_management', 'health', 'human_resources', 'justice', 'market_regulation', 'housing', 'emergency', 'ecology', 'street_office', 'command_centre', name='department_type'), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department'))
    )
    op.create_index(op.f('ix_department_district_code'), 'department', ['district_code'], unique=False)
    op.create_table('work_calendar',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_work_calendar_kind')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_work_calendar'))
    )
    op.create_geospatial_table('department_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('dept_type', sa.Enum('police', 'fire', 'civil_affairs', 'urban_management', 'health', 'human_resources', 'justice', 'market_regulation', 'housing', 'emergency', 'ecology', 'street_office', 'command_centre', name='department_type'), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('webhook_url', sa.String(length=500), nullable=True),
    sa.Column('webhook_secret', sa.String(length=200), nullable=True),
    sa.Column('supervisor_staff_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_department_unit_department_id_department')),
    sa.ForeignKeyConstraint(['supervisor_staff_id'], ['staff.id'], name=op.f('fk_department_unit_supervisor_staff_id_staff'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department_unit')),
    sa.UniqueConstraint('code', name=op.f('uq_department_unit_code'))
    )
    op.create_geospatial_index('idx_department_unit_geom', 'department_unit', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_department_unit_location', 'department_unit', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_department_unit_department_id'), 'department_unit', ['department_id'], unique=False)
    op.create_index(op.f('ix_department_unit_dept_type'), 'department_unit', ['dept_type'], unique=False)
    op.create_index(op.f('ix_department_unit_district_code'), 'department_unit', ['district_code'], unique=False)
    op.create_table('event_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('major_code', sa.String(length=4), nullable=False),
    sa.Column('major_name', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('lead', sa.Enum('police', 'fire', 'civil_affairs', 'urban_management', 'health', 'human_resources', 'justice', 'market_regulation', 'housing', 'emergency', 'ecology', 'street_office', 'command_centre', name='department_type'), nullable=False),
    sa.Column('assisting', sa.ARRAY(sa.String(length=30)), nullable=False),
    sa.Column('priority', sa.Enum('urgent', 'high', 'normal', 'low', name='priority'), nullable=False),
    sa.Column('sign_limit', sa.String(length=10), nullable=False),
    sa.Column('handle_limit', sa.String(length=10), nullable=False),
    sa.Column('verify_limit', sa.String(length=10), nullable=False),
    sa.Column('photo_required', sa.Boolean(), nullable=False),
    sa.Column('onsite_verification_required', sa.Boolean(), nullable=False),
    sa.Column('needs_check', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['staff.id'], name=op.f('fk_event_category_changed_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_category')),
    sa.UniqueConstraint('code', 'version', name='uq_event_category_code_version')
    )
    op.create_index(op.f('ix_event_category_code'), 'event_category', ['code'], unique=False)
    op.create_index('uq_event_category_current', 'event_category', ['code'], unique=True, postgresql_where='valid_to IS NULL')
    op.create_table('dispatch_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('category_code', sa.String(length=8), nullable=True),
    sa.Column('area_prefix', sa.String(length=12), nullable=True),
    sa.Column('weekdays', sa.ARRAY(sa.Integer()), nullable=True),
    sa.Column('time_from', sa.Time(), nullable=True),
    sa.Column('time_to', sa.Time(), nullable=True),
    sa.Column('priority', sa.Enum('urgent', 'high', 'normal', 'low', name='priority'), nullable=True),
    sa.Column('lead', sa.Enum('police', 'fire', 'civil_affairs', 'urban_management', 'health', 'human_resources', 'justice', 'market_regulation', 'housing', 'emergency', 'ecology', 'street_office', 'command_centre', name='department_type'), nullable=False),
    sa.Column('assisting', sa.ARRAY(sa.String(length=30)), nullable=False),
    sa.Column('fixed_unit_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['fixed_unit_id'], ['department_unit.id'], name=op.f('fk_dispatch_rule_fixed_unit_id_department_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_rule'))
    )
    op.create_index(op.f('ix_dispatch_rule_position'), 'dispatch_rule', ['position'], unique=False)
    op.create_geospatial_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('category_code', sa.String(length=8), nullable=False),
    sa.Column('priority', sa.Enum('urgent', 'high', 'normal', 'low', name='priority'), nullable=False),
    sa.Column('status', sa.Enum('reported', 'registered', 'dispatched', 'signed', 'handled', 'verified', 'closed', 'returned', 'suspended', 'voided', 'self_resolved', name='event_status'), nullable=False),
    sa.Column('source', sa.Enum('grid_worker', 'hotline', 'open311', 'sensor', 'inspection', 'leader', name='event_source'), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('input_crs', sa.String(length=10), nullable=False),
    sa.Column('locate_match', sa.String(length=10), nullable=False),
    sa.Column('grid_code', sa.String(length=15), nullable=True),
    sa.Column('community_code', sa.String(length=12), nullable=True),
    sa.Column('street_code', sa.String(length=12), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('contact_enc', sa.LargeBinary(), nullable=True),
    sa.Column('contact_masked', sa.String(length=40), nullable=True),
    sa.Column('external_ref', sa.String(length=100), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('assisting_unit_ids', sa.ARRAY(sa.Integer()), nullable=False),
    sa.Column('dispatch_rule_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stage', sa.Enum('check', 'sign', 'handle', 'verify', name='stage_kind'), nullable=True),
    sa.Column('stage_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stage_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_before_suspension', sa.Enum('reported', 'registered', 'dispatched', 'signed', 'handled', 'verified', 'closed', 'returned', 'suspended', 'voided', 'self_resolved', name='event_status'), nullable=True),
    sa.Column('supervision_level', sa.String(length=10), nullable=True),
    sa.Column('rework_count', sa.Integer(), nullable=False),
    sa.Column('return_count', sa.Integer(), nullable=False),
    sa.Column('returned_by_unit_ids', sa.ARRAY(sa.Integer()), nullable=False),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_event_building_id_building')),
    sa.ForeignKeyConstraint(['category_id'], ['event_category.id'], name=op.f('fk_event_category_id_event_category')),
    sa.ForeignKeyConstraint(['dispatch_rule_id'], ['dispatch_rule.id'], name=op.f('fk_event_dispatch_rule_id_dispatch_rule')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['event.id'], name=op.f('fk_event_duplicate_of_id_event')),
    sa.ForeignKeyConstraint(['grid_code'], ['grid.code'], name=op.f('fk_event_grid_code_grid'), initially='DEFERRED', deferrable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_event_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['reporter_id'], ['staff.id'], name=op.f('fk_event_reporter_id_staff')),
    sa.ForeignKeyConstraint(['unit_id'], ['department_unit.id'], name=op.f('fk_event_unit_id_department_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event')),
    sa.UniqueConstraint('code', name=op.f('uq_event_code')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_event_idempotency_key'))
    )
    op.create_geospatial_index('idx_event_geom', 'event', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_event_grid_prefix', 'event', ['grid_code', 'reported_at'], unique=False, postgresql_ops={'grid_code': 'varchar_pattern_ops'})
    op.create_index('ix_event_category_reported', 'event', ['category_code', 'reported_at'], unique=False)
    op.create_index(op.f('ix_event_district_code'), 'event', ['district_code'], unique=False)
    op.create_index(op.f('ix_event_grid_code'), 'event', ['grid_code'], unique=False)
    op.create_index('ix_event_open_unit', 'event', ['unit_id', 'status'], unique=False)
    op.create_index(op.f('ix_event_reported_at'), 'event', ['reported_at'], unique=False)
    op.create_index(op.f('ix_event_reporter_id'), 'event', ['reporter_id'], unique=False)
    op.create_index(op.f('ix_event_stage_deadline'), 'event', ['stage_deadline'], unique=False)
    op.create_index(op.f('ix_event_status'), 'event', ['status'], unique=False)
    op.create_table('event_stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Enum('check', 'sign', 'handle', 'verify', name='stage_kind'), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_event_stage_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['department_unit.id'], name=op.f('fk_event_stage_unit_id_department_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_stage'))
    )
    op.create_index(op.f('ix_event_stage_event_id'), 'event_stage', ['event_id'], unique=False)
    op.create_table('event_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('from_status', sa.Enum('reported', 'registered', 'dispatched', 'signed', 'handled', 'verified', 'closed', 'returned', 'suspended', 'voided', 'self_resolved', name='event_status'), nullable=True),
    sa.Column('to_status', sa.Enum('reported', 'registered', 'dispatched', 'signed', 'handled', 'verified', 'closed', 'returned', 'suspended', 'voided', 'self_resolved', name='event_status'), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_event_step_actor_id_staff')),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_event_step_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['department_unit.id'], name=op.f('fk_event_step_unit_id_department_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_step'))
    )
    op.create_index(op.f('ix_event_step_at'), 'event_step', ['at'], unique=False)
    op.create_index(op.f('ix_event_step_event_id'), 'event_step', ['event_id'], unique=False)
    op.create_geospatial_table('attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('thumbnail_path', sa.String(length=300), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('size > 0', name=op.f('ck_attachment_not_empty')),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_attachment_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['event_step.id'], name=op.f('fk_attachment_step_id_event_step')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment'))
    )
    op.create_index(op.f('ix_attachment_event_id'), 'attachment', ['event_id'], unique=False)
    op.create_index(op.f('ix_attachment_sha256'), 'attachment', ['sha256'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.Enum('pending', 'delivered', 'dead', name='delivery_status'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_outbox_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['event_step.id'], name=op.f('fk_outbox_step_id_event_step'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['department_unit.id'], name=op.f('fk_outbox_unit_id_department_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    op.create_index('ix_outbox_due', 'outbox', ['next_attempt_at'], unique=False, postgresql_where="status = 'pending'")
    op.create_index(op.f('ix_outbox_event_id'), 'outbox', ['event_id'], unique=False)
    op.create_table('delivery_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_delivery_attempt_outbox_id_outbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempt'))
    )
    op.create_index(op.f('ix_delivery_attempt_outbox_id'), 'delivery_attempt', ['outbox_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_delivery_attempt_outbox_id'), table_name='delivery_attempt')
    op.drop_table('delivery_attempt')
    op.drop_index(op.f('ix_outbox_event_id'), table_name='outbox')
    op.drop_index('ix_outbox_due', table_name='outbox', postgresql_where="status = 'pending'")
    op.drop_table('outbox')
    op.drop_index(op.f('ix_attachment_sha256'), table_name='attachment')
    op.drop_index(op.f('ix_attachment_event_id'), table_name='attachment')
    op.drop_geospatial_table('attachment')
    op.drop_index(op.f('ix_event_step_event_id'), table_name='event_step')
    op.drop_index(op.f('ix_event_step_at'), table_name='event_step')
    op.drop_table('event_step')
    op.drop_index(op.f('ix_event_stage_event_id'), table_name='stage_kind')
    op.drop_table('event_stage')
    op.drop_index(op.f('ix_event_status'), table_name='event')
    op.drop_index(op.f('ix_event_stage_deadline'), table_name='event')
    op.drop_index(op.f('ix_event_reporter_id'), table_name='event')
    op.drop_index(op.f('ix_event_reported_at'), table_name='event')
    op.drop_index('ix_event_open_unit', table_name='event')
    op.drop_index(op.f('ix_event_grid_code'), table_name='event')
    op.drop_index(op.f('ix_event_district_code'), table_name='event')
    op.drop_index('ix_event_grid_prefix', table_name='event', postgresql_ops={'grid_code': 'varchar_pattern_ops'})
    op.drop_index('ix_event_category_reported', table_name='event')
    op.drop_geospatial_index('idx_event_geom', table_name='event', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('event')
    op.drop_index(op.f('ix_dispatch_rule_position'), table_name='dispatch_rule')
    op.drop_table('dispatch_rule')
    op.drop_index('uq_event_category_current', table_name='event_category', postgresql_where='valid_to IS NULL')
    op.drop_index(op.f('ix_event_category_code'), table_name='event_category')
    op.drop_table('event_category')
    op.drop_index(op.f('ix_department_unit_district_code'), table_name='department_unit')
    op.drop_index(op.f('ix_department_unit_dept_type'), table_name='department_unit')
    op.drop_index(op.f('ix_department_unit_department_id'), table_name='department_unit')
    op.drop_geospatial_index('idx_department_unit_location', table_name='department_unit', postgresql_using='gist', column_name='location')
    op.drop_geospatial_index('idx_department_unit_geom', table_name='department_unit', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('department_unit')
    op.drop_table('work_calendar')
    op.drop_index(op.f('ix_department_district_code'), table_name='department')
    op.drop_table('department')
    for enum_name in ("delivery_status", "stage_kind", "event_source", "event_status",
                      "priority", "department_type"):
        op.execute(f"DROP TYPE IF EXISTS {enum_name}")
