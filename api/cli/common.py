"""What every `gridgov` command shares: output consoles, one-sentence errors, progress bars."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError

from gis import local_pg
from gis.db import NonDurableDatabase
from gis.errors import DomainError
from grid.importer import ImportReport

console = Console()
errors = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

# Errors whose message is already a sentence for the user.
USER_ERRORS = (
    DomainError,  # every package's errors: grid, people, events, coordinates, geometry
    local_pg.ClusterError,
    NonDurableDatabase,
    FileNotFoundError,
    ValueError,
)


def clear_errors(command: F) -> F:
    """Print one sentence and exit 1 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            errors.print(f"[red]错误 error:[/red] {exc}", highlight=False)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            errors.print(
                f"[red]错误 error:[/red] the database is not reachable ({reason}); "
                "start it with `gridgov db up` or check DATABASE_URL",
                highlight=False,
            )
        raise typer.Exit(1)

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback (stage, done, total) drawn as one bar per stage."""
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    ) as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield report


def print_rejections(report: ImportReport, *, limit: int = 50) -> None:
    """The features a layer import or a re-cut refused, with the reason for each (to stderr)."""
    table = Table("row", "feature", "reason", title=f"{len(report.rejected)} rejected")
    for rejection in report.rejected[:limit]:
        row = "" if rejection.row is None else str(rejection.row)
        table.add_row(row, str(rejection.feature_id), rejection.reason)
    errors.print(table)
