"""The tamper-evident record (防篡改留痕): a chain of links per district over event steps and
reads of unmasked personal data

Adds `audit_seal`: per district, link 1, 2, 3 … naming a sealed row (its table and id), the
SHA-256 of its content and the chain hash sha256(previous chain hash ‖ row hash).

Revision ID: 0032
Revises: 0027
Create Date: 2026-12-03 17:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_seal",
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("row_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column(
            "sealed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("district_code", "seq", name=op.f("pk_audit_seal")),
        sa.UniqueConstraint("district_code", "source", "row_id", name="uq_audit_seal_row"),
    )
    op.create_index("ix_audit_seal_row_at", "audit_seal", ["district_code", "row_at"])


def downgrade() -> None:
    op.drop_table("audit_seal")
