"""Two districts over HTTP: each district's accounts see nothing of the other's events,
residents, grids, KPIs, maps, tiles, exports or Open311 requests; the city level (宜昌市 4205)
sees both; and POST /api/events/{code}/transfer moves a case across (跨区移交)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import mapbox_vector_tile
import pytest

from api.map_data import leader_data
from events.exceptions import Forbidden
from people import service as people_service
from people.integrations import issue_key
from people.schemas import ResidentCreate
from people.staff import create_staff
from tests.api.event_requests import assert_error
from tests.events.districts_city import WJG, WJG_GRID, WJG_SPOT
from tests.events.workflow_city import EAST, WEST, file
from tests.factories import add_building, add_house, bearer, id_number, square
from tests.gis.tile_city import tile_of

XILING = "420502"
XILING_STAFF = ("worker", "disp_w", "command_staff")
WJG_STAFF = ("wjg_worker", "wjg_disp", "wjg_command")
PAIRS = [(who, "xl") for who in XILING_STAFF] + [(who, "wjg") for who in WJG_STAFF]
OPEN311 = "/open311/v2"


@pytest.fixture
def districts(two_districts: dict[str, Any]) -> dict[str, Any]:
    """Two districts with one open case, one building, one resident and one Open311 request
    in each (filed by that district's Open311 app)."""
    city = two_districts
    session = city["session"]
    city["xl"] = {"event": file(city).code, "grid": EAST, "building": "XLB"}
    wjg_event = file(city, lon=WJG_SPOT[0], lat=WJG_SPOT[1], by="wjg_worker").code
    city["wjg"] = {"event": wjg_event, "grid": WJG_GRID, "building": "WJGB"}
    for side, lon, name, sequence, region in (
        ("xl", 111.293, "西陵居民", 11, XILING),
        ("wjg", 111.306, "伍家岗居民", 12, WJG),
    ):
        building = add_building(
            session, city[side]["building"], square(lon, 30.701, 0.0005), city[side]["grid"]
        )
        house = add_house(session, building)
        resident = people_service.register_resident(
            session,
            actor=city["admin"],
            data=ResidentCreate(
                doc_number=id_number(sequence, region=region),
                name=name,
                house_code=f"{building.code}-{house.unit}-{house.room}",
                moved_in=date(2020, 1, 1),
            ),
        )
        city[side]["resident"] = resident.id
        city[side]["name"] = name
    city["xl"]["key"] = city["open311"]  # the workflow city's app, area 420502
    city["wjg"]["key"] = issue_key(session, name="wjg-app", area_code=WJG + "000000").key
    return city


def other(side: str) -> str:
    return "wjg" if side == "xl" else "xl"


# -- events --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "side"), PAIRS)
def test_district_staff_see_their_districts_events_and_none_of_the_others(
    client, districts, who, side
):
    headers = bearer(districts[who])
    listed = client.get("/api/events", headers=headers)
    assert listed.status_code == 200
    codes = {item["code"] for item in listed.json()["items"]}
    assert districts[side]["event"] in codes and districts[other(side)]["event"] not in codes
    theirs = client.get(f"/api/events/{districts[other(side)]['event']}", headers=headers)
    assert_error(theirs, 403, "outside")
    assert client.get(f"/api/events/{districts[side]['event']}", headers=headers).status_code == 200


def test_the_city_command_sees_both_districts_events(client, districts):
    listed = client.get("/api/events", headers=bearer(districts["city_command"])).json()
    codes = {item["code"] for item in listed["items"]}
    assert {districts["xl"]["event"], districts["wjg"]["event"]} <= codes


# -- residents and exports -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "side"),
    [("worker", "xl"), ("command_staff", "xl"), ("wjg_worker", "wjg"), ("wjg_command", "wjg")],
)
def test_district_staff_read_and_export_only_their_districts_residents(
    client, districts, who, side
):
    headers = bearer(districts[who])
    names = {r["name"] for r in client.get("/api/residents", headers=headers).json()["items"]}
    assert names == {districts[side]["name"]}
    theirs = client.get(f"/api/residents/{districts[other(side)]['resident']}", headers=headers)
    assert_error(theirs, 404, "不在您的管辖范围内")
    exported = client.get("/api/exports/residents", headers=headers, params={"format": "csv"})
    assert exported.status_code == 200
    text = exported.content.decode("utf-8-sig")
    assert districts[side]["name"] in text and districts[other(side)]["name"] not in text


def test_a_city_command_account_reads_residents_of_both_districts(client, districts):
    city_command = create_staff(
        districts["session"],
        username="city.duty",
        password="test-password",
        full_name="市指挥中心值班",
        role="command",
        area_code="4205",
    )
    items = client.get("/api/residents", headers=bearer(city_command)).json()["items"]
    assert {r["name"] for r in items} == {"西陵居民", "伍家岗居民"}


