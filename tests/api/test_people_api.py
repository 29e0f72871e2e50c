"""HTTP: residents and special-group visits, scoped to the caller's grids and masked."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from people import service
from people.models import PiiAccessLog, Resident, Visit
from tests.api.people_city import GRID_A, GRID_B, as_
from tests.factories import (
    china_today,
    id_number,
)

TODAY = china_today()


# --- residents ---------------------------------------------------------------------------------


def test_a_grid_worker_lists_only_their_grid_masked_with_totals_and_pages(client, people_city):
    response = client.get(
        "/api/residents", headers=as_(people_city, "worker_a"), params={"page_size": 1}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and body["page_size"] == 1 and len(body["items"]) == 1
    second = client.get(
        "/api/residents", headers=as_(people_city, "worker_a"), params={"page_size": 1, "page": 2}
    ).json()
    names = {body["items"][0]["name"], second["items"][0]["name"]}
    assert names == {"张三", "李四"}
    item = body["items"][0]
    assert "*" in item["doc_masked"] and item["doc_masked"] != id_number(11)
    assert item["phone_masked"] == "139****5678"
    assert "doc_number" not in item and "phone" not in item


def test_command_sees_the_whole_area_and_filters_by_building_house_and_name(client, people_city):
    headers = as_(people_city, "command")
    assert client.get("/api/residents", headers=headers).json()["total"] == 3
    by_building = client.get("/api/residents", headers=headers, params={"building": "BB"}).json()
    assert [r["name"] for r in by_building["items"]] == ["王五"]
    by_house = client.get("/api/residents", headers=headers, params={"house": "BA-1-0201"}).json()
    assert [r["name"] for r in by_house["items"]] == ["李四"]
    by_name = client.get("/api/residents", headers=headers, params={"q": "张"}).json()
    assert [r["name"] for r in by_name["items"]] == ["张三"]


def test_a_grid_worker_cannot_reach_another_grids_residents_by_any_route_or_filter(
    client, people_city
):
    headers = as_(people_city, "worker_a")
    other = people_city["residents"]["wang"]
    for path in (
        f"/api/residents/{other}",
        f"/api/residents/{other}/residences",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert "does not exist or is outside your scope" in response.json()["error"]["message"]
    for params in ({"grid": GRID_B}, {"building": "BB"}, {"house": "BB-1-0101"}):
        response = client.get("/api/residents", headers=headers, params=params)
        assert response.status_code == 403, params
        assert response.json()["error"]["code"] == "forbidden"
    patched = client.patch(f"/api/residents/{other}", headers=headers, json={"name": "改名"})
    assert patched.status_code == 404
    unmasked = client.post(
        f"/api/residents/{other}/unmask", headers=headers, json={"reason": "核实身份信息"}
    )
    assert unmasked.status_code == 404
    found = client.post(
        "/api/residents/lookup", headers=headers, json={"doc_number": id_number(13)}
    )
    assert found.status_code == 404
    assert people_city["session"].get(Resident, other).name == "王五"
    assert people_city["session"].scalar(select(func.count()).select_from(PiiAccessLog)) == 0


def test_out_of_scope_and_nonexistent_residents_get_the_same_answer(client, people_city):
    """An error must not tell whether, or in which grid, a person outside one's scope lives."""
    headers = as_(people_city, "worker_a")
    other, missing = people_city["residents"]["wang"], 2_000_000_000

    def answer(method: str, path: str, **kwargs) -> tuple[int, dict]:
        response = client.request(method, path, headers=headers, **kwargs)
        body = response.json()
        body["error"]["message"] = body["error"]["message"].replace(str(missing), "N")
        body["error"]["message"] = body["error"]["message"].replace(str(other), "N")
        return response.status_code, body

    for method, suffix, kwargs in (
        ("GET", "", {}),
        ("GET", "/residences", {}),
        ("PATCH", "", {"json": {"name": "改名"}}),
        ("POST", "/unmask", {"json": {"reason": "核实身份信息"}}),
        ("POST", "/move-out", {"json": {"on": "2024-01-01", "reason": "搬走"}}),
    ):
        hidden = answer(method, f"/api/residents/{other}{suffix}", **kwargs)
        absent = answer(method, f"/api/residents/{missing}{suffix}", **kwargs)
        assert hidden == absent and hidden[0] == 404, (method, suffix)
        assert GRID_B not in str(hidden)

    family = service.create_household(
        people_city["session"], actor=people_city["admin"], code="HB-1", head_id=other
    ).id
    missing_family = 2_000_000_000
    hidden_family = answer("GET", f"/api/households/{family}")
    absent_family = answer("GET", f"/api/households/{missing_family}")
    for body in (hidden_family[1], absent_family[1]):
        body["error"]["message"] = body["error"]["message"].replace(str(family), "N")
    assert hidden_family == absent_family and hidden_family[0] == 404
    assert "HB-1" not in str(hidden_family) and GRID_B not in str(hidden_family)
    # The family's own grid worker reads it.
    own_family = client.get(f"/api/households/{family}", headers=as_(people_city, "worker_b"))
    assert own_family.status_code == 200 and own_family.json()["code"] == "HB-1"

    lookup_hidden = answer("POST", "/api/residents/lookup", json={"doc_number": id_number(13)})
    lookup_absent = answer("POST", "/api/residents/lookup", json={"doc_number": id_number(77)})
    assert lookup_hidden == lookup_absent and lookup_hidden[0] == 404
    # Inside the scope the same lookup finds the person.
    own = client.post("/api/residents/lookup", headers=headers, json={"doc_number": id_number(11)})
    assert own.status_code == 200 and own.json()["id"] == people_city["residents"]["zhang"]


