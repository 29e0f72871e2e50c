"""HTTP: categories, departments, units, dispatch rules and the work calendar; admins' edits
change where and by when the next report is handled."""

from __future__ import annotations

from datetime import datetime

import pytest
from shapely import box
from shapely.geometry import mapping
from sqlalchemy import func, select

from events.models import DispatchRule, EventCategory, WorkCalendarDay
from gis.clock import CHINA_TZ
from tests.events.dispatch_city import file
from tests.events.workflow_city import MONDAY_10
from tests.factories import add_staff, bearer


@pytest.fixture
def people(dispatch_city):
    session = dispatch_city["session"]
    return {
        "admin": bearer(add_staff(session, "boss", "admin")),
        "command": bearer(add_staff(session, "command", "command", area_code="420502000000")),
        "leader": bearer(add_staff(session, "leader", "leader", area_code="420502000000")),
        "worker": bearer(dispatch_city["worker"]),
        "dispatcher": bearer(
            add_staff(
                session, "police1", "dispatcher", department_unit_id=dispatch_city["police_w"].id
            )
        ),
    }


# --- categories ---------------------------------------------------------------------------------


def test_any_staff_member_reads_the_current_category_table(client, dispatch_city, people):
    response = client.get("/api/categories", headers=people["worker"])
    assert response.status_code == 200
    rows = {c["code"]: c for c in response.json()}
    assert len(rows) > 50
    police = rows["0102"]
    assert (police["lead"], police["lead_label"], police["sign_limit"]) == ("police", "公安", "2h")
    assert police["major_code"] == "01" and police["version"] == 1
    assert {"priority", "handle_limit", "verify_limit", "photo_required"} <= set(police)
    fire = client.get("/api/categories", headers=people["worker"], params={"major": "02"}).json()
    assert fire and {c["major_code"] for c in fire} == {"02"}
    assert client.get("/api/categories").status_code == 401


def test_an_admin_category_change_is_a_new_version_used_by_the_next_report(
    client,
    dispatch_city,
    people,
):
    before = file(dispatch_city, category="0102")
    changed = client.patch(
        "/api/categories/0102", headers=people["admin"], json={"sign_limit": "4h"}
    )
    assert changed.status_code == 200
    assert (changed.json()["version"], changed.json()["sign_limit"]) == (2, "4h")
    listed = {c["code"]: c for c in client.get("/api/categories", headers=people["admin"]).json()}
    assert listed["0102"]["version"] == 2
    after = file(dispatch_city, category="0102", lon=111.283)
    assert before.stage_deadline == datetime(2026, 11, 23, 12, 0, tzinfo=CHINA_TZ)
    # 10:00–12:00, lunch until 14:30, then two more working hours.
    assert after.stage_deadline == datetime(2026, 11, 23, 16, 30, tzinfo=CHINA_TZ)


def test_category_edits_are_for_admins_with_readable_limits(client, dispatch_city, people):
    session = dispatch_city["session"]
    for role in ("command", "worker", "leader"):
        refused = client.patch(
            "/api/categories/0102", headers=people[role], json={"sign_limit": "4h"}
        )
        assert refused.status_code == 403, role
    bad = client.patch("/api/categories/0102", headers=people["admin"], json={"sign_limit": "soon"})
    assert bad.status_code == 422 and "sign_limit" in bad.json()["error"]["message"]
    wrong_type = client.patch(
        "/api/categories/0102", headers=people["admin"], json={"lead": "army"}
    )
    assert wrong_type.status_code == 422 and wrong_type.json()["error"]["field"] == "lead"
    missing = client.patch("/api/categories/9999", headers=people["admin"], json={"name": "x"})
    assert missing.status_code == 404
    versions = session.scalar(
        select(func.count()).select_from(EventCategory).where(EventCategory.code == "0102")
    )
    assert versions == 1


# --- departments and units ----------------------------------------------------------------------


