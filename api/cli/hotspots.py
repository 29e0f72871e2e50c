"""`gridgov analyse hotspots` and `gridgov analyse weekly`: the Gi* hot spots of a district and
its weekly 研判 report as an xlsx file, for a weekly run (cron on Monday morning)."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.analyse import analyse_app
from api.cli.common import clear_errors, console
from gis.clock import CHINA_TZ
from gis.db import session_scope
from people.access import Actor
from people.models import StaffRole

OPERATOR = Actor(staff_id=0, username="cli", role=StaffRole.ADMIN)
District = Annotated[str, typer.Option(help="the district (6-digit code), e.g. 420502")]


@analyse_app.command("hotspots")
@clear_errors
def hotspots_command(
    district: District,
    from_: Annotated[
        str | None, typer.Option("--from", help="first day, YYYY-MM-DD (default 7 days ago)")
    ] = None,
    to: Annotated[str | None, typer.Option(help="last day, YYYY-MM-DD (default today)")] = None,
    category: Annotated[
        str | None, typer.Option(help="大类 (2 digits) or 小类 (4 digits); default all")
    ] = None,
) -> None:
    """Print the district's significant grids (Gi*) and how long the analysis took."""
    from events.exceptions import InvalidReport
    from events.hotspots import grid_adjacency, hotspots, period_of

    try:
        first = date.fromisoformat(from_) if from_ else None
        last = date.fromisoformat(to) if to else None
    except ValueError as exc:
        raise InvalidReport(f"日期应写作 YYYY-MM-DD (dates are YYYY-MM-DD): {exc}") from None
    start, end = period_of(first, last)
    with session_scope() as session:
        started = time.perf_counter()
        adjacency = grid_adjacency(session, district_code=district.strip()[:6])
        report = hotspots(
            session,
            actor=OPERATOR,
            district=district,
            start=start,
            end=end,
            category=category,
            adjacency=adjacency,
        )
        seconds = time.perf_counter() - started
    table = Table("网格 grid", "名称 name", "事件 count", "z", "p", "类别 class", "趋势 trend")
    for g in sorted(report.grids, key=lambda g: -abs(g.z)):
        if g.hot_class != "不显著" or g.trend:
            table.add_row(
                g.code, g.name, str(g.count), f"{g.z:.2f}", f"{g.p:.4f}", g.hot_class, g.trend or ""
            )
    console.print(table)
    summary = "，".join(f"{k} {v}" for k, v in report.classes.items() if v)
    console.print(
        f"{report.district_name} {start:%Y-%m-%d}..{end:%Y-%m-%d} (excluded) "
        f"{report.category_name}: {report.grids_total} grids ({report.islands} islands), "
        f"{report.events_total} events; {summary}; adjacency {adjacency.seconds:.2f} s, "
        f"total {seconds:.2f} s"
    )


@analyse_app.command("weekly")
@clear_errors
def weekly_command(
    district: District,
    out: Annotated[Path, typer.Option(help="the xlsx file to write")],
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W48; default last week")
    ] = None,
) -> None:
    """Write the district's weekly 研判 report (xlsx) for a week (default: last week)."""
    from events.weekly_report import weekly_report, weekly_workbook

    with session_scope() as session:
        report = weekly_report(
            session, actor=OPERATOR, district=district, week=week, now=datetime.now(CHINA_TZ)
        )
        content = weekly_workbook(report)
    out.write_bytes(content)
    console.print(
        f"{report.district_name} {report.week}: {report.total_this_week} events "
        f"(last week {report.total_last_week}), {len(report.hotspots)} grids listed → {out}"
    )
