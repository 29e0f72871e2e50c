"""研判 analysis for leaders and the command centre: Gi* hot spots of a district's grids and the
weekly 研判 report (JSON or xlsx); aggregates only, the district inside the caller's area."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.http.auth import allow
from api.http.deps import ReadSessionDep
from events.exceptions import InvalidReport
from events.hotspots import READ_HOTSPOTS, HotspotReport, hotspots, period_of
from events.weekly_report import WeeklyReport, weekly_report, weekly_workbook
from grid.service import area_prefix
from people.access import Actor

router = APIRouter(prefix="/api/analysis", tags=["analysis 研判"])

Readers = Annotated[Actor, allow(READ_HOTSPOTS)]
District = Annotated[
    str | None,
    Query(max_length=12, description="区县代码 (6 digits); default: my district"),
]
Week = Annotated[
    str | None, Query(max_length=10, description="ISO week, e.g. 2026-W48; default last week")
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def own_district(actor: Actor, district: str | None) -> str:
    """The district asked for, or the caller's own when their area is one district."""
    if district and district.strip():
        return district.strip()
    if actor.area_code and len(area_prefix(actor.area_code)) >= 6:
        return area_prefix(actor.area_code)[:6]
    raise InvalidReport("请给出区县代码 district (name the district: ?district=420502)")


@router.get("/hotspots", response_model=HotspotReport)
def district_hotspots(
    session: ReadSessionDep,
    actor: Readers,
    district: District = None,
    category: Annotated[
        str | None, Query(max_length=8, description="大类 (2 digits) or 小类 (4 digits)")
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="first day")] = None,
    to: Annotated[date | None, Query(description="last day (included)")] = None,
) -> HotspotReport:
    """热点分析: Gi* z, p and class (热点/冷点 99/95/90%, 不显著) of every grid of the district for
    the events reported from..to (default the last 7 days), and 新出现/持续/消退 against the
    period of the same length before."""
    start, end = period_of(from_, to)
    return hotspots(
        session,
        actor=actor,
        district=own_district(actor, district),
        start=start,
        end=end,
        category=category,
    )


@router.get("/weekly.xlsx", response_class=Response)
def weekly_xlsx(
    session: ReadSessionDep, actor: Readers, district: District = None, week: Week = None
) -> Response:
    """The weekly 研判 report as an xlsx workbook (a sheet per section)."""
    report = weekly_report(session, actor=actor, district=own_district(actor, district), week=week)
    return Response(
        weekly_workbook(report),
        media_type=XLSX,
        headers={
            "Content-Disposition": (
                f'attachment; filename="weekly-{report.district_code}-{report.week}.xlsx"'
            ),
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/weekly", response_model=WeeklyReport)
def weekly(
    session: ReadSessionDep, actor: Readers, district: District = None, week: Week = None
) -> WeeklyReport:
    """每周研判: categories week over week, hot spots, recurrence clusters, weakest units."""
    return weekly_report(session, actor=actor, district=own_district(actor, district), week=week)