def test_departments_and_units_are_listed_with_jurisdictions_on_request(
    client,
    dispatch_city,
    people,
):
    departments = client.get("/api/departments", headers=people["worker"]).json()
    police = next(d for d in departments if d["dept_type"] == "police")
    assert police["dept_type_label"] == "公安" and police["units"] == 2
    units = client.get("/api/units", headers=people["worker"], params={"type": "police"}).json()
    assert units["type"] == "FeatureCollection" and units["total"] == 2
    assert [f["properties"]["code"] for f in units["features"]] == ["PS-E", "PS-W"]
    assert all(f["geometry"] is None for f in units["features"])
    assert "webhook_secret" not in units["features"][0]["properties"]
    shapes = client.get(
        "/api/units", headers=people["worker"], params={"type": "police", "geometry": "true"}
    ).json()
    assert {f["geometry"]["type"] for f in shapes["features"]} == {"MultiPolygon"}
    fire = client.get(f"/api/units/{dispatch_city['fire'].id}", headers=people["worker"]).json()
    assert fire["geometry"] is None and fire["properties"]["has_jurisdiction"] is False
    assert fire["properties"]["lon"] == pytest.approx(111.30)
    unknown = client.get("/api/units", headers=people["worker"], params={"type": "army"})
    assert unknown.status_code == 422


def test_a_redrawn_jurisdiction_decides_the_next_dispatch(client, dispatch_city, people):
    assert file(dispatch_city, lon=111.292).unit.code == "PS-W"
    for unit, area in (
        ("police_w", box(111.27, 30.69, 111.288, 30.73)),
        ("police_e", box(111.288, 30.69, 111.31, 30.73)),
    ):
        response = client.put(
            f"/api/units/{dispatch_city[unit].id}/jurisdiction",
            headers=people["admin"],
            json=mapping(area),
        )
        assert response.status_code == 200
        assert response.json()["geometry"]["type"] == "MultiPolygon"
    event = file(dispatch_city, lon=111.2921, lat=30.7051)
    assert event.unit.code == "PS-E" and "jurisdiction covers" in event.dispatch["unit"]


def test_jurisdictions_must_be_polygons_drawn_by_an_admin(client, dispatch_city, people):
    url = f"/api/units/{dispatch_city['police_w'].id}/jurisdiction"
    area = mapping(box(111.27, 30.69, 111.288, 30.73))
    assert client.put(url, headers=people["command"], json=area).status_code == 403
    point = client.put(
        url, headers=people["admin"], json={"type": "Point", "coordinates": [111.28, 30.7]}
    )
    assert point.status_code == 422
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[111.27, 30.69], [111.29, 30.71], [111.29, 30.69], [111.27, 30.71], [111.27, 30.69]]
        ],
    }
    assert client.put(url, headers=people["admin"], json=bow_tie).status_code == 422
    missing = client.put("/api/units/999999/jurisdiction", headers=people["admin"], json=area)
    assert missing.status_code == 404
    assert file(dispatch_city, lon=111.292).unit.code == "PS-W"  # unchanged


# --- dispatch rules -----------------------------------------------------------------------------


RULE = {"position": 1, "name": "治安乱点交住建", "category_code": "0102", "lead": "housing"}


def test_a_new_dispatch_rule_changes_where_the_next_report_goes(client, dispatch_city, people):
    assert file(dispatch_city, category="0102").unit.code == "PS-W"
    created = client.post("/api/dispatch-rules", headers=people["admin"], json=RULE)
    assert created.status_code == 201
    rule = created.json()
    assert rule["lead_label"] == "住建" and rule["active"] is True
    routed = file(dispatch_city, category="0102", lon=111.283)
    assert routed.unit.code == "ZJ-1" and "治安乱点交住建" in routed.dispatch["rule"]
    listed = client.get("/api/dispatch-rules", headers=people["command"]).json()
    assert [r["id"] for r in listed] == [rule["id"]]
    replaced = client.put(
        f"/api/dispatch-rules/{rule['id']}",
        headers=people["admin"],
        json={**RULE, "lead": "command_centre", "name": "治安乱点交指挥中心"},
    )
    assert replaced.status_code == 200 and replaced.json()["lead"] == "command_centre"
    assert file(dispatch_city, category="0102", lon=111.284).unit.code == "CC"
    deleted = client.delete(f"/api/dispatch-rules/{rule['id']}", headers=people["admin"])
    assert deleted.status_code == 204
    assert client.get("/api/dispatch-rules", headers=people["command"]).json() == []
    kept = client.get(
        "/api/dispatch-rules", headers=people["admin"], params={"include_inactive": "true"}
    ).json()
    assert [r["active"] for r in kept] == [False]
    assert file(dispatch_city, category="0102", lon=111.285).unit.code == "PS-W"


