"""`gridgov evaluate`: evaluate (考评) again the cases closed in a period, e.g. those closed
before evaluation existed; idempotent (a case keeps one evaluation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.cli.common import clear_errors, console
from gis.db import session_scope


@clear_errors
def evaluate_command(
    month: Annotated[
        str | None, typer.Option(help="the month of closing, YYYY-MM (China time)")
    ] = None,
    period: Annotated[
        str | None, typer.Option(help="or a year (2026), quarter (2026-Q4) or day (2026-11-23)")
    ] = None,
    district: Annotated[str | None, typer.Option(help="only this district (6-digit code)")] = None,
) -> None:
    """Evaluate (考评) every case closed in a month (or period) again, from its timeline and
    the caller's satisfaction."""
    from events.bulletin import month_bounds
    from events.evaluation import evaluate_closed
    from events.kpis import period_bounds

    if (month is None) == (period is None):
        raise ValueError("give either --month YYYY-MM or --period (2026, 2026-Q4, 2026-11-23)")
    start, end = month_bounds(month) if month else period_bounds(period)
    with session_scope() as session:
        count = evaluate_closed(
            session, start=start, end=end, at=datetime.now(UTC), district_code=district
        )
    console.print(
        f"evaluated {count} closed cases, closed {start:%Y-%m-%d} to {end:%Y-%m-%d} (excluded)"
        + (f" in district {district}" if district else "")
    )
