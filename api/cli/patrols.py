"""`gridgov patrols prune`: thin and then delete old patrol tracks (privacy; run it daily)."""

from __future__ import annotations

import typer
from rich.table import Table

from api.cli.common import clear_errors, console
from gis.config import get_settings
from gis.db import session_scope
from people.patrols import prune_tracks

patrols_app = typer.Typer(help="Grid workers' patrol tracks (巡查轨迹).", no_args_is_help=True)


@patrols_app.command("prune")
@clear_errors
def prune() -> None:
    """Keep every PATROL_THIN_KEEP_EVERY-th point of tracks ended more than
    PATROL_THIN_AFTER_DAYS ago, and delete the points of those ended more than
    PATROL_DELETE_AFTER_DAYS ago (the patrols' times stay). Each track is thinned once, so
    running it daily is safe."""
    settings = get_settings()
    with session_scope() as session:
        result = prune_tracks(session)
    table = Table("step 步骤", "after 天数", "patrols 巡查", "points removed 删除点数")
    table.add_row(
        "thin 抽稀",
        str(settings.patrol_thin_after_days),
        str(result.thinned_patrols),
        str(result.thinned_points),
    )
    table.add_row(
        "delete 删除",
        str(settings.patrol_delete_after_days),
        str(result.purged_patrols),
        str(result.purged_points),
    )
    console.print(table)
