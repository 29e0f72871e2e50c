"""`gridgov map export`: a map dashboard as one standalone HTML file for briefings (汇报).

The file inlines Leaflet, the plugins, our script and every figure, so it opens on a computer
with no network. Vector tiles need the tile server, so the buildings and events tile layers
are left out of an export; everything else (grids, outlines, heat, overdue events, KPIs) is in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import clear_errors, console
from gis.config import get_settings
from gis.db import session_scope
from maps.model import View
from people.access import Actor, load_actor
from people.exceptions import NotFound
from people.models import Staff, StaffRole

map_app = typer.Typer(help="Map dashboards (一张图): export for meetings.", no_args_is_help=True)

# The operator at the console has the whole database anyway: by default an export sees it all.
OPERATOR = Actor(staff_id=0, username="cli", role=StaffRole.ADMIN)


class Dashboard(StrEnum):
    leader = "leader"


def export_view() -> View:
    """An export: assets and data inlined, the configured basemap, no tile server."""
    settings = get_settings()
    return View(
        mode="export",
        basemap=settings.basemap,
        basemap_url=settings.basemap_url,
        tianditu_key=settings.tianditu_key,
        shift_gcj02=settings.basemap != "none" and settings.basemap_crs == "gcj02",
        tiles_url=None,
        event_link=None,
    )


@map_app.command("export")
@clear_errors
def export(
    dashboard: Annotated[Dashboard, typer.Argument(help="which map: leader")],
    out: Annotated[Path, typer.Option("--out", help="the .html file to write")],
    area: Annotated[
        str | None, typer.Option(help="district/street/community/grid code (default: all)")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="the period: the last N days")] = 30,
    category: Annotated[
        str | None, typer.Option(help="event major category for the heat map, e.g. 01")
    ] = None,
    measure: Annotated[
        str, typer.Option(help="open, overdue, on_time_rate, events_per_1000, special_density")
    ] = "open",
    as_user: Annotated[
        str | None, typer.Option("--as", help="export with this account's scope")
    ] = None,
) -> None:
    """Write a map dashboard as one HTML file that opens without any network."""
    from sqlalchemy import select

    from api.map_data import leader_data  # folium and the domain queries: only when used
    from maps.leader import render_leader

    with session_scope() as session:
        actor = OPERATOR
        if as_user:
            staff_id = session.scalar(select(Staff.id).where(Staff.username == as_user))
            if staff_id is None:
                raise NotFound(f"there is no account named {as_user}")
            actor = load_actor(session, staff_id=staff_id)
        data, tolerance = leader_data(
            session,
            actor=actor,
            area=area,
            days=days,
            category=category,
            measure=measure,
            now=datetime.now(UTC),
        )
    html = render_leader(data, export_view(), tolerance=tolerance)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    console.print(
        f"{data.area.name}: {len(data.grids)} grids, {data.overdue_total} overdue events, "
        f"written to {out} ({len(html.encode()) / 1e6:.2f} MB; vector-tile layers are left "
        "out of an export)"
    )
