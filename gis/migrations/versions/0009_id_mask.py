"""ID masks keep the region and the check character only (6 + 11 stars + 1)

The old mask (6 + 8 stars + 4) hid exactly the birth-date digits, which every reader saw in
clear beside it, so the full number could be rebuilt. Stored masks are rewritten in place;
the clear numbers are encrypted and untouched.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE resident SET doc_masked = left(doc_masked, 6) || repeat('*', 11) "
        "|| right(doc_masked, 1) WHERE length(doc_masked) = 18"
    )
    # A disability certificate number is the ID number plus two digits (category, grade).
    op.execute(
        "UPDATE special_group SET details = jsonb_set(details, '{certificate_number}', "
        "to_jsonb(left(details->>'certificate_number', 6) || repeat('*', 11) "
        "|| substr(details->>'certificate_number', 18))) "
        "WHERE length(details->>'certificate_number') >= 18"
    )


def downgrade() -> None:
    # The hidden digits cannot come back from the masks; the old mask showed more, not less,
    # so the new masks stay as they are.
    pass
