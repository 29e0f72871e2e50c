"""Vector tiles: the features of a known tile, their properties and their tile coordinates.

Tiles are found here with the usual slippy-map formulas (as mercantile computes them), not
with the code under test, and decoded with mapbox-vector-tile.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import mapbox_vector_tile
import pytest
from shapely import MultiPolygon, box
from sqlalchemy import select, text

from events.models import Event, EventCategory, EventSource, EventStatus
from events.reference import load_reference_data
from events.workflow import OPEN_STATES
from gis.tiles import (
    BUFFER,
    EXTENT,
    LAYERS,
    MAX_ZOOM,
    OPEN_EVENT_STATES,
    TileError,
    TileScope,
    check_tile,
    render_tile,
    tile_bounds,
)
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_building,
    add_grid,
    add_unit,
    admin_tree,
    square,
)

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


def mercator_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def to_tile(lon: float, lat: float, z: int, x: int, y: int) -> tuple[float, float]:
    """lon/lat as tile coordinates (0..EXTENT, y down) of tile z/x/y."""
    west, south, east, north = lonlat_bounds(z, x, y)
    px = (lon - west) / (east - west) * EXTENT
    py = (mercator_y(north) - mercator_y(lat)) / (mercator_y(north) - mercator_y(south)) * EXTENT
    return px, py


def at(z: int, x: int, y: int, fx: float, fy: float) -> tuple[float, float]:
    """The lon/lat a fraction fx east, fy south of the tile's north-west corner."""
    west, south, east, north = lonlat_bounds(z, x, y)
    return west + fx * (east - west), north - fy * (north - south)


def decode(data: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def features(data: bytes, layer: str) -> dict[str, dict[str, Any]]:
    """The layer's features by their code."""
    decoded = decode(data)
    return {f["properties"]["code"]: f for f in decoded.get(layer, {}).get("features", [])}


def ring_bounds(feature: dict[str, Any]) -> tuple[float, float, float, float]:
    geometry = feature["geometry"]
    rings = geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        rings = [ring for polygon in rings for ring in polygon]
    xs = [p[0] for ring in rings for p in ring]
    ys = [p[1] for ring in rings for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


# The tile under test: the one holding a point of the test community, at zoom 16.
TX, TY = tile_of(111.2855, 30.7055, Z)


def build_city(session):
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


@pytest.fixture
def city(session):
    """The tile under test's grids and buildings."""
    return build_city(session)


def test_tile_maths_agrees_with_postgis(session):
    west, south, east, north = tile_bounds(Z, TX, TY)
    row = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM ST_TileEnvelope(:z, :x, :y) AS e"
        ),
        {"z": Z, "x": TX, "y": TY},
    ).one()
    assert row == pytest.approx((west, south, east, north), abs=1e-6)
    lon_w, _, _, lat_n = lonlat_bounds(Z, TX, TY)
    radius = 6378137.0
    assert west == pytest.approx(math.radians(lon_w) * radius, abs=1e-6)
    assert north == pytest.approx(mercator_y(lat_n) * radius, abs=1e-6)


def test_building_tile_holds_the_buildings_in_it_with_public_properties_only(city):
    data = render_tile(city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY)
    found = features(data, "buildings")
    assert set(found) == {"IN-NW", "IN-SE", "EDGE"}
    assert found["IN-NW"]["properties"] == {
        "code": "IN-NW",
        "floors": 6,
        "use": "residential",
        "grid_code": G1,
    }
    assert found["IN-SE"]["properties"]["use"] == "commercial"
    assert found["IN-SE"]["properties"]["grid_code"] == G2
    assert b"\xe5\xbc\xa0\xe4\xb8\x89" not in data  # 张三: no name or address in the bytes


def test_building_geometry_is_in_tile_coordinates_y_down(city):
    data = render_tile(city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY)
    assert decode(data)["buildings"]["extent"] == EXTENT
    nw = features(data, "buildings")["IN-NW"]
    x0, y0 = to_tile(*at(Z, TX, TY, 0.2, 0.2), Z, TX, TY)
    x1, y1 = to_tile(*at(Z, TX, TY, 0.3, 0.3), Z, TX, TY)
    assert (x0, y0) == pytest.approx((0.2 * EXTENT, 0.2 * EXTENT), abs=1)
    assert ring_bounds(nw) == pytest.approx((x0, y0, x1, y1), abs=1)


def test_building_across_the_edge_is_clipped_to_the_tile_buffer(city):
    data = render_tile(city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY)
    xmin, _, xmax, _ = ring_bounds(features(data, "buildings")["EDGE"])
    assert xmin == pytest.approx(0.9 * EXTENT, abs=1)
    assert xmax == EXTENT + BUFFER


def test_the_neighbouring_tile_holds_the_other_buildings(city):
    east = features(render_tile(city, layer=LAYERS["buildings"], z=Z, x=TX + 1, y=TY), "buildings")
    assert set(east) == {"EDGE", "AWAY"}
    assert ring_bounds(east["AWAY"])[0] == pytest.approx(0.5 * EXTENT, abs=1)


def test_zoomed_out_tile_holds_all_buildings_and_below_minzoom_is_empty(city):
    x, y = tile_of(*at(Z, TX, TY, 0.5, 0.5), 14)
    zoomed_out = render_tile(city, layer=LAYERS["buildings"], z=14, x=x, y=y)
    assert set(features(zoomed_out, "buildings")) == {"IN-NW", "IN-SE", "EDGE", "AWAY"}
    x13, y13 = tile_of(*at(Z, TX, TY, 0.5, 0.5), 13)
    assert render_tile(city, layer=LAYERS["buildings"], z=13, x=x13, y=y13) == b""


