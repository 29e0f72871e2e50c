"""The schema fits Citus distributed by district: every key checked on the migrated database.

Citus accepts a distributed table only if its primary and unique keys contain the
distribution column, and a foreign key between distributed tables only if both sides carry
it in the same position and do not set it NULL. The check reads the keys from the database
itself (pg_constraint, pg_index), so a migration that breaks a rule fails here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

import events.models  # noqa: F401  (the tables register on Base.metadata)
import gis.jobs  # noqa: F401
import grid.models  # noqa: F401
import people.models  # noqa: F401
from gis.db import Base
from gis.distribution import Placement, citus_ddl, key_problems, placements
from tests.api.cli_run import run

# The large tables named by the plan, which must be distributed by district.
LARGE = {"grid", "building", "house", "resident", "residence", "event", "event_step", "outbox"}
# Small tables read on every request, which every node must hold.
SMALL = {"admin_unit", "event_category", "dispatch_rule", "department", "department_unit"}
SMALL |= {"work_calendar", "staff"}


@pytest.fixture
def declared() -> dict[str, tuple[Placement, str]]:
    return placements(Base.metadata)


def test_every_key_of_the_migrated_schema_fits_citus(session, declared):
    assert key_problems(session, declared) == []


def test_large_tables_are_distributed_and_small_ones_are_reference_tables(declared):
    assert {t for t in LARGE if declared[t][0] is Placement.DISTRIBUTED} == LARGE
    assert {t for t in SMALL if declared[t][0] is Placement.REFERENCE} == SMALL
    assert declared["person_identity"] == (Placement.IDENTITY, "doc_hash")


def test_every_district_table_carries_a_not_null_district_code(session, declared):
    nullable = session.execute(
        text(
            "SELECT table_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'district_code'"
        )
    ).all()
    columns = dict(nullable)
    for table, (placement, _) in declared.items():
        if placement is Placement.DISTRIBUTED:
            assert columns.get(table) == "NO", table


def _scratch(session, ddl: str) -> None:
    session.execute(text(ddl))


def test_a_unique_key_without_the_district_code_is_found(session, declared):
    _scratch(session, "ALTER TABLE building ADD CONSTRAINT scratch_code UNIQUE (code)")
    problems = key_problems(session, declared)
    assert problems == ["building: key scratch_code (code) lacks district_code"]


def test_a_unique_index_without_the_district_code_is_found(session, declared):
    _scratch(session, "CREATE UNIQUE INDEX scratch_sha ON attachment (sha256)")
    assert key_problems(session, declared) == [
        "attachment: key scratch_sha (sha256) lacks district_code"
    ]


def test_a_new_table_must_declare_where_it_lives(session, declared):
    _scratch(session, "CREATE TABLE scratch_thing (id serial PRIMARY KEY)")
    assert key_problems(session, declared) == [
        "table scratch_thing declares no placement (distributed, reference …)"
    ]


DISTRICT_PAIR = """
CREATE TABLE scratch_parent (id {key}, district_code varchar(6),
    PRIMARY KEY (id, district_code));
CREATE TABLE scratch_child (id int, district_code varchar(6), parent_id {key},
    PRIMARY KEY (id, district_code));
"""


def _pair(session, declared, foreign_key: str, key: str = "int") -> list[str]:
    _scratch(session, DISTRICT_PAIR.format(key=key))
    _scratch(session, f"ALTER TABLE scratch_child ADD CONSTRAINT scratch_fk {foreign_key}")
    both = dict(declared)
    both["scratch_parent"] = both["scratch_child"] = (Placement.DISTRIBUTED, "district_code")
    return key_problems(session, both)


def test_a_foreign_key_pairing_the_district_codes_with_cascade_is_accepted(session, declared):
    fk = (
        "FOREIGN KEY (parent_id, district_code) REFERENCES scratch_parent (id, district_code) "
        "ON DELETE CASCADE"
    )
    assert _pair(session, declared, fk) == []


def test_a_foreign_key_that_sets_null_on_delete_is_found(session, declared):
    fk = (
        "FOREIGN KEY (parent_id, district_code) REFERENCES scratch_parent (id, district_code) "
        "ON DELETE SET NULL"
    )
    [problem] = _pair(session, declared, fk)
    assert problem.startswith("scratch_child: foreign key scratch_fk sets its columns NULL")


def test_a_foreign_key_that_crosses_districts_is_found(session, declared):
    # The child's district code points at the parent's id: the pair is there but crossed.
    fk = "FOREIGN KEY (district_code, parent_id) REFERENCES scratch_parent (id, district_code)"
    [problem] = _pair(session, declared, fk, key="varchar(6)")
    assert "does not pair the district codes" in problem


def test_a_reference_table_may_not_point_at_a_district_table(session, declared):
    _scratch(
        session,
        "ALTER TABLE staff ADD COLUMN scratch_grid varchar(15), "
        "ADD COLUMN district_code varchar(6), ADD CONSTRAINT scratch_staff_grid "
        "FOREIGN KEY (scratch_grid, district_code) REFERENCES grid (code, district_code)",
    )
    [problem] = key_problems(session, declared)
    assert problem.startswith("staff: foreign key scratch_staff_grid from a reference table")


def test_the_plan_distributes_reference_tables_first_and_every_district_table_once(declared):
    plan = citus_ddl(Base.metadata)
    reference = [i for i, s in enumerate(plan) if "create_reference_table" in s]
    distributed = [s for s in plan if "create_distributed_table" in s and "'district_code'" in s]
    assert max(reference) < min(i for i, s in enumerate(plan) if "create_distributed_table" in s)
    named = {s.split("'")[1] for s in distributed}
    assert named == {t for t, (p, _) in declared.items() if p is Placement.DISTRIBUTED}
    anchor = distributed[0].split("'")[1]
    assert all(f"colocate_with => '{anchor}'" in s for s in distributed[1:])
    assert (
        "SELECT create_distributed_table('person_identity', 'doc_hash', colocate_with => 'none');"
        in plan
    )
    # The household ↔ resident cycle: dropped before, added back after.
    first, last = reference[0], max(i for i, s in enumerate(plan) if "create_distributed" in s)
    dropped = [i for i, s in enumerate(plan) if s.startswith("ALTER TABLE household DROP")]
    added = [i for i, s in enumerate(plan) if s.startswith("ALTER TABLE household ADD")]
    assert plan[dropped[0]].endswith("fk_household_head_id_resident;") and dropped[0] < first
    assert "fk_household_head_id_resident" in plan[added[0]] and added[0] > last


def test_citus_ddl_command_prints_the_plan(database_url):
    result = run("db", "citus-ddl", database_url=database_url, check=True)
    lines = [line for line in result.stdout.splitlines() if not line.startswith("--")]
    assert lines == citus_ddl(Base.metadata)


def test_citus_ddl_command_refuses_a_schema_that_breaks_a_rule(engine, database_url):
    with engine.begin() as connection:
        connection.execute(text("CREATE UNIQUE INDEX scratch_ref ON attachment (sha256)"))
    try:
        result = run("db", "citus-ddl", database_url=database_url)
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX scratch_ref"))
    assert result.returncode == 1
    assert "attachment: key scratch_ref (sha256) lacks district_code" in result.stderr
    assert "create_distributed_table" not in result.stdout