def test_a_duplicate_registration_outside_ones_scope_names_neither_resident_nor_grid(
    client, people_city
):
    payload = {"doc_number": id_number(13), "name": "王五", "house_code": "BA-1-0101"}
    refused = client.post("/api/residents", headers=as_(people_city, "worker_a"), json=payload)
    assert refused.status_code == 409
    message = refused.json()["error"]["message"]
    assert "already registered outside your scope" in message and "指挥中心" in message
    assert GRID_B not in message and f"resident {people_city['residents']['wang']}" not in message
    assert str(people_city["residents"]["wang"]) not in str(refused.json())
    # Whoever may see the existing record is told which one it is, to update it instead.
    payload["house_code"] = "BB-1-0201"
    seen = client.post("/api/residents", headers=as_(people_city, "worker_b"), json=payload)
    assert seen.status_code == 409
    assert f"resident {people_city['residents']['wang']}" in seen.json()["error"]["message"]
    assert people_city["session"].scalar(select(func.count()).select_from(Resident)) == 3


@pytest.mark.parametrize("role", ["leader", "dispatcher"])
def test_leaders_and_dispatchers_see_no_resident(client, people_city, role):
    headers = as_(people_city, role)
    assert client.get("/api/residents", headers=headers).status_code == 403
    one = client.get(f"/api/residents/{people_city['residents']['zhang']}", headers=headers)
    assert one.status_code == 403 and one.json()["error"]["code"] == "forbidden"


def test_anonymous_callers_are_asked_to_sign_in(client, people_city):
    response = client.get("/api/residents")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert client.get("/api/special-groups").status_code == 401
    assert client.get("/api/visits/due").status_code == 401


def test_registering_a_resident_derives_sex_and_birth_and_refuses_duplicates(client, people_city):
    headers = as_(people_city, "worker_a")
    payload = {
        "doc_number": id_number(21, birth=date(1990, 3, 4)),
        "name": "赵六",
        "house_code": "BA-1-0101",
        "moved_in": "2024-05-01",
    }
    created = client.post("/api/residents", headers=headers, json=payload)
    assert created.status_code == 201
    body = created.json()
    assert body["birth_year"] == 1990 and body["sex"] == "male"
    assert body["grid_code"] == GRID_A and body["house_code"] == "BA-1-0101"
    again = client.post("/api/residents", headers=headers, json=payload)
    assert again.status_code == 409 and "already registered" in again.json()["error"]["message"]


def count_residents(session) -> int:
    return session.scalar(select(func.count()).select_from(Resident))


def test_bad_registrations_get_4xx_sentences_and_write_nothing(client, people_city):
    session, headers = people_city["session"], as_(people_city, "worker_a")
    before = count_residents(session)
    bad_number = client.post(
        "/api/residents",
        headers=headers,
        json={"doc_number": "420502198506150012", "name": "钱七", "house_code": "BA-1-0101"},
    )
    assert bad_number.status_code == 422
    assert bad_number.json()["error"]["message"].startswith("数据校验未通过 Invalid input")
    other_grid = client.post(
        "/api/residents",
        headers=headers,
        json={"doc_number": id_number(31), "name": "钱七", "house_code": "BB-1-0101"},
    )
    assert other_grid.status_code == 403
    no_name = client.post("/api/residents", headers=headers, json={"doc_number": id_number(31)})
    assert no_name.status_code == 422 and no_name.json()["error"]["field"] == "name"
    unknown_house = client.post(
        "/api/residents",
        headers=headers,
        json={"doc_number": id_number(31), "name": "钱七", "house_code": "BA-9-9999"},
    )
    assert unknown_house.status_code == 404
    assert count_residents(session) == before


