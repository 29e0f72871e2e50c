"""HTTP: /tiles/{layer}/{z}/{x}/{y}.mvt — MVT bytes, caching headers, 304, clear 4xx, scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import mapbox_vector_tile
import pytest
from sqlalchemy import select

from api.http.auth import SESSION_COOKIE, issue_token
from events.models import DepartmentUnit
from events.reference import load_reference_data
from gis.tiles import EXTENT, MAX_ZOOM
from grid.models import AdminLevel, AdminUnit
from tests.factories import COMMUNITY, DISTRICT, add_staff, add_unit, bearer
from tests.gis.tile_city import G1, G2, TX, TY, Z, add_event, at, tile_of

URL = f"/tiles/buildings/{Z}/{TX}/{TY}.mvt"


@pytest.fixture
def admin(client, session):
    client.headers.update(bearer(add_staff(session, "tile-admin", "admin")))
    return client


def codes(data: bytes, layer: str) -> set[str]:
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    return {f["properties"]["code"] for f in decoded.get(layer, {}).get("features", [])}


def test_building_tile_is_mvt_with_cache_headers(admin, tile_city):
    response = admin.get(URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert response.headers["etag"].startswith('"') and len(response.headers["etag"]) == 34
    assert codes(response.content, "buildings") == {"IN-NW", "IN-SE", "EDGE"}
    decoded = mapbox_vector_tile.decode(response.content)
    assert decoded["buildings"]["extent"] == EXTENT


def test_unchanged_tile_answers_304_to_its_etag(admin, tile_city):
    etag = admin.get(URL).headers["etag"]
    again = admin.get(URL, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = admin.get(URL, headers={"If-None-Match": '"stale", W/' + etag})
    assert other.status_code == 304
    changed = admin.get(URL, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content


def test_empty_tile_is_200_with_no_bytes(admin, tile_city):
    response = admin.get(f"/tiles/buildings/{Z}/{TX}/{TY + 9}.mvt")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    x, y = tile_of(*at(Z, TX, TY, 0.5, 0.5), 12)
    below_minzoom = admin.get(f"/tiles/buildings/12/{x}/{y}.mvt")
    assert below_minzoom.status_code == 200 and below_minzoom.content == b""


@pytest.mark.parametrize(
    ("path", "says", "field"),
    [
        (f"/tiles/buildings/{MAX_ZOOM + 1}/0/0.mvt", f"zoom {MAX_ZOOM + 1} is outside", "z"),
        ("/tiles/buildings/3/8/0.mvt", "x 8 is outside 0..7", "x"),
        ("/tiles/grids/3/1/-1.mvt", "y -1 is outside 0..7", "y"),
    ],
)
def test_tile_outside_the_matrix_is_400_with_a_sentence(admin, path, says, field):
    response = admin.get(path)
    assert response.status_code == 400
    error = response.json()["error"]
    assert says in error["message"] and error["field"] == field


def test_unknown_layer_is_404_naming_the_layers(admin):
    response = admin.get("/tiles/residents/14/0/0.mvt")
    assert response.status_code == 404
    assert "buildings, events, grids" in response.json()["error"]["message"]


def test_non_numbers_are_422(admin):
    assert admin.get("/tiles/buildings/14/a/0.mvt").status_code == 422


def test_anonymous_caller_gets_401(client, tile_city):
    response = client.get(URL)
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]["message"]


def test_page_session_cookie_is_enough(client, session, tile_city):
    token, _ = issue_token(add_staff(session, "cookie-worker", "grid_worker", grid_codes=[G1]))
    client.cookies.set(SESSION_COOKIE, token)
    response = client.get(URL)
    assert response.status_code == 200
    assert codes(response.content, "buildings") == {"IN-NW", "IN-SE", "EDGE"}


OTHER_STREET = "420502002000"


@pytest.fixture
def events(tile_city):
    """E-G1 (overdue) in grid G1, E-G2 in G2 with unit PS01; and an empty second street."""
    load_reference_data(tile_city)
    unit = add_unit(tile_city, "PS01", "police")
    add_event(tile_city, "E-G1", 0.25, 0.25, G1, stage_deadline=datetime(2020, 1, 1, tzinfo=UTC))
    add_event(tile_city, "E-G2", 0.75, 0.25, G2, unit_id=unit.id)
    tile_city.add(
        AdminUnit(
            code=OTHER_STREET,
            name="学院街道",
            level=AdminLevel.STREET,
            parent_code=DISTRICT + "000000",
            district_code=DISTRICT,
        )
    )
    tile_city.flush()
    return tile_city


EVENTS_URL = f"/tiles/events/{Z}/{TX}/{TY}.mvt"


@pytest.mark.parametrize(
    ("role", "scope", "expected"),
    [
        ("admin", {}, {"E-G1", "E-G2"}),
        ("grid_worker", {"grid_codes": [G1]}, {"E-G1"}),
        ("command", {"area_code": COMMUNITY}, {"E-G1", "E-G2"}),
        ("command", {"area_code": OTHER_STREET}, set()),
        ("dispatcher", {"unit": "PS01"}, {"E-G2"}),
    ],
)
def test_event_tile_is_scoped_to_the_caller(client, session, events, role, scope, expected):
    if "unit" in scope:
        unit = session.scalar(select(DepartmentUnit).where(DepartmentUnit.code == scope["unit"]))
        scope = {"department_unit_id": unit.id}
    client.headers.update(bearer(add_staff(session, f"tile-{role}", role, **scope)))
    response = client.get(EVENTS_URL)
    assert response.status_code == 200
    assert codes(response.content, "events") == expected
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["vary"] == "Authorization, Cookie, X-Api-Key"


def test_leaders_get_no_event_tiles_but_the_frame(client, session, events):
    """Leaders see events as counts and heat maps (/maps/leader), never one by one."""
    client.headers.update(bearer(add_staff(session, "tile-leader", "leader", area_code=COMMUNITY)))
    refused = client.get(EVENTS_URL)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "E-G1" not in refused.text
    assert client.get(URL).status_code == 200


def test_openapi_documents_the_tile_media_type(admin):
    spec = admin.get("/openapi.json").json()
    operation = spec["paths"]["/tiles/{layer}/{z}/{x}/{y}.mvt"]["get"]
    assert "application/vnd.mapbox-vector-tile" in operation["responses"]["200"]["content"]
