"""How the tables would be spread over a Citus cluster, and the key helpers that keep them fit.

The distribution column is the 6-digit district code (`district_code`). Every table is one of:

- **distributed** by district code and co-located with the others: the ledger and the case
  history of a district live on one node, so a report's transaction (locate, dispatch,
  deadlines, outbox) and a district's queries stay on that node;
- **reference**: small tables read on every request (the admin tree, categories, rules,
  departments and units, the calendar, staff), copied to every node;
- **identity**: a distributed table in its own co-location group, keyed by something that is
  unique nationwide rather than per district (a person's document hash);
- **local**: bookkeeping of the coordinator (login throttle, import jobs), with no foreign
  key to a distributed table.

Citus accepts a distributed table only when its primary and unique keys contain the
distribution column, and a foreign key between distributed tables only when both sides carry
it in the same position and it is not set to NULL on delete. The models keep to that with
`DistrictKeyed` (primary key `(id, district_code)`, the ORM still identifies a row by `id`)
and `district_fk` (a reference `(x_id, district_code) → table(id, district_code)`).
`tests/gis/test_distribution.py` checks every key of the migrated schema against those rules
and `gridgov db citus-ddl` prints the statements that would distribute it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, MetaData, Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import declared_attr
from sqlalchemy.schema import AddConstraint

from gis import share_triggers

DISTRIBUTION_COLUMN = "district_code"
# The district of a row that concerns no single district (an admin's export across the city,
# a record from before districts were recorded): 未知区县.
NO_DISTRICT = "000000"


class Placement(StrEnum):
    """Where a table's rows live in a Citus cluster."""

    DISTRIBUTED = "distributed"
    REFERENCE = "reference"
    IDENTITY = "identity"
    LOCAL = "local"


def placed(placement: Placement, column: str | None = None) -> dict[str, Any]:
    """`__table_args__` entry recording a table's placement (and an identity table's column)."""
    return {"info": {"placement": placement, "distribution_column": column}}


class DistrictKeyed:
    """A table distributed by district whose rows are known by one column (`id` by default).

    The primary key is `(id, district_code)`, as Citus requires; the ORM identifies a row by
    `id` alone (a sequence, or a code that starts with the district's, makes it unique
    everywhere), so `session.get(Model, id)` works.
    """

    identity_column = "id"

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"primary_key": [cls.__table__.c[cls.identity_column]]}  # type: ignore[attr-defined]


def district_fk(
    column: str,
    target: str,
    *,
    ondelete: str | None = None,
    deferred: bool = False,
) -> ForeignKeyConstraint:
    """A reference from `column` to `target` ("table.key") within the same district.

    Both sides carry the district code second, so the pair fits Citus's rule for foreign keys
    between co-located tables. `deferred` checks it at commit (grid re-cutting replaces grids
    inside one transaction). SET NULL is not offered: Citus cannot set part of such a key to
    NULL, so the application clears references before it deletes.
    """
    table, key = target.split(".")
    return ForeignKeyConstraint(
        [column, DISTRIBUTION_COLUMN],
        [f"{table}.{key}", f"{table}.{DISTRIBUTION_COLUMN}"],
        ondelete=ondelete,
        deferrable=deferred or None,
        initially="DEFERRED" if deferred else None,
    )


def placement_of(table: Table) -> Placement | None:
    """The placement a model declared for `table` (None when it declared none)."""
    value = table.info.get("placement")
    return Placement(value) if value else None


def tables_by_placement(metadata: MetaData) -> dict[Placement, list[Table]]:
    """The metadata's tables grouped by placement, each group in dependency order."""
    groups: dict[Placement, list[Table]] = {p: [] for p in Placement}
    for table in metadata.sorted_tables:
        placement = placement_of(table)
        if placement is not None:
            groups[placement].append(table)
    return groups


def citus_ddl(metadata: MetaData) -> list[str]:
    """The statements that turn the single-server schema into a Citus one, in order.

    Reference tables first (distributed tables hold foreign keys to them), then the district
    tables, the first of which anchors the co-location group of the rest, then identity
    tables in groups of their own. Local tables stay on the coordinator. The share triggers
    are dropped before and created row-level after (gis.share_triggers).
    """
    groups = tables_by_placement(metadata)
    # A foreign key in a cycle (household ↔ resident) is added after both tables exist; it is
    # dropped while the tables are distributed and added again at the end.
    cyclic = [
        constraint
        for table in groups[Placement.DISTRIBUTED]
        for constraint in table.foreign_key_constraints
        if constraint.use_alter
    ]
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    # The share triggers are statement-level, which Citus refuses on distributed tables: they
    # are dropped first and come back row-level at the end (gis.share_triggers).
    triggers_before, triggers_after = share_triggers.citus_sql()
    statements = list(triggers_before)
    statements += [f"ALTER TABLE {fk.table.name} DROP CONSTRAINT {fk.name};" for fk in cyclic]
    statements += [
        f"SELECT create_reference_table('{t.name}');" for t in groups[Placement.REFERENCE]
    ]
    anchor: str | None = None
    for table in groups[Placement.DISTRIBUTED]:
        colocate = f", colocate_with => '{anchor}'" if anchor else ""
        statements.append(
            f"SELECT create_distributed_table('{table.name}', '{DISTRIBUTION_COLUMN}'{colocate});"
        )
        anchor = anchor or table.name
    for table in groups[Placement.IDENTITY]:
        column = table.info["distribution_column"]
        statements.append(
            f"SELECT create_distributed_table('{table.name}', '{column}', colocate_with => 'none');"
        )

    statements += [f"{str(AddConstraint(fk).compile(dialect=dialect)).strip()};" for fk in cyclic]
    return statements + triggers_after


