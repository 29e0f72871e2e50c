"""`gridgov tasks generate`: run the ledger rules that raise grid workers' tasks (run it daily)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import clear_errors, console
from gis.db import session_scope
from people.task_rules import generate_tasks

tasks_app = typer.Typer(help="Grid workers' tasks (网格员任务).", no_args_is_help=True)


@tasks_app.command("generate")
@clear_errors
def generate(
    district: Annotated[
        str | None, typer.Option(help="6-digit district code (default: every district)")
    ] = None,
    on: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="the day to run the rules for (default: today)"),
    ] = None,
) -> None:
    """Raise the tasks of the rental and floating-resident rules; a task already open for the
    same rule and record is not raised twice, so running it daily is safe."""
    if district is not None and not (len(district) == 6 and district.isdigit()):
        raise typer.BadParameter(f"--district {district!r} should be a 6-digit district code")
    today: date | None = on.date() if on else None
    with session_scope() as session:
        runs = generate_tasks(session, today=today, district_code=district)
    table = Table("rule 规则", "matched 命中", "new tasks 新任务")
    for kind, run in runs.items():
        table.add_row(f"{kind.value} {kind.label}", str(run.matched), str(run.raised))
    console.print(table)
