"""The weekly 研判 report (每周研判) of one district, for leaders and the command centre.

A week is an ISO week, Monday to Sunday in China time (`2026-W48`); the default is the last
complete week. Sections, all aggregates (no names of residents or reporters):

- categories (类别趋势): events reported (not voided) per 大类 this week and last week, the
  change and the change in per cent of last week's (None when last week had none); top 10;
- hot spots (热点网格): the grids Gi* finds significant this week (events.hotspots, all
  categories), hot and cold, with 新出现/持续/消退 against last week; grids that stopped being
  hot spots (消退) are listed too;
- recurrence (重复发生与源头治理): the district's recurrence clusters with events this week
  and the status of their 源头治理 task (events.recurrence, see `recurring_clusters`);
- units (承办单位): the KPIs (events.kpis) of the week's events per unit, the lowest
  指标得分 first, among units with at least MIN_REGISTERED_TO_RANK registered cases.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events.exceptions import InvalidReport
from events.hotspots import (
    FIRST_DAY,
    LAST_DAY,
    MEANINGS,
    GridHotspot,
    check_district,
    hotspots,
)
from events.kpis import kpis, period_bounds
from events.map_stats import MIN_REGISTERED_TO_RANK, area_actor
from events.models import Event, EventCategory, EventStatus
from events.recurrence import list_clusters
from gis.clock import CHINA_TZ, local_today
from gis.export_guard import xlsx_row
from people.access import Actor

TOP_CATEGORIES: Final = 10
WORST_UNITS: Final = 10
_WEEK: Final = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


class CategoryTrend(BaseModel):
    """Events of one 大类 this week and last week."""

    code: str
    name: str
    this_week: int
    last_week: int
    change: int
    change_pct: float | None  # per cent of last week's; None when last week had none


class ClusterLine(BaseModel):
    """A recurrence cluster and its 源头治理 task, as the report lists it."""

    category_name: str
    event_count: int
    first_reported_at: datetime
    last_reported_at: datetime
    task_status: str
    task_deadline: datetime | None
    overdue: bool
    lead_unit_name: str | None


class UnitLine(BaseModel):
    """One unit's figures for the week's events (from events.kpis)."""

    name: str
    reported: int
    registered: int
    closed: int
    on_time_closure_rate: float | None
    open: int
    overdue: int
    score: float | None


class WeeklyReport(BaseModel):
    """The weekly 研判 report of a district."""

    district_code: str
    district_name: str
    week: str  # 2026-W48
    start: datetime
    end: datetime
    last_day: date
    previous_start: datetime
    generated_at: datetime
    total_this_week: int
    total_last_week: int
    categories: list[CategoryTrend]
    hotspot_classes: dict[str, int]
    hotspot_trends: dict[str, int]
    hotspots: list[GridHotspot]
    hotspot_meanings: dict[str, str]
    grids_total: int
    clusters: list[ClusterLine]
    units: list[UnitLine]


def week_bounds(week: str | None, *, today: date | None = None) -> tuple[str, datetime, datetime]:
    """The ISO week `2026-W48` (default: the last complete week) and its [start, end)."""
    if week is None or not week.strip():
        day = (today or local_today()) - timedelta(days=7)
        year, number, _ = day.isocalendar()
    else:
        match = _WEEK.match(week.strip())
        if not match:
            raise InvalidReport(
                f"周 '{week[:20]}' 格式不对，应写作 2026-W48 (week must be an ISO week, "
                "e.g. 2026-W48)"
            )
        year, number = int(match[1]), int(match[2])
    try:
        if not FIRST_DAY.year < year < LAST_DAY.year:
            raise ValueError(year)
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InvalidReport(
            f"{year} 年没有第 {number} 周 (there is no ISO week {number} in {year}; weeks of "
            f"{FIRST_DAY.year + 1}–{LAST_DAY.year - 1} only)"
        ) from None
    start, end = period_bounds(start=monday, end=monday + timedelta(days=6))
    return f"{year}-W{number:02d}", start, end


def category_trends(
    session: Session, *, district_code: str, start: datetime, end: datetime
) -> list[CategoryTrend]:
    """Events (not voided) per 大类 in [start, end) and the week before, top TOP_CATEGORIES."""
    previous = start - (end - start)
    this_week = Event.reported_at >= start
    rows = session.execute(
        select(
            EventCategory.major_code,
            func.min(EventCategory.major_name),
            func.count().filter(this_week),
            func.count().filter(~this_week),
        )
        .join(EventCategory, EventCategory.id == Event.category_id)
        .where(
            Event.district_code == district_code,
            Event.reported_at >= previous,
            Event.reported_at < end,
            Event.status != EventStatus.VOIDED,
        )
        .group_by(EventCategory.major_code)
    ).all()
    trends = [
        CategoryTrend(
            code=code,
            name=name,
            this_week=now,
            last_week=before,
            change=now - before,
            change_pct=round(100.0 * (now - before) / before, 1) if before else None,
        )
        for code, name, now, before in rows
    ]
    trends.sort(key=lambda t: (-t.this_week, -t.last_week, t.code))
    return trends[:TOP_CATEGORIES]


# ---- 重复发生与源头治理 ------------------------------------------------------------------------
def recurring_clusters(
    session: Session, *, district_code: str, start: datetime, end: datetime
) -> list[ClusterLine]:
    """The district's recurrence clusters with events in [start, end) and the status of their
    源头治理 task."""
    return [
        ClusterLine(
            category_name=c.category_name,
            event_count=c.event_count,
            first_reported_at=c.first_reported_at,
            last_reported_at=c.last_reported_at,
            task_status=c.task_status_label,
            task_deadline=c.task_deadline,
            overdue=c.overdue,
            lead_unit_name=c.lead_unit_name,
        )
        for c in list_clusters(session, district_code=district_code, since=start, until=end)
    ]


def worst_units(
    session: Session, *, actor: Actor, start: datetime, end: datetime, now: datetime
) -> list[UnitLine]:
    """The units with the lowest 指标得分 for the events reported in [start, end)."""
    rows = kpis(session, actor=actor, start=start, end=end, by="unit", now=now)
    ranked = [
        r
        for r in rows
        if r.key is not None and r.score is not None and r.registered >= MIN_REGISTERED_TO_RANK
    ]
    ranked.sort(key=lambda r: (r.score, -r.overdue, r.name))
    return [
        UnitLine(
            name=r.name,
            reported=r.reported,
            registered=r.registered,
            closed=r.closed,
            on_time_closure_rate=r.on_time_closure_rate,
            open=r.open,
            overdue=r.overdue,
            score=r.score,
        )
        for r in ranked[:WORST_UNITS]
    ]


def weekly_report(
    session: Session,
    *,
    actor: Actor,
    district: str,
    week: str | None = None,
    now: datetime | None = None,
) -> WeeklyReport:
    """The weekly 研判 report of `district` for the ISO `week` (default: last complete week)."""
    name = check_district(session, actor=actor, district=district)
    code = district.strip()[:6]
    at = now or datetime.now(CHINA_TZ)
    label, start, end = week_bounds(week, today=at.astimezone(CHINA_TZ).date())
    spots = hotspots(session, actor=actor, district=code, start=start, end=end)
    significant = [g for g in spots.grids if g.hot_class != "不显著" or g.trend == "消退"]
    significant.sort(key=lambda g: (not g.hot_class.startswith("热点"), -abs(g.z), g.code))
    categories = category_trends(session, district_code=code, start=start, end=end)
    totals = session.execute(
        select(
            func.count().filter(Event.reported_at >= start),
            func.count().filter(Event.reported_at < start),
        ).where(
            Event.district_code == code,
            Event.reported_at >= spots.previous_start,
            Event.reported_at < end,
            Event.status != EventStatus.VOIDED,
        )
    ).one()
    return WeeklyReport(
        district_code=code,
        district_name=name,
        week=label,
        start=start,
        end=end,
        last_day=(end - timedelta(days=1)).date(),
        previous_start=spots.previous_start,
        generated_at=at.astimezone(CHINA_TZ),
        total_this_week=int(totals[0]),
        total_last_week=int(totals[1]),
        categories=categories,
        hotspot_classes=spots.classes,
        hotspot_trends=spots.trends,
        hotspots=significant,
        hotspot_meanings=MEANINGS,
        grids_total=spots.grids_total,
        clusters=recurring_clusters(session, district_code=code, start=start, end=end),
        units=worst_units(session, actor=area_actor(actor, code), start=start, end=end, now=at),
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}%"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def weekly_workbook(report: WeeklyReport) -> bytes:
    """The weekly report as an xlsx workbook, a sheet per section; text that looks like a
    formula (a unit or grid named "=…") stays text."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook(write_only=True)
    bold = Font(bold=True)
    r = report
    title = f"{r.district_name} {r.week} 每周研判（{r.start:%Y-%m-%d} 至 {r.last_day:%Y-%m-%d}）"

    def sheet(name: str, headers: list[str], rows: list[list[Any]], empty: str) -> None:
        ws = workbook.create_sheet(name)
        head = WriteOnlyCell(ws, value=title)
        head.font = Font(bold=True, size=14)
        ws.append(xlsx_row(ws, [head]))
        ws.append([f"生成于 {r.generated_at:%Y-%m-%d %H:%M}"])
        cells = []
        for header in headers:
            cell = WriteOnlyCell(ws, value=header)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)
        for row in rows:
            ws.append(xlsx_row(ws, row))
        if not rows:
            ws.append([empty])

    sheet(
        "类别趋势",
        [
            "大类代码 Code",
            "大类 Category",
            "本周 This week",
            "上周 Last week",
            "增减 Change",
            "增减%",
        ],
        [
            [c.code, c.name, c.this_week, c.last_week, c.change, _pct(c.change_pct)]
            for c in r.categories
        ]
        + [["合计", "全部", r.total_this_week, r.total_last_week]],
        "本周无事件",
    )
    sheet(
        "热点网格",
        [
            "网格代码 Grid",
            "网格 Name",
            "本周事件",
            "上周事件",
            "z",
            "p",
            "类别 Class",
            "趋势 Trend",
        ],
        [
            [
                g.code,
                g.name,
                g.count,
                g.previous_count,
                round(g.z, 3),
                round(g.p, 4),
                g.hot_class,
                g.trend or "",
            ]
            for g in r.hotspots
        ],
        "本周无显著热点或冷点",
    )
    sheet(
        "重复发生与源头治理",
        ["类别", "事件数", "首次上报", "最近上报", "任务状态", "办结时限", "牵头单位"],
        [
            [
                c.category_name,
                c.event_count,
                f"{c.first_reported_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}",
                f"{c.last_reported_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}",
                c.task_status + ("（超期）" if c.overdue else ""),
                f"{c.task_deadline.astimezone(CHINA_TZ):%Y-%m-%d}" if c.task_deadline else "",
                c.lead_unit_name or "",
            ]
            for c in r.clusters
        ],
        "本周无重复发生聚集",
    )
    sheet(
        "承办单位",
        ["单位 Unit", "上报", "立案", "结案", "按期结案率", "在办", "超期", "指标得分"],
        [
            [
                u.name,
                u.reported,
                u.registered,
                u.closed,
                _rate(u.on_time_closure_rate),
                u.open,
                u.overdue,
                None if u.score is None else round(u.score, 1),
            ]
            for u in r.units
        ],
        f"本周没有立案达 {MIN_REGISTERED_TO_RANK} 件的承办单位",
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


__all__ = [
    "CategoryTrend",
    "ClusterLine",
    "UnitLine",
    "WeeklyReport",
    "category_trends",
    "recurring_clusters",
    "week_bounds",
    "weekly_report",
    "weekly_workbook",
    "worst_units",
]