def placements(metadata: MetaData) -> dict[str, tuple[Placement, str]]:
    """Each declared table's placement and distribution column (district code by default)."""
    found = {}
    for table in metadata.tables.values():
        placement = placement_of(table)
        if placement is not None:
            found[table.name] = (
                placement,
                table.info.get("distribution_column") or DISTRIBUTION_COLUMN,
            )
    return found


# Keys of the tables in `public` as the database holds them (partitions are left out: they
# follow their parent). For each key: its columns, and for a foreign key the referenced
# table, columns and delete action.
_KEYS_SQL = """
SELECT c.relname, k.contype, k.conname,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
       f.relname,
       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i),
       k.confdeltype
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
LEFT JOIN pg_class f ON f.oid = k.confrelid
WHERE k.contype IN ('p', 'u', 'f') AND k.conparentid = 0
  AND c.relnamespace = 'public'::regnamespace AND NOT c.relispartition
UNION ALL
SELECT c.relname, 'i', i.relname,
       ARRAY(SELECT a.attname FROM unnest(x.indkey) n JOIN pg_attribute a
             ON a.attrelid = x.indrelid AND a.attnum = n),
       NULL, NULL, NULL
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
WHERE x.indisunique AND NOT x.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
  AND c.relnamespace = 'public'::regnamespace AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)
"""

_TABLES_SQL = """
SELECT relname FROM pg_class
WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
  AND relname NOT IN ('spatial_ref_sys', 'alembic_version')
"""


def key_problems(connection: Any, declared: dict[str, tuple[Placement, str]]) -> list[str]:
    """Every way the database's tables break Citus's rules, as sentences (none: it fits).

    `connection` is a SQLAlchemy connection or session; `declared` maps table names to their
    placement and distribution column (`placements(Base.metadata)`). A table must be
    declared; a distributed or identity table's primary and unique keys must contain its
    distribution column; a foreign key between district tables must carry the district code
    on both sides in the same position and must not set it NULL; reference tables reference
    only reference tables; nothing but a district table references a district table.
    """
    problems = []
    for (name,) in connection.execute(text(_TABLES_SQL)):
        if name not in declared:
            problems.append(f"table {name} declares no placement (distributed, reference …)")
    for table, kind, key, columns, target, target_columns, on_delete in connection.execute(
        text(_KEYS_SQL)
    ):
        placement, column = declared.get(table, (None, DISTRIBUTION_COLUMN))
        sharded = placement in (Placement.DISTRIBUTED, Placement.IDENTITY)
        if kind in ("p", "u", "i") and sharded and column not in columns:
            problems.append(f"{table}: key {key} ({', '.join(columns)}) lacks {column}")
        if kind != "f":
            continue
        target_placement = declared.get(target, (None, ""))[0]
        # Every node holds the reference tables, and the coordinator its local ones.
        if (
            target_placement is Placement.REFERENCE
            or placement is target_placement is Placement.LOCAL
        ):
            continue
        if placement is not Placement.DISTRIBUTED or target_placement is not Placement.DISTRIBUTED:
            problems.append(
                f"{table}: foreign key {key} from a {placement} table to the {target_placement} "
                f"table {target} cannot be kept by Citus"
            )
            continue
        if (
            DISTRIBUTION_COLUMN not in columns
            or DISTRIBUTION_COLUMN not in target_columns
            or columns.index(DISTRIBUTION_COLUMN) != target_columns.index(DISTRIBUTION_COLUMN)
        ):
            problems.append(
                f"{table}: foreign key {key} ({', '.join(columns)}) → {target} "
                f"({', '.join(target_columns)}) does not pair the district codes"
            )
        if on_delete in ("n", "d"):
            problems.append(
                f"{table}: foreign key {key} sets its columns NULL or DEFAULT on delete, "
                "which Citus refuses when the district code is part of it"
            )
    return problems
