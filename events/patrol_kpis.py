"""Patrol figures that need the events (巡查考核): events a grid worker found per patrol hour
and the grid's proactive discovery rate (主动发现率), beside the coverage people.patrols
computes from the tracks (people never reads events, so the two meet here).

- events found: events the worker reported (sources grid_worker or inspection, reporter the
  worker) whose `reported_at` lies within one of the worker's patrols of the grid that week;
  per patrol hour = events found / hours on those patrols (None without patrol time).
- 主动发现率 of a grid in a week: of the events located in the grid and reported that week
  (any source: 12345 hotline, mailbox, apps, sensors, departments …), the share reported by
  the grid's own workers themselves (a proactive source and a reporter among the grid's
  workers). Stricter than the KPI table's rate, which counts any grid worker's reports: a
  grid's coverage is judged by what its own workers found.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from events.kpis import PROACTIVE_SOURCES
from events.models import DepartmentUnit, Event
from events.schemas import PatrolKpiRow, UnitPatrolSummary
from grid.models import Grid
from people.access import Actor
from people.models import StaffGrid
from people.patrols import COVERAGE_READERS, coverage, week_bounds


def patrol_kpis(
    session: Session,
    *,
    actor: Actor,
    day: date,
    grid_code: str | None = None,
    staff_id: int | None = None,
) -> list[PatrolKpiRow]:
    """Coverage rows of the week of `day` (people.patrols.coverage, same scope) with the
    events found per patrol hour and each grid's 主动发现率."""
    rows = coverage(session, actor=actor, day=day, grid_code=grid_code, staff_id=staff_id)
    _, since, until = week_bounds(day)
    grids = sorted({r.grid_code for r in rows})
    proactive = Event.source.in_(sorted(PROACTIVE_SOURCES))
    grid_totals: dict[str, tuple[int, int]] = {}
    if grids:
        own_worker = (
            select(StaffGrid.staff_id)
            .where(StaffGrid.grid_code == Event.grid_code, StaffGrid.staff_id == Event.reporter_id)
            .exists()
        )
        for grid, total, found in session.execute(
            select(
                Event.grid_code,
                func.count(),
                func.count().filter(and_(proactive, own_worker)),
            )
            .where(
                Event.grid_code.in_(grids),
                Event.reported_at >= since,
                Event.reported_at < until,
            )
            .group_by(Event.grid_code)
        ):
            if grid is not None:
                grid_totals[grid] = (total, found)
    found_by: dict[tuple[int, str], int] = defaultdict(int)
    for row in rows:
        if not row.intervals:
            continue
        within = or_(
            *(and_(Event.reported_at >= a, Event.reported_at <= b) for a, b in row.intervals)
        )
        found_by[(row.staff_id, row.grid_code)] = (
            session.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.reporter_id == row.staff_id, proactive, within)
            )
            or 0
        )
    result = []
    for row in rows:
        found = found_by[(row.staff_id, row.grid_code)]
        total, by_workers = grid_totals.get(row.grid_code, (0, 0))
        hours = row.patrol_s / 3600
        result.append(
            PatrolKpiRow(
                **row.model_dump(exclude={"intervals"}),
                intervals=row.intervals,
                events_found=found,
                events_per_patrol_hour=round(found / hours, 3) if hours > 0 else None,
                grid_events=total,
                grid_events_found_by_workers=by_workers,
                proactive_rate=round(by_workers / total, 4) if total else None,
            )
        )
    return result


def unit_patrol_summary(
    session: Session, *, actor: Actor, unit_id: int, day: date
) -> UnitPatrolSummary | None:
    """The week's patrols of the grids meeting a unit's jurisdiction, summed over the grids of
    the actor's scope; None for roles without patrol figures (dispatchers) or a unit with no
    area."""
    if actor.role not in COVERAGE_READERS:
        return None
    grids = set(
        session.scalars(
            select(Grid.code)
            .join(DepartmentUnit, func.ST_Intersects(Grid.geom, DepartmentUnit.geom))
            .where(DepartmentUnit.id == unit_id)
        )
    )
    if not grids:
        return None
    rows = [r for r in patrol_kpis(session, actor=actor, day=day) if r.grid_code in grids]
    shares = [r.building_share for r in rows if r.building_share is not None]
    by_grid = {r.grid_code: (r.grid_events, r.grid_events_found_by_workers) for r in rows}
    events = sum(total for total, _ in by_grid.values())
    found = sum(own for _, own in by_grid.values())
    return UnitPatrolSummary(
        week=week_bounds(day)[0],
        grids=len(by_grid),
        workers=len({r.staff_id for r in rows}),
        patrols=sum(r.patrols for r in rows),
        hours=round(sum(r.patrol_s for r in rows) / 3600, 1),
        km=round(sum(r.distance_m for r in rows) / 1000, 2),
        mean_building_share=round(sum(shares) / len(shares), 4) if shares else None,
        proactive_rate=round(found / events, 4) if events else None,
    )


__all__ = ["patrol_kpis", "unit_patrol_summary"]
