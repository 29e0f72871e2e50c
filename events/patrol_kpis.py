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
from events.models import Event
from events.schemas import PatrolKpiRow
from people.access import Actor
from people.models import StaffGrid
from people.patrols import coverage, week_bounds


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


__all__ = ["patrol_kpis"]
