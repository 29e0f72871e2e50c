"""Task generation (网格员任务: 出租屋与流动人口 rules) for one district against a bare query of
the same rows.

The district with the most residents, with the rentals and 居住登记 dates the demo seed gives
it (demo.rentals: every rented house let, nine floating residents in ten registered in time).

Ours: `people.task_rules.generate_tasks` for that district — raising every task through
`people.tasks.raise_task` (first run, rolled back each time) and the nightly re-run that
finds every task already open. Baseline, in the same run on the same database: the five
rules' selections as plain SQL returning the matching ids, with no task written.
"""

from __future__ import annotations

import statistics

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import Figure, timed
from gis.clock import local_today
from people.models import TaskKind
from people.task_rules import RuleRun, generate_tasks

RUNS = 3

# The rules' selections (people.task_rules), written out by hand.
_ACTIVE = (
    "FROM rental r JOIN house h ON h.id = r.house_id AND h.district_code = r.district_code "
    "JOIN building b ON b.id = h.building_id "
    "WHERE r.status = 'active' AND b.grid_code IS NOT NULL AND r.district_code = :d "
)
_LIVING = (
    "EXISTS (SELECT 1 FROM rental_tenant t WHERE t.rental_id = r.id "
    "AND t.district_code = r.district_code AND t.moved_out IS NULL)"
)
_OCCUPANTS = (
    "(SELECT count(*) FROM rental_tenant t WHERE t.rental_id = r.id "
    "AND t.district_code = r.district_code AND t.moved_out IS NULL)"
)
_FLOATING = (
    "FROM resident WHERE residence_type = 'floating' AND active AND grid_code IS NOT NULL "
    "AND district_code = :d "
)
BARE = [
    text(f"SELECT r.id {_ACTIVE} AND r.lease_start < :today - 30 AND NOT {_LIVING}"),
    text(
        f"SELECT id {_FLOATING} AND registered_on IS NULL AND arrival_date IS NOT NULL "
        "AND arrival_date < :today - 30"
    ),
    text(f"SELECT id {_FLOATING} AND permit_expiry IS NOT NULL AND permit_expiry <= :today + 30"),
    text(
        f"SELECT r.id {_ACTIVE} AND ({_OCCUPANTS} > r.rooms * 2 OR h.area_m2 < {_OCCUPANTS} * 5.0)"
    ),
    text(f"SELECT r.id {_ACTIVE} AND r.lease_end < :today AND {_LIVING}"),
    text(
        "SELECT h.id FROM house h JOIN building b ON b.id = h.building_id "
        "WHERE h.use = 'rented' AND b.grid_code IS NOT NULL AND h.district_code = :d "
        "AND NOT EXISTS (SELECT 1 FROM rental r WHERE r.house_id = h.id "
        "AND r.district_code = h.district_code AND r.status = 'active')"
    ),
]


def rental_figures(engine: Engine, label: str) -> list[Figure]:
    """Task generation for the most populous district (first run, and the re-run with every
    task open) against the rules' bare selections (six: the unregistered rule has two)."""
    today = local_today()
    with engine.begin() as connection:
        district, residents = connection.execute(
            text(
                "SELECT district_code, count(*) FROM resident GROUP BY district_code "
                "ORDER BY count(*) DESC, district_code LIMIT 1"
            )
        ).one()
        rentals = connection.execute(
            text("SELECT count(*) FROM rental WHERE district_code = :d"), {"d": district}
        ).scalar_one()

    def generate(session: Session) -> dict[TaskKind, RuleRun]:
        return generate_tasks(session, today=today, district_code=district)

    with Session(engine) as session:
        first_s, rerun_s = [], []
        for _ in range(RUNS):
            savepoint = session.begin_nested()
            first_s.append(timed(lambda: generate(session)))
            rerun_s.append(timed(lambda: generate(session)))
            savepoint.rollback()
        tasks = sum(run.matched for run in generate(session).values())
        params = {"d": district, "today": today}
        bare_s = [
            timed(lambda: [session.execute(q, params).all() for q in BARE]) for _ in range(RUNS)
        ]
        session.rollback()
    name = (
        f"task generation, district {district} ({label}: {residents:,} residents, "
        f"{rentals:,} rentals, {tasks:,} tasks)"
    )
    baseline = "the rules' six selections as bare SQL (no task written)"
    bare = statistics.median(bare_s)
    first, rerun = statistics.median(first_s), statistics.median(rerun_s)
    return [
        Figure(name, "first run, raising every task (median)", first, "s", baseline, bare),
        Figure(name, "re-run, every task open (median)", rerun, "s", baseline, bare),
    ]


__all__ = ["rental_figures"]
