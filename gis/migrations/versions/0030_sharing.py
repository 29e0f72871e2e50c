"""Data sharing (共享交换): departments' grants of shared datasets, the log of every read, and
departments' lists compared with the ledger (比对) with the differences found

Adds `share_grant` (reference), `share_access_log`, `crosscheck` and `crosscheck_difference`
(distributed by district).

Revision ID: 0030
Revises: 0032
Create Date: 2026-12-03 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.Column:
    return sa.Column(
        "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


# Which records of which dataset a write to a ledger table touches, from a transition table
# `{src}` (the rows written, or the rows before an update or delete).
CHANGED = {
    "resident": (
        "SELECT c.district_code, 'floating', c.id, c.grid_code FROM {src} c "
        "WHERE c.residence_type = 'floating'",
        # a special group's row shows its member's name, phone and grid
        "SELECT c.district_code, 'special_groups', sg.id, c.grid_code FROM {src} c "
        "JOIN special_group sg ON sg.resident_id = c.id AND sg.district_code = c.district_code",
    ),
    "special_group": (
        "SELECT c.district_code, 'special_groups', c.id, r.grid_code FROM {src} c "
        "LEFT JOIN resident r ON r.id = c.resident_id AND r.district_code = c.district_code",
    ),
    "house": (
        "SELECT c.district_code, 'rental_houses', c.id, b.grid_code FROM {src} c "
        "LEFT JOIN building b ON b.id = c.building_id AND b.district_code = c.district_code "
        "WHERE c.use = 'rented'",
    ),
    "organisation": (
        "SELECT c.district_code, 'key_units', c.id, c.grid_code FROM {src} c "
        "WHERE c.fire_key_unit OR c.security_key_unit",
    ),
}
OPERATIONS = {
    "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", ("new_rows",)),
    "update": (
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ("new_rows", "old_rows"),
    ),
    "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", ("old_rows",)),
}


def _function_sql(table: str) -> str:
    branches = []
    for op_name, (verb, _, sources) in OPERATIONS.items():
        selects = " UNION ".join(q.format(src=src) for src in sources for q in CHANGED[table])
        branches.append(
            f"{'IF' if op_name == 'insert' else 'ELSIF'} TG_OP = '{verb}' THEN "
            "INSERT INTO share_change (district_code, dataset, record_id, grid_code) "
            f"SELECT * FROM ({selects}) changed;"
        )
    return (
        f"CREATE FUNCTION share_change_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {' '.join(branches)} END IF; RETURN NULL; END $$"
    )


def upgrade() -> None:
    op.create_table(
        "share_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(30), nullable=False),
        sa.Column("fields", postgresql.JSONB(), nullable=False),
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("purpose", sa.String(300), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=False),
        sa.Column(
            "granted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL)",
            name=op.f("ck_share_grant_revoked_by_when_revoked"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_share_grant_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["staff.id"], name=op.f("fk_share_grant_granted_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["staff.id"], name=op.f("fk_share_grant_revoked_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_grant")),
    )
    op.create_index("ix_share_grant_department_id", "share_grant", ["department_id"])
    op.create_index(
        "uq_share_grant_live",
        "share_grant",
        ["department_id", "dataset"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "share_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["share_grant.id"],
            name=op.f("fk_share_subscription_grant_id_share_grant"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff.id"], name=op.f("fk_share_subscription_created_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_subscription")),
    )
    op.create_index("ix_share_subscription_grant_id", "share_subscription", ["grant_id"])
    op.create_table(
        "share_access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(30), nullable=False),
        sa.Column("fields", sa.String(500), nullable=False),
        sa.Column("clear_fields", sa.String(500), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("record_ids", postgresql.JSONB(), nullable=False),
        _now(),
        sa.CheckConstraint(
            "staff_id IS NOT NULL OR subscription_id IS NOT NULL",
            name=op.f("ck_share_access_log_reader_known"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_share_access_log_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["share_grant.id"], name=op.f("fk_share_access_log_grant_id_share_grant")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["share_subscription.id"],
            name=op.f("fk_share_access_log_subscription_id_share_subscription"),
        ),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_share_access_log")),
    )
    op.create_index("ix_share_access_log_staff_id", "share_access_log", ["staff_id"])
    op.create_index("ix_share_access_log_grant_id", "share_access_log", ["grant_id"])
    op.create_table(
        "crosscheck",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("difference_count", sa.Integer(), nullable=False),
        _now(),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_crosscheck_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_crosscheck_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_crosscheck")),
    )
    op.create_index("ix_crosscheck_department_id", "crosscheck", ["department_id"])
    op.create_table(
        "crosscheck_difference",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("crosscheck_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("name", sa.String(50), nullable=True),
        sa.Column("doc_masked", sa.String(40), nullable=True),
        sa.Column("listed_address", sa.String(300), nullable=True),
        sa.Column("ledger_address", sa.String(300), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('missing_in_ledger', 'extra_in_ledger', 'address_differs')",
            name=op.f("ck_crosscheck_difference_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["crosscheck_id", "district_code"],
            ["crosscheck.id", "crosscheck.district_code"],
            name=op.f("fk_crosscheck_difference_crosscheck_id_crosscheck"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_crosscheck_difference")),
    )
    op.create_index(
        "ix_crosscheck_difference_crosscheck_id", "crosscheck_difference", ["crosscheck_id"]
    )

    op.create_table(
        "share_change",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("dataset", sa.String(30), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=True),
        _now(),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", "district_code", name=op.f("pk_share_change")),
    )
    op.create_index("ix_share_change_dataset_seq", "share_change", ["dataset", "seq"])
    op.create_index(
        "ix_share_change_unnumbered",
        "share_change",
        ["id"],
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.execute("CREATE SEQUENCE share_change_seq")
    # Statement-level triggers with transition tables: a COPY or a set-based UPDATE of many
    # rows runs one INSERT … SELECT, not one trigger call per row.
    for table in CHANGED:
        op.execute(_function_sql(table))
        for op_name, (verb, referencing, _) in OPERATIONS.items():
            op.execute(
                f"CREATE TRIGGER share_change_{op_name} AFTER {verb} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION share_change_{table}()"
            )


def downgrade() -> None:
    for table in CHANGED:
        for op_name in OPERATIONS:
            op.execute(f"DROP TRIGGER IF EXISTS share_change_{op_name} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS share_change_{table}()")
    op.execute("DROP SEQUENCE IF EXISTS share_change_seq")
    op.drop_table("share_change")
    op.drop_table("crosscheck_difference")
    op.drop_table("crosscheck")
    op.drop_table("share_access_log")
    op.drop_table("share_subscription")
    op.drop_table("share_grant")
