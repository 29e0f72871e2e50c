"""Joint cases over HTTP: the sub-tasks of a case, adding an assisting unit (JSON and form),
signing and reporting (with a photo) by the assisting unit, waiving with a reason, the lead's
handling refused while one is open, the queue and the KPIs; every refusal a sentence."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.event_requests import assert_error, report
from tests.api.test_events_api import jpeg
from tests.events.joint_city import NOISE, add_joint_units
from tests.factories import bearer


@pytest.fixture
def joint_city(city: dict[str, Any]) -> dict[str, Any]:
    return add_joint_units(city)


def file_noise(client, city) -> str:
    response = client.post(
        "/api/events", json=report(category=NOISE), headers=bearer(city["worker"])
    )
    assert response.status_code == 201, response.text
    return response.json()["code"]


def tasks(client, city, code: str, who: str = "command_staff") -> dict[str, dict[str, Any]]:
    response = client.get(f"/api/events/{code}/subtasks", headers=bearer(city[who]))
    assert response.status_code == 200, response.text
    return {t["unit"]["code"]: t for t in response.json()}


def test_a_joint_case_travels_through_its_subtasks_over_http(client, joint_city):
    city = joint_city
    code = file_noise(client, city)
    seen = tasks(client, city, code, who="disp_eco")  # the assisting unit reads the case's
    assert set(seen) == {"PS-W", "ECO-1"}
    eco = seen["ECO-1"]
    assert eco["status"] == "dispatched" and eco["status_label"] == "待签收"
    assert eco["lead_unit"]["code"] == "UM-1" and eco["actions"] == ["sign"]
    assert seen["PS-W"]["actions"] == []  # not theirs
    detail = client.get(f"/api/events/{code}", headers=bearer(city["disp_eco"]))
    assert detail.status_code == 200 and detail.json()["actions"] == []

    base = f"/api/events/{code}/subtasks"
    lead_try = client.post(f"{base}/{eco['id']}/sign", json={}, headers=bearer(city["disp_um"]))
    assert_error(lead_try, 403, "not your unit's")
    other = client.post(f"{base}/{eco['id']}/sign", json={}, headers=bearer(city["disp_e"]))
    assert_error(other, 403, "outside your unit's cases")
    signed = client.post(f"{base}/{eco['id']}/sign", json={}, headers=bearer(city["disp_eco"]))
    assert signed.status_code == 200 and signed.json()["status"] == "signed"
    again = client.post(f"{base}/{eco['id']}/sign", json={}, headers=bearer(city["disp_eco"]))
    assert_error(again, 409, "possible steps are: report")
    assert again.json()["error"]["allowed"] == ["report", "waive", "cancel"]
    no_note = client.post(f"{base}/{eco['id']}/report", json={}, headers=bearer(city["disp_eco"]))
    assert_error(no_note, 422, "needs a note")
    reported = client.post(
        f"{base}/{eco['id']}/report",
        data={"note": "已监测，噪声超标，已开整改通知"},
        files=[("photos", ("site.jpg", jpeg(), "image/jpeg"))],
        headers=bearer(city["disp_eco"]),
    )
    assert reported.status_code == 200, reported.text
    body = reported.json()
    assert body["status"] == "done" and body["on_time"] is True and len(body["photos"]) == 1
    photo = client.get(body["photos"][0]["url"], headers=bearer(city["command_staff"]))
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"

    client.post(f"/api/events/{code}/sign", json={}, headers=bearer(city["disp_um"]))
    refused = client.post(
        f"/api/events/{code}/handle", json={"note": "已处理"}, headers=bearer(city["disp_um"])
    )
    assert_error(refused, 409, city["police_w"].name, "待签收")
    police = tasks(client, city, code)["PS-W"]
    no_reason = client.post(
        f"{base}/{police['id']}/waive", json={}, headers=bearer(city["command_staff"])
    )
    assert_error(no_reason, 422, "needs a reason")
    unit_waive = client.post(
        f"{base}/{police['id']}/waive", json={"reason": "x"}, headers=bearer(city["disp_w"])
    )
    assert_error(unit_waive, 403)
    waived = client.post(
        f"{base}/{police['id']}/waive",
        data={"reason": "已由城管劝停，无需公安到场"},
        headers=bearer(city["command_staff"]),
    )
    assert waived.status_code == 200 and waived.json()["status_label"] == "已免除"
    handled = client.post(
        f"/api/events/{code}/handle", json={"note": "已处理"}, headers=bearer(city["disp_um"])
    )
    assert handled.status_code == 200 and handled.json()["status"] == "handled"
    steps = [s["action"] for s in handled.json()["steps"]]
    assert "subtask-report" in steps and "subtask-waive" in steps


def test_the_command_centre_adds_an_assisting_unit_by_json_or_form(client, joint_city):
    city = joint_city
    code = file_noise(client, city)
    url = f"/api/events/{code}/subtasks"
    fire = city["fire"].id
    by_unit = client.post(url, json={"unit_id": fire}, headers=bearer(city["disp_um"]))
    assert_error(by_unit, 403)
    missing = client.post(url, json={}, headers=bearer(city["command_staff"]))
    assert_error(missing, 422)
    nowhere = client.post(url, json={"unit_id": 999999}, headers=bearer(city["command_staff"]))
    assert_error(nowhere, 404, "unit 999999 does not exist")
    added = client.post(
        url, data={"unit_id": str(fire), "note": "请核查"}, headers=bearer(city["command_staff"])
    )
    assert added.status_code == 201, added.text
    assert added.json()["unit"]["code"] == "FS-1" and added.json()["note"] == "请核查"
    twice = client.post(url, json={"unit_id": fire}, headers=bearer(city["command_staff"]))
    assert_error(twice, 409, "already assists")
    lead = client.post(url, json={"unit_id": city["um"].id}, headers=bearer(city["admin"]))
    assert_error(lead, 422, "leads event")
    queue = client.get("/api/subtasks", headers=bearer(city["disp_fire"]))
    assert [t["id"] for t in queue.json()] == [added.json()["id"]]
    cancel = client.post(
        f"{url}/{added.json()['id']}/cancel",
        json={"reason": "误加"},
        headers=bearer(city["command_staff"]),
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert client.get("/api/subtasks", headers=bearer(city["disp_fire"])).json() == []
    everything = client.get("/api/subtasks?status=all", headers=bearer(city["disp_fire"]))
    assert [t["status"] for t in everything.json()] == ["cancelled"]
    assert_error(
        client.get("/api/subtasks?status=late", headers=bearer(city["disp_fire"])), 422, "late"
    )
    assert_error(
        client.post(f"{url}/999999/sign", json={}, headers=bearer(city["disp_w"])),
        404,
        "no sub-task 999999",
    )


def test_subtask_kpis_over_http(client, joint_city):
    city = joint_city
    file_noise(client, city)
    response = client.get("/api/stats/subtasks?by=unit", headers=bearer(city["command_staff"]))
    assert response.status_code == 200, response.text
    rows = {r["name"]: r for r in response.json()}
    assert {r["assigned"] for r in rows.values()} == {1} and len(rows) == 2
    assert all(r["on_time_rate"] is None for r in rows.values())  # nothing reported or late
    mine = client.get("/api/stats/subtasks", headers=bearer(city["disp_eco"]))
    assert [r["name"] for r in mine.json()] == [city["eco"].name]
    by_department = client.get("/api/stats/subtasks?by=department", headers=bearer(city["admin"]))
    assert by_department.status_code == 200 and len(by_department.json()) == 2
    assert_error(client.get("/api/stats/subtasks?by=grid", headers=bearer(city["admin"])), 422)
