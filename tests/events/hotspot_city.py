"""A 5×5 lattice of square grids in district 420502 with a cluster of events in its centre:
the hot-spot tests' city (events, API, pages)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import MultiPolygon, box
from sqlalchemy.orm import Session

from events.reference import load_reference_data
from events.schemas import EventReport
from events.service import report_event
from gis.clock import CHINA_TZ
from tests.factories import COMMUNITY, add_grid, add_staff, add_unit, admin_tree, square

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)  # in ISO week 2026-W48
LON0, LAT0, SIZE = 111.28, 30.70, 0.002


def cell(r: int, c: int) -> MultiPolygon:
    """The square of row r, column c; corners rounded so neighbours share exact edges."""
    x0, y0 = round(LON0 + c * SIZE, 6), round(LAT0 + r * SIZE, 6)
    x1, y1 = round(LON0 + (c + 1) * SIZE, 6), round(LAT0 + (r + 1) * SIZE, 6)
    return MultiPolygon([box(x0, y0, x1, y1)])


def code(r: int, c: int) -> str:
    """The grid code of row r, column c."""
    return f"{COMMUNITY}{r * 5 + c + 1:03d}"


def build_hotspot_city(
    session: Session, grid_name: str | None = None, monday: datetime = MONDAY
) -> dict[str, Any]:
    """The lattice; in `monday`'s week (default 2026-W48) one 0101 event in each grid of the
    centre 3×3 block and a 0201 one in the far corner (4, 4); the week before one 0101 event
    in corner (0, 0). The centre grid is named `grid_name` if given."""
    admin_tree(session, community_geom=square(111.27, 30.69, 0.05))
    for r in range(5):
        for c in range(5):
            add_grid(session, code(r, c), cell(r, c), name=grid_name if (r, c) == (2, 2) else None)
    load_reference_data(session)
    police = add_unit(
        session, "PS", "police", geom=square(111.27, 30.69, 0.05), location=(111.28, 30.7)
    )
    add_unit(session, "CC", "command_centre", location=(111.28, 30.71))
    codes = [code(r, c) for r in range(5) for c in range(5)]
    worker = add_staff(session, "worker1", "grid_worker", grid_codes=codes)
    spots = [(r, c, monday, "0101") for r in (1, 2, 3) for c in (1, 2, 3)]
    spots += [(0, 0, monday - timedelta(days=7), "0101"), (4, 4, monday, "0201")]
    for n, (r, c, when, category) in enumerate(spots):
        lon = round(LON0 + (c + 0.5) * SIZE, 6)
        lat = round(LAT0 + (r + 0.5) * SIZE, 6)
        report_event(
            session,
            actor=worker,
            report=EventReport(category=category, lon=lon, lat=lat, description="热点测试"),
            idempotency_key=f"hot-{n}",
            now=when,
        )
    return {
        "session": session,
        "admin": add_staff(session, "boss", "admin"),
        "leader": add_staff(session, "leader1", "leader", area_code="420502000000"),
        # A street's leader: the whole district is outside their area.
        "street_leader": add_staff(session, "leader2", "leader", area_code="420502001000"),
        "dispatcher": add_staff(session, "disp", "dispatcher", department_unit_id=police.id),
        "worker": worker,
    }
