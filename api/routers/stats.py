"""Statistics for dashboards: event KPIs (考核指标), population and overdue visits, each
limited by the services to the caller's area, unit or grids; no names, no ID numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import allow
from api.deps import SessionDep
from events.kpis import READ_KPIS, KpiGrouping, kpis, period_bounds
from people import special_groups as groups
from people.access import READ_AGGREGATES, Actor
from people.stats import AreaPopulation, population_stats

router = APIRouter(prefix="/api/stats", tags=["stats 统计"])

Aggregates = Annotated[Actor, allow(READ_AGGREGATES)]


class KpiRead(BaseModel):
    """The indicators of one unit, department, grid, grid worker or district."""

    key: str | None = Field(description="unit/department/staff id, grid or district code")
    name: str
    reported: int
    voided: int
    registered: int
    closed: int
    closed_on_time: int
    open: int
    overdue: int
    signs_ended: int
    signs_on_time: int
    handled: int
    reworked: int
    returned: int
    mean_handling_hours: float | None
    valid_report_rate: float | None
    closure_rate: float | None
    on_time_closure_rate: float | None
    on_time_sign_rate: float | None
    rework_rate: float | None
    score: float | None = Field(description="综合得分 0–100")


class KpiReport(BaseModel):
    """KPIs of the events reported in [start, end), one row per group."""

    by: str
    start: datetime
    end: datetime
    rows: list[KpiRead]


@router.get("/kpis", response_model=KpiReport)
def event_kpis(
    session: SessionDep,
    actor: Annotated[Actor, allow(READ_KPIS)],
    by: KpiGrouping = "unit",
    period: Annotated[
        str | None,
        Query(description="2026, 2026-Q4, 2026-11 or 2026-11-23 (China time); default this month"),
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="first day")] = None,
    to: Annotated[date | None, Query(description="last day (included)")] = None,
) -> KpiReport:
    """Performance indicators of the events reported in a period, in my scope."""
    start, end = period_bounds(period, start=from_, end=to)
    rows = kpis(session, actor=actor, start=start, end=end, by=by)
    return KpiReport(
        by=by,
        start=start,
        end=end,
        rows=[
            KpiRead(
                key=r.key,
                name=r.name,
                reported=r.reported,
                voided=r.voided,
                registered=r.registered,
                closed=r.closed,
                closed_on_time=r.closed_on_time,
                open=r.open,
                overdue=r.overdue,
                signs_ended=r.signs_ended,
                signs_on_time=r.signs_on_time,
                handled=r.handled,
                reworked=r.reworked,
                returned=r.returned,
                mean_handling_hours=r.mean_handling_hours,
                valid_report_rate=r.valid_report_rate,
                closure_rate=r.closure_rate,
                on_time_closure_rate=r.on_time_closure_rate,
                on_time_sign_rate=r.on_time_sign_rate,
                rework_rate=r.rework_rate,
                score=r.score,
            )
            for r in rows
        ],
    )


@router.get("/population", response_model=list[AreaPopulation])
def population(
    session: SessionDep,
    actor: Aggregates,
    by: Literal["grid", "community", "street", "district"] = "grid",
    area: Annotated[
        str | None, Query(description="admin code (district/street/community) to narrow to")
    ] = None,
) -> list[AreaPopulation]:
    """Resident counts per grid, community, street or district in my scope (no names)."""
    return population_stats(session, actor=actor, level=by, area_code=area)


@router.get("/overdue-visits", response_model=list[groups.GridOverdue] | list[groups.WorkerOverdue])
def overdue_visits(
    session: SessionDep, actor: Aggregates, by: Literal["grid", "worker"] = "grid"
) -> list[groups.GridOverdue] | list[groups.WorkerOverdue]:
    """Overdue special-group visits counted per grid or per grid worker (no resident names)."""
    if by == "worker":
        return groups.overdue_by_worker(session, actor=actor)
    return groups.overdue_by_grid(session, actor=actor)
