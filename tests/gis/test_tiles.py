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
from sqlalchemy import text

from events.models import EventStatus
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
    add_unit,
)
from tests.gis.tile_city import G1, G2, TX, TY, Z, add_event, at, lonlat_bounds, tile_of


def mercator_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def to_tile(lon: float, lat: float, z: int, x: int, y: int) -> tuple[float, float]:
    """lon/lat as tile coordinates (0..EXTENT, y down) of tile z/x/y."""
    west, south, east, north = lonlat_bounds(z, x, y)
    px = (lon - west) / (east - west) * EXTENT
    py = (mercator_y(north) - mercator_y(lat)) / (mercator_y(north) - mercator_y(south)) * EXTENT
    return px, py


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


def test_building_tile_holds_the_buildings_in_it_with_public_properties_only(tile_city):
    data = render_tile(tile_city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY)
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


def test_building_geometry_is_in_tile_coordinates_y_down(tile_city):
    data = render_tile(tile_city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY)
    assert decode(data)["buildings"]["extent"] == EXTENT
    nw = features(data, "buildings")["IN-NW"]
    x0, y0 = to_tile(*at(Z, TX, TY, 0.2, 0.2), Z, TX, TY)
    x1, y1 = to_tile(*at(Z, TX, TY, 0.3, 0.3), Z, TX, TY)
    assert (x0, y0) == pytest.approx((0.2 * EXTENT, 0.2 * EXTENT), abs=1)
    assert ring_bounds(nw) == pytest.approx((x0, y0, x1, y1), abs=1)


def test_building_across_the_edge_is_clipped_to_the_tile_buffer(tile_city):
    data = render_tile(tile_city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY)
    xmin, _, xmax, _ = ring_bounds(features(data, "buildings")["EDGE"])
    assert xmin == pytest.approx(0.9 * EXTENT, abs=1)
    assert xmax == EXTENT + BUFFER


def test_the_neighbouring_tile_holds_the_other_buildings(tile_city):
    east = features(
        render_tile(tile_city, layer=LAYERS["buildings"], z=Z, x=TX + 1, y=TY), "buildings"
    )
    assert set(east) == {"EDGE", "AWAY"}
    assert ring_bounds(east["AWAY"])[0] == pytest.approx(0.5 * EXTENT, abs=1)


def test_zoomed_out_tile_holds_all_buildings_and_below_minzoom_is_empty(tile_city):
    x, y = tile_of(*at(Z, TX, TY, 0.5, 0.5), 14)
    zoomed_out = render_tile(tile_city, layer=LAYERS["buildings"], z=14, x=x, y=y)
    assert set(features(zoomed_out, "buildings")) == {"IN-NW", "IN-SE", "EDGE", "AWAY"}
    x13, y13 = tile_of(*at(Z, TX, TY, 0.5, 0.5), 13)
    assert render_tile(tile_city, layer=LAYERS["buildings"], z=13, x=x13, y=y13) == b""


def test_tile_with_nothing_in_it_is_empty(tile_city):
    assert render_tile(tile_city, layer=LAYERS["buildings"], z=Z, x=TX, y=TY + 5) == b""


def test_grid_tile_carries_code_and_name(tile_city):
    found = features(render_tile(tile_city, layer=LAYERS["grids"], z=Z, x=TX, y=TY), "grids")
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


@pytest.fixture
def events(tile_city):
    load_reference_data(tile_city)
    now = datetime.now(UTC)
    add_event(tile_city, "E-OVERDUE", 0.25, 0.25, G1, stage_deadline=now - timedelta(hours=1))
    add_event(tile_city, "E-ONTIME", 0.75, 0.25, G2, stage_deadline=now + timedelta(days=1))
    add_event(tile_city, "E-OUTSIDE", 0.5, 0.9, None)
    add_event(
        tile_city,
        "E-PAUSED-LATE",
        0.6,
        0.5,
        G2,
        status=EventStatus.SUSPENDED,
        stage_deadline=now - timedelta(days=1),
        suspended_at=now - timedelta(hours=2),
    )
    add_event(
        tile_city,
        "E-PAUSED-EARLY",
        0.6,
        0.6,
        G2,
        status=EventStatus.SUSPENDED,
        stage_deadline=now - timedelta(hours=2),
        suspended_at=now - timedelta(days=1),
    )
    add_event(tile_city, "E-CLOSED", 0.3, 0.6, G1, status=EventStatus.CLOSED, closed_at=now)
    add_event(tile_city, "E-VOIDED", 0.3, 0.7, G1, status=EventStatus.VOIDED)
    return tile_city


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


def test_parts_tile_holds_the_parts_in_it_from_zoom_16(tile_city):
    from tests.grid.parts_city import add_part

    inside = at(Z, TX, TY, 0.25, 0.75)  # a quarter in from the west, three quarters down
    add_part(tile_city, "4205020118000001", inside)
    add_part(tile_city, "4205020305000001", at(Z, TX + 1, TY, 0.5, 0.5))  # the next tile east
    data = render_tile(tile_city, layer=LAYERS["parts"], z=Z, x=TX, y=TY)
    found = features(data, "parts")
    assert set(found) == {"4205020118000001"}
    lamp = found["4205020118000001"]
    assert lamp["properties"] == {
        "code": "4205020118000001",
        "type_code": "0118",
        "state": "normal",
    }
    assert lamp["geometry"]["type"] == "Point"
    px, py = to_tile(*inside, Z, TX, TY)
    assert lamp["geometry"]["coordinates"] == pytest.approx([px, py], abs=1)
    parent = render_tile(tile_city, layer=LAYERS["parts"], z=Z - 1, x=TX // 2, y=TY // 2)
    assert parent == b""  # below zoom 16 the layer is empty