def test_patch_changes_only_the_fields_sent_and_masks_the_new_phone(client, people_city):
    resident = people_city["residents"]["zhang"]
    response = client.patch(
        f"/api/residents/{resident}",
        headers=as_(people_city, "worker_a"),
        json={"phone": "13800001111", "occupation": "教师"},
    )
    assert response.status_code == 200
    assert response.json()["phone_masked"] == "138****1111"
    assert response.json()["name"] == "张三"
    for bad in ({"phone": "12345"}, {"name": None}, {"occupation": "很长" * 40}):
        refused = client.patch(
            f"/api/residents/{resident}", headers=as_(people_city, "worker_a"), json=bad
        )
        assert refused.status_code == 422, bad
    assert people_city["session"].get(Resident, resident).name == "张三"


def access_log_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(PiiAccessLog))


def test_unmasking_needs_a_reason_and_is_logged(client, people_city):
    session, resident = people_city["session"], people_city["residents"]["zhang"]
    url = f"/api/residents/{resident}/unmask"
    missing = client.post(url, headers=as_(people_city, "worker_a"), json={})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "reason"
    too_short = client.post(url, headers=as_(people_city, "worker_a"), json={"reason": "看"})
    assert too_short.status_code == 422 and "reason" in too_short.json()["error"]["message"]
    assert access_log_rows(session) == 0
    shown = client.post(
        url, headers=as_(people_city, "worker_a"), json={"reason": "办理低保需核实身份"}
    )
    assert shown.status_code == 200
    assert shown.json()["doc_number"] == id_number(11)
    assert shown.json()["phone"] == "13912345678"
    log = session.scalars(select(PiiAccessLog)).one()
    assert log.staff_id == people_city["worker_a"].staff_id and log.resident_id == resident
    assert log.reason == "办理低保需核实身份"


def test_inspectors_read_residents_but_may_not_unmask(client, people_city):
    resident = people_city["residents"]["zhang"]
    assert client.get(
        f"/api/residents/{resident}", headers=as_(people_city, "inspector")
    ).is_success
    refused = client.post(
        f"/api/residents/{resident}/unmask",
        headers=as_(people_city, "inspector"),
        json={"reason": "核实身份信息"},
    )
    assert refused.status_code == 403
    assert access_log_rows(people_city["session"]) == 0


def test_lookup_by_document_finds_the_holder_or_says_how_to_register(client, people_city):
    headers = as_(people_city, "worker_a")
    found = client.post(
        "/api/residents/lookup", headers=headers, json={"doc_number": id_number(12)}
    )
    assert found.status_code == 200 and found.json()["name"] == "李四"
    missing = client.post(
        "/api/residents/lookup", headers=headers, json={"doc_number": id_number(99)}
    )
    assert (
        missing.status_code == 404 and "POST /api/residents" in missing.json()["error"]["message"]
    )


def test_moving_house_is_kept_in_the_residence_history(client, people_city):
    headers, resident = as_(people_city, "worker_a"), people_city["residents"]["zhang"]
    moved = client.post(
        f"/api/residents/{resident}/move-in",
        headers=headers,
        json={"house_code": "BA-1-0201", "on": "2025-03-01", "reason": "换房"},
    )
    assert moved.status_code == 201 and moved.json()["house_code"] == "BA-1-0201"
    history = client.get(f"/api/residents/{resident}/residences", headers=headers).json()
    assert [(h["house_code"], h["moved_out"]) for h in history] == [
        ("BA-1-0101", "2025-03-01"),
        ("BA-1-0201", None),
    ]
    gone = client.post(
        f"/api/residents/{resident}/move-out",
        headers=headers,
        json={"on": "2025-06-01", "reason": "迁往外地"},
    )
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert client.get("/api/residents", headers=headers).json()["total"] == 1
    too_early = client.post(
        f"/api/residents/{people_city['residents']['li']}/move-out",
        headers=headers,
        json={"on": "2019-01-01", "reason": "迁往外地"},
    )
    assert too_early.status_code == 422


