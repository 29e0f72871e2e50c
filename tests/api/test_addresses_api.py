"""GET /api/addresses/search: the answer's shape, who may ask, each caller's area, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from grid.address_import import import_addresses
from grid.addresses import CONFIDENT_SCORE, place_address
from grid.models import AdminLevel, AdminUnit
from grid.std_address import attach_all
from people.models import StaffRole
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_building,
    add_grid,
    add_house,
    add_staff,
    add_unit,
    admin_tree,
    bearer,
    square,
)

GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
URL = "/api/addresses/search"


@pytest.fixture
def places(session) -> dict[str, Any]:
    """Two grids of 测试社区 with a named, addressed building each; an account of every role."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, GRID_A, square(111.28, 30.70, 0.01))
    add_grid(session, GRID_B, square(111.29, 30.70, 0.01))
    a = add_building(
        session, "BA", square(111.281, 30.701, 0.0002), GRID_A,
        name="测试社区1栋", address="西陵区西陵街道测试路1号",
    )  # fmt: skip
    add_building(
        session, "BB", square(111.291, 30.701, 0.0002), GRID_B,
        name="测试社区2栋", address="西陵区西陵街道测试路2号",
    )  # fmt: skip
    house = add_house(session, a, unit="3", floor=5, room="0502")
    unit = add_unit(session, "PS01", "police", location=(111.285, 30.705))
    scopes: dict[StaffRole, dict[str, Any]] = {
        StaffRole.GRID_WORKER: {"grid_codes": [GRID_B]},
        StaffRole.INSPECTOR: {"area_code": DISTRICT + "000000"},
        StaffRole.DISPATCHER: {"department_unit_id": unit.id},
        StaffRole.COMMAND: {"area_code": DISTRICT + "000000"},
        StaffRole.LEADER: {"area_code": DISTRICT + "000000"},
        StaffRole.ADMIN: {},
    }
    headers = {
        role: bearer(add_staff(session, f"addr.{role.value}", role.value, **scope))
        for role, scope in scopes.items()
    }
    return {"headers": headers, "house_id": house.id}


def test_the_answer_has_the_parsed_text_and_ranked_candidates(client, places):
    command = places["headers"][StaffRole.COMMAND]
    response = client.get(URL, params={"q": "西陵区测试社区1栋3单元502"}, headers=command)

    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "西陵区测试社区1栋3单元502"
    assert body["parsed"]["building_no"] == 1 and body["parsed"]["unit"] == "3"
    (best,) = body["candidates"]
    assert {k: best[k] for k in ("building_code", "building_name", "house_id", "room")} == {
        "building_code": "BA",
        "building_name": "测试社区1栋",
        "house_id": places["house_id"],
        "room": "3单元0502室",
    }
    assert (best["grid_code"], best["district_code"]) == (GRID_A, DISTRICT)
    assert 111.281 < best["lon"] < 111.2812 and 30.701 < best["lat"] < 30.7012
    assert best["score"] == 0.96  # the building (0.9), and district and community (0.03 each)
    assert best["why"] == "楼栋一致; 区县一致; 社区一致; 单元室号一致"


def test_nothing_matching_is_an_empty_list(client, places):
    command = places["headers"][StaffRole.COMMAND]
    response = client.get(URL, params={"q": "测试路99号"}, headers=command)
    assert response.status_code == 200 and response.json()["candidates"] == []


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_staff_role_may_search_its_own_area(client, places, role):
    response = client.get(URL, params={"q": "测试路2号"}, headers=places["headers"][role])
    assert response.status_code == 200
    assert [c["building_code"] for c in response.json()["candidates"]] == ["BB"]


def test_nobody_searches_without_signing_in(client, places):
    assert client.get(URL, params={"q": "测试路2号"}).status_code == 401


def test_a_grid_worker_finds_nothing_outside_their_grids(client, places):
    worker = places["headers"][StaffRole.GRID_WORKER]  # grid B only
    assert client.get(URL, params={"q": "测试路1号"}, headers=worker).json()["candidates"] == []
    admin = places["headers"][StaffRole.ADMIN]
    found = client.get(URL, params={"q": "测试路1号"}, headers=admin).json()["candidates"]
    assert [c["building_code"] for c in found] == ["BA"]


@pytest.mark.parametrize("role", ["command", "leader", "inspector"])
def test_area_staff_find_nothing_outside_their_area(client, places, session, role):
    session.add(
        AdminUnit(
            code="420502002000",
            name="学院街道",
            level=AdminLevel.STREET,
            parent_code=DISTRICT + "000000",
            district_code=DISTRICT,
        )
    )
    other = add_staff(session, "addr.other", role, area_code="420502002000")
    response = client.get(URL, params={"q": "测试路1号"}, headers=bearer(other))
    assert response.status_code == 200 and response.json()["candidates"] == []


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"q": ""}, "q", "q is empty"),
        ({"q": "路" * 201}, "q", "201 characters"),
        ({"q": "测试路1号", "limit": "0"}, "limit", "limit 0 is not valid"),
        ({"q": "测试路1号", "limit": "21"}, "limit", "limit 21 is not valid"),
        ({"q": "测试路1号", "limit": "many"}, "limit", "integer"),
        ({}, "q", "required"),
    ],
)
def test_bad_input_is_a_422_with_a_sentence(client, places, params, field, words):
    command = places["headers"][StaffRole.COMMAND]
    response = client.get(URL, params=params, headers=command)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field and words in error["message"]


