"""The share triggers under Citus (gis.share_triggers): `gridgov db citus-ddl` drops the
statement-level triggers before distributing (Citus refuses them) and creates row-level ones
after, for every table that feeds the change feed; the row-level form writes the same changes
as the statement-level one (checked here on plain PostgreSQL, where both run)."""

from __future__ import annotations

from sqlalchemy import text

from gis.db import Base
from gis.distribution import citus_ddl
from gis.share_triggers import CHANGED, row_level_sql
from people import sharing
from people.sharing import GrantCreate
from tests.events.workflow_city import WEST, file

FEEDING = {"resident", "special_group", "house", "rental", "rental_tenant", "organisation", "event"}


def test_the_citus_plan_swaps_the_share_triggers_around_the_distribution():
    plan = citus_ddl(Base.metadata)
    distributing = [i for i, s in enumerate(plan) if "create_distributed_table" in s]
    assert set(CHANGED) == FEEDING
    assert plan.index("SET citus.enable_unsafe_triggers TO on;") < distributing[0]
    for table in FEEDING:
        for op in ("insert", "update", "delete"):
            dropped = plan.index(f"DROP TRIGGER IF EXISTS share_change_{op} ON {table};")
            assert dropped < distributing[0]
        created = [
            i
            for i, s in enumerate(plan)
            if s.startswith(
                f"CREATE TRIGGER share_change_row AFTER INSERT OR UPDATE OR DELETE ON {table} "
            )
            and "FOR EACH ROW" in s
        ]
        function = [
            i
            for i, s in enumerate(plan)
            if s.startswith(f"CREATE OR REPLACE FUNCTION share_change_{table}()")
        ]
        assert len(created) == len(function) == 1
        assert distributing[-1] < function[0] < created[0]
        # No transition tables in the Citus form.
        assert "new_rows" not in plan[function[0]] and "old_rows" not in plan[function[0]]


def _changes(session, event_id: int) -> set[tuple]:
    return {
        tuple(r)
        for r in session.execute(
            text(
                "SELECT dataset, grid_code, tag FROM share_change WHERE record_id = :id "
                "AND dataset = 'events_by_category'"
            ),
            {"id": event_id},
        )
    }


def test_row_level_triggers_write_what_statement_level_ones_do(city):
    session = city["session"]
    # Events feed the changes while a department holds a grant of them.
    sharing.grant(
        session,
        actor=city["admin"],
        data=GrantCreate(
            department_id=city["fire"].department_id,
            dataset="events_by_category",
            fields={"code": "masked"},
            area_code=WEST,
            categories=["02"],
            purpose="消防隐患联动处置",
        ),
    )

    def file_and_recategorise() -> int:
        event = file(city, category="0201", lon=111.285, lat=30.705)
        session.execute(
            text("UPDATE event SET category_code = '0101' WHERE id = :id"), {"id": event.id}
        )
        return event.id

    by_statement = _changes(session, file_and_recategorise())
    for table in CHANGED:
        for statement in row_level_sql(table):
            session.execute(text(statement))
    by_row = _changes(session, file_and_recategorise())
    # Worked out by hand: filed as 0201 in WEST, then re-categorised to 0101 (old and new rows).
    expected = {("events_by_category", WEST, "0201"), ("events_by_category", WEST, "0101")}
    assert by_statement == expected
    assert by_row == expected
