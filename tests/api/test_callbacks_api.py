"""Reply and callbacks over HTTP: JSON and form bodies, the refusal to close before the reply,
the operator's queue with masked phones, the review list, and Open311's status notes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from events.models import EventSource
from gis.clock import CHINA_TZ
from tests.events.districts_city import add_second_district
from tests.events.workflow_city import SPOT, do, file, photo, taken_up
from tests.factories import METRE_LON, bearer

NEAR = (SPOT[0] + 20 * METRE_LON, SPOT[1])


def verified(city: dict[str, Any], code: str | None = None) -> str:
    """A hotline case (or the event `code`) taken through check, 立案 and dispatch, sign,
    handle and verify just now; it waits for the reply."""
    now = datetime.now(CHINA_TZ) - timedelta(minutes=10)
    if code is None:
        code = file(
            city, by="command_staff", source=EventSource.HOTLINE, contact="13912345678", now=now
        ).code
    do(city, "worker", code, "check", now + timedelta(minutes=1), note="属实")
    taken_up(city, code, now + timedelta(minutes=1))
    do(city, "disp_w", code, "sign", now + timedelta(minutes=2))
    do(city, "disp_w", code, "handle", now + timedelta(minutes=3), note="已处理")
    do(
        city,
        "worker",
        code,
        "verify",
        now + timedelta(minutes=4),
        photos=[photo()],
        lon=NEAR[0],
        lat=NEAR[1],
    )
    return code


def test_close_is_refused_with_a_sentence_then_the_reply_closes_by_json(client, city):
    code = verified(city)
    command = bearer(city["command_staff"])
    refused = client.post(f"/api/events/{code}/close", headers=command, json={})
    assert refused.status_code == 409, refused.text
    assert "reply to the caller first" in refused.json()["error"]["message"]

    detail = client.get(f"/api/events/{code}", headers=command).json()
    assert detail["stage"] == "reply" and "reply" in detail["actions"]
    assert "close" not in detail["actions"]

    missing = client.post(f"/api/events/{code}/reply", headers=command, json={"reply": "好"})
    assert missing.status_code == 422 and "reply_channel" in missing.text
    replied = client.post(
        f"/api/events/{code}/reply",
        headers=command,
        json={"reply": "已处理完毕", "reply_channel": "sms"},
    )
    assert replied.status_code == 200, replied.text
    body = replied.json()
    assert body["status"] == "closed"
    assert body["steps"][-1]["data"]["reply"] == "已处理完毕"
    assert body["steps"][-1]["data"]["reply_channel"] == "sms"

    queue = client.get("/api/callbacks", headers=command, params={"due": "all"})
    assert queue.status_code == 200
    (row,) = queue.json()
    assert row["event_code"] == code and row["status"] == "due"
    assert row["reply"] == "已处理完毕"
    assert row["contact_masked"] and "13912345678" not in queue.text
    assert row["unmask_url"] == f"/api/events/{code}/contact/unmask"


def test_reply_and_callback_by_form_bodies(client, city):
    code = verified(city)
    command = bearer(city["command_staff"])
    replied = client.post(
        f"/api/events/{code}/reply",
        headers=command,
        data={"reply": "已处理完毕", "reply_channel": "phone"},
    )
    assert replied.status_code == 200, replied.text
    first = client.post(
        f"/api/events/{code}/callbacks", headers=command, data={"outcome": "no_answer"}
    )
    assert first.status_code == 200, first.text
    assert first.json()["attempts"] == 1 and first.json()["status"] == "due"
    happy = client.post(
        f"/api/events/{code}/callbacks",
        headers=command,
        json={"outcome": "fairly_satisfied", "note": "还行"},
    )
    assert happy.status_code == 200
    assert happy.json()["satisfaction"] == "fairly_satisfied"
    assert happy.json()["status"] == "reached"
    again = client.post(
        f"/api/events/{code}/callbacks", headers=command, json={"outcome": "satisfied"}
    )
    assert again.status_code == 409 and "no callback waiting" in again.text
    unknown = client.post(
        f"/api/events/{code}/callbacks", headers=command, json={"outcome": "so-so"}
    )
    assert unknown.status_code == 422


def test_dissatisfied_reopens_then_a_second_lands_in_the_review_list(client, city):
    code = verified(city)
    command = bearer(city["command_staff"])
    answer = {"reply": "已处理", "reply_channel": "sms"}
    client.post(f"/api/events/{code}/reply", headers=command, json=answer)
    no_reason = client.post(
        f"/api/events/{code}/callbacks", headers=command, json={"outcome": "dissatisfied"}
    )
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "note"
    reopened = client.post(
        f"/api/events/{code}/callbacks",
        headers=command,
        data={"outcome": "dissatisfied", "note": "问题依旧"},
    )
    assert reopened.status_code == 200 and reopened.json()["event_status"] == "signed"
    detail = client.get(f"/api/events/{code}", headers=bearer(city["disp_w"])).json()
    assert detail["status"] == "signed" and detail["steps"][-1]["action"] == "reopen"
    assert detail["stage"] == "handle"

    now = datetime.now(CHINA_TZ)  # the same unit fixes it again, the grid worker verifies
    do(city, "disp_w", code, "handle", now, note="再次处理")
    do(city, "worker", code, "verify", now, photos=[photo()], lon=NEAR[0], lat=NEAR[1])
    client.post(f"/api/events/{code}/reply", headers=command, json=answer | {"reply": "已复查"})
    review = client.post(
        f"/api/events/{code}/callbacks",
        headers=command,
        json={"outcome": "dissatisfied", "note": "还是不行"},
    )
    assert review.status_code == 200 and review.json()["status"] == "review"
    listed = client.get("/api/callbacks/reviews", headers=command).json()
    assert [r["event_code"] for r in listed] == [code]
    done = client.post(
        f"/api/callbacks/{listed[0]['id']}/review", headers=command, data={"note": "已复核"}
    )
    assert done.status_code == 200 and done.json()["status"] == "reviewed"
    assert client.get("/api/callbacks/reviews", headers=command).json() == []


def test_other_roles_and_other_districts_are_refused(client, city):
    add_second_district(city["session"], city)
    code = verified(city)
    command = bearer(city["command_staff"])
    for who in ("leader", "disp_w"):
        answer = client.post(
            f"/api/events/{code}/reply",
            headers=bearer(city[who]),
            json={"reply": "好", "reply_channel": "sms"},
        )
        assert answer.status_code == 403, (who, answer.text)
        assert client.get("/api/callbacks", headers=bearer(city[who])).status_code == 403
    other = bearer(city["wjg_command"])
    answer = client.post(
        f"/api/events/{code}/reply", headers=other, json={"reply": "好", "reply_channel": "sms"}
    )
    assert answer.status_code == 403
    client.post(
        f"/api/events/{code}/reply", headers=command, json={"reply": "好", "reply_channel": "sms"}
    )
    assert client.get("/api/callbacks", headers=other).json() == []
    refused = client.post(
        f"/api/events/{code}/callbacks", headers=other, json={"outcome": "satisfied"}
    )
    assert refused.status_code == 403
    bad_due = client.get("/api/callbacks", headers=command, params={"due": "soon"})
    assert bad_due.status_code == 422


def test_open311_status_notes_show_the_reply_once_replied(client, city):
    key = city["open311"]
    filed = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "0101",
            "lat": str(SPOT[1]),
            "long": str(SPOT[0]),
            "description": "小区门口有人反复踩点",
        },
    )
    assert filed.status_code == 201, filed.text
    code = filed.json()[0]["service_request_id"]
    verified(city, code)

    def notes() -> str | None:
        got = client.get(f"/open311/v2/requests/{code}.json", params={"api_key": key})
        assert got.status_code == 200, got.text
        return got.json()[0]["status_notes"]

    assert notes() != "已安排民警巡查，请放心"
    reply = {"reply": "已安排民警巡查，请放心", "reply_channel": "web_app"}
    command = bearer(city["command_staff"])
    done = client.post(f"/api/events/{code}/reply", headers=command, json=reply)
    assert done.status_code == 200, done.text
    assert notes() == "已安排民警巡查，请放心"


def test_the_leader_panel_shows_the_citizen_service_figures(client, city):
    code = verified(city)
    command = bearer(city["command_staff"])
    answer = {"reply": "已处理", "reply_channel": "sms"}
    assert client.post(f"/api/events/{code}/reply", headers=command, json=answer).is_success
    happy = {"outcome": "satisfied"}
    assert client.post(f"/api/events/{code}/callbacks", headers=command, json=happy).is_success
    panel = client.get("/maps/leader/panel", headers=bearer(city["leader"]))
    assert panel.status_code == 200, panel.text
    html = panel.text
    block = html[html.index('id="gg-citizen-kpis"') : html.index('id="gg-accepted"')]
    assert "满意率</small><b>100.0%" in block and "回访率</small><b>100.0%" in block
    assert "按时答复率</small><b>100.0%" in block and "重办率</small><b>0.0%" in block
    assert "12345热线" in html[html.index('id="gg-accepted"') :]
    kpis = client.get("/api/stats/kpis", headers=bearer(city["leader"])).json()["citizen"]
    assert kpis["accepted_by_source"] == {"hotline": 1}
    assert kpis["satisfaction_rate"] == 1.0 and kpis["callbacks_reached"] == 1
