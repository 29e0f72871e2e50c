"""The 楼盘表 (building household table) API: GET /api/buildings/{code}/households.

A six-room building in the workflow city's grid EAST with residents (one moved out, two
floating), special groups (one ended), an organisation and events (one closed). Counts are
checked against plain SQL written here; scope follows the residents routes.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from events.models import Event, EventStatus
from grid.models import HouseUse
from people import service
from people.models import Organisation, ResidenceType, SpecialGroup, SpecialGroupType
from people.schemas import ResidentCreate
from tests.events.workflow_city import EAST, MONDAY_10, SPOT, file
from tests.factories import add_building, add_house, bearer, id_number, square

BUILDING = "420502001001002B9001"
URL = f"/api/buildings/{BUILDING}/households"
# unit, floor, room, use — two units, three floors, one floor of unit 2 missing a room.
ROOMS = (
    ("1", 1, "0101", HouseUse.COMMERCIAL),
    ("1", 2, "0201", HouseUse.SELF_OCCUPIED),
    ("1", 3, "0301", HouseUse.RENTED),
    ("10", 1, "0101", HouseUse.VACANT),
    ("10", 3, "0302", HouseUse.RENTED),
    ("10", 3, "0301", HouseUse.SELF_OCCUPIED),
    ("2", 2, "0201", HouseUse.RENTED),
)


def _resident(session: Session, admin: Any, seq: int, house: str, floating: bool = False) -> int:
    data = ResidentCreate(
        doc_number=id_number(seq),
        name=f"住户{seq}",
        house_code=f"{BUILDING}-{house}",
        moved_in=date(2025, 1, 1),
        residence_type=ResidenceType.FLOATING if floating else ResidenceType.REGISTERED,
        arrival_date=date(2025, 1, 1) if floating else None,
        origin="湖北省荆州市" if floating else None,
    )
    return service.register_resident(session, actor=admin, data=data).id


def _group(session: Session, resident_id: int, kind: SpecialGroupType, ended: bool = False) -> None:
    session.add(
        SpecialGroup(
            district_code="420502",
            resident_id=resident_id,
            group_type=kind,
            started_on=date(2025, 1, 1),
            ended_on=date(2025, 6, 1) if ended else None,
            visit_interval_days=30,
            next_visit_due=date(2026, 12, 1),
        )
    )
    session.flush()


@pytest.fixture
def tower(city: dict[str, Any]) -> dict[str, Any]:
    """The building at SPOT with its rooms, people, an organisation and two events."""
    session: Session = city["session"]
    building = add_building(
        session,
        BUILDING,
        square(SPOT[0] - 0.0002, SPOT[1] - 0.0002, 0.0004),
        EAST,
        name="测试大厦",
        floors=3,
    )
    for unit, floor, room, use in ROOMS:
        add_house(session, building, unit=unit, floor=floor, room=room).use = use
    session.flush()
    admin = city["admin"]
    ids = {
        "a": _resident(session, admin, 21, "1-0201"),
        "b": _resident(session, admin, 22, "1-0201"),
        "c": _resident(session, admin, 23, "1-0301", floating=True),
        "d": _resident(session, admin, 24, "1-0301", floating=True),
        "e": _resident(session, admin, 25, "1-0301"),
        "gone": _resident(session, admin, 26, "10-0302"),
    }
    service.move_out(
        session, actor=admin, resident_id=ids["gone"], on=date(2025, 3, 1), reason="搬走"
    )
    _group(session, ids["a"], SpecialGroupType.ELDERLY_ALONE)
    _group(session, ids["c"], SpecialGroupType.COMMUNITY_CORRECTION)
    _group(session, ids["d"], SpecialGroupType.COMMUNITY_CORRECTION)
    _group(session, ids["e"], SpecialGroupType.DISABLED, ended=True)
    _group(session, ids["gone"], SpecialGroupType.DISABLED)
    session.add(
        Organisation(
            credit_code="91420502MA4KXXXX1X",
            name="测试便利店",
            org_type="enterprise",
            building_id=building.id,
            grid_code=EAST,
            district_code="420502",
            fire_key_unit=True,
        )
    )
    session.flush()
    open_event = file(city, building=BUILDING)
    closed_event = file(city, building=BUILDING, now=MONDAY_10 + timedelta(hours=1))
    session.execute(
        update(Event).where(Event.code == closed_event.code).values(status=EventStatus.CLOSED)
    )
    session.flush()
    return {**city, "building": building, "open_event": open_event.code}


def _sql(session: Session, query: str, building_id: int) -> list[Any]:
    return list(session.execute(text(query), {"b": building_id}).all())


def test_rooms_are_laid_out_floors_down_units_across_in_natural_order(client, tower):
    response = client.get(URL, headers=bearer(tower["worker2"]))
    assert response.status_code == 200, response.text
    table = response.json()
    assert table["units"] == ["1", "2", "10"]  # 10 after 2, not after 1
    assert [row["floor"] for row in table["rows"]] == [3, 2, 1]
    top = {u["unit"]: [r["room"] for r in u["rooms"]] for u in table["rows"][0]["units"]}
    assert top == {"1": ["0301"], "2": [], "10": ["0301", "0302"]}
    assert table["rows"][0]["units"][2]["rooms"][1]["code"] == f"{BUILDING}-10-0302"
    assert table["rooms"] == len(ROOMS)


def test_counts_match_independent_sql(client, tower, session):
    table = client.get(URL, headers=bearer(tower["worker2"])).json()
    building_id = tower["building"].id
    per_room = {
        f"{unit}-{room}": (n, f)
        for unit, room, n, f in _sql(
            session,
            "SELECT h.unit, h.room, count(r.id), "
            "count(r.id) FILTER (WHERE r.residence_type = 'floating') "
            "FROM house h LEFT JOIN resident r ON r.house_id = h.id AND r.active "
            "WHERE h.building_id = :b GROUP BY h.unit, h.room",
            building_id,
        )
    }
    groups = {
        (f"{unit}-{room}", kind): n
        for unit, room, kind, n in _sql(
            session,
            "SELECT h.unit, h.room, sg.group_type::text, count(*) FROM special_group sg "
            "JOIN resident r ON r.id = sg.resident_id JOIN house h ON h.id = r.house_id "
            "WHERE h.building_id = :b AND r.active AND sg.ended_on IS NULL "
            "GROUP BY h.unit, h.room, sg.group_type",
            building_id,
        )
    }
    uses = dict(
        _sql(
            session,
            "SELECT use::text, count(*) FROM house WHERE building_id = :b GROUP BY use",
            building_id,
        )
    )
    shown = {}
    shown_groups = {}
    for row in table["rows"]:
        for unit in row["units"]:
            for room in unit["rooms"]:
                key = f"{room['unit']}-{room['room']}"
                shown[key] = (room["residents"], room["floating"])
                for g in room["special_groups"]:
                    shown_groups[(key, g["type"])] = g["count"]
    assert shown == per_room
    assert shown_groups == groups
    assert {u["use"]: u["rooms"] for u in table["uses"] if u["rooms"]} == uses
    assert table["residents"] == sum(n for n, _ in per_room.values())
    assert table["floating"] == sum(f for _, f in per_room.values())
    assert table["special_groups"] == sum(groups.values())
    # And by hand: 5 active residents (one moved out), 2 floating, 3 live memberships.
    assert (table["residents"], table["floating"], table["special_groups"]) == (5, 2, 3)
    assert per_room["1-0301"] == (3, 2) and groups[("1-0301", "community_correction")] == 2


def test_organisations_and_only_open_events_of_the_building_are_listed(client, tower):
    table = client.get(URL, headers=bearer(tower["worker2"])).json()
    assert [(o["title"], o["flags"]) for o in table["organisations"]] == [
        ("测试便利店", ["消防重点"])
    ]
    assert [e["code"] for e in table["open_events"]] == [tower["open_event"]]
    assert table["open_events"][0]["light"] in {"green", "yellow", "red"}


def test_the_table_never_carries_a_name_or_id_number(client, tower):
    body = client.get(URL, headers=bearer(tower["worker2"])).text
    assert "住户" not in body and id_number(21) not in body and id_number(21)[-4:] not in body


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("worker2", 200),  # grid worker of EAST
        ("worker", 200),  # grid worker of WEST and EAST
        ("west_worker", 403),  # grid worker of the grid next door
        ("inspector", 200),  # area staff whose area holds the grid
        ("command_staff", 200),
        ("admin", 200),
        ("leader", 403),  # aggregates only: no room-by-room view of who lives where
        ("disp_w", 403),  # dispatchers see events, not residents
    ],
)
def test_scope_follows_the_residents_routes(client, tower, who, status):
    response = client.get(URL, headers=bearer(tower[who]))
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"]["message"]


def test_a_room_opens_its_residents_through_the_residents_route_in_the_same_scope(client, tower):
    house = f"{BUILDING}-1-0301"
    mine = client.get(f"/api/residents?house={house}", headers=bearer(tower["worker2"]))
    assert mine.status_code == 200
    assert mine.json()["total"] == 3
    assert all("*" in r["doc_masked"] for r in mine.json()["items"])
    assert (
        client.get(
            f"/api/residents?house={house}", headers=bearer(tower["west_worker"])
        ).status_code
        == 403
    )


def test_unknown_building_and_another_districts_building_read_as_missing(
    client, tower, two_districts
):
    missing = client.get("/api/buildings/NOPE/households", headers=bearer(tower["worker2"]))
    assert missing.status_code == 404
    assert "does not exist" in missing.json()["error"]["message"]
    # 伍家岗区's command centre: the building is not on its base map at all.
    assert client.get(URL, headers=bearer(two_districts["wjg_command"])).status_code == 404
    # A city-level command account sees every district of the city.
    assert client.get(URL, headers=bearer(two_districts["city_command"])).status_code == 200


def test_an_empty_building_has_an_empty_table(client, tower):
    add_building(
        tower["session"], "420502001001002B9002", square(SPOT[0] + 0.001, SPOT[1], 0.0002), EAST
    )
    table = client.get(
        "/api/buildings/420502001001002B9002/households", headers=bearer(tower["worker2"])
    ).json()
    assert (table["rows"], table["units"], table["rooms"], table["residents"]) == ([], [], 0, 0)


def test_a_rooms_history_lists_every_stay_current_first(client, tower):
    moved = client.get(
        f"/api/houses/{BUILDING}-10-0302/residences", headers=bearer(tower["worker2"])
    )
    assert moved.status_code == 200, moved.text
    assert [(s["name"], s["moved_in"], s["moved_out"], s["reason"]) for s in moved.json()] == [
        ("住户26", "2025-01-01", "2025-03-01", "搬走")
    ]
    busy = client.get(f"/api/houses/{BUILDING}-1-0301/residences", headers=bearer(tower["worker2"]))
    assert sorted(s["name"] for s in busy.json()) == ["住户23", "住户24", "住户25"]
    assert all(s["moved_out"] is None for s in busy.json())
    assert "doc" not in busy.text and id_number(23) not in busy.text


def test_a_rooms_history_is_scoped_and_says_what_is_wrong(client, tower):
    url = f"/api/houses/{BUILDING}-1-0301/residences"
    assert client.get(url, headers=bearer(tower["west_worker"])).status_code == 403
    assert client.get(url, headers=bearer(tower["leader"])).status_code == 403
    assert client.get(url, headers=bearer(tower["inspector"])).status_code == 200
    missing = client.get(
        f"/api/houses/{BUILDING}-1-9999/residences", headers=bearer(tower["admin"])
    )
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]
    malformed = client.get("/api/houses/nodashes/residences", headers=bearer(tower["admin"]))
    assert malformed.status_code == 400