# --- standard addresses (标准地址) by code -----------------------------------------------------


def test_a_standard_address_reads_with_its_house_and_children(client, session, places):
    attach_all(session)
    headers = places["headers"][StaffRole.GRID_WORKER]
    # 测试路 is road 001 of the community; 1号 door 0001 (1 before 2); building 0001; unit 3
    # is unit 01, floor 5 floor 001, room 0502 room 0001.
    room = COMMUNITY + "001" + "0001" + "0001" + "01" + "001" + "0001"
    got = client.get(f"/api/addresses/{room}", headers=headers)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["level"], body["level_label"], body["house_code"]) == ("room", "户室", "BA-3-0502")
    assert body["full_text"] == "西陵区西陵街道测试社区测试路1号1栋3单元5层0502室"
    assert body["parent_code"] == room[:28] and body["grid_code"] == GRID_A

    roads = client.get(f"/api/addresses/{COMMUNITY}/children", headers=headers).json()
    assert [(a["code"], a["name"]) for a in roads["items"]] == [(COMMUNITY + "001", "测试路")]
    doors = client.get(
        f"/api/addresses/{COMMUNITY}001/children", params={"page_size": 1, "page": 2},
        headers=headers,
    ).json()  # fmt: skip
    assert doors["total"] == 2 and [a["name"] for a in doors["items"]] == ["2号"]
    building = client.get(f"/api/addresses/{COMMUNITY}00100010001", headers=headers).json()
    assert building["building_code"] == "BA"


def test_standard_addresses_of_another_district_and_bad_codes_are_refused(client, session, places):
    attach_all(session)
    session.add(
        AdminUnit(
            code="420503000000", name="伍家岗区", level=AdminLevel.DISTRICT, district_code="420503"
        )
    )
    session.flush()
    other = bearer(
        add_staff(session, "addr.other", "command", area_code="420503000000")
    )  # fmt: skip
    road = COMMUNITY + "001"
    assert client.get(f"/api/addresses/{road}", headers=other).status_code == 404
    assert client.get(f"/api/addresses/{COMMUNITY}/children", headers=other).status_code == 404
    admin = places["headers"][StaffRole.ADMIN]
    assert client.get(f"/api/addresses/{road}", headers=admin).status_code == 200
    assert client.get(f"/api/addresses/{road}9", headers=admin).status_code == 404
    bad = client.get("/api/addresses/12x", headers=admin)
    assert bad.status_code in (400, 422) and "not a standard-address code" in bad.text


def test_a_candidate_carries_its_standard_address(client, session, places):
    attach_all(session)
    headers = places["headers"][StaffRole.ADMIN]
    found = client.get(URL, params={"q": "测试路1号3单元502"}, headers=headers).json()
    best = found["candidates"][0]
    assert best["house_code"] == "BA-3-0502"
    assert best["address_code"] == COMMUNITY + "001" + "0001" + "0001" + "01" + "001" + "0001"
    building = client.get(URL, params={"q": "测试路2号"}, headers=headers).json()
    assert building["candidates"][0]["address_code"] == COMMUNITY + "001" + "0002" + "0001"


def test_a_door_plate_with_no_building_yet_is_found_at_its_point(client, session, places, tmp_path):
    """A 门牌 list imported before the survey: the call is located at the plate's own point, as
    a candidate without a building that no ledger row is ever placed on."""
    plates = tmp_path / "plates.csv"
    plates.write_text("road,number,lon,lat,building_code\n测试路,9,111.2955,30.7055,\n", "utf-8")
    import_addresses(session, path=plates)
    worker = places["headers"][StaffRole.GRID_WORKER]  # grid B, where the plate stands
    (plate,) = client.get(URL, params={"q": "测试路9号"}, headers=worker).json()["candidates"]
    assert plate["building_code"] is None and plate["house_id"] is None
    assert (plate["lon"], plate["lat"]) == (111.2955, 30.7055)
    assert plate["address"] == "西陵区西陵街道测试社区测试路9号"
    assert plate["address_code"] == COMMUNITY + "001" + "0003"  # 测试路's third plate
    assert plate["grid_code"] == GRID_B
    assert plate["score"] < CONFIDENT_SCORE and "门牌下尚无登记楼栋" in plate["why"]
    # The door plate of a building is the building, not the plate alone.
    (built,) = client.get(URL, params={"q": "测试路2号"}, headers=worker).json()["candidates"]
    assert built["building_code"] == "BB"
    # Out of the caller's grids, the plate is not found either.
    grid_a = bearer(add_staff(session, "addr.worker_a", "grid_worker", grid_codes=[GRID_A]))
    assert client.get(URL, params={"q": "测试路9号"}, headers=grid_a).json()["candidates"] == []
    placed = place_address(session, text="测试路9号")
    assert placed.candidate is None and "no building is registered on it yet" in (
        placed.reason or ""
    )
