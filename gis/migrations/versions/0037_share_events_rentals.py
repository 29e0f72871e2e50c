"""Sharing events by category and rental records (共享：事件按类别、出租屋)

Adds `share_grant.categories` (the event categories a grant of a category-filtered dataset
covers) and `share_change.tag` (a change's category), and (re)installs the share triggers of
gis.share_triggers: the rental_houses dataset now follows `rental` and `rental_tenant` (and
its landlord and house), and the new events_by_category dataset follows `event`.

Revision ID: 0037
Revises: 0031
Create Date: 2026-12-03 20:00:00.000000
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gis.share_triggers import CHANGED, drop_sql, install_sql

revision: str = "0037"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables 0030 gave triggers; the others are new here.
_EARLIER = ("resident", "special_group", "house", "organisation")


def upgrade() -> None:
    op.add_column("share_grant", sa.Column("categories", postgresql.JSONB(), nullable=True))
    op.add_column("share_change", sa.Column("tag", sa.String(8), nullable=True))
    # Pruning deletes the oldest numbered changes.
    op.create_index("ix_share_change_seq", "share_change", ["seq"])
    # rental_houses' records were houses and are rentals from now on: its old changes name
    # house ids, which would read as rental ids. Receivers re-read the dataset instead.
    op.execute("DELETE FROM share_change WHERE dataset = 'rental_houses'")
    for table in CHANGED:
        for statement in install_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in CHANGED:
        for statement in drop_sql(table):
            op.execute(statement)
        op.execute(f"DROP FUNCTION IF EXISTS share_change_{table}()")
    # 0030's triggers, as 0030 wrote them.
    spec = importlib.util.spec_from_file_location(
        "sharing_0030", Path(__file__).with_name("0030_sharing.py")
    )
    assert spec is not None and spec.loader is not None
    earlier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(earlier)
    for table in _EARLIER:
        op.execute(earlier._function_sql(table))
        for op_name, (verb, referencing, _) in earlier.OPERATIONS.items():
            op.execute(
                f"CREATE TRIGGER share_change_{op_name} AFTER {verb} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION share_change_{table}()"
            )
    op.drop_index("ix_share_change_seq", table_name="share_change")
    op.drop_column("share_change", "tag")
    op.drop_column("share_grant", "categories")
