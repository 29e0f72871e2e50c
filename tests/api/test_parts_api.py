"""The city parts routes: GeoJSON points filtered, paged and kept to the caller's district, the
catalogue, and events filed naming a part (JSON and form bodies)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from people.models import StaffRole
from tests.api.event_requests import assert_error
from tests.events.workflow_city import add_person
from tests.factories import bearer
from tests.grid.parts_city import BIN, COVER, LAMP, LAMP_WEST, POINTS, WJG_LAMP, build_parts_city

NEAR_LAMP = (111.2922, 30.7052)


@pytest.fixture
def parts_city(session: Session) -> dict[str, Any]:
    city = build_parts_city(session)
    city["disp_squad"] = add_person(
        session, "disp.squad", StaffRole.DISPATCHER, unit_id=city["squad"].id
    )
    return city


def codes(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [f["id"] for f in response.json()["features"]]


def test_a_grid_worker_reads_their_districts_parts_as_geojson_points(client, parts_city):
    response = client.get("/api/parts", headers=bearer(parts_city["worker"]))
    body = response.json()
    assert codes(response) == [COVER, LAMP, LAMP_WEST, BIN]
    assert (body["type"], body["total"], body["page"]) == ("FeatureCollection", 4, 1)
    lamp = body["features"][1]
    assert lamp["geometry"] == {"type": "Point", "coordinates": list(POINTS[LAMP])}
    props = lamp["properties"]
    assert props["type"]["name"] == "路灯" and props["type"]["gbt47678_code"] == "01037"
    assert props["owner"] == {
        "id": parts_city["lamps"].id,
        "code": "LD-1",
        "name": "西陵区路灯管理所",
    }
    assert (props["state"], props["state_label"], props["grid_code"]) == (
        "normal",
        "正常",
        "420502001001002",
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=01", [COVER, LAMP, LAMP_WEST]),
        ("type=0118", [LAMP, LAMP_WEST]),
        ("type=垃圾箱", [BIN]),
        ("state=损坏", [LAMP_WEST]),
        ("grid=420502001001001", [LAMP_WEST]),
        ("bbox=111.29,30.70,111.30,30.72", [COVER, LAMP, BIN]),
        ("page=2&page_size=3", [BIN]),
    ],
)
def test_filters(client, parts_city, query, expected):
    assert (
        codes(client.get(f"/api/parts?{query}", headers=bearer(parts_city["worker"]))) == expected
    )


def test_filter_by_owner_shows_a_unit_its_own_parts(client, parts_city):
    owner = parts_city["squad"].id
    response = client.get(f"/api/parts?owner={owner}", headers=bearer(parts_city["disp_squad"]))
    assert codes(response) == [BIN]


def test_another_districts_parts_are_not_listed_and_read_as_missing(client, parts_city):
    wjg = bearer(parts_city["wjg_worker"])
    assert codes(client.get("/api/parts", headers=wjg)) == [WJG_LAMP]
    assert client.get(f"/api/parts/{WJG_LAMP}", headers=wjg).status_code == 200
    assert_error(client.get(f"/api/parts/{LAMP}", headers=wjg), 404, "does not exist")
    # the city's command staff see both districts
    both = client.get("/api/parts?type=0118", headers=bearer(parts_city["city_command"]))
    assert codes(both) == [LAMP, LAMP_WEST, WJG_LAMP]


def test_one_part_by_code(client, parts_city):
    response = client.get(f"/api/parts/{LAMP}", headers=bearer(parts_city["leader"]))
    assert response.status_code == 200
    feature = response.json()
    assert feature["id"] == LAMP and feature["properties"]["name"] == "夷陵大道路灯1号"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("state=broken", "not a known part state"),
        ("type=0999", "not in the catalogue"),
        ("bbox=1,2,3", "four numbers"),
    ],
)
def test_bad_filters_are_refused_with_a_sentence_as_the_frame_routes_do(
    client, parts_city, query, words
):
    response = client.get(f"/api/parts?{query}", headers=bearer(parts_city["worker"]))
    assert_error(response, 400, words)  # grid.InvalidQuery, as a bad bbox on /api/buildings


def test_the_catalogue(client, parts_city):
    response = client.get("/api/part-types", headers=bearer(parts_city["worker"]))
    assert response.status_code == 200
    lamp = next(t for t in response.json() if t["code"] == "0118")
    assert lamp == {
        "code": "0118",
        "major_code": "01",
        "major_name": "公用设施",
        "name": "路灯",
        "gbt47678_code": "01037",
        "checked": True,
    }


def _filing(**fields: Any) -> dict[str, Any]:
    return {
        "category": "1002",
        "lon": NEAR_LAMP[0],
        "lat": NEAR_LAMP[1],
        "description": "路灯不亮",
        "part_code": LAMP,
    } | fields


@pytest.mark.parametrize("body", ["json", "form"])
def test_an_event_filed_naming_a_lamp_goes_to_its_owner(client, parts_city, session, body):
    fields = _filing()
    sent = {"json": fields} if body == "json" else {"data": {k: str(v) for k, v in fields.items()}}
    response = client.post("/api/events", headers=bearer(parts_city["worker"]), **sent)
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["part_code"] == LAMP and event["unit"]["code"] == "LD-1"
    stored = session.execute(
        text("SELECT part_code, unit_id FROM event WHERE code = :code"), {"code": event["code"]}
    ).one()
    assert tuple(stored) == (LAMP, parts_city["lamps"].id)


def test_a_blank_part_code_in_a_form_is_no_part(client, parts_city):
    fields = {k: str(v) for k, v in _filing(part_code="").items()}
    response = client.post("/api/events", headers=bearer(parts_city["worker"]), data=fields)
    assert response.status_code == 201, response.text
    assert response.json()["part_code"] is None
    assert response.json()["unit"]["code"] == "CG-1"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"part_code": WJG_LAMP, "lon": 111.2995, "lat": 30.705}, "in district 420503"),
        ({"part_code": "4205020118999999"}, "does not exist"),
        ({"part_code": LAMP_WEST}, "m from the event's point"),
    ],
)
def test_a_bad_part_code_is_a_422_naming_the_field(client, parts_city, session, fields, words):
    before = session.execute(text("SELECT count(*) FROM event")).scalar()
    response = client.post(
        "/api/events", json=_filing(**fields), headers=bearer(parts_city["worker"])
    )
    assert assert_error(response, 422, words)["field"] == "part_code"
    assert session.execute(text("SELECT count(*) FROM event")).scalar() == before
