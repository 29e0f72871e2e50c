"""`gridgov recut COMMUNITY FILE`: re-cut a community's grids (网格调整) from a grid file.

The same operation as `POST /api/communities/{code}/recut` (api/recut.py), in one transaction:
nothing is written if a new grid is rejected or anything else fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import clear_errors, console, print_rejections
from api.recut import recut
from api.schemas import RecutReport
from gis.crs import Crs
from gis.db import session_scope
from grid.exceptions import RecutRejected
from grid.io import read_features


@clear_errors
def recut_command(
    community: Annotated[str, typer.Argument(help="12-digit community (社区) code")],
    path: Annotated[Path, typer.Argument(help="the new grids: .geojson, .gpkg, .shp or .csv")],
    crs: Annotated[
        Crs, typer.Option(help="lon/lat system of a file that declares none")
    ] = Crs.CGCS2000,
) -> None:
    """Replace a community's grids; buildings, residents, open events and visit plans follow."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with session_scope() as session:
            report = recut(
                session, community_code=community, new_grids=read_features(path, crs=crs.value)
            )
    except RecutRejected as exc:
        print_rejections(exc.report)
        raise
    print_report(report)


def print_report(report: RecutReport) -> None:
    """The summary: grids removed and added, a table of moves, what needs attention."""
    console.print(
        f"community {report.community_code}: removed {len(report.removed)} grid(s) "
        f"{', '.join(report.removed) or '-'}; added {len(report.added)} grid(s) "
        f"{', '.join(report.added) or '-'}"
    )
    table = Table(
        "from",
        "to",
        "buildings",
        "houses",
        "residents",
        "open events",
        "visit plans",
        title="moves 调整明细",
    )
    for move in report.moves:
        table.add_row(
            move.from_grid or "-",
            move.to_grid or "(none 无网格)",
            str(move.buildings),
            str(move.houses),
            str(move.residents),
            str(move.open_events),
            str(move.visit_plans),
        )
    console.print(table)
    unplaced = report.unplaced
    for what, items in (
        ("buildings", unplaced.buildings),
        ("residents (ids)", [str(i) for i in unplaced.residents]),
        ("households", unplaced.households),
        ("organisations", unplaced.organisations),
        ("open events", unplaced.open_events),
    ):
        if items:
            console.print(f"not placed in any grid 未落入网格 — {what}: {', '.join(items)}")
    for worker in report.workers_to_reassign:
        console.print(
            f"grid worker {worker.username} ({worker.full_name}) covered removed grid "
            f"{worker.removed_grid}: assign them a new grid 需重新分配网格"
        )
    if report.visit_plans_released:
        console.print(
            f"{report.visit_plans_released} visit plan(s) handed to the new grid's workers"
        )
    for warning in report.warnings:
        console.print(f"warning 提示: {warning}")
