"""Sensors (物联感知): device types and their rules, devices, readings (monthly partitions) and
the signatures seen lately

The device types themselves are reference data (events/data/device_types.csv), loaded by
`gridgov migrate` and the seed like the categories.

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-03 06:30:00.000000
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_STAMP = 200001 * 10**10


def upgrade() -> None:
    op.create_table(
        'device_type',
        sa.Column('code', sa.String(20), primary_key=True),
        sa.Column('name', sa.String(30), nullable=False),
        sa.Column('unit', sa.String(20), nullable=False),
        sa.Column('comparison', sa.String(2), nullable=False),
        sa.Column('threshold', sa.Float(), nullable=False),
        sa.Column('hold_seconds', sa.Integer(), nullable=False),
        sa.Column('hysteresis', sa.Float(), nullable=False),
        sa.Column('heartbeat_seconds', sa.Integer(), nullable=False),
        sa.Column('needs_check', sa.Boolean(), nullable=False),
        sa.Column('category_code', sa.String(8), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.CheckConstraint("comparison IN ('>=', '<=')", name='comparison'),
        sa.CheckConstraint('hysteresis >= 0 AND hold_seconds >= 0', name='non_negative'),
        sa.CheckConstraint('heartbeat_seconds > 0', name='heartbeat'),
    )
    op.create_table(
        'device',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('district_code', sa.String(6), nullable=False),
        sa.Column('code', sa.String(40), nullable=False),
        sa.Column('type_code', sa.String(20), sa.ForeignKey('device_type.code'), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column(
            'geom',
            geoalchemy2.types.Geometry(
                geometry_type='POINT', srid=4490, spatial_index=False, nullable=False
            ),
            nullable=False,
        ),
        sa.Column('locate_match', sa.String(10), nullable=False),
        sa.Column('grid_code', sa.String(15), nullable=True),
        sa.Column('community_code', sa.String(12), nullable=True),
        sa.Column('street_code', sa.String(12), nullable=True),
        sa.Column('unit_id', sa.Integer(), sa.ForeignKey('department_unit.id'), nullable=False),
        sa.Column('secret_enc', sa.LargeBinary(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('breach_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('alarm_event_id', sa.BigInteger(), nullable=True),
        sa.Column('offline_event_id', sa.BigInteger(), nullable=True),
        sa.Column('last_value', sa.Float(), nullable=True),
        sa.Column('last_measured_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey('staff.id'), nullable=True),
        sa.PrimaryKeyConstraint('id', 'district_code'),
    )
    op.create_index('uq_device_code', 'device', ['code', 'district_code'], unique=True)
    op.create_index('ix_device_last_seen', 'device', ['last_seen_at'])
    op.create_index('idx_device_geom', 'device', ['geom'], postgresql_using='gist')

    op.execute('CREATE SEQUENCE reading_id_seq')
    op.execute(
        """
        CREATE TABLE reading (
            id bigint NOT NULL DEFAULT month_stamped_id('reading_id_seq'),
            district_code varchar(6) NOT NULL,
            device_id integer NOT NULL,
            value double precision NOT NULL,
            measured_at timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            event_id bigint,
            CONSTRAINT pk_reading PRIMARY KEY (id, district_code),
            CONSTRAINT fk_reading_device_id_device FOREIGN KEY (device_id, district_code)
                REFERENCES device (id, district_code) ON DELETE CASCADE
        ) PARTITION BY RANGE (id)
        """
    )
    op.execute('ALTER SEQUENCE reading_id_seq OWNED BY reading.id')
    op.execute(f'CREATE TABLE reading_before PARTITION OF reading FOR VALUES FROM (MINVALUE) TO ({FIRST_STAMP})')
    op.create_index('ix_reading_device_measured', 'reading', ['device_id', 'measured_at'])

    op.create_table(
        'reading_signature',
        sa.Column('district_code', sa.String(6), nullable=False),
        sa.Column('signature', sa.String(64), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('district_code', 'signature'),
    )
    op.create_index('ix_reading_signature_seen', 'reading_signature', ['seen_at'])


def downgrade() -> None:
    op.drop_table('reading_signature')
    op.execute('DROP TABLE reading')  # its partitions and sequence go with it
    op.drop_table('device')
    op.drop_table('device_type')