# --- special groups and visits ------------------------------------------------------------------


def test_special_groups_are_listed_in_scope_by_type_with_details_masked(
    client, people_city, groups
):
    mine = client.get("/api/special-groups", headers=as_(people_city, "worker_a")).json()
    assert mine["total"] == 1
    item = mine["items"][0]
    assert item["group_type"] == "elderly_alone" and item["group_type_label"] == "独居老人"
    assert item["details"]["children_phone"] == "139****5678"
    assert "*" in item["doc_masked"]
    everyone = client.get("/api/special-groups", headers=as_(people_city, "command")).json()
    assert everyone["total"] == 2
    by_type = client.get(
        "/api/special-groups",
        headers=as_(people_city, "command"),
        params={"type": "released_prisoner"},
    ).json()
    assert [i["id"] for i in by_type["items"]] == [groups["released"]]
    other = client.get(
        "/api/special-groups", headers=as_(people_city, "worker_a"), params={"grid": GRID_B}
    )
    assert other.status_code == 403
    assert client.get("/api/special-groups", headers=as_(people_city, "leader")).status_code == 403


def test_due_visits_list_what_my_grids_owe_with_house_and_days_overdue(client, people_city, groups):
    due = client.get("/api/visits/due", headers=as_(people_city, "worker_a"))
    assert due.status_code == 200
    body = due.json()
    assert body["total"] == 1
    item = body["items"][0]
    assert item["special_group_id"] == groups["alone"]
    assert item["resident_name"] == "张三" and "*" in item["doc_masked"]
    assert item["group_type_label"] == "独居老人"
    assert (item["building_code"], item["house_code"]) == ("BA", "BA-1-0101")
    assert item["next_visit_due"] == (TODAY - timedelta(days=23)).isoformat()
    assert item["days_overdue"] == 23
    # Worker B's released prisoner is due in 30 days: listed only with a longer horizon.
    b_soon = client.get("/api/visits/due", headers=as_(people_city, "worker_b")).json()
    assert b_soon["total"] == 0
    b_month = client.get(
        "/api/visits/due", headers=as_(people_city, "worker_b"), params={"within_days": 30}
    ).json()
    assert [i["days_overdue"] for i in b_month["items"]] == [-30]
    assert client.get("/api/visits/due", headers=as_(people_city, "dispatcher")).status_code == 403


def test_recording_a_visit_moves_the_due_date_and_lists_it(client, people_city, groups):
    headers = as_(people_city, "worker_a")
    url = f"/api/special-groups/{groups['alone']}/visits"
    recorded = client.post(
        url,
        headers=headers,
        json={
            "visited_on": TODAY.isoformat(),
            "note": "上门走访，身体尚好",
            "lon": 111.2811,
            "lat": 30.7011,
        },
    )
    assert recorded.status_code == 201
    assert recorded.json()["next_visit_due"] == (TODAY + timedelta(days=7)).isoformat()
    assert recorded.json()["lon"] == pytest.approx(111.2811)
    visits = client.get(url, headers=headers).json()
    assert [v["note"] for v in visits] == ["上门走访，身体尚好"]
    due = client.get("/api/visits/due", headers=headers, params={"within_days": 3}).json()
    assert due["total"] == 0


def test_visits_outside_my_grids_in_the_future_or_without_a_note_are_refused(
    client, people_city, groups
):
    session = people_city["session"]
    before = session.scalar(select(func.count()).select_from(Visit))
    other = client.post(
        f"/api/special-groups/{groups['released']}/visits",
        headers=as_(people_city, "worker_a"),
        json={"visited_on": TODAY.isoformat(), "note": "走访"},
    )
    assert other.status_code == 404  # the same answer as a membership that does not exist
    url = f"/api/special-groups/{groups['alone']}/visits"
    future = client.post(
        url,
        headers=as_(people_city, "worker_a"),
        json={"visited_on": (TODAY + timedelta(days=2)).isoformat(), "note": "走访"},
    )
    assert future.status_code == 422 and "in the future" in future.json()["error"]["message"]
    no_note = client.post(
        url, headers=as_(people_city, "worker_a"), json={"visited_on": TODAY.isoformat()}
    )
    assert no_note.status_code == 422 and no_note.json()["error"]["field"] == "note"
    half_point = client.post(
        url,
        headers=as_(people_city, "worker_a"),
        json={"visited_on": TODAY.isoformat(), "note": "走访", "lon": 111.28},
    )
    assert half_point.status_code == 422
    assert session.scalar(select(func.count()).select_from(Visit)) == before


