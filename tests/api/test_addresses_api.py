"""GET /api/addresses/search: the answer's shape, who may ask, each caller's area, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from grid.models import AdminLevel, AdminUnit
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
