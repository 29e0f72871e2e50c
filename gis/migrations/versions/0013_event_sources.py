"""Event sources 市长信箱, 网站·APP and 部门移交 beside the hotline, patrols, leaders and sensors

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 23:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE event_source ADD VALUE IF NOT EXISTS 'mailbox' AFTER 'hotline'")
    op.execute("ALTER TYPE event_source ADD VALUE IF NOT EXISTS 'web_app' AFTER 'mailbox'")
    op.execute("ALTER TYPE event_source ADD VALUE IF NOT EXISTS 'department'")


def downgrade() -> None:
    # An enum value cannot be dropped; events from the new channels count as hotline cases.
    op.execute(
        "UPDATE event SET source = 'hotline' WHERE source IN ('mailbox', 'web_app', 'department')"
    )
