"""The triggers that feed shared data's change feed (`share_change`, 共享变更), as SQL.

Each ledger or case table a shared dataset reads from has one trigger function: for the rows
a statement wrote (or the rows before an update or delete) it inserts one `share_change` row
per record of a dataset they touch, with the record's grid and, for datasets filtered by
category, the category code (`tag`). `CHANGED` is the one definition; migrations install it
(`install_sql`) and `gridgov db citus-ddl` prints its Citus form (`citus_sql`).

On one server the triggers are statement-level with transition tables: a COPY or a set-based
UPDATE of many rows runs one INSERT … SELECT. Citus supports neither statement-level triggers
nor transition tables on distributed tables, only row-level triggers created with
`citus.enable_unsafe_triggers` on (it creates them on every shard). The Citus form is therefore
the same selects over the one row (`SELECT NEW.*`), fired per row; it is safe here because
`share_change` and every table the selects join are co-located by district code and each
select joins within the row's district, so a shard's trigger writes only to its own
district's shard of `share_change`.
"""

from __future__ import annotations

# For each table: the selects giving (district_code, dataset, record_id, grid_code, tag) of the
# records its rows `{src}` touch (`c` is the written row).
CHANGED: dict[str, tuple[str, ...]] = {
    "resident": (
        "SELECT c.district_code, 'floating', c.id, c.grid_code, NULL FROM {src} c "
        "WHERE c.residence_type = 'floating'",
        # a special group's row shows its member's name, phone and grid
        "SELECT c.district_code, 'special_groups', sg.id, c.grid_code, NULL FROM {src} c "
        "JOIN special_group sg ON sg.resident_id = c.id AND sg.district_code = c.district_code",
        # a rental's landlord
        "SELECT c.district_code, 'rental_houses', r.id, b.grid_code, NULL FROM {src} c "
        "JOIN rental r ON r.landlord_resident_id = c.id AND r.district_code = c.district_code "
        "JOIN house h ON h.id = r.house_id AND h.district_code = r.district_code "
        "JOIN building b ON b.id = h.building_id AND b.district_code = h.district_code",
    ),
    "special_group": (
        "SELECT c.district_code, 'special_groups', c.id, r.grid_code, NULL FROM {src} c "
        "LEFT JOIN resident r ON r.id = c.resident_id AND r.district_code = c.district_code",
    ),
    # a house's area and floor show in its rentals
    "house": (
        "SELECT c.district_code, 'rental_houses', r.id, b.grid_code, NULL FROM {src} c "
        "JOIN rental r ON r.house_id = c.id AND r.district_code = c.district_code "
        "LEFT JOIN building b ON b.id = c.building_id AND b.district_code = c.district_code",
    ),
    "rental": (
        "SELECT c.district_code, 'rental_houses', c.id, b.grid_code, NULL FROM {src} c "
        "LEFT JOIN house h ON h.id = c.house_id AND h.district_code = c.district_code "
        "LEFT JOIN building b ON b.id = h.building_id AND b.district_code = h.district_code",
    ),
    # tenants moving in and out change the rental's tenants count and risk grade
    "rental_tenant": (
        "SELECT c.district_code, 'rental_houses', c.rental_id, b.grid_code, NULL FROM {src} c "
        "JOIN rental r ON r.id = c.rental_id AND r.district_code = c.district_code "
        "LEFT JOIN house h ON h.id = r.house_id AND h.district_code = r.district_code "
        "LEFT JOIN building b ON b.id = h.building_id AND b.district_code = h.district_code",
    ),
    "organisation": (
        "SELECT c.district_code, 'key_units', c.id, c.grid_code, NULL FROM {src} c "
        "WHERE c.fire_key_unit OR c.security_key_unit",
        "SELECT c.district_code, 'rental_houses', r.id, b.grid_code, NULL FROM {src} c "
        "JOIN rental r ON r.landlord_organisation_id = c.id "
        "AND r.district_code = c.district_code "
        "JOIN house h ON h.id = r.house_id AND h.district_code = r.district_code "
        "JOIN building b ON b.id = h.building_id AND b.district_code = h.district_code",
    ),
    # The busiest table: its changes are kept only while some department holds a live grant
    # of events (a new grant reads the dataset itself first, then follows its changes).
    "event": (
        "SELECT c.district_code, 'events_by_category', c.id, c.grid_code, c.category_code "
        "FROM {src} c WHERE EXISTS (SELECT 1 FROM share_grant g "
        "WHERE g.dataset = 'events_by_category' AND g.revoked_at IS NULL)",
    ),
}

# op: (verb, REFERENCING clause, transition tables read, row variables read)
OPERATIONS = {
    "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", ("new_rows",), ("NEW",)),
    "update": (
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ("new_rows", "old_rows"),
        ("NEW", "OLD"),
    ),
    "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", ("old_rows",), ("OLD",)),
}

_INSERT = "INSERT INTO share_change (district_code, dataset, record_id, grid_code, tag) "


def _function_sql(table: str, *, per_row: bool) -> str:
    branches = []
    for position, (verb, _, tables, rows) in enumerate(OPERATIONS.values()):
        sources = [f"(SELECT {row}.*)" for row in rows] if per_row else list(tables)
        selects = " UNION ".join(q.format(src=src) for src in sources for q in CHANGED[table])
        branches.append(
            f"{'IF' if position == 0 else 'ELSIF'} TG_OP = '{verb}' THEN "
            f"{_INSERT}SELECT * FROM ({selects}) changed;"
        )
    return (
        f"CREATE OR REPLACE FUNCTION share_change_{table}() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN {' '.join(branches)} END IF; RETURN NULL; END $$"
    )


def drop_sql(table: str) -> list[str]:
    """Statements dropping the share triggers of `table` (the function stays)."""
    return [f"DROP TRIGGER IF EXISTS share_change_{op} ON {table}" for op in OPERATIONS]


def install_sql(table: str) -> list[str]:
    """Statements (re)creating the statement-level share triggers of `table` on one server."""
    statements = [_function_sql(table, per_row=False), *drop_sql(table)]
    for op, (verb, referencing, _, _) in OPERATIONS.items():
        statements.append(
            f"CREATE TRIGGER share_change_{op} AFTER {verb} ON {table} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION share_change_{table}()"
        )
    return statements


def row_level_sql(table: str) -> list[str]:
    """Statements giving `table` row-level share triggers (Citus's form) in place of its
    statement-level ones."""
    return [
        _function_sql(table, per_row=True),
        *drop_sql(table),
        f"CREATE TRIGGER share_change_row AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION share_change_{table}()",
    ]


def citus_sql() -> tuple[list[str], list[str]]:
    """What `gridgov db citus-ddl` prints for the share triggers: before the tables are
    distributed (Citus refuses statement-level triggers there), and after (row-level
    triggers, which Citus creates on every shard)."""
    before = ["SET citus.enable_unsafe_triggers TO on;"]
    before += [f"{s};" for table in CHANGED for s in drop_sql(table)]
    after = [f"{s};" for table in CHANGED for s in row_level_sql(table) if "DROP" not in s]
    return before, after
