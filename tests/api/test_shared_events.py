"""HTTP: events by category (事件（按类别）) in the sharing catalogue. The fire brigade is
granted 消防隐患 (02) in grid WEST: its dispatchers read those events only, with the granted
fields only (the caller masked unless granted clear, the clear read logged), and follow their
changes by number, replayable; everyone else is refused with a sentence. Expected values are
worked out by hand from the events filed here."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from events.models import EventSource
from tests.events.workflow_city import EAST, WEST, file
from tests.factories import bearer

IN_WEST = (111.285, 30.705)
IN_EAST = (111.295, 30.705)


def _grant(client, city, **overrides: Any):
    body = {
        "department_id": city["fire"].department_id,
        "dataset": "events_by_category",
        "fields": {
            "code": "masked",
            "category_code": "masked",
            "grid_code": "masked",
            "caller_name": "masked",
            "caller_phone": "clear",
        },
        "area_code": WEST,
        "categories": ["02"],
        "purpose": "消防隐患联动处置 (fire-safety follow-up)",
        **overrides,
    }
    return client.post("/api/shared/grants", json=body, headers=bearer(city["admin"]))


def _call(city, category: str, spot: tuple[float, float], phone: str, name: str):
    return file(
        city,
        category=category,
        lon=spot[0],
        lat=spot[1],
        by="command_staff",
        source=EventSource.HOTLINE,
        contact=phone,
        caller_name=name,
    )


@pytest.fixture
def granted(client, city) -> dict[str, Any]:
    response = _grant(client, city)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def events(city) -> dict[str, Any]:
    return {
        "fire_west": _call(city, "0201", IN_WEST, "13912345678", "王五"),
        "fire_east": _call(city, "0201", IN_EAST, "13700001111", "赵六"),
        "police_west": _call(city, "0101", IN_WEST, "13600002222", "钱七"),
    }


def _read(client, city, who: str = "disp_fire", path: str = ""):
    return client.get(f"/api/shared/events_by_category{path}", headers=bearer(city[who]))


def test_the_department_reads_its_categories_in_its_area_with_granted_fields(
    client, city, events, granted
):
    assert granted["categories"] == ["02"]
    response = _read(client, city)
    assert response.status_code == 200, response.text
    body = response.json()
    # 0201 in WEST only: the one in EAST is outside the area, the 0101 outside the categories.
    assert body["total"] == 1
    assert body["items"] == [
        {
            "id": events["fire_west"].id,
            "code": events["fire_west"].code,
            "category_code": "0201",
            "grid_code": WEST,
            "caller_name": "王*",  # granted masked
            "caller_phone": "13912345678",  # granted clear
        }
    ]
    # Not granted: no description, no reporter, no place.
    assert {"description", "reporter", "lon", "lat"}.isdisjoint(body["items"][0])
    # The clear read is logged: who, which fields clear, which records.
    log = (
        city["session"]
        .execute(
            text(
                "SELECT staff_id, dataset, clear_fields, record_ids FROM share_access_log "
                "ORDER BY id DESC LIMIT 1"
            )
        )
        .one()
    )
    assert tuple(log) == (
        city["disp_fire"].staff_id,
        "events_by_category",
        "caller_phone",
        [events["fire_west"].id],
    )


def test_a_masked_grant_shows_no_caller_in_clear(client, city, events):
    response = _grant(
        client,
        city,
        fields={"caller_phone": "masked", "reporter": "masked", "description": "masked"},
        area_code=WEST[:12],  # the community: both grids
    )
    assert response.status_code == 201, response.text
    items = _read(client, city).json()["items"]
    assert [i["id"] for i in items] == sorted([events["fire_west"].id, events["fire_east"].id])
    assert [i["caller_phone"] for i in items] == ["139****5678", "137****1111"]
    assert all(i["reporter"] != "cc.duty" and i["reporter"].startswith("c") for i in items)
    assert "13912345678" not in str(items)


def test_a_subcategory_grant_covers_that_subcategory_only(client, city, events):
    _call(city, "0202", IN_WEST, "13500003333", "孙八")
    response = _grant(client, city, categories=["0202"])
    assert response.status_code == 201, response.text
    items = _read(client, city).json()["items"]
    assert [i["category_code"] for i in items] == ["0202"]


def test_other_roles_and_departments_are_refused(client, city, granted, events):
    # The police (no grant) and the command centre (not department staff) read nothing.
    police = _read(client, city, "disp_w")
    assert police.status_code == 403
    assert "no live grant" in police.text
    assert _read(client, city, "command_staff").status_code == 403
    assert _read(client, city, "admin").status_code == 403
    # A revoked grant reads nothing more.
    revoked = client.post(
        f"/api/shared/grants/{granted['id']}/revoke", headers=bearer(city["admin"])
    )
    assert revoked.status_code == 200
    assert _read(client, city).status_code == 403


@pytest.mark.parametrize(
    ("overrides", "status", "sentence"),
    [
        ({"categories": None}, 422, "按类别授权"),
        ({"categories": []}, 422, "按类别授权"),
        ({"categories": ["99"]}, 422, "没有这些事件类别 (no event category) 99"),
        ({"categories": ["02x"]}, 422, "categories"),
        ({"dataset": "special_groups", "fields": {"name": "masked"}}, 422, "不按类别授权"),
        ({"fields": {"reporter_phone": "clear"}}, 422, "has no field reporter_phone"),
    ],
)
def test_bad_grants_are_refused_with_a_sentence(client, city, overrides, status, sentence):
    response = _grant(client, city, **overrides)
    assert response.status_code == status, response.text
    assert sentence in response.text
    count = city["session"].execute(text("SELECT count(*) FROM share_grant")).scalar_one()
    assert count == 0


def test_a_dispatcher_cannot_grant_itself(client, city):
    response = client.post(
        "/api/shared/grants",
        json={
            "department_id": city["fire"].department_id,
            "dataset": "events_by_category",
            "fields": {"code": "masked"},
            "area_code": WEST,
            "categories": ["02"],
            "purpose": "x",
        },
        headers=bearer(city["disp_fire"]),
    )
    assert response.status_code == 403


def _event_changes(session) -> int:
    return session.execute(
        text("SELECT count(*) FROM share_change WHERE dataset = 'events_by_category'")
    ).scalar_one()


def test_events_feed_the_change_table_only_while_a_grant_of_them_is_live(client, city):
    session = city["session"]
    _call(city, "0201", IN_WEST, "13912345678", "王五")
    assert _event_changes(session) == 0  # nobody is granted events: nothing kept
    grant = _grant(client, city).json()
    _call(city, "0201", IN_WEST, "13912345678", "王五")
    kept = _event_changes(session)
    assert kept >= 1
    client.post(f"/api/shared/grants/{grant['id']}/revoke", headers=bearer(city["admin"]))
    _call(city, "0201", IN_WEST, "13912345678", "王五")
    assert _event_changes(session) == kept


def _changes(client, city, after: int) -> dict[str, Any]:
    response = _read(client, city, path=f"/changes?after={after}")
    assert response.status_code == 200, response.text
    return response.json()


def test_changes_are_incremental_replayable_and_stay_in_the_grant(client, city, granted, events):
    session = city["session"]
    first = _changes(client, city, 0)
    # Filing the WEST 0201 event wrote it (insert, then the dispatch's updates): only it shows.
    assert {c["id"] for c in first["items"]} == {events["fire_west"].id}
    assert all(c["op"] == "upsert" for c in first["items"])
    after = first["next_after"]
    assert _changes(client, city, after)["items"] == []

    later = _call(city, "0203", IN_WEST, "13800004444", "周九")
    _call(city, "0201", IN_EAST, "13800005555", "吴十")  # outside the area
    _call(city, "0102", IN_WEST, "13800006666", "郑一")  # outside the categories
    second = _changes(client, city, after)
    assert {c["id"] for c in second["items"]} == {later.id}
    assert min(c["seq"] for c in second["items"]) > after
    assert second["items"][-1]["record"]["caller_phone"] == "13800004444"

    # Re-categorised out of 消防隐患: the department hears it left (removed, no record).
    session.execute(
        text("UPDATE event SET category_code = '0101' WHERE id = :id"), {"id": later.id}
    )
    third = _changes(client, city, second["next_after"])
    assert [(c["id"], c["op"], c["record"]) for c in third["items"]] == [
        (later.id, "removed", None)
    ]

    # Replay from 0: every change again, in order, the same numbers as first served.
    replay = _changes(client, city, 0)
    seqs = [c["seq"] for c in replay["items"]]
    assert seqs == sorted(seqs)
    assert seqs[: len(first["items"])] == [c["seq"] for c in first["items"]]
    assert {c["id"] for c in replay["items"]} == {events["fire_west"].id, later.id}


def test_the_webhook_receives_the_granted_events(client, city, granted, events):
    from events.share_delivery import claim_of
    from people.share_feed import next_batch

    response = client.post(
        f"/api/shared/grants/{granted['id']}/subscriptions",
        json={"url": "http://127.0.0.1:9/hook"},
        headers=bearer(city["admin"]),
    )
    assert response.status_code == 201, response.text
    batch = next_batch(city["session"], subscription_id=response.json()["id"])
    assert batch is not None
    claim = claim_of(batch)
    assert claim.event_code == "shared:events_by_category"
    records = [item["record"] for item in claim.payload["items"]]
    assert {r["id"] for r in records} == {events["fire_west"].id}
    assert {r["caller_phone"] for r in records} == {"13912345678"}
    assert EAST not in str(claim.payload)
