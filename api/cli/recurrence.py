"""`gridgov analyse recurrences`: the daily recurrence detection (重复发生 → 源头治理 tasks), and
`gridgov analyse recurrence-threshold` to give a category its own threshold.

A thin layer over events.recurrence, one transaction per command. Registered in api.cli with
`app.add_typer(analyse_app, name="analyse")`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from api.cli.analyse import analyse_app
from api.cli.common import clear_errors, console
from gis.db import session_scope


@analyse_app.command("recurrences")
@clear_errors
def recurrences(
    district: Annotated[
        str | None, typer.Option(help="6-digit district code (default: every district)")
    ] = None,
    on: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="run as of the end of this day, China time (default: now)"
        ),
    ] = None,
) -> None:
    """Find recurrence clusters and raise their 源头治理 tasks; open clusters are extended, never
    raised twice, so running it daily (and again) is safe."""
    from events.recurrence import detect, end_of_day

    if district is not None and not (len(district) == 6 and district.isdigit()):
        raise typer.BadParameter(f"--district {district!r} should be a 6-digit district code")
    with session_scope() as session:
        run = detect(session, district_code=district, until=end_of_day(on.date()) if on else None)
    table = Table("districts 区县", "new clusters 新任务", "extended 已扩展", "events 关联事件")
    table.add_row(
        ", ".join(run.districts) or "-",
        ", ".join(map(str, run.created)) or "0",
        ", ".join(map(str, run.extended)) or "0",
        str(run.events_linked),
    )
    console.print(table)


@analyse_app.command("recurrence-threshold")
@clear_errors
def recurrence_threshold(
    category: Annotated[str, typer.Argument(help="subcategory code, e.g. 0601")],
    min_events: Annotated[int | None, typer.Option(help="events at least (≥ 2)")] = None,
    radius: Annotated[float | None, typer.Option(help="metres between events")] = None,
    days: Annotated[int | None, typer.Option(help="days of the window")] = None,
    reset: Annotated[bool, typer.Option(help="go back to the RECURRENCE_* settings")] = False,
) -> None:
    """Give a category its own recurrence threshold (unset options keep the default's)."""
    from pydantic import ValidationError

    from events.recurrence import Threshold, default_threshold, set_threshold

    base = default_threshold()
    try:
        threshold = (
            None
            if reset
            else Threshold(
                min_events=base.min_events if min_events is None else min_events,
                radius_m=base.radius_m if radius is None else radius,
                window_days=base.window_days if days is None else days,
            )
        )
    except ValidationError as exc:
        raise typer.BadParameter(
            "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        ) from None
    with session_scope() as session:
        set_threshold(session, category_code=category, threshold=threshold)
    console.print(
        f"category {category}: "
        + (
            "back on the default"
            if threshold is None
            else f"{threshold.min_events} events within {threshold.radius_m:g} m "
            f"in {threshold.window_days} days"
        )
    )