# -- the base map: grids, buildings, houses, tiles, layer exports --------------------------------


@pytest.mark.parametrize(("who", "side"), PAIRS)
def test_district_staff_get_only_their_districts_grids_and_buildings(client, districts, who, side):
    headers = bearer(districts[who])
    grids = client.get("/api/grids", headers=headers).json()["features"]
    districts_seen = {f["properties"]["code"][:6] for f in grids}
    assert districts_seen == {XILING if side == "xl" else WJG}
    theirs = districts[other(side)]
    assert_error(client.get(f"/api/grids/{theirs['grid']}", headers=headers), 404)
    assert_error(client.get(f"/api/buildings/{theirs['building']}", headers=headers), 404)
    houses = client.get("/api/houses", headers=headers).json()["features"]
    assert {h["properties"]["code"].split("-")[0] for h in houses} == {districts[side]["building"]}
    exported = client.get("/api/exports/grids", headers=headers, params={"format": "geojson"})
    codes = {f["properties"]["code"][:6] for f in json.loads(exported.content)["features"]}
    assert codes == districts_seen


def test_the_city_and_an_admin_get_both_districts_base_map(client, districts):
    for who in ("city_command", "city_leader", "admin"):
        grids = client.get("/api/grids", headers=bearer(districts[who])).json()["features"]
        assert {f["properties"]["code"][:6] for f in grids} == {XILING, WJG}, who


def tile_codes(client, headers, layer: str, z: int) -> set[str]:
    x, y = tile_of(111.30, 30.705, z)  # the tile on the border of the two districts
    response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)
    assert response.status_code == 200
    assert response.headers["vary"] == "Authorization, Cookie, X-Api-Key"
    decoded = mapbox_vector_tile.decode(response.content) if response.content else {}
    return {f["properties"]["code"] for f in decoded.get(layer, {}).get("features", [])}


@pytest.mark.parametrize(("who", "side"), PAIRS)
def test_tiles_show_a_district_only_its_own_grids_and_events(client, districts, who, side):
    headers = bearer(districts[who])
    grids = tile_codes(client, headers, "grids", 12)
    assert grids and {g[:6] for g in grids} == {XILING if side == "xl" else WJG}
    events = tile_codes(client, headers, "events", 12)
    assert districts[side]["event"] in events and districts[other(side)]["event"] not in events


def test_the_city_commands_tiles_show_both_districts(client, districts):
    headers = bearer(districts["city_command"])
    assert {g[:6] for g in tile_codes(client, headers, "grids", 12)} == {XILING, WJG}
    events = tile_codes(client, headers, "events", 12)
    assert {districts["xl"]["event"], districts["wjg"]["event"]} <= events


# -- KPIs and the leader map -----------------------------------------------------------------------


def kpi_keys(client, actor) -> dict[str, int]:
    params = {"by": "district", "period": "2026-11"}
    response = client.get("/api/stats/kpis", headers=bearer(actor), params=params)
    assert response.status_code == 200, response.text
    return {row["key"]: row["reported"] for row in response.json()["rows"]}


def test_kpis_by_district_each_district_its_own_the_city_both(client, districts):
    assert kpi_keys(client, districts["leader"]) == {XILING: 1}
    assert kpi_keys(client, districts["wjg_leader"]) == {WJG: 1}
    assert kpi_keys(client, districts["city_leader"]) == {XILING: 1, WJG: 1}
    assert kpi_keys(client, districts["city_command"]) == {XILING: 1, WJG: 1}


def test_the_leader_map_of_the_city_shows_both_districts_and_a_district_only_its_own(
    client, districts
):
    session, now = districts["session"], datetime.now(UTC)

    def grids_of(actor, area=None):
        data, _ = leader_data(
            session, actor=actor, area=area, days=30, category=None, measure="open", now=now
        )
        return data, {g.code for g in data.grids}

    city, codes = grids_of(districts["city_leader"])
    assert city.area.level == "city" and codes == {WEST, EAST, WJG_GRID}
    assert {c.code for c in city.children} == {XILING + "000000", WJG + "000000"}
    wjg, codes = grids_of(districts["wjg_leader"])
    assert codes == {WJG_GRID}
    assert [p.code for p in wjg.police] == []  # 西陵's police areas reach over; not shown
    with pytest.raises(Forbidden, match="outside your area"):
        grids_of(districts["wjg_leader"], area=XILING + "000000")
    page = client.get("/maps/leader", headers=bearer(districts["city_leader"]))
    assert page.status_code == 200 and "<title>全市 · 领导驾驶舱" in page.text
    assert "伍家岗区" in page.text and "西陵区" in page.text  # its districts, side by side
    refused = client.get("/maps/leader?area=420502", headers=bearer(districts["wjg_leader"]))
    assert refused.status_code == 403