def test_enrolling_through_the_api_checks_the_groups_details(client, people_city):
    headers = as_(people_city, "worker_a")
    payload = {
        "resident_id": people_city["residents"]["li"],
        "group_type": "残疾人",
        "details": {"category": "肢体", "grade": 5, "certificate_number": "x"},
        "started_on": TODAY.isoformat(),
    }
    refused = client.post("/api/special-groups", headers=headers, json=payload)
    assert refused.status_code == 422 and "details.grade" in refused.json()["error"]["message"]
    payload["group_type"] = "独居老人"
    payload["details"] = {"health": "健康"}
    created = client.post("/api/special-groups", headers=headers, json=payload)
    assert created.status_code == 201
    assert created.json()["next_visit_due"] == (TODAY + timedelta(days=7)).isoformat()
    one = client.get(f"/api/special-groups/{created.json()['id']}", headers=headers)
    assert one.json()["resident_name"] == "李四"


# --- houses, buildings by code, and raw input ---------------------------------------------------


def test_houses_are_points_in_their_buildings_by_building_grid_and_bbox(client, people_city):
    headers = as_(people_city, "dispatcher")  # the spatial frame is open to every staff member
    houses = client.get("/api/houses", headers=headers, params={"building": "BA"}).json()
    assert houses["type"] == "FeatureCollection" and houses["total"] == 2
    assert [f["id"] for f in houses["features"]] == ["BA-1-0101", "BA-1-0201"]
    first = houses["features"][0]
    assert first["geometry"]["type"] == "Point"
    lon, lat = first["geometry"]["coordinates"]
    assert 111.281 < lon < 111.2812 and 30.701 < lat < 30.7012
    assert first["properties"]["grid_code"] == GRID_A and first["properties"]["floor"] == 1
    by_grid = client.get("/api/houses", headers=headers, params={"grid": GRID_B}).json()
    assert {f["properties"]["building_code"] for f in by_grid["features"]} == {"BB"}
    in_box = client.get(
        "/api/houses", headers=headers, params={"bbox": "111.29,30.70,111.30,30.71"}
    ).json()
    assert in_box["total"] == 2
    one = client.get("/api/houses/BB-1-0201", headers=headers)
    assert one.status_code == 200 and one.json()["properties"]["room"] == "0201"
    assert client.get("/api/houses/BB-9-0201", headers=headers).status_code == 404
    assert client.get("/api/houses/nonsense", headers=headers).status_code == 400
    assert client.get("/api/houses").status_code == 401


def test_a_building_by_code_is_a_feature_with_its_footprint(client, people_city):
    response = client.get("/api/buildings/BA", headers=as_(people_city, "leader"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "BA" and body["geometry"]["type"] == "MultiPolygon"
    assert body["properties"]["houses"] == 2
    missing = client.get("/api/buildings/NOPE", headers=as_(people_city, "leader"))
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]


def test_nul_characters_are_refused_before_they_reach_the_database(client, people_city):
    headers = as_(people_city, "worker_a")
    query = client.get("/api/residents", headers=headers, params={"q": "张\x00"})
    assert query.status_code == 422 and query.json()["error"]["field"] == "q"
    body = client.post(
        "/api/residents",
        headers=headers,
        json={"doc_number": id_number(31), "name": "钱\x00七", "house_code": "BA-1-0101"},
    )
    assert body.status_code == 422 and body.json()["error"]["field"] == "name"
    assert client.get("/api/houses/BA-1-01%0001", headers=headers).status_code == 422


def test_a_visit_is_judged_by_the_day_in_china_not_the_servers_day(client, people_city, groups):
    day = china_today()  # UTC+8 worked out independently (tests/factories.py)
    url = f"/api/special-groups/{groups['alone']}/visits"
    today = client.post(
        url,
        headers=as_(people_city, "worker_a"),
        json={"visited_on": day.isoformat(), "note": "今晚上门走访"},
    )
    assert today.status_code == 201, today.text
    tomorrow = client.post(
        url,
        headers=as_(people_city, "worker_a"),
        json={"visited_on": (day + timedelta(days=1)).isoformat(), "note": "走访"},
    )
    assert tomorrow.status_code == 422 and "in the future" in tomorrow.json()["error"]["message"]
