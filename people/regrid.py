"""After a re-cut (网格调整): residents, households, organisations, visit plans and grid
workers' scopes follow the new grids; called by api/recut.py in the re-cut's transaction.

Where a person lives decides their grid: a resident, household or organisation goes to the
grid of its building as `grid.recut` has just re-assigned it. A resident who has moved away
keeps the record of the house they last lived in, so the record follows that house. A row
with no house or building is placed by its point (organisations) or keeps its grid code if the
new cut reused it; otherwise it has no grid any more and is listed as not placed.

Grid workers keep the grids whose codes the new cut reuses (same code, same responsibility);
a worker of a removed code loses that grid and is listed for reassignment, because only a
person can decide who takes on the new ground. A visit plan (走访计划: an open special-group
membership) whose resident changed grid keeps its responsible worker if that worker covers
the new grid, else it is released to the new grid's workers (responsible worker cleared).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import String

from grid import service as grid_service
from people.models import Organisation, Staff, StaffGrid

__all__ = [
    "PeopleRegrid",
    "WorkerToReassign",
    "grid_workers",
    "reassign_grids",
    "restore_worker_scopes",
]

Pair = tuple[str | None, str | None]


@dataclass(frozen=True)
class WorkerToReassign:
    """A grid worker who covered a grid the re-cut removed."""

    staff_id: int
    username: str
    full_name: str
    removed_grid: str
    remaining_grids: list[str]


@dataclass
class PeopleRegrid:
    """What moved, counted by (old grid, new grid); None is no grid."""

    residents: Counter[Pair] = field(default_factory=Counter)
    households: Counter[Pair] = field(default_factory=Counter)
    organisations: Counter[Pair] = field(default_factory=Counter)
    visit_plans: Counter[Pair] = field(default_factory=Counter)
    # moved-away residents whose record followed the house they last lived in
    former_residents: int = 0
    visit_plans_released: int = 0
    unplaced_residents: list[int] = field(default_factory=list)
    unplaced_households: list[str] = field(default_factory=list)
    unplaced_organisations: list[str] = field(default_factory=list)


def _codes(statement: str) -> TextClause:
    """A statement whose `:codes` parameter is a list of grid codes."""
    return text(statement).bindparams(bindparam("codes", type_=ARRAY(String)))


def grid_workers(session: Session, *, community_code: str) -> dict[str, list[int]]:
    """Staff ids of the workers of each grid of a community; read before a re-cut."""
    rows = session.execute(
        select(StaffGrid.grid_code, StaffGrid.staff_id)
        .where(StaffGrid.grid_code.startswith(community_code, autoescape=True))
        .order_by(StaffGrid.grid_code, StaffGrid.staff_id)
    )
    workers: dict[str, list[int]] = {}
    for grid_code, staff_id in rows:
        workers.setdefault(grid_code, []).append(int(staff_id))
    return workers


def restore_worker_scopes(
    session: Session, *, before: Mapping[str, Sequence[int]]
) -> list[WorkerToReassign]:
    """Give workers back the grids whose codes still exist; list those of removed grids.

    `before` is `grid_workers` read before the re-cut (deleting a grid drops its scope rows).
    """
    session.flush()
    pairs = [(code, staff_id) for code, ids in before.items() for staff_id in ids]
    if not pairs:
        return []
    existing = _existing(session, list(before))
    session.execute(
        text(
            "INSERT INTO staff_grid (staff_id, grid_code, district_code) "
            "SELECT staff, code, substr(code, 1, 6) FROM "
            "unnest(CAST(:staff AS integer[]), CAST(:codes AS varchar[])) AS t(staff, code) "
            "ON CONFLICT DO NOTHING"
        ),
        {
            "staff": [staff_id for code, staff_id in pairs if code in existing],
            "codes": [code for code, _ in pairs if code in existing],
        },
    )
    session.expire_all()
    removed = [(code, staff_id) for code, staff_id in pairs if code not in existing]
    if not removed:
        return []
    staff = {
        s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_({s for _, s in removed})))
    }
    remaining: dict[int, list[str]] = {}
    for staff_id, code in session.execute(
        select(StaffGrid.staff_id, StaffGrid.grid_code)
        .where(StaffGrid.staff_id.in_(staff))
        .order_by(StaffGrid.grid_code)
    ):
        remaining.setdefault(int(staff_id), []).append(code)
    return [
        WorkerToReassign(
            staff_id,
            staff[staff_id].username,
            staff[staff_id].full_name,
            code,
            remaining.get(staff_id, []),
        )
        for code, staff_id in sorted(removed, key=lambda p: (p[0], staff[p[1]].username))
    ]


def reassign_grids(session: Session, *, grid_codes: Iterable[str]) -> PeopleRegrid:
    """Re-assign the people rows of these grids (old and new codes of a re-cut); flushes only.

    Candidates are rows assigned to one of `grid_codes` and rows whose building is now in
    one; each takes its building's grid (see the module docstring for the other cases).
    """
    codes = sorted(set(grid_codes))
    result = PeopleRegrid()
    if not codes:
        return result
    session.flush()
    _residents(session, codes, result)
    _households(session, codes, result)
    _organisations(session, codes, result)
    session.expire_all()
    return result


def _residents(session: Session, codes: list[str], result: PeopleRegrid) -> None:
    rows = session.execute(
        _codes(
            """
            WITH candidate AS (
                SELECT r.id, r.grid_code AS old_code, r.active,
                       COALESCE(r.house_id, (
                           SELECT rs.house_id FROM residence rs WHERE rs.resident_id = r.id
                           ORDER BY rs.moved_in DESC, rs.id DESC LIMIT 1
                       )) AS house_id
                FROM resident r
                WHERE r.grid_code = ANY(:codes)
                   OR r.house_id IN (
                       SELECT h.id FROM house h JOIN building b ON b.id = h.building_id
                       WHERE b.grid_code = ANY(:codes))
            ),
            target AS (
                SELECT c.id, c.old_code, c.active,
                       CASE WHEN c.house_id IS NOT NULL THEN b.grid_code
                            ELSE (SELECT g.code FROM grid g WHERE g.code = c.old_code)
                       END AS new_code
                FROM candidate c
                LEFT JOIN house h ON h.id = c.house_id
                LEFT JOIN building b ON b.id = h.building_id
            ),
            moved AS (
                UPDATE resident r SET grid_code = t.new_code
                FROM target t
                WHERE r.id = t.id AND r.grid_code IS DISTINCT FROM t.new_code
                RETURNING r.id
            )
            SELECT t.id, t.old_code, t.new_code, t.active FROM target t
            """
        ),
        {"codes": codes},
    ).all()
    moved: dict[int, Pair] = {}
    for resident_id, old, new, active in rows:
        if not active:
            result.former_residents += old != new
            continue
        result.residents[(old, new)] += 1
        if new is None:
            result.unplaced_residents.append(int(resident_id))
        if old != new:
            moved[int(resident_id)] = (old, new)
    result.unplaced_residents.sort()
    _visit_plans(session, moved, result)


def _visit_plans(session: Session, moved: Mapping[int, Pair], result: PeopleRegrid) -> None:
    """Count the open memberships of residents who changed grid; release uncovered workers."""
    if not moved:
        return
    rows = session.execute(
        text(
            """
            SELECT sg.id, sg.resident_id, sg.responsible_staff_id IS NOT NULL AND NOT EXISTS (
                       SELECT 1 FROM staff_grid s
                       WHERE s.staff_id = sg.responsible_staff_id AND s.grid_code = r.grid_code)
            FROM special_group sg JOIN resident r ON r.id = sg.resident_id
            WHERE sg.ended_on IS NULL AND sg.resident_id = ANY(CAST(:ids AS integer[]))
            """
        ),
        {"ids": list(moved)},
    ).all()
    release = [int(group_id) for group_id, _, uncovered in rows if uncovered]
    for _, resident_id, _ in rows:
        result.visit_plans[moved[int(resident_id)]] += 1
    if release:
        session.execute(
            text(
                "UPDATE special_group SET responsible_staff_id = NULL "
                "WHERE id = ANY(CAST(:ids AS integer[]))"
            ),
            {"ids": release},
        )
    result.visit_plans_released = len(release)


def _households(session: Session, codes: list[str], result: PeopleRegrid) -> None:
    rows = session.execute(
        _codes(
            """
            WITH target AS (
                SELECT hh.id, hh.code, hh.grid_code AS old_code,
                       CASE WHEN hh.house_id IS NOT NULL THEN b.grid_code
                            ELSE (SELECT g.code FROM grid g WHERE g.code = hh.grid_code)
                       END AS new_code
                FROM household hh
                LEFT JOIN house h ON h.id = hh.house_id
                LEFT JOIN building b ON b.id = h.building_id
                WHERE hh.grid_code = ANY(:codes) OR b.grid_code = ANY(:codes)
            ),
            moved AS (
                UPDATE household hh SET grid_code = t.new_code
                FROM target t
                WHERE hh.id = t.id AND hh.grid_code IS DISTINCT FROM t.new_code
                RETURNING hh.id
            )
            SELECT t.code, t.old_code, t.new_code FROM target t ORDER BY t.code
            """
        ),
        {"codes": codes},
    ).all()
    for code, old, new in rows:
        result.households[(old, new)] += 1
        if new is None:
            result.unplaced_households.append(str(code))


def _organisations(session: Session, codes: list[str], result: PeopleRegrid) -> None:
    rows = session.execute(
        _codes(
            """
            SELECT o.id, o.credit_code, o.grid_code, o.building_id, b.grid_code,
                   ST_X(o.geom), ST_Y(o.geom)
            FROM organisation o
            LEFT JOIN building b ON b.id = o.building_id
            WHERE o.grid_code = ANY(:codes) OR b.grid_code = ANY(:codes)
               OR (o.building_id IS NULL AND EXISTS (
                       SELECT 1 FROM grid g
                       WHERE g.code = ANY(:codes) AND ST_DWithin(g.geom, o.geom, 0.001)))
            ORDER BY o.credit_code
            """
        ),
        {"codes": codes},
    ).all()
    for org_id, credit_code, old, building_id, building_grid, lon, lat in rows:
        if building_id is not None:
            new = building_grid
        elif lon is not None and lat is not None:
            located = grid_service.locate_point(session, lon=lon, lat=lat, crs="cgcs2000")
            new = located.grid.code if located.grid else None
        else:
            new = old if old in _existing(session, [old]) else None
        if new != old:
            organisation = session.get(Organisation, int(org_id))
            assert organisation is not None
            organisation.grid_code = new
        result.organisations[(old, new)] += 1
        if new is None:
            result.unplaced_organisations.append(str(credit_code))
    session.flush()


def _existing(session: Session, codes: list[str | None]) -> set[str]:
    wanted = [c for c in codes if c]
    if not wanted:
        return set()
    return set(
        session.scalars(_codes("SELECT code FROM grid WHERE code = ANY(:codes)"), {"codes": wanted})
    )
