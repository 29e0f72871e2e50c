"""HTTP: rentals (出租屋) and floating residents' deadline lists (流动人口).

JSON and form bodies, a resent POST registers once, scope by grid, masking, closing (退租),
and the risk grade counting the fire-safety events at the building. Expectations are read
back with plain SQL or worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from events.models import Event, EventCategory, EventSource, EventStatus
from events.reference import load_reference_data
from gis.clock import local_today
from people import service
from people.schemas import ResidentCreate
from tests.api.people_city import GRID_A, as_
from tests.factories import id_number

TODAY = local_today()


def _body(city: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "house_code": "BA-1-0101",
        "landlord_resident_id": city["residents"]["li"],
        "lease_start": (TODAY - timedelta(days=10)).isoformat(),
        "responsibility_signed_on": (TODAY - timedelta(days=10)).isoformat(),
        "rooms": "1",
        **fields,
    }


def _rentals(session) -> int:
    return session.scalar(text("SELECT count(*) FROM rental"))


def _add_event(session, code: str, category_code: str, days_ago: int) -> None:
    load_reference_data(session)  # the shipped categories (adds only the missing ones)
    category = session.scalars(
        select(EventCategory).where(EventCategory.code == category_code)
    ).one()
    building = session.execute(
        text("SELECT id, district_code FROM building WHERE code = 'BA'")
    ).one()
    session.add(
        Event(
            code=code,
            category_id=category.id,
            category_code=category.code,
            priority=category.priority,
            status=EventStatus.DISPATCHED,
            source=EventSource.GRID_WORKER,
            description="楼道堆放杂物",
            geom="SRID=4490;POINT(111.281 30.701)",
            locate_match="inside",
            grid_code=GRID_A,
            community_code=GRID_A[:12],
            street_code=GRID_A[:9] + "000",
            district_code=building.district_code,
            building_id=building.id,
            reported_at=datetime.now(UTC) - timedelta(days=days_ago),
        )
    )
    session.flush()


def test_a_rental_posted_twice_with_one_key_is_registered_once(client, people_city):
    headers = as_(people_city, "worker_a") | {"Idempotency-Key": "rental-form-1"}
    first = client.post("/api/rentals", headers=headers, json=_body(people_city))
    assert first.status_code == 201, first.text
    again = client.post("/api/rentals", headers=headers, json=_body(people_city))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert _rentals(people_city["session"]) == 1
    body = first.json()
    assert body["occupants"] == 1 and body["tenants"][0]["name"] == "张三"
    assert "*" in body["tenants"][0]["doc_masked"]
    assert (body["risk_grade"], body["risk_label"]) == ("low", "低")


def test_a_rental_can_be_registered_from_a_form(client, people_city):
    response = client.post(
        "/api/rentals", headers=as_(people_city, "worker_a"), data=_body(people_city)
    )
    assert response.status_code == 201, response.text
    assert response.json()["rooms"] == 1 and response.json()["house_code"] == "BA-1-0101"


def test_a_worker_of_another_grid_cannot_register_it_nor_read_it(client, people_city):
    refused = client.post(
        "/api/rentals", headers=as_(people_city, "worker_b"), json=_body(people_city)
    )
    assert refused.status_code == 403 and "outside your scope" in refused.text
    assert _rentals(people_city["session"]) == 0
    made = client.post(
        "/api/rentals", headers=as_(people_city, "worker_a"), json=_body(people_city)
    )
    rental_id = made.json()["id"]
    hidden = client.get(f"/api/rentals/{rental_id}", headers=as_(people_city, "worker_b"))
    assert hidden.status_code == 404
    assert client.get("/api/rentals", headers=as_(people_city, "worker_b")).json()["total"] == 0
    seen = client.get("/api/rentals", headers=as_(people_city, "command")).json()
    assert [r["id"] for r in seen["items"]] == [rental_id]


def test_bad_rentals_are_refused_with_a_sentence_and_leave_no_row(client, people_city):
    headers = as_(people_city, "worker_a")
    both = _body(people_city, landlord_organisation_id=1)
    response = client.post("/api/rentals", headers=headers, json=both)
    assert response.status_code == 422 and "one landlord" in response.text
    backwards = _body(people_city, lease_end=(TODAY - timedelta(days=20)).isoformat())
    response = client.post("/api/rentals", headers=headers, json=backwards)
    assert response.status_code == 422 and "before lease_start" in response.text
    assert _rentals(people_city["session"]) == 0


def test_closing_a_rental_by_form_moves_its_tenants_out(client, people_city):
    headers = as_(people_city, "worker_a")
    rental_id = client.post("/api/rentals", headers=headers, json=_body(people_city)).json()["id"]
    closed = client.patch(
        f"/api/rentals/{rental_id}",
        headers=headers,
        data={"status": "closed", "closed_on": TODAY.isoformat()},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status_label"] == "已退租" and closed.json()["occupants"] == 0
    session = people_city["session"]
    assert session.scalar(text("SELECT moved_out FROM rental_tenant")) == TODAY
    again = client.patch(f"/api/rentals/{rental_id}", headers=headers, json={"rooms": 2})
    assert again.status_code == 409
    assert client.get("/api/rentals", headers=headers).json()["total"] == 0
    listed = client.get("/api/rentals?status=closed", headers=headers).json()
    assert [r["id"] for r in listed["items"]] == [rental_id]


def test_fire_safety_events_at_the_building_raise_the_grade(client, people_city):
    session = people_city["session"]
    headers = as_(people_city, "worker_a")
    rental_id = client.post("/api/rentals", headers=headers, json=_body(people_city)).json()["id"]
    _add_event(session, "420502-20261201-900001", "0201", days_ago=2)  # 楼道堆放杂物
    _add_event(session, "420502-20261201-900002", "0203", days_ago=200)  # too long ago
    medium = client.get(f"/api/rentals/{rental_id}", headers=headers).json()
    assert medium["risk_grade"] == "medium"
    assert any("消防隐患：本楼近90天1起" in reason for reason in medium["risk_reasons"])
    _add_event(session, "420502-20261201-900003", "1101", days_ago=5)  # 火灾
    high = client.get(f"/api/rentals/{rental_id}", headers=headers).json()
    assert high["risk_grade"] == "high"


@pytest.fixture
def newcomers(people_city) -> dict[str, int]:
    """A floating resident in each grid: A's arrived 31 days ago and is overdue; B's permit
    expires in 30 days."""
    made = {}
    for key, sequence, house, fields in (
        ("a", 71, "BA-1-0201", {"arrival_date": TODAY - timedelta(days=31)}),
        (
            "b",
            72,
            "BB-1-0201",
            {
                "arrival_date": TODAY - timedelta(days=5),
                "permit_expiry": TODAY + timedelta(days=30),
            },
        ),
    ):
        made[key] = service.register_resident(
            people_city["session"],
            actor=people_city["admin"],
            data=ResidentCreate(
                doc_number=id_number(sequence),
                name=f"流动{sequence}",
                house_code=house,
                residence_type="floating",
                origin="河南省信阳市",
                moved_in=TODAY - timedelta(days=31),
                **fields,
            ),
        ).id
    return made


def test_floating_lists_are_scoped_and_masked(client, people_city, newcomers):
    overdue = client.get("/api/floating/overdue", headers=as_(people_city, "worker_a")).json()
    assert [(r["resident_id"], r["days"]) for r in overdue["items"]] == [(newcomers["a"], 1)]
    assert overdue["items"][0]["doc_masked"].count("*") == 11
    assert (
        client.get("/api/floating/overdue", headers=as_(people_city, "worker_b")).json()["total"]
        == 0
    )
    expiring = client.get("/api/floating/expiring", headers=as_(people_city, "worker_b")).json()
    assert [(r["resident_id"], r["days"]) for r in expiring["items"]] == [(newcomers["b"], 30)]
    everyone = client.get("/api/floating/overdue", headers=as_(people_city, "inspector")).json()
    assert everyone["total"] == 1
    refused = client.get("/api/floating/overdue", headers=as_(people_city, "leader"))
    assert refused.status_code == 403


def _newcomer_body(**fields: Any) -> dict[str, Any]:
    return {
        "doc_number": id_number(81),
        "name": "流动八十一",
        "house_code": "BA-1-0201",
        "residence_type": "floating",
        "origin": "河南省信阳市",
        "arrival_date": "2026-11-10",
        **fields,
    }


def test_a_residence_registration_before_arrival_is_refused(client, people_city):
    headers = as_(people_city, "worker_a")
    early = client.post(
        "/api/residents", json=_newcomer_body(registered_on="2026-11-09"), headers=headers
    )
    assert early.status_code == 422, early.text
    assert "居住登记日期 2026-11-09 早于来本地日期 2026-11-10" in early.text
    count = "SELECT count(*) FROM resident WHERE name = '流动八十一'"
    assert people_city["session"].scalar(text(count)) == 0
    # The day of arrival itself is fine.
    same_day = client.post(
        "/api/residents", json=_newcomer_body(registered_on="2026-11-10"), headers=headers
    )
    assert same_day.status_code == 201, same_day.text
    # A correction that moves the arrival after the registration is refused too.
    moved = client.patch(
        f"/api/residents/{same_day.json()['id']}",
        json={"arrival_date": "2026-11-11"},
        headers=headers,
    )
    assert moved.status_code == 422, moved.text
    assert "registered_on is before arrival_date" in moved.text


def test_a_house_rental_history_lists_ended_leases_in_scope(client, people_city):
    worker = as_(people_city, "worker_a")
    first = client.post(
        "/api/rentals",
        json=_body(people_city, lease_start=(TODAY - timedelta(days=400)).isoformat()),
        headers=worker,
    ).json()
    closed = client.patch(
        f"/api/rentals/{first['id']}",
        json={"status": "closed", "closed_on": (TODAY - timedelta(days=30)).isoformat()},
        headers=worker,
    )
    assert closed.status_code == 200, closed.text
    second = client.post("/api/rentals", json=_body(people_city), headers=worker).json()
    client.post(
        "/api/rentals", json=_body(people_city, house_code="BA-1-0201"), headers=worker
    )  # another house: not in this history

    history = client.get("/api/rentals?house=BA-1-0101", headers=worker).json()
    assert [(r["id"], r["status"]) for r in history["items"]] == [
        (second["id"], "active"),
        (first["id"], "closed"),
    ]
    only_closed = client.get("/api/rentals?house=BA-1-0101&status=closed", headers=worker)
    assert [r["id"] for r in only_closed.json()["items"]] == [first["id"]]
    # Without a house the list stays the active leases.
    assert {r["status"] for r in client.get("/api/rentals", headers=worker).json()["items"]} == {
        "active"
    }
    # Scope: grid B's worker is told the house is not theirs; the inspector (area) sees it.
    other = client.get("/api/rentals?house=BA-1-0101", headers=as_(people_city, "worker_b"))
    assert other.status_code == 404
    assert "outside your scope" in other.text
    inspected = client.get("/api/rentals?house=BA-1-0101", headers=as_(people_city, "inspector"))
    assert inspected.json()["total"] == 2
    assert (
        client.get("/api/rentals?house=BA-1-0101", headers=as_(people_city, "leader")).status_code
        == 403
    )
    bad = client.get("/api/rentals?house=nonsense", headers=worker)
    assert 400 <= bad.status_code < 500 and "nonsense" in bad.text