def test_dispatch_rules_are_read_by_command_and_edited_by_admins(client, dispatch_city, people):
    for role in ("worker", "leader", "dispatcher"):
        assert client.get("/api/dispatch-rules", headers=people[role]).status_code == 403, role
    assert (
        client.post("/api/dispatch-rules", headers=people["command"], json=RULE).status_code == 403
    )
    assert client.get("/api/dispatch-rules").status_code == 401


def count_rules(session) -> int:
    return session.scalar(select(func.count()).select_from(DispatchRule))


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"category_code": "9999"}, 422, "no category has code 9999"),
        ({"category_code": "1"}, 422, "category_code"),
        ({"weekdays": [0, 8]}, 422, "weekdays"),
        ({"time_from": "22:00"}, 422, "time_to"),
        ({"fixed_unit_id": 999999}, 404, "unit 999999"),
        ({"lead": "army"}, 422, "lead"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_saved(
    client,
    dispatch_city,
    people,
    change,
    status,
    words,
):
    response = client.post("/api/dispatch-rules", headers=people["admin"], json=RULE | change)
    assert response.status_code == status
    assert words in response.json()["error"]["message"]
    assert count_rules(dispatch_city["session"]) == 0


def test_unknown_rules_are_404(client, dispatch_city, people):
    assert (
        client.put("/api/dispatch-rules/999", headers=people["admin"], json=RULE).status_code == 404
    )
    assert client.delete("/api/dispatch-rules/999", headers=people["admin"]).status_code == 404
    assert client.get("/api/dispatch-rules/999", headers=people["command"]).status_code == 404


# --- work calendar ------------------------------------------------------------------------------


def test_the_calendar_lists_holidays_and_worked_weekends_of_a_year(client, dispatch_city, people):
    days = client.get("/api/calendar", headers=people["worker"], params={"year": 2026}).json()
    assert days and all(d["day"].startswith("2026-") for d in days)
    kinds = {d["kind"]: d["kind_label"] for d in days}
    assert kinds == {"holiday": "节假日", "workday": "调休上班"}
    national_day = next(d for d in days if d["day"] == "2026-10-01")
    assert national_day["kind"] == "holiday" and national_day["weekday"] == 4


def test_an_admin_holiday_moves_the_next_deadline(client, dispatch_city, people):
    marked = client.put(
        "/api/calendar/2026-11-23",
        headers=people["admin"],
        json={"kind": "holiday", "name": "停工日"},
    )
    assert marked.status_code == 200
    assert marked.json() == {
        "day": "2026-11-23",
        "kind": "holiday",
        "kind_label": "节假日",
        "name": "停工日",
        "weekday": 1,
    }
    event = file(dispatch_city, category="0102", now=MONDAY_10)
    # Monday is off: the two working hours run from Tuesday's opening at 08:30.
    assert event.stage_deadline == datetime(2026, 11, 24, 10, 30, tzinfo=CHINA_TZ)
    cleared = client.delete("/api/calendar/2026-11-23", headers=people["admin"])
    assert cleared.status_code == 204
    assert dispatch_city["session"].get(WorkCalendarDay, datetime(2026, 11, 23).date()) is None


def test_calendar_edits_are_checked_and_admin_only(client, dispatch_city, people):
    weekday_workday = client.put(
        "/api/calendar/2026-11-24", headers=people["admin"], json={"kind": "workday"}
    )
    assert weekday_workday.status_code == 422
    assert "working day already" in weekday_workday.json()["error"]["message"]
    bad_kind = client.put(
        "/api/calendar/2026-11-28", headers=people["admin"], json={"kind": "party"}
    )
    assert bad_kind.status_code == 422 and bad_kind.json()["error"]["field"] == "kind"
    bad_date = client.put(
        "/api/calendar/2026-02-30", headers=people["admin"], json={"kind": "holiday"}
    )
    assert bad_date.status_code == 422 and bad_date.json()["error"]["field"] == "day"
    refused = client.put(
        "/api/calendar/2026-11-28", headers=people["command"], json={"kind": "workday"}
    )
    assert refused.status_code == 403
    stored = (
        dispatch_city["session"]
        .scalars(
            select(WorkCalendarDay.day).where(WorkCalendarDay.day >= datetime(2026, 11, 24).date())
        )
        .all()
    )
    assert all(day.month != 11 for day in stored)
