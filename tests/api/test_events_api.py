"""Events over HTTP: filing (JSON, multipart with photos, idempotent), lists scoped to the
caller, one event with its photos and possible actions, workflow actions, and CSRF."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from api.http.auth import CSRF_COOKIE, CSRF_HEADER
from events.catalog import DepartmentType
from events.models import Attachment, Event, EventStep
from events.schemas import EventReport
from events.service import report_event
from gis.clock import CHINA_TZ
from gis.config import get_settings
from gis.crs import from_storage
from tests.api.event_requests import assert_error, report
from tests.events.workflow_city import EAST, SPOT, WEST
from tests.factories import METRE_LON, add_staff, bearer

WEST_SPOT = (111.2885, 30.705)  # grid WEST, 150 m from the line to EAST at 111.29


def jpeg(colour: str = "green", size: tuple[int, int] = (64, 48), noise: bool = False) -> bytes:
    """A JPEG made in memory (a noisy one does not compress)."""
    if noise:
        pixels = random.Random(7).randbytes(size[0] * size[1] * 3)
        image = Image.frombytes("RGB", size, pixels)
    else:
        image = Image.new("RGB", size, colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def post_event(client, city, who="worker", key=None, **fields):
    headers = bearer(city[who]) | ({"Idempotency-Key": key} if key else {})
    return client.post("/api/events", json=report(**fields), headers=headers)


def events_in_db(session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


# -- filing --------------------------------------------------------------------------------


def test_filing_json_returns_201_with_the_event_located_routed_and_on_the_clock(client, city):
    response = post_event(client, city)
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["code"].startswith("420502-")
    assert event["status"] == "dispatched" and event["status_label"] == "已派遣"
    assert event["grid_code"] == EAST and event["community"] == EAST[:12]
    assert event["unit"]["code"] == "PS-W" and event["unit"]["dept_type"] == "police"
    assert event["stage"] == "sign" and event["stage_deadline"] is not None
    assert event["light"] in ("green", "yellow", "red")
    assert event["reporter"] == "worker1" and event["source"] == "grid_worker"
    assert [s["action"] for s in event["steps"]] == ["report", "dispatch"]
    assert event["dispatch"]["unit_id"] == city["police_w"].id
    assert event["photos"] == []
    assert event["actions"] == ["self-resolve"]  # the reporter may still fix it on the spot


def test_filing_multipart_with_a_photo_stores_it_and_serves_it_back(client, city):
    response = client.post(
        "/api/events",
        data={k: str(v) for k, v in report().items()},
        files=[("photos", ("site.jpg", jpeg(), "image/jpeg"))],
        headers=bearer(city["worker"]),
    )
    assert response.status_code == 201, response.text
    event = response.json()
    [photo] = event["photos"]
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/jpeg", 64, 48)
    assert photo["step_id"] == event["steps"][0]["id"]  # sent with the report itself
    image = client.get(photo["url"], headers=bearer(city["worker"]))
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (64, 48)
    thumbnail = client.get(photo["thumbnail_url"], headers=bearer(city["disp_w"]))
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"


def test_resubmitting_the_same_key_returns_200_with_the_same_event_and_no_second_row(client, city):
    first = post_event(client, city, key="phone-7-0001")
    again = post_event(client, city, key="phone-7-0001", description="重发的同一条")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["code"] == first.json()["code"]
    assert again.json()["description"] == "楼道里有可疑人员"
    assert events_in_db(city["session"]) == 1


def test_another_account_reusing_a_key_gets_409_not_the_other_event(client, city):
    post_event(client, city, key="phone-7-0002")
    other = post_event(client, city, who="west_worker", key="phone-7-0002", lon=WEST_SPOT[0])
    error = assert_error(other, 409, "already used by another account", "new key")
    assert "code" not in other.json() and error["code"] == "conflict"
    assert events_in_db(city["session"]) == 1


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_phone_coordinates_are_converted_before_locating_so_the_grid_is_right(client, city, crs):
    lon, lat = from_storage(*WEST_SPOT, crs)
    assert lon > 111.29  # unconverted, the point would fall in grid EAST
    response = post_event(client, city, lon=lon, lat=lat, crs=crs)
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["grid_code"] == WEST
    assert abs(event["lon"] - WEST_SPOT[0]) < 2 * METRE_LON


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (report(lon=SPOT[1], lat=SPOT[0]), 422, ["did you swap lat and lon"]),
        (report(category="9999"), 422, ["category '9999' is unknown"]),
        ({"category": "0101", "lon": SPOT[0]}, 422, ["description"]),
        ({"category": "0101", "lon": SPOT[0], "description": "无纬度"}, 422, ["lat"]),
        (report(crs="utm"), 422, ["crs"]),
        (report(description="a\x00b"), 422, ["NUL"]),
    ],
    ids=["swapped", "unknown-category", "missing-fields", "lon-without-lat", "bad-crs", "nul"],
)
def test_bad_reports_get_the_error_shape_and_write_nothing(client, city, body, status, words):
    response = client.post("/api/events", json=body, headers=bearer(city["worker"]))
    assert_error(response, status, *words)
    assert events_in_db(city["session"]) == 0


def test_a_body_that_is_not_json_gets_422_and_an_odd_type_415(client, city):
    broken = client.post(
        "/api/events",
        content=b"{not json",
        headers=bearer(city["worker"]) | {"content-type": "application/json"},
    )
    assert_error(broken, 422, "not valid JSON")
    odd = client.post(
        "/api/events",
        content=b"<event/>",
        headers=bearer(city["worker"]) | {"content-type": "application/xml"},
    )
    assert_error(odd, 415, "send JSON")
    assert events_in_db(city["session"]) == 0


def test_an_oversized_photo_gets_413_and_a_text_file_415_and_neither_writes_a_row(
    client, city, monkeypatch
):
    fields = {k: str(v) for k, v in report().items()}
    monkeypatch.setattr(get_settings(), "max_photo_mb", 0.01)  # 10 KB
    big = jpeg(size=(200, 200), noise=True)
    assert len(big) > 0.01 * 1024 * 1024
    too_big = client.post(
        "/api/events",
        data=fields,
        files=[("photos", ("big.jpg", big, "image/jpeg"))],
        headers=bearer(city["worker"]),
    )
    error = assert_error(too_big, 413, "the limit is")
    assert error["field"] == "photos"
    text = client.post(
        "/api/events",
        data=fields,
        files=[("photos", ("notes.jpg", b"this is not a photo at all\n" * 10, "image/jpeg"))],
        headers=bearer(city["worker"]),
    )
    assert_error(text, 415)
    assert events_in_db(city["session"]) == 0
    assert city["session"].scalar(select(func.count()).select_from(Attachment)) == 0


def test_roles_that_do_not_file_events_are_refused_at_the_gate(client, city):
    response = post_event(client, city, who="disp_w")
    assert_error(response, 403, "dispatcher")
    assert events_in_db(city["session"]) == 0


# -- lists ---------------------------------------------------------------------------------


def file_at(city, by="worker", at=None, category="0101", lon=SPOT[0], lat=SPOT[1], **fields):
    """An event filed through the service at `at` (default: now)."""
    report_ = EventReport(
        category=category,
        lon=lon,
        lat=lat,
        description=fields.pop("description", "占道经营"),
        **fields,
    )
    return report_event(
        city["session"], actor=city[by], report=report_, now=at or datetime.now(CHINA_TZ)
    )


def listed(client, city, who="admin", **params) -> dict[str, Any]:
    response = client.get("/api/events", params=params, headers=bearer(city[who]))
    assert response.status_code == 200, response.text
    return response.json()


def codes(page: dict[str, Any]) -> list[str]:
    return [item["code"] for item in page["items"]]


def test_list_items_carry_what_a_queue_shows(client, city):
    event = file_at(city, address="西陵一路1号")
    [item] = listed(client, city)["items"]
    assert item["code"] == event.code
    assert item["status"] == "dispatched" and item["status_label"] == "已派遣"
    assert item["category"] == "0101" and item["category_name"] == "治安隐患/可疑人员"
    assert item["priority"] == "high" and item["address"] == "西陵一路1号"
    assert item["grid_code"] == EAST
    assert (round(item["lon"], 6), round(item["lat"], 6)) == SPOT
    assert item["unit"] == {
        "id": city["police_w"].id,
        "code": "PS-W",
        "name": city["police_w"].name,
        "dept_type": "police",
        "dept_label": DepartmentType.POLICE.label,
    }
    assert item["stage"] == "sign" and item["light"] == "green"
    assert item["duplicate_of"] is None


def test_list_filters_combine_and_pages_count_the_total(client, city):
    now = datetime.now(CHINA_TZ)
    police = [file_at(city, at=now - timedelta(minutes=i)) for i in range(5)]
    fire = file_at(city, category="0201", lon=WEST_SPOT[0], description="消防通道被堵")
    assert listed(client, city)["total"] == 6
    assert codes(listed(client, city, category="0201")) == [fire.code]
    assert listed(client, city, category="01")["total"] == 5  # a major category
    assert codes(listed(client, city, grid=WEST)) == [fire.code]
    assert codes(listed(client, city, q="消防通道")) == [fire.code]
    assert codes(listed(client, city, q=police[2].code[-6:])) == [police[2].code]
    assert codes(listed(client, city, unit=city["fire"].id)) == [fire.code]
    assert listed(client, city, department="police")["total"] == 5
    assert listed(client, city, status=["signed", "handled"])["total"] == 0
    assert listed(client, city, status=["dispatched"])["total"] == 6
    west_box = f"111.28,30.70,{111.29 - METRE_LON},30.71"
    assert codes(listed(client, city, bbox=west_box)) == [fire.code]
    newest = listed(client, city, sort="-reported_at", page_size=2, page=1)
    assert newest["total"] == 6 and newest["page_size"] == 2
    assert codes(newest) == [fire.code, police[0].code]
    second = listed(client, city, sort="-reported_at", page_size=2, page=2)
    assert codes(second) == [police[1].code, police[2].code]
    since = (now - timedelta(minutes=2, seconds=30)).isoformat()
    assert listed(client, city, since=since)["total"] == 4  # three police events and the fire


def test_mine_overdue_and_light_filters(client, city):
    now = datetime.now(CHINA_TZ)
    late = file_at(city, at=now - timedelta(days=10))  # sign-for (1 working hour) long past
    fresh = file_at(city, by="worker2", at=now)
    assert codes(listed(client, city, overdue="true")) == [late.code]
    assert codes(listed(client, city, overdue="false")) == [fresh.code]
    assert codes(listed(client, city, light="red")) == [late.code]
    assert (
        listed(client, city, light="yellow")["total"] + listed(client, city, light="green")["total"]
        == 1
    )
    assert codes(listed(client, city, who="worker2", mine="true")) == [fresh.code]
    by_deadline = listed(client, city)
    assert codes(by_deadline) == [late.code, fresh.code]  # soonest deadline first
    assert by_deadline["items"][0]["light"] == "red"


def test_a_grid_worker_sees_only_their_grids_and_their_own_reports_through_any_filter(client, city):
    east = file_at(city)  # reported by worker1 in grid EAST
    west = file_at(city, lon=WEST_SPOT[0], description="西边网格的事件")
    mine = file_at(city, by="west_worker", lon=SPOT[0])  # in EAST, but worker3 reported it
    seen = listed(client, city, who="west_worker")
    assert sorted(codes(seen)) == sorted([west.code, mine.code])
    assert codes(listed(client, city, who="west_worker", grid=EAST)) == [mine.code]
    east_box = f"{111.29 + METRE_LON},30.70,111.30,30.71"
    assert codes(listed(client, city, who="west_worker", bbox=east_box)) == [mine.code]
    assert listed(client, city, who="west_worker", q=east.code)["total"] == 0
    assert listed(client, city, who="west_worker", unit=city["police_w"].id)["total"] == 2
    refused = client.get(f"/api/events/{east.code}", headers=bearer(city["west_worker"]))
    assert_error(refused, 403, "outside your grids")
    assert "楼道" not in refused.text


def test_photos_of_an_event_outside_the_scope_are_refused(client, city):
    filed = client.post(
        "/api/events",
        data={k: str(v) for k, v in report().items()},
        files=[("photos", ("site.jpg", jpeg(), "image/jpeg"))],
        headers=bearer(city["worker2"]),  # grid EAST only
    ).json()
    [photo] = filed["photos"]
    for url in (photo["url"], photo["thumbnail_url"]):
        response = client.get(url, headers=bearer(city["west_worker"]))
        assert_error(response, 403)
        assert response.headers["content-type"].startswith("application/json")
    other = client.get(
        f"/api/events/{filed['code']}/photos/{photo['id'] + 999}", headers=bearer(city["worker2"])
    )
    assert_error(other, 404, "has no photo")


def test_a_dispatcher_sees_only_their_units_queue(client, city):
    west_police = file_at(city)  # police area PS-W
    east_police = file_at(city, lon=111.298)  # police area PS-E
    fire = file_at(city, category="0201")
    assert codes(listed(client, city, who="disp_w")) == [west_police.code]
    assert codes(listed(client, city, who="disp_e")) == [east_police.code]
    assert codes(listed(client, city, who="disp_fire")) == [fire.code]
    assert listed(client, city, who="disp_w", unit=city["police_e"].id)["total"] == 0
    refused = client.get(f"/api/events/{east_police.code}", headers=bearer(city["disp_w"]))
    assert_error(refused, 403, "your unit's cases")
    detail = client.get(f"/api/events/{west_police.code}", headers=bearer(city["disp_w"]))
    assert detail.json()["actions"] == ["sign", "return"]


def test_area_staff_see_their_area_and_unknown_codes_get_404(client, city):
    event = file_at(city)
    assert codes(listed(client, city, who="command_staff")) == [event.code]
    # Leaders get aggregates only (/api/stats, /maps/leader), never the events themselves.
    assert_error(client.get("/api/events", headers=bearer(city["leader"])), 403, "leader")
    assert_error(client.get(f"/api/events/{event.code}", headers=bearer(city["leader"])), 403)
    detail = client.get(f"/api/events/{event.code}", headers=bearer(city["command_staff"]))
    assert detail.json()["actions"] == ["redispatch", "suspend", "void", "supervise", "transfer"]
    missing = client.get("/api/events/420502-20260101-999999", headers=bearer(city["admin"]))
    assert_error(missing, 404, "does not exist")


def test_list_parameters_out_of_range_get_422(client, city):
    for params in ({"page_size": 201}, {"page": 0}, {"status": "lost"}, {"light": "blue"}):
        response = client.get("/api/events", params=params, headers=bearer(city["admin"]))
        assert_error(response, 422)
    bad_box = client.get("/api/events", params={"bbox": "1,2,3"}, headers=bearer(city["admin"]))
    assert_error(bad_box, 400, "four numbers")


# -- actions -------------------------------------------------------------------------------


def act_on(client, city, who, code, action, json=None, **kwargs):
    return client.post(
        f"/api/events/{code}/{action}", json=json, headers=bearer(city[who]), **kwargs
    )


def test_an_action_not_possible_now_gets_409_with_what_is_allowed(client, city):
    event = post_event(client, city).json()
    response = act_on(client, city, "worker", event["code"], "verify", {"passed": True})
    error = assert_error(response, 409, "cannot verify")
    assert error["allowed"] == [
        "redispatch",
        "sign",
        "return",
        "suspend",
        "void",
        "self-resolve",
        "supervise",
        "transfer",
    ]
    assert len(city["session"].scalars(select(EventStep)).all()) == 2  # nothing recorded


def test_unknown_actions_get_404_naming_the_actions(client, city):
    event = post_event(client, city).json()
    response = act_on(client, city, "disp_w", event["code"], "approve", {})
    error = assert_error(response, 404, "'approve' is not an event action", "sign", "verify")
    assert error["field"] == "action"


def test_roles_that_never_do_an_action_are_refused_at_its_gate(client, city):
    event = post_event(client, city).json()
    response = act_on(client, city, "leader", event["code"], "sign")
    assert_error(response, 403, "dispatcher")


def test_the_full_loop_over_http_report_sign_handle_verify_and_the_centre_closes(client, city):
    event = post_event(client, city).json()
    code = event["code"]
    signed = act_on(client, city, "disp_w", code, "sign")
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed"
    assert signed.json()["actions"] == ["handle", "extend"]
    handled = client.post(
        f"/api/events/{code}/handle",
        data={"note": "已盘查，系外卖员"},
        files=[("photos", ("fixed.jpg", jpeg("blue"), "image/jpeg"))],
        headers=bearer(city["disp_w"]),
    )
    assert handled.status_code == 200, handled.text
    assert handled.json()["status"] == "handled"
    assert handled.json()["actions"] == []  # the unit never verifies its own fix
    near = (SPOT[0] + 20 * METRE_LON, SPOT[1])
    closed = client.post(
        f"/api/events/{code}/verify",
        data={"passed": "true", "lon": str(near[0]), "lat": str(near[1]), "note": "现场已核查"},
        files=[("photos", ("ok.jpg", jpeg("white"), "image/jpeg"))],
        headers=bearer(city["worker"]),
    )
    assert closed.status_code == 200, closed.text
    # The check passed: the case waits for the command centre's 结案 on its own clock.
    verified = closed.json()
    assert verified["status"] == "verified" and verified["closed_at"] is None
    assert (verified["stage"], verified["stage_label"]) == ("close", "结案")
    assert verified["light"] == "green" and verified["time_left"].startswith("剩余 ")
    assert (
        "close"
        in client.get(f"/api/events/{code}", headers=bearer(city["command_staff"])).json()[
            "actions"
        ]
    )
    refused = act_on(client, city, "disp_w", code, "close", {"note": "已办结"})
    assert_error(refused, 403, "may not use", "指挥中心(command)")
    closed = client.post(
        f"/api/events/{code}/close",
        data={"note": "核查通过，结案"},
        headers=bearer(city["command_staff"]),
    )
    assert closed.status_code == 200, closed.text
    history = client.get(f"/api/events/{code}", headers=bearer(city["worker"])).json()
    assert history["status"] == "closed" and history["closed_at"] is not None
    assert [(s["action"], s["to_status"], s["actor"]) for s in history["steps"]] == [
        ("report", "registered", "worker1"),
        ("dispatch", "dispatched", "worker1"),
        ("sign", "signed", "disp.w"),
        ("handle", "handled", "disp.w"),
        ("verify", "verified", "worker1"),
        ("close", "closed", "cc.duty"),
    ]
    assert history["steps"][3]["note"] == "已盘查，系外卖员"
    assert history["steps"][5]["note"] == "核查通过，结案"
    steps = {s["id"]: s["action"] for s in history["steps"]}
    assert [steps[p["step_id"]] for p in history["photos"]] == ["handle", "verify"]
    assert [s["stage"] for s in history["stages"]] == ["sign", "handle", "verify", "close"]
    assert history["actions"] == []


def test_an_action_with_a_missing_field_gets_422_and_changes_nothing(client, city):
    event = post_event(client, city).json()
    response = act_on(client, city, "disp_w", event["code"], "return", {})
    assert_error(response, 422, "needs a reason")
    detail = client.get(f"/api/events/{event['code']}", headers=bearer(city["disp_w"]))
    assert detail.json()["status"] == "dispatched"


def test_another_units_dispatcher_may_not_act_on_the_case(client, city):
    event = post_event(client, city).json()
    response = act_on(client, city, "disp_e", event["code"], "sign")
    assert_error(response, 403, "outside your unit's cases")


# -- page sessions ---------------------------------------------------------------------------


def test_a_cookie_session_post_without_the_csrf_header_is_refused(client, city):
    add_staff(city["session"], "zhang.min", "grid_worker", grid_codes=[EAST])
    login = client.post(
        "/login",
        data={"username": "zhang.min", "password": "test-password"},
        follow_redirects=False,
    )
    assert login.status_code == 303
    refused = client.post("/api/events", json=report())
    assert_error(refused, 403, CSRF_HEADER)
    assert events_in_db(city["session"]) == 0
    accepted = client.post(
        "/api/events", json=report(), headers={CSRF_HEADER: client.cookies[CSRF_COOKIE]}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["reporter"] == "zhang.min"


def test_an_extension_beyond_a_working_year_is_refused_before_it_is_recorded(client, city):
    event = post_event(client, city).json()
    act_on(client, city, "disp_w", event["code"], "sign")
    response = act_on(
        client, city, "disp_w", event["code"], "extend", {"reason": "等待", "extra_limit": "400d"}
    )
    error = assert_error(response, 422, "more than 250 working days", "suspend")
    assert error["field"] == "extra_limit"
    history = client.get(f"/api/events/{event['code']}", headers=bearer(city["disp_w"])).json()
    assert [s["action"] for s in history["steps"]][-1] == "sign"


def test_acting_on_an_event_outside_the_scope_says_nothing_of_its_state(client, city):
    event = post_event(client, city, who="worker2").json()  # grid EAST
    response = act_on(client, city, "west_worker", event["code"], "verify", {"passed": True})
    error = assert_error(response, 403, "outside your grids")
    assert "allowed" not in error and "dispatched" not in error["message"]