# -- Open311 ---------------------------------------------------------------------------------------


def test_open311_apps_of_each_district_file_and_read_only_in_their_district(client, districts):
    filed = {}
    for side, (lon, lat) in (("xl", (111.292, 30.705)), ("wjg", WJG_SPOT)):
        response = client.post(
            f"{OPEN311}/requests.json",
            data={
                "api_key": districts[side]["key"],
                "service_code": "0101",
                "lat": str(lat),
                "long": str(lon),
                "description": "小区门口有人反复踩点",
            },
        )
        assert response.status_code == 201, response.text
        filed[side] = response.json()[0]["service_request_id"]
    for side in ("xl", "wjg"):
        key = districts[side]["key"]
        listed = client.get(f"{OPEN311}/requests.json", params={"api_key": key}).json()
        assert [r["service_request_id"] for r in listed] == [filed[side]]
        theirs = client.get(
            f"{OPEN311}/requests/{filed[other(side)]}.json", params={"api_key": key}
        )
        assert theirs.status_code == 404
    across = client.post(
        f"{OPEN311}/requests.json",
        data={
            "api_key": districts["wjg"]["key"],
            "service_code": "0101",
            "lat": "30.705",
            "long": "111.292",
            "description": "西陵的地址",
        },
    )
    assert across.status_code in (400, 403) and "outside area" in across.text


# -- 跨区移交 over HTTP -----------------------------------------------------------------------


def transfer(client, districts, who: str, code: str, **body: Any):
    return client.post(f"/api/events/{code}/transfer", headers=bearer(districts[who]), json=body)


def test_the_district_command_transfers_a_case_and_each_side_reads_its_half(client, districts):
    code = districts["xl"]["event"]
    moved = transfer(
        client, districts, "command_staff", code, to_district=WJG, reason="责任单位在伍家岗区"
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["status"] == "transferred" and body["status_label"] == "已移交"
    assert body["actions"] == []
    new_code = body["steps"][-1]["data"]["transferred_to"]
    assert new_code.startswith(WJG + "-")

    new = client.get(f"/api/events/{new_code}", headers=bearer(districts["wjg_command"]))
    assert new.status_code == 200
    detail = new.json()
    assert detail["district_code"] == WJG and detail["unit"]["code"] == "WJG-CC"
    assert [s["action"] for s in detail["steps"]] == [
        "report",
        "dispatch",
        "transfer-in",
        "dispatch",
    ]
    assert detail["steps"][0]["data"]["carried_from"]["event"] == code
    assert detail["steps"][2]["data"]["transferred_from"] == code
    assert_error(client.get(f"/api/events/{code}", headers=bearer(districts["wjg_command"])), 403)
    assert_error(
        client.get(f"/api/events/{new_code}", headers=bearer(districts["command_staff"])), 403
    )
    city = client.get("/api/events", headers=bearer(districts["city_command"])).json()["items"]
    assert {code, new_code} <= {e["code"] for e in city}
    params = {"status": ["dispatched", "signed"]}
    open_xl = client.get("/api/events", headers=bearer(districts["disp_w"]), params=params)
    assert code not in {e["code"] for e in open_xl.json()["items"]}


@pytest.mark.parametrize(
    ("who", "body", "status", "words"),
    [
        ("command_staff", {"to_district": XILING, "reason": "x"}, 422, "不能移交给本区"),
        ("command_staff", {"to_district": "420599", "reason": "x"}, 422, "不存在"),
        ("command_staff", {"reason": "x"}, 422, "to_district"),
        ("command_staff", {"to_district": WJG}, 422, "理由"),
        ("wjg_command", {"to_district": WJG, "reason": "x"}, 403, "outside"),
        # a district-held case: the tier rule refuses the street first (分级流转)
        ("street_command", {"to_district": WJG, "reason": "x"}, 403, "由区县层级办理"),
        ("disp_w", {"to_district": WJG, "reason": "x"}, 403, "dispatcher"),
        ("leader", {"to_district": WJG, "reason": "x"}, 403, ""),
    ],
)
def test_a_transfer_refused_says_why_in_chinese_first(client, districts, who, body, status, words):
    code = districts["xl"]["event"]
    assert_error(transfer(client, districts, who, code, **body), status, words)
    still = client.get(f"/api/events/{code}", headers=bearer(districts["command_staff"])).json()
    assert still["status"] == "dispatched"
