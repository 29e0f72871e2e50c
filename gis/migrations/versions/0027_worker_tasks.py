"""Worker tasks (网格员任务): what a ledger rule or a department's cross-check asks a grid's
workers to check, about which record, by when

Adds `worker_task`, distributed by district, with one open task per rule key.

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-03 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "rental_unregistered",
    "registration_overdue",
    "permit_expiring",
    "crowded_rental",
    "lease_ended",
    "crosscheck",
)
STATUSES = ("open", "done", "dismissed")


def upgrade() -> None:
    kind = postgresql.ENUM(*KINDS, name="task_kind", create_type=False)
    kind.create(op.get_bind(), checkfirst=True)
    task_status = postgresql.ENUM(*STATUSES, name="task_status", create_type=False)
    task_status.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "worker_task",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("kind", kind, nullable=False),
        sa.Column("subject", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", task_status, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(status = 'open') = (closed_at IS NULL)",
            name=op.f("ck_worker_task_closed_when_not_open"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_code", "district_code"],
            ["grid.code", "grid.district_code"],
            name=op.f("fk_worker_task_grid_code_grid"),
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["staff.id"], name=op.f("fk_worker_task_closed_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_worker_task")),
    )
    op.create_index(
        "uq_worker_task_open_key",
        "worker_task",
        ["district_code", "key"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_worker_task_grid_status_due", "worker_task", ["grid_code", "status", "due_on"]
    )


def downgrade() -> None:
    op.drop_table("worker_task")
    sa.Enum(name="task_kind").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="task_status").drop(op.get_bind(), checkfirst=True)
