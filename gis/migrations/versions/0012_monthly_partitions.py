"""Monthly partitions of event, event_step and outbox; event_key keeps codes and keys unique

The three tables become partitioned by RANGE of their id, and new ids carry their month:
`month_stamped_id(sequence)` = YYYYMM (China time) · 10^10 + nextval, so the primary key
(id, district_code) holds the partition key and every composite foreign key stays. Existing
rows keep their ids and live in `<table>_before` (ids below the stamp of 2000-01); the months
are created by `gis.partitions.ensure` (`gridgov migrate`, the server, the daily timer). Ids
and every column that references them become bigint.

A unique key of a partitioned table must contain the partition key, so event.code and
event.idempotency_key lose theirs: `event_key` (district_code, kind, key) → event_id keeps
them unique and serves lookups by either (event keeps a plain index on code).

Each table is converted in place: a partitioned copy is filled, the old table dropped and the
copy renamed, then its indexes, primary key and the foreign keys from and to it are made
again under their old names.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 21:00:00.000000
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("event", "event_step", "outbox")
STAMP = 10**10
FIRST_STAMP = 200001 * STAMP
# Columns holding ids of the three tables, by table (the ids themselves included).
ID_COLUMNS = {
    "event": ("id", "duplicate_of_id"),
    "event_stage": ("event_id",),
    "event_step": ("id", "event_id"),
    "attachment": ("event_id", "step_id"),
    "outbox": ("id", "event_id", "step_id"),
    "delivery_attempt": ("outbox_id",),
}
# Indexes this revision adds to event (in place of the unique keys).
NEW_EVENT_INDEXES = {"ix_event_code": "CREATE INDEX ix_event_code ON event (code)"}

MONTH_STAMPED_ID = f"""
CREATE FUNCTION month_stamped_id(seq regclass, at timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE AS $$
    SELECT to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYYMM')::bigint * {STAMP} + nextval(seq)
$$
"""


def _rows(sql: str, **params: object) -> list[tuple]:  # type: ignore[type-arg]
    return list(op.get_bind().execute(text(sql), params).all())


def _foreign_keys() -> list[tuple[str, str, str]]:
    """(table, name, definition) of every foreign key from or to the three tables."""
    return [
        (table, name, definition)
        for table, name, definition in _rows(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conparentid = 0 "
            "AND (conrelid = ANY(CAST(:tables AS regclass[])) "
            "OR confrelid = ANY(CAST(:tables AS regclass[])))",
            tables=list(TABLES),
        )
    ]


def _indexes(table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes that back no constraint."""
    # A partitioned table's index reads "ON ONLY event": made again on a plain table too.
    return [
        (name, definition.replace(" ON ONLY ", " ON "))
        for name, definition in _rows(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(:table AS regclass) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid "
            "AND k.conrelid = x.indrelid)",
            table=table,
        )
    ]


def _rebuild(table: str, *, partitioned: bool) -> list[tuple[str, str]]:
    """Replace `table` by a copy, partitioned by id or plain; returns the indexes to make."""
    indexes = _indexes(table)
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    op.execute(
        f"CREATE TABLE {table}_rebuilt (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE INCLUDING COMMENTS)" + (" PARTITION BY RANGE (id)" if partitioned else "")
    )
    if partitioned:
        op.execute(
            f"CREATE TABLE {table}_before PARTITION OF {table}_rebuilt "
            f"FOR VALUES FROM (MINVALUE) TO ({FIRST_STAMP})"
        )
    op.execute(f"INSERT INTO {table}_rebuilt SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id, district_code)"
    )
    return indexes


def upgrade() -> None:
    op.execute(MONTH_STAMPED_ID)
    foreign_keys = _foreign_keys()
    for table, name, _definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table, columns in ID_COLUMNS.items():
        op.execute(
            f"ALTER TABLE {table} "
            + ", ".join(f"ALTER COLUMN {column} TYPE bigint" for column in columns)
        )
    for table in TABLES:
        # The sequence's part of an id stays below 10^10, or it would run into the next month.
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint MAXVALUE {STAMP - 1}")
        indexes = _rebuild(table, partitioned=True)
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT month_stamped_id('{table}_id_seq')"
        )
        for _name, definition in indexes:
            op.execute(definition)
        if table == "event":
            for definition in NEW_EVENT_INDEXES.values():
                op.execute(definition)
    for table, name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")

    op.execute(
        """
        CREATE TABLE event_key (
            district_code varchar(6) NOT NULL,
            kind varchar(30) NOT NULL,
            key varchar(100) NOT NULL,
            event_id bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_event_key PRIMARY KEY (district_code, kind, key),
            CONSTRAINT fk_event_key_event_id_event FOREIGN KEY (event_id, district_code)
                REFERENCES event (id, district_code) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX ix_event_key_event_id ON event_key (event_id)")
    op.execute("CREATE INDEX ix_event_key_kind_key ON event_key (kind, key)")
    # Until now both were unique per district on event itself: one key row each.
    op.execute(
        "INSERT INTO event_key (district_code, kind, key, event_id, created_at) "
        "SELECT district_code, 'code', code, id, reported_at FROM event"
    )
    op.execute(
        "INSERT INTO event_key (district_code, kind, key, event_id, created_at) "
        "SELECT district_code, 'idempotency', idempotency_key, id, reported_at FROM event "
        "WHERE idempotency_key IS NOT NULL"
    )
    for table in TABLES:
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    too_big = [
        table
        for table in TABLES
        if _rows(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE id > 2147483647)")[0][0]
    ]
    if too_big:
        raise RuntimeError(
            f"{', '.join(too_big)} hold month-stamped ids, which do not fit the integer ids "
            "of revision 0011; restore a backup taken before 0012 instead of downgrading"
        )
    op.execute("DROP TABLE event_key")
    foreign_keys = _foreign_keys()
    for table, name, _definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table in TABLES:
        indexes = _rebuild(table, partitioned=False)
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq'::regclass)"
        )
        for name, definition in indexes:
            if name not in NEW_EVENT_INDEXES:
                op.execute(definition)
    op.execute("ALTER TABLE event ADD CONSTRAINT uq_event_code UNIQUE (code, district_code)")
    op.execute(
        "ALTER TABLE event ADD CONSTRAINT uq_event_idempotency_key "
        "UNIQUE (idempotency_key, district_code)"
    )
    for table, columns in ID_COLUMNS.items():
        op.execute(
            f"ALTER TABLE {table} "
            + ", ".join(f"ALTER COLUMN {column} TYPE integer" for column in columns)
        )
    for table in TABLES:
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer MAXVALUE 2147483647")
    for table, name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    op.execute("DROP FUNCTION month_stamped_id(regclass, timestamptz)")
