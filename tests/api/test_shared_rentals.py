"""HTTP: the rental_houses dataset reads the rental records (出租屋): active leases in the
grant's area, the landlord masked unless granted clear, the tenants counted, the risk grade
(counting the fire-safety events at the building); its changes follow rentals and tenants.
Expected values are worked out by hand from the people city (张三 lives in BA-1-0101, 李四
in BA-1-0201, 王五 in BB-1-0101)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from gis.clock import local_today
from people import service
from people.schemas import ResidentCreate
from tests.api.people_city import GRID_A, as_
from tests.api.test_rentals_api import _add_event
from tests.api.test_shared_api import _police
from tests.factories import id_number

TODAY = local_today()
START = TODAY - timedelta(days=10)


def _register(client, city, house: str, **fields: Any) -> dict[str, Any]:
    body = {
        "house_code": house,
        "landlord_resident_id": city["residents"]["li"],
        "lease_start": START.isoformat(),
        "lease_end": (START + timedelta(days=365)).isoformat(),
        "rooms": 2,
        **fields,
    }
    response = client.post("/api/rentals", json=body, headers=as_(city, "admin"))
    assert response.status_code == 201, response.text
    return response.json()


def _grant(client, city, landlord: str = "masked") -> dict[str, Any]:
    response = client.post(
        "/api/shared/grants",
        json={
            "department_id": _police(city["session"]),
            "dataset": "rental_houses",
            "fields": {
                "house_code": "masked",
                "landlord": landlord,
                "lease_start": "masked",
                "lease_end": "masked",
                "tenants": "masked",
                "risk_grade": "masked",
            },
            "area_code": GRID_A,
            "purpose": "出租屋治安管理 (rental security checks)",
        },
        headers=as_(city, "admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def let(client, people_city) -> dict[str, Any]:
    return {
        "a": _register(client, people_city, "BA-1-0101"),  # 张三 is its tenant; not signed
        "b": _register(client, people_city, "BB-1-0101"),  # grid B: outside the grant
    }


def _read(client, city) -> dict[str, Any]:
    response = client.get("/api/shared/rental_houses", headers=as_(city, "dispatcher"))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_rentals_of_the_area_are_read_from_the_rental_ledger(client, people_city, let):
    _grant(client, people_city)
    body = _read(client, people_city)
    assert body["total"] == 1
    assert body["items"] == [
        {
            "id": let["a"]["id"],
            "house_code": "BA-1-0101",
            "landlord": "李*",
            "lease_start": START.isoformat(),
            "lease_end": (START + timedelta(days=365)).isoformat(),
            "tenants": 1,
            # No 治安责任书 signed: 中.
            "risk_grade": "medium",
        }
    ]


def test_fire_events_at_the_building_raise_the_grade_and_clear_shows_the_landlord(
    client, people_city, let
):
    _grant(client, people_city, landlord="clear")
    session = people_city["session"]
    _add_event(session, "420502-20261201-000001", "0201", days_ago=3)
    _add_event(session, "420502-20261201-000002", "0201", days_ago=5)
    (item,) = _read(client, people_city)["items"]
    assert (item["landlord"], item["risk_grade"]) == ("李四", "high")
    clear = session.execute(
        text("SELECT clear_fields FROM share_access_log ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert clear == "landlord"


def test_a_closed_lease_leaves_the_dataset(client, people_city, let):
    _grant(client, people_city)
    closed = client.patch(
        f"/api/rentals/{let['a']['id']}",
        json={"status": "closed", "closed_on": TODAY.isoformat()},
        headers=as_(people_city, "admin"),
    )
    assert closed.status_code == 200, closed.text
    assert _read(client, people_city)["total"] == 0


def _changes(client, city, after: int) -> dict[str, Any]:
    response = client.get(
        f"/api/shared/rental_houses/changes?after={after}", headers=as_(city, "dispatcher")
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_changes_follow_tenants_and_leases(client, people_city, let):
    _grant(client, people_city)
    first = _changes(client, people_city, 0)
    assert {c["id"] for c in first["items"]} == {let["a"]["id"]}  # B is outside the area
    after = first["next_after"]

    # A new resident moves into the let house: a tenant more, one change to the rental.
    service.register_resident(
        people_city["session"],
        actor=people_city["admin"],
        data=ResidentCreate(
            doc_number=id_number(14),
            name="赵六",
            phone="13700001111",
            house_code="BA-1-0101",
            moved_in=date.today(),
        ),
    )
    second = _changes(client, people_city, after)
    assert {c["id"] for c in second["items"]} == {let["a"]["id"]}
    assert second["items"][-1]["record"]["tenants"] == 2
    assert min(c["seq"] for c in second["items"]) > after

    # 退租: the rental leaves the dataset.
    client.patch(
        f"/api/rentals/{let['a']['id']}",
        json={"status": "closed"},
        headers=as_(people_city, "admin"),
    )
    third = _changes(client, people_city, second["next_after"])
    assert third["items"][-1] == {
        "seq": third["items"][-1]["seq"],
        "id": let["a"]["id"],
        "op": "removed",
        "record": None,
    }
    # Replayable from 0: the first numbers come again.
    replay = _changes(client, people_city, 0)
    assert [c["seq"] for c in replay["items"]][: len(first["items"])] == [
        c["seq"] for c in first["items"]
    ]
