"""Keys that fit distribution by district (Citus): district_code in every key of the large tables

Every table that grows with the city carries the 6-digit district code, and its primary key,
unique keys and the foreign keys between such tables include it, as Citus requires of
co-located distributed tables. Foreign keys that set NULL on delete become plain references
(Citus cannot set part of a key to NULL); the application clears them before deleting.
`person_identity` keeps a document unique nationwide now that `resident` is unique per
district only.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 20:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables that gain the district code, with where each row's district comes from.
NEW_COLUMNS = {
    "house": "FROM building p WHERE p.id = t.building_id",
    "residence": "FROM resident p WHERE p.id = t.resident_id",
    "special_group": "FROM resident p WHERE p.id = t.resident_id",
    "visit": "FROM special_group p WHERE p.id = t.special_group_id",
    "event_stage": "FROM event p WHERE p.id = t.event_id",
    "event_step": "FROM event p WHERE p.id = t.event_id",
    "attachment": "FROM event p WHERE p.id = t.event_id",
    "outbox": "FROM event p WHERE p.id = t.event_id",
    "delivery_attempt": "FROM outbox p WHERE p.id = t.outbox_id",
}

# (table, column, referenced table, referenced key, ON DELETE before, ON DELETE now, deferred)
FOREIGN_KEYS = [
    ("building", "grid_code", "grid", "code", None, None, False),
    ("house", "building_id", "building", "id", "CASCADE", "CASCADE", False),
    ("staff_grid", "grid_code", "grid", "code", "CASCADE", "CASCADE", True),
    ("organisation", "building_id", "building", "id", None, None, False),
    ("organisation", "grid_code", "grid", "code", None, None, True),
    ("household", "grid_code", "grid", "code", None, None, True),
    ("household", "house_id", "house", "id", None, None, False),
    ("household", "head_id", "resident", "id", "SET NULL", None, False),
    ("resident", "grid_code", "grid", "code", None, None, True),
    ("resident", "house_id", "house", "id", None, None, False),
    ("resident", "household_id", "household", "id", "SET NULL", None, False),
    ("pii_access_log", "organisation_id", "organisation", "id", "SET NULL", None, False),
    ("pii_access_log", "resident_id", "resident", "id", "SET NULL", None, False),
    ("residence", "house_id", "house", "id", None, None, False),
    ("residence", "resident_id", "resident", "id", "CASCADE", "CASCADE", False),
    ("special_group", "resident_id", "resident", "id", "CASCADE", "CASCADE", False),
    ("visit", "special_group_id", "special_group", "id", "CASCADE", "CASCADE", False),
    ("event", "building_id", "building", "id", None, None, False),
    ("event", "duplicate_of_id", "event", "id", None, None, False),
    ("event", "grid_code", "grid", "code", None, None, True),
    ("event", "organisation_id", "organisation", "id", None, None, False),
    ("event_stage", "event_id", "event", "id", "CASCADE", "CASCADE", False),
    ("event_step", "event_id", "event", "id", "CASCADE", "CASCADE", False),
    ("attachment", "event_id", "event", "id", "CASCADE", "CASCADE", False),
    ("attachment", "step_id", "event_step", "id", None, None, False),
    ("outbox", "event_id", "event", "id", "CASCADE", "CASCADE", False),
    ("outbox", "step_id", "event_step", "id", "CASCADE", "CASCADE", False),
    ("delivery_attempt", "outbox_id", "outbox", "id", "CASCADE", "CASCADE", False),
]

# Primary keys: (table, columns before); the district code is added at the end.
PRIMARY_KEYS = [
    ("grid", "code"),
    ("staff_grid", "staff_id, grid_code"),
    *(
        (table, "id")
        for table in (
            "building", "house", "household", "resident", "residence", "special_group",
            "visit", "organisation", "pii_access_log", "event", "event_stage", "event_step",
            "attachment", "outbox", "delivery_attempt",
        )
    ),
]

# Unique keys: (table, name, columns before, columns now).
UNIQUE_KEYS = [
    ("building", "uq_building_code", "code", "code, district_code"),
    ("house", "uq_house_address", "building_id, unit, floor, room",
     "building_id, district_code, unit, floor, room"),
    ("household", "uq_household_code", "code", "code, district_code"),
    ("resident", "uq_resident_document", "doc_type, doc_hash",
     "doc_type, doc_hash, district_code"),
    ("organisation", "uq_organisation_credit_code", "credit_code", "credit_code, district_code"),
    ("event", "uq_event_code", "code", "code, district_code"),
    ("event", "uq_event_idempotency_key", "idempotency_key", "idempotency_key, district_code"),
]


def _fk_name(table: str, column: str, target: str) -> str:
    return f"fk_{table}_{column}_{target}"


def _add_fk(table: str, columns: str, target: str, keys: str, name: str, ondelete: str | None,
            deferred: bool) -> None:
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) "
        f"REFERENCES {target} ({keys})"
        + (f" ON DELETE {ondelete}" if ondelete else "")
        + (" DEFERRABLE INITIALLY DEFERRED" if deferred else "")
    )


def upgrade() -> None:
    # A resident registered without a house had no district: take it from the grid, the last
    # house lived in, or the first district of the ledger; a database without any district
    # (never seeded) gets 000000, 未知区县.
    op.execute(
        """
        UPDATE resident r SET district_code = coalesce(
            substr(r.grid_code, 1, 6),
            (SELECT b.district_code FROM residence s JOIN house h ON h.id = s.house_id
             JOIN building b ON b.id = h.building_id
             WHERE s.resident_id = r.id ORDER BY s.moved_in DESC LIMIT 1),
            (SELECT min(district_code) FROM admin_unit), '000000')
        WHERE r.district_code IS NULL
        """
    )
    op.execute("ALTER TABLE resident ALTER COLUMN district_code SET NOT NULL")
    for table, source in NEW_COLUMNS.items():
        op.execute(f"ALTER TABLE {table} ADD COLUMN district_code varchar(6)")
        op.execute(f"UPDATE {table} t SET district_code = p.district_code {source}")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN district_code SET NOT NULL")
    op.execute("ALTER TABLE staff_grid ADD COLUMN district_code varchar(6)")
    op.execute("UPDATE staff_grid SET district_code = substr(grid_code, 1, 6)")
    op.execute("ALTER TABLE staff_grid ALTER COLUMN district_code SET NOT NULL")
    # An access-log row belongs to the district of the record that was read.
    op.execute("ALTER TABLE pii_access_log ADD COLUMN district_code varchar(6)")
    op.execute(
        """
        UPDATE pii_access_log l SET district_code = coalesce(
            (SELECT district_code FROM resident WHERE id = l.resident_id),
            (SELECT district_code FROM organisation WHERE id = l.organisation_id),
            (SELECT substr(area_code, 1, 6) FROM staff WHERE id = l.staff_id),
            (SELECT min(district_code) FROM admin_unit), '000000')
        """
    )
    op.execute("ALTER TABLE pii_access_log ALTER COLUMN district_code SET NOT NULL")

    for table, column, target, _key, before, _now, _deferred in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_fk_name(table, column, target)}")
    for table, name, _before, _now in UNIQUE_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute("DROP INDEX uq_residence_open")
    for table, columns in PRIMARY_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
            f"PRIMARY KEY ({columns}, district_code)"
        )
    for table, name, _before, now in UNIQUE_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({now})")
    op.execute(
        "CREATE UNIQUE INDEX uq_residence_open ON residence (resident_id, district_code) "
        "WHERE moved_out IS NULL"
    )
    for table, column, target, key, _before, now, deferred in FOREIGN_KEYS:
        _add_fk(table, f"{column}, district_code", target, f"{key}, district_code",
                _fk_name(table, column, target), now, deferred)
    op.execute(
        "ALTER TABLE grid ADD CONSTRAINT ck_grid_code_in_district "
        "CHECK (substr(code, 1, 6) = district_code)"
    )

    op.execute(
        """
        CREATE TABLE person_identity (
            doc_type document_type NOT NULL,
            doc_hash bytea NOT NULL,
            district_code varchar(6) NOT NULL,
            resident_id integer NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_person_identity PRIMARY KEY (doc_type, doc_hash)
        )
        """
    )
    # Before this revision a document was unique in the whole ledger: one row each.
    op.execute(
        "INSERT INTO person_identity (doc_type, doc_hash, district_code, resident_id) "
        "SELECT doc_type, doc_hash, district_code, id FROM resident"
    )


def downgrade() -> None:
    op.execute("DROP TABLE person_identity")
    op.execute("ALTER TABLE grid DROP CONSTRAINT ck_grid_code_in_district")
    for table, column, target, _key, _before, _now, _deferred in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_fk_name(table, column, target)}")
    for table, name, _before, _now in UNIQUE_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute("DROP INDEX uq_residence_open")
    for table, columns in PRIMARY_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({columns})")
    for table, name, before, _now in UNIQUE_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({before})")
    op.execute(
        "CREATE UNIQUE INDEX uq_residence_open ON residence (resident_id) WHERE moved_out IS NULL"
    )
    for table, column, target, key, before, _now, deferred in FOREIGN_KEYS:
        _add_fk(table, column, target, key, _fk_name(table, column, target), before, deferred)
    for table in (*NEW_COLUMNS, "staff_grid", "pii_access_log"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN district_code")
    op.execute("ALTER TABLE resident ALTER COLUMN district_code DROP NOT NULL")