def test_tile_with_nothing_in_it_is_empty(city):
    assert render_tile(city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY + 5) == b""


def test_grid_tile_carries_code_and_name(city):
    found = features(render_tile(city, layer=LAYERS["grids"], z=Z, x=TX, y=TY), "grids")
    assert set(found) == {G1, G2}
    assert found[G1]["properties"] == {"code": G1, "name": "第001网格"}
    assert found[G1]["geometry"]["type"] in ("Polygon", "MultiPolygon")


@pytest.mark.parametrize(
    ("z", "x", "y", "says"),
    [
        (MAX_ZOOM + 1, 0, 0, f"zoom {MAX_ZOOM + 1} is outside 0..{MAX_ZOOM}"),
        (-1, 0, 0, "zoom -1 is outside"),
        (3, 8, 0, "x 8 is outside 0..7, the tiles of zoom 3"),
        (3, 0, -1, "y -1 is outside 0..7"),
    ],
)
def test_tiles_outside_the_matrix_are_refused_with_a_sentence(z, x, y, says):
    with pytest.raises(TileError, match=says):
        check_tile(z, x, y)


# --- events ---------------------------------------------------------------------------------


def test_open_states_match_the_workflow():
    assert set(OPEN_EVENT_STATES) == {s.value for s in OPEN_STATES}


def add_event(
    session,
    code: str,
    fx: float,
    fy: float,
    grid_code: str | None,
    status: EventStatus = EventStatus.DISPATCHED,
    **fields: Any,
) -> Event:
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


@pytest.fixture
def events(city):
    load_reference_data(city)
    now = datetime.now(UTC)
    add_event(city, "E-OVERDUE", 0.25, 0.25, G1, stage_deadline=now - timedelta(hours=1))
    add_event(city, "E-ONTIME", 0.75, 0.25, G2, stage_deadline=now + timedelta(days=1))
    add_event(city, "E-OUTSIDE", 0.5, 0.9, None)
    add_event(
        city,
        "E-PAUSED-LATE",
        0.6,
        0.5,
        G2,
        status=EventStatus.SUSPENDED,
        stage_deadline=now - timedelta(days=1),
        suspended_at=now - timedelta(hours=2),
    )
    add_event(
        city,
        "E-PAUSED-EARLY",
        0.6,
        0.6,
        G2,
        status=EventStatus.SUSPENDED,
        stage_deadline=now - timedelta(hours=2),
        suspended_at=now - timedelta(days=1),
    )
    add_event(city, "E-CLOSED", 0.3, 0.6, G1, status=EventStatus.CLOSED, closed_at=now)
    add_event(city, "E-VOIDED", 0.3, 0.7, G1, status=EventStatus.VOIDED)
    return city


def test_event_tile_shows_open_events_without_descriptions(events):
    data = render_tile(
        events, layer=LAYERS["events"], z=Z, x=TX, y=TY, scope=TileScope(everything=True)
    )
    found = features(data, "events")
    assert set(found) == {
        "E-OVERDUE",
        "E-ONTIME",
        "E-OUTSIDE",
        "E-PAUSED-LATE",
        "E-PAUSED-EARLY",
    }
    props = found["E-OVERDUE"]["properties"]
    assert set(props) == {"code", "status", "priority", "category", "overdue"}
    assert props["status"] == "dispatched" and props["overdue"] is True
    assert found["E-ONTIME"]["properties"]["overdue"] is False
    assert found["E-OUTSIDE"]["properties"]["overdue"] is False  # no running stage
    # A suspended stage keeps the light it had when its clock stopped.
    assert found["E-PAUSED-LATE"]["properties"]["overdue"] is True
    assert found["E-PAUSED-EARLY"]["properties"]["overdue"] is False
    assert found["E-OVERDUE"]["geometry"]["type"] == "Point"
    assert found["E-OVERDUE"]["geometry"]["coordinates"] == pytest.approx(
        [0.25 * EXTENT, 0.25 * EXTENT], abs=1
    )
    assert b"13800000000" not in data


PAUSED = ("E-PAUSED-LATE", "E-PAUSED-EARLY")


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (TileScope(grid_codes=frozenset({G1})), {"E-OVERDUE"}),
        (TileScope(grid_codes=frozenset({G1, G2})), {"E-OVERDUE", "E-ONTIME", *PAUSED}),
        (TileScope(area_prefix=COMMUNITY), {"E-OVERDUE", "E-ONTIME", *PAUSED}),
        (
            TileScope(area_prefix=DISTRICT, district_code=DISTRICT),
            {"E-OVERDUE", "E-ONTIME", "E-OUTSIDE", *PAUSED},
        ),
        (TileScope(area_prefix="420503"), set()),
        (TileScope(), set()),
        (None, set()),
    ],
)
def test_event_tile_shows_only_the_callers_events(events, scope, expected):
    data = render_tile(events, layer=LAYERS["events"], z=Z, x=TX, y=TY, scope=scope)
    assert set(features(data, "events")) == expected


def test_dispatcher_scope_is_the_units_events(events):
    unit = add_unit(events, "PS01", "police")
    events.execute(text("UPDATE event SET unit_id = :u WHERE code = 'E-ONTIME'"), {"u": unit.id})
    data = render_tile(
        events, layer=LAYERS["events"], z=Z, x=TX, y=TY, scope=TileScope(unit_id=unit.id)
    )
    assert set(features(data, "events")) == {"E-ONTIME"}
