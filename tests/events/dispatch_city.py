"""The dispatch tests' city: two grids split at 111.29 E, police areas split at 111.295 E (not
at the grid line), a fire station, the command centre, a housing bureau and one grid worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely import box
from sqlalchemy.orm import Session

from events.reference import load_reference_data
from events.schemas import EventRead, EventReport
from events.service import report_event
from tests.events.workflow_city import EAST, MONDAY_10, WEST
from tests.factories import add_grid, add_staff, add_unit, admin_tree, square


def build_dispatch_city(session: Session) -> dict[str, Any]:
    """Two grids split at 111.29 E; police areas split at 111.295 E (not at the grid line)."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, WEST, square(111.28, 30.70, 0.01))
    add_grid(session, EAST, square(111.29, 30.70, 0.01))
    load_reference_data(session)
    units = {
        "police_w": add_unit(
            session,
            "PS-W",
            "police",
            geom=box(111.27, 30.69, 111.295, 30.73),
            location=(111.285, 30.705),
        ),
        "police_e": add_unit(
            session,
            "PS-E",
            "police",
            geom=box(111.295, 30.69, 111.31, 30.73),
            location=(111.298, 30.705),
        ),
        "fire": add_unit(session, "FS-1", "fire", location=(111.30, 30.71)),  # no area drawn
        "command": add_unit(session, "CC", "command_centre", location=(111.29, 30.71)),
        "housing": add_unit(session, "ZJ-1", "housing", geom=square(111.28, 30.70, 0.02)),
    }
    worker = add_staff(session, "worker1", "grid_worker", grid_codes=[WEST, EAST])
    operator = add_staff(session, "cc.operator", "command", area_code=WEST[:6] + "000000")
    return {"session": session, "worker": worker, "operator": operator, **units}


def file(
    city: dict[str, Any],
    category: str = "0101",
    lon: float = 111.292,
    lat: float = 30.705,
    key: str | None = None,
    now: datetime = MONDAY_10,
    by: str = "worker",
    **fields: Any,
) -> EventRead:
    """Report an event as the city's grid worker (or `by`), at Monday 10:00 unless told
    otherwise."""
    report = EventReport(
        category=category, lon=lon, lat=lat, description="楼道里有可疑人员", **fields
    )
    return report_event(
        city["session"], actor=city[by], report=report, idempotency_key=key, now=now
    )
