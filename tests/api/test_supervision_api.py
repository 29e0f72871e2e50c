"""Supervision orders over HTTP: issue and reply by JSON and by form, each refusal a 4xx
sentence, a unit sees only its own orders, lifting, sanctions and KPIs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from gis.clock import CHINA_TZ
from tests.events.workflow_city import do, file
from tests.factories import bearer


def open_case(city: dict[str, Any]) -> str:
    """A case filed ten minutes ago and signed for by PS-W."""
    now = datetime.now(CHINA_TZ) - timedelta(minutes=10)
    code = file(city, now=now).code
    do(city, "disp_w", code, "sign", now + timedelta(minutes=1))
    return code


def refusal(response: Any) -> str:
    message: str = response.json()["error"]["message"]
    return message


def test_issue_by_json_and_reply_by_form_and_the_units_view(client, city):
    code = open_case(city)
    command, unit = bearer(city["command_staff"]), bearer(city["disp_w"])
    issued = client.post(
        "/api/supervision",
        headers=command,
        json={"event": code, "level": "key", "demand": "请立即处置", "reply_limit": "4h"},
    )
    assert issued.status_code == 201, issued.text
    order = issued.json()
    assert (order["level_label"], order["unit"]["code"], order["status"]) == (
        "重点督办",
        "PS-W",
        "open",
    )
    mine = client.get("/api/supervision?status=open", headers=unit).json()
    assert [o["id"] for o in mine] == [order["id"]] and mine[0]["can_reply"] is True
    other = bearer(city["disp_e"])
    assert client.get("/api/supervision", headers=other).json() == []
    hidden = client.get(f"/api/supervision/{order['id']}", headers=other)
    assert hidden.status_code == 404 and "does not exist or is not one" in refusal(hidden)
    refused = client.post(
        f"/api/supervision/{order['id']}/reply", headers=other, data={"reply": "不是我们"}
    )
    assert refused.status_code == 404
    replied = client.post(
        f"/api/supervision/{order['id']}/reply", headers=unit, data={"reply": "已到场处置"}
    )
    assert replied.status_code == 200, replied.text
    assert replied.json()["replied_on_time"] is True and replied.json()["status"] == "replied"
    again = client.post(
        f"/api/supervision/{order['id']}/reply", headers=unit, json={"reply": "再报"}
    )
    assert again.status_code == 409 and "takes no further reply" in refusal(again)


def test_issue_by_form_and_the_refusals_are_sentences(client, city):
    code = open_case(city)
    command, unit = bearer(city["command_staff"]), bearer(city["disp_w"])
    by_form = client.post("/api/supervision", headers=command, data={"event": code})
    assert by_form.status_code == 201 and by_form.json()["level"] == "general"
    by_unit = client.post("/api/supervision", headers=unit, json={"event": code})
    assert by_unit.status_code == 403 and "may not use" in refusal(by_unit)
    unknown = client.post("/api/supervision", headers=command, json={"event": "420502-1-1"})
    assert unknown.status_code == 404 and "does not exist" in refusal(unknown)
    bad_level = client.post(
        "/api/supervision", headers=command, json={"event": code, "level": "urgent"}
    )
    assert bad_level.status_code == 422
    bad_limit = client.post(
        "/api/supervision", headers=command, json={"event": code, "reply_limit": "soon"}
    )
    assert bad_limit.status_code == 422
    empty = client.post(
        f"/api/supervision/{by_form.json()['id']}/reply", headers=unit, json={"reply": ""}
    )
    assert empty.status_code == 422


def test_lift_a_listed_order_and_it_leaves_the_listed_filter(client, city):
    code = open_case(city)
    command = bearer(city["command_staff"])
    general = client.post("/api/supervision", headers=command, json={"event": code}).json()
    listed = client.post(
        "/api/supervision", headers=command, json={"event": code, "level": "listed"}
    ).json()
    not_listed = client.post(
        f"/api/supervision/{general['id']}/lift", headers=command, json={"reason": "x"}
    )
    assert not_listed.status_code == 409 and "only listed orders are lifted" in refusal(not_listed)
    no_reason = client.post(f"/api/supervision/{listed['id']}/lift", headers=command, json={})
    assert no_reason.status_code == 422
    lifted = client.post(
        f"/api/supervision/{listed['id']}/lift", headers=command, data={"reason": "整改到位"}
    )
    assert lifted.status_code == 200 and lifted.json()["status"] == "lifted"
    leader = bearer(city["leader"])
    still = client.get("/api/supervision?level=listed&status=open", headers=leader).json()
    assert still == []


def test_sanctions_and_kpis_over_http(client, city):
    code = open_case(city)
    command = bearer(city["command_staff"])
    order = client.post("/api/supervision", headers=command, json={"event": code}).json()
    recorded = client.post(
        "/api/supervision/sanctions",
        headers=command,
        json={
            "unit_id": city["police_w"].id,
            "kind": "interview",
            "reason": "督办逾期",
            "order_id": order["id"],
        },
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["kind_label"] == "约谈" and recorded.json()["event_code"] == code
    unknown = client.post(
        "/api/supervision/sanctions",
        headers=command,
        json={"unit_id": 999999, "kind": "notice", "reason": "x"},
    )
    assert unknown.status_code == 404 and "does not exist" in refusal(unknown)
    seen = client.get("/api/supervision/sanctions", headers=bearer(city["disp_w"])).json()
    assert [s["id"] for s in seen] == [recorded.json()["id"]]
    assert client.get("/api/supervision/sanctions", headers=bearer(city["disp_e"])).json() == []
    kpis = client.get("/api/supervision/kpis", headers=command)
    assert kpis.status_code == 200
    assert [(r["name"], r["issued"], r["due"]) for r in kpis.json()] == [
        (city["police_w"].name, 1, 0)
    ]


def test_a_listed_case_is_on_the_leaders_map_page_until_lifted(client, city):
    code = open_case(city)
    command, leader = bearer(city["command_staff"]), bearer(city["leader"])
    before = client.get("/maps/leader", headers=leader)
    assert before.status_code == 200 and code not in before.text  # aggregates only
    listed = client.post(
        "/api/supervision",
        headers=command,
        json={"event": code, "level": "listed", "demand": "挂牌督办：限期整改"},
    ).json()
    shown = client.get("/maps/leader", headers=leader)
    assert code in shown.text and "挂牌督办：限期整改" in shown.text
    assert "gridgov.listed(" in shown.text and 'id="gg-listed">1<' in shown.text
    client.post(
        f"/api/supervision/{listed['id']}/lift", headers=command, json={"reason": "整改到位"}
    )
    after = client.get("/maps/leader", headers=leader)
    assert code not in after.text and 'id="gg-listed">0<' in after.text


def test_an_order_escalated_unanswered_is_counted_on_the_leaders_map(client, city):
    from events.supervision import escalate_unanswered

    code = open_case(city)
    command, leader = bearer(city["command_staff"]), bearer(city["leader"])
    order = client.post(
        "/api/supervision", headers=command, json={"event": code, "reply_limit": "1h"}
    ).json()
    assert 'id="gg-unanswered">0<' in client.get("/maps/leader", headers=leader).text
    later = datetime.fromisoformat(order["reply_deadline"]) + timedelta(seconds=1)
    assert escalate_unanswered(city["session"], now=later).escalated == [order["id"]]
    assert 'id="gg-unanswered">1<' in client.get("/maps/leader", headers=leader).text
    client.post(
        f"/api/supervision/{order['id']}/reply",
        headers=bearer(city["disp_w"]),
        json={"reply": "已处置"},
    )
    assert 'id="gg-unanswered">0<' in client.get("/maps/leader", headers=leader).text


@pytest.mark.parametrize("level", [["key"], {"level": "key"}, 3, "orange"])
def test_a_level_that_is_not_a_level_name_is_a_422_and_issues_nothing(client, city, level):
    code = open_case(city)
    refused = client.post(
        "/api/supervision",
        headers=bearer(city["command_staff"]),
        json={"event": code, "level": level, "demand": "请立即处置"},
    )
    assert refused.status_code == 422, refused.text
    assert "general" in refused.text and "listed" in refused.text
    assert client.get("/api/supervision", headers=bearer(city["command_staff"])).json() == []
