"""Statistics for dashboards: event KPIs (考核指标), population and overdue visits, each
limited by the services to the caller's area, unit or grids; no names, no ID numbers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.http.auth import allow
from api.http.deps import ReadSessionDep
from api.schemas import KpiReport
from events.kpis import READ_KPIS, KpiGrouping, citizen_kpis, kpis, period_bounds, review_kpis
from events.schemas import ReviewKpis
from people import special_groups as groups
from people.access import READ_AGGREGATES, Actor
from people.schemas import GridOverdue, WorkerOverdue
from people.stats import AreaPopulation, population_stats

router = APIRouter(prefix="/api/stats", tags=["stats 统计"])

Aggregates = Annotated[Actor, allow(READ_AGGREGATES)]


@router.get("/kpis", response_model=KpiReport)
def event_kpis(
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(READ_KPIS)],
    by: KpiGrouping = "unit",
    period: Annotated[
        str | None,
        Query(description="2026, 2026-Q4, 2026-11 or 2026-11-23 (China time); default this month"),
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="first day")] = None,
    to: Annotated[date | None, Query(description="last day (included)")] = None,
) -> KpiReport:
    """Performance indicators of the events reported in a period, in my scope, with the
    citizen-service ones (受理量, 直办率, 按时答复率, 回访率, 满意率, 重办率)."""
    start, end = period_bounds(period, start=from_, end=to)
    rows = kpis(session, actor=actor, start=start, end=end, by=by)
    citizen = citizen_kpis(session, actor=actor, start=start, end=end)
    return KpiReport(by=by, start=start, end=end, rows=rows, citizen=citizen)


@router.get("/review-kpis", response_model=ReviewKpis)
def return_review_kpis(
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(READ_KPIS)],
    period: Annotated[
        str | None,
        Query(description="2026, 2026-Q4, 2026-11 or 2026-11-23 (China time); default this month"),
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="first day")] = None,
    to: Annotated[date | None, Query(description="last day (included)")] = None,
) -> ReviewKpis:
    """Return review per unit (退单数, 退单率, accepted returns, 派遣准确率, 争议数) of the events
    reported in a period, in my scope; a unit's dispatcher sees their unit's row."""
    start, end = period_bounds(period, start=from_, end=to)
    return review_kpis(session, actor=actor, start=start, end=end)


@router.get("/population", response_model=list[AreaPopulation])
def population(
    session: ReadSessionDep,
    actor: Aggregates,
    by: Literal["grid", "community", "street", "district"] = "grid",
    area: Annotated[
        str | None, Query(description="admin code (district/street/community) to narrow to")
    ] = None,
) -> list[AreaPopulation]:
    """Resident counts per grid, community, street or district in my scope (no names)."""
    return population_stats(session, actor=actor, level=by, area_code=area)


@router.get("/overdue-visits", response_model=list[GridOverdue] | list[WorkerOverdue])
def overdue_visits(
    session: ReadSessionDep, actor: Aggregates, by: Literal["grid", "worker"] = "grid"
) -> list[GridOverdue] | list[WorkerOverdue]:
    """Overdue special-group visits counted per grid or per grid worker (no resident names)."""
    if by == "worker":
        return groups.overdue_by_worker(session, actor=actor)
    return groups.overdue_by_grid(session, actor=actor)
