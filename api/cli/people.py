"""`gridgov people …`: the resident ledger (台账) as files — template, import, export.

A thin layer over people.ledger, one transaction per command. Registered in api.cli with
`app.add_typer(people_app, name="people")`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli.common import clear_errors, console, errors, progress_bar
from gis.db import session_scope
from people.access import Actor, load_actor
from people.exceptions import NotFound

people_app = typer.Typer(
    help="The resident ledger (台账): Excel/CSV template, import and export.",
    no_args_is_help=True,
)

SHOWN_ERRORS = 30  # rejected rows printed; the error file has them all


def _actor(session: Session, username: str) -> Actor:
    from people.models import Staff

    staff_id = session.scalar(select(Staff.id).where(Staff.username == username))
    if staff_id is None:
        raise NotFound(f"there is no account named {username}; the import acts for an account")
    return load_actor(session, staff_id=staff_id)


AsUser = Annotated[
    str, typer.Option("--as", help="username of the account the command acts for (its scope)")
]


@people_app.command("template")
@clear_errors
def template(
    path: Annotated[Path, typer.Argument(help=".xlsx (with a 说明 sheet and lists) or .csv")],
) -> None:
    """Write an empty ledger file to fill in."""
    from people.ledger import write_template

    console.print(f"template written to {write_template(path)}")


@people_app.command("import")
@clear_errors
def import_ledger(
    path: Annotated[Path, typer.Argument(help=".xlsx or .csv ledger file")],
    as_user: AsUser,
    errors_to: Annotated[
        Path | None,
        typer.Option("--errors", help="where rejected rows go (default: <file>.errors.<suffix>)"),
    ] = None,
) -> None:
    """Import residents; valid rows go in, rejected rows go to an error file (exit status 2)."""
    from people.ledger import import_residents

    with progress_bar() as report, session_scope() as session:
        result = import_residents(
            session,
            actor=_actor(session, as_user),
            path=path,
            on_progress=report,
            error_path=errors_to,
        )
    for warning in result.warnings:
        errors.print(f"[yellow]注意 warning:[/yellow] {warning}", highlight=False)
    console.print(
        f"{result.total_rows} rows: {result.inserted} residents added, {result.updated} updated, "
        f"{result.rejected_rows} rejected"
    )
    if result.rejected_rows:
        table = Table("行 row", "列 column", "原因 reason", title="rejected rows")
        for error in result.rejected[:SHOWN_ERRORS]:
            table.add_row(str(error.row), error.column, error.reason)
        errors.print(table)
        errors.print(
            f"{result.error_count} problems in {result.rejected_rows} rows are in "
            f"{result.error_file}; correct them there and import that file"
        )
        raise typer.Exit(2)


@people_app.command("export")
@clear_errors
def export_ledger(
    path: Annotated[Path, typer.Argument(help=".xlsx or .csv")],
    as_user: AsUser,
    grid: Annotated[str | None, typer.Option(help="only this grid (15-digit code)")] = None,
    area: Annotated[str | None, typer.Option(help="only this district/street/community")] = None,
    unmasked: Annotated[
        bool,
        typer.Option("--unmasked", help="clear ID numbers and phones (logged; needs --reason)"),
    ] = False,
    reason: Annotated[str | None, typer.Option(help="why the unmasked ledger is needed")] = None,
) -> None:
    """Export the residents in the account's scope; masked unless --unmasked."""
    from people.ledger import export_residents

    with session_scope() as session:
        count = export_residents(
            session,
            actor=_actor(session, as_user),
            path=path,
            grid_code=grid,
            area_code=area,
            unmasked=unmasked,
            reason=reason,
        )
    note = "unmasked (logged)" if unmasked else "masked; this file cannot be re-imported"
    console.print(f"exported {count} residents to {path} ({note})")
