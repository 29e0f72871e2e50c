"""Return review and disputes over HTTP: the review actions by JSON and form bodies, the queue
of returned cases, the rulings and the one-click dispatch rule, and their refusals as sentences."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from events.models import DispatchRule
from gis.clock import CHINA_TZ
from tests.events.workflow_city import file
from tests.factories import COMMUNITY, bearer


def returned_now(client: Any, city: dict[str, Any], who: str = "disp_w") -> str:
    """A case filed ten minutes ago (to PS-W), returned over HTTP by `who`'s unit."""
    code = file(city, now=datetime.now(CHINA_TZ) - timedelta(minutes=10)).code
    back = client.post(
        f"/api/events/{code}/return", headers=bearer(city[who]), json={"reason": "不属于本辖区"}
    )
    assert back.status_code == 200, back.text
    return code


def test_reject_by_form_needs_the_ruling_and_a_dispatcher_may_not_review(client, city):
    code = returned_now(client, city)
    command = bearer(city["command_staff"])
    detail = client.get(f"/api/events/{code}", headers=command).json()
    assert {"accept-return", "reject-return"} <= set(detail["actions"])
    assert "rule" not in detail["actions"] and detail["disputed"] is False
    unit = client.post(f"/api/events/{code}/accept-return", headers=bearer(city["disp_w"]), json={})
    assert unit.status_code == 403 and "may not use POST" in unit.json()["error"]["message"]
    bare = client.post(f"/api/events/{code}/reject-return", headers=command, data={"note": "x"})
    assert bare.status_code == 422 and "needs the ruling" in bare.json()["error"]["message"]
    rejected = client.post(
        f"/api/events/{code}/reject-return", headers=command, data={"reason": "属本所辖区"}
    )
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["status"], body["unit"]["code"], body["steps"][-1]["note"]) == (
        "dispatched",
        "PS-W",
        "属本所辖区",
    )


def test_dispute_ruled_by_json_listed_and_made_a_rule_once(client, city):
    command = bearer(city["command_staff"])
    code = returned_now(client, city)
    moved = client.post(f"/api/events/{code}/accept-return", headers=command, json={})
    assert moved.json()["unit"]["code"] == "PS-E"
    again = client.post(
        f"/api/events/{code}/return", headers=bearer(city["disp_e"]), json={"reason": "非本所"}
    )
    assert again.json()["disputed"] is True
    [queued] = client.get("/api/returns", headers=command).json()
    assert (queued["code"], queued["disputed"], queued["awaiting_ruling"]) == (code, True, True)
    assert [r["unit"]["code"] for r in queued["returns"]] == ["PS-W", "PS-E"]
    assert "rule" in queued["actions"]
    listed = client.get("/api/events", headers=command, params={"status": "returned"}).json()
    assert [(i["code"], i["disputed"]) for i in listed["items"]] == [(code, True)]

    no_reason = client.post(
        f"/api/events/{code}/rule", headers=command, json={"unit_id": city["police_w"].id}
    )
    assert no_reason.status_code == 422 and "裁定需写明理由" in no_reason.text
    ruled = client.post(
        f"/api/events/{code}/rule",
        headers=command,
        json={"unit_id": city["police_w"].id, "reason": "事发地属西站辖区"},
    )
    assert ruled.status_code == 200, ruled.text
    refused = client.post(
        f"/api/events/{code}/return", headers=bearer(city["disp_w"]), json={"reason": "仍非本所"}
    )
    assert refused.status_code == 409 and "裁定" in refused.json()["error"]["message"]
    assert refused.json()["error"]["allowed"] == ["sign"]

    [ruling] = client.get("/api/rulings", headers=command).json()
    assert (ruling["event_code"], ruling["unit"]["code"], ruling["reasoning"]) == (
        code,
        "PS-W",
        "事发地属西站辖区",
    )
    wrong = client.post(
        f"/api/rulings/{ruling['id']}/dispatch-rule", headers=command, json={"area": "city"}
    )
    assert wrong.status_code == 422
    made = client.post(
        f"/api/rulings/{ruling['id']}/dispatch-rule", headers=command, data={"area": "community"}
    )
    assert made.status_code == 201, made.text
    rule = city["session"].get(DispatchRule, made.json()["rule"]["id"])
    assert (rule.area_prefix, rule.category_code, rule.fixed_unit_id) == (
        COMMUNITY,
        "0101",
        city["police_w"].id,
    )
    twice = client.post(f"/api/rulings/{ruling['id']}/dispatch-rule", headers=command, json={})
    assert twice.status_code == 409
    assert f"already made dispatch rule {rule.id}" in twice.json()["error"]["message"]
    missing = client.post("/api/rulings/999999/dispatch-rule", headers=command, json={})
    assert missing.status_code == 404

    figures = client.get("/api/stats/review-kpis", headers=command).json()
    by_code = {r["name"]: r for r in figures["rows"]}
    west = by_code[city["police_w"].name]
    # PS-W's return was accepted at first, but the binding ruling sent the case back to PS-W:
    # not an accepted return (events.kpis), so PS-W's dispatches were right.
    assert (west["dispatched"], west["returns"], west["accepted_returns"], west["disputes"]) == (
        2,
        1,
        0,
        1,
    )
    assert west["dispatch_accuracy"] == 1.0 and figures["total"]["disputes"] == 1
