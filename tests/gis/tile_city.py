"""The tile tests' city: a community of two grids covering one zoom-16 tile, buildings in and
around that tile, and the slippy-map formulas (as mercantile computes them, not the code under
test) that place things in it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely import MultiPolygon, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from events.models import Event, EventCategory, EventSource, EventStatus
from tests.factories import COMMUNITY, DISTRICT, add_building, add_grid, admin_tree, square

Z = 16
G1, G2 = COMMUNITY + "001", COMMUNITY + "002"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The x, y of the XYZ tile holding lon/lat at zoom z."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north of a tile in degrees."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def at(z: int, x: int, y: int, fx: float, fy: float) -> tuple[float, float]:
    """The lon/lat a fraction fx east, fy south of the tile's north-west corner."""
    west, south, east, north = lonlat_bounds(z, x, y)
    return west + fx * (east - west), north - fy * (north - south)


# The tile under test: the one holding a point of the test community, at zoom 16.
TX, TY = tile_of(111.2855, 30.7055, Z)


def build_tile_city(session: Session) -> Session:
    """A community of two grids covering the tile under test, and buildings in and around it."""
    west, south, east, north = lonlat_bounds(Z, TX, TY)
    admin_tree(session, community_geom=square(west - 0.01, south - 0.01, 0.04))
    mid = (west + east) / 2
    add_grid(session, G1, MultiPolygon([box(west - 0.01, south - 0.01, mid, north + 0.01)]))
    add_grid(session, G2, MultiPolygon([box(mid, south - 0.01, east + 0.02, north + 0.01)]))

    def footprint(fx: float, fy: float, size: float) -> MultiPolygon:
        lon0, lat0 = at(Z, TX, TY, fx, fy)
        lon1, lat1 = at(Z, TX, TY, fx + size, fy + size)
        return MultiPolygon([box(lon0, lat1, lon1, lat0)])

    add_building(
        session,
        "IN-NW",
        footprint(0.2, 0.2, 0.1),
        G1,
        name="张三家",
        address="解放路1号",
        floors=6,
        use="residential",
    )
    add_building(session, "IN-SE", footprint(0.7, 0.7, 0.05), G2, floors=2, use="commercial")
    # Across the east edge: clipped to the tile plus its buffer.
    add_building(session, "EDGE", footprint(0.9, 0.4, 0.3), G2, floors=3)
    # In the next tile east, 50 % of a tile away: beyond the buffer.
    add_building(session, "AWAY", footprint(1.5, 0.5, 0.05), G2, floors=1)
    return session


def add_event(
    session: Session,
    code: str,
    fx: float,
    fy: float,
    grid_code: str | None,
    status: EventStatus = EventStatus.DISPATCHED,
    **fields: Any,
) -> Event:
    """An event at a fraction fx east, fy south of the tile's north-west corner."""
    category = session.scalars(
        select(EventCategory).where(EventCategory.valid_to.is_(None)).order_by(EventCategory.code)
    ).first()
    lon, lat = at(Z, TX, TY, fx, fy)
    event = Event(
        code=code,
        category_id=category.id,
        category_code=category.code,
        priority=category.priority,
        status=status,
        source=EventSource.GRID_WORKER,
        description="楼道堆放杂物，住户李四电话13800000000",
        geom=f"SRID=4490;POINT({lon} {lat})",
        locate_match="inside" if grid_code else "outside",
        grid_code=grid_code,
        district_code=DISTRICT,
        reported_at=datetime.now(UTC) - timedelta(days=2),
        **fields,
    )
    session.add(event)
    session.flush()
    return event
