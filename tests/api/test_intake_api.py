"""Intake over HTTP (受理): who may file which source, hotline calls with callers and tickets,
the caller's phone read only with a logged reason, cases placed by address only, 直接答复, patrol
findings and leaders' instructions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from events.models import Event, EventSource
from people.models import PiiAccessLog, StaffRole
from tests.api.event_requests import assert_error, report
from tests.events.workflow_city import EAST, add_person
from tests.factories import bearer

R = StaffRole
CALLER = {"caller_name": "张三丰", "caller_phone": "13912345678"}
# Who may file each source (written out here, not read from events.sources).
MAY_FILE = {
    "grid_worker": {R.GRID_WORKER, R.ADMIN},
    "hotline": {R.COMMAND, R.ADMIN},
    "mailbox": {R.COMMAND, R.ADMIN},
    "web_app": {R.COMMAND, R.ADMIN},
    "department": {R.COMMAND, R.ADMIN},
    "inspection": {R.INSPECTOR, R.ADMIN},
    "leader": {R.LEADER, R.COMMAND, R.ADMIN},
}
CITIZEN = {"hotline", "mailbox", "web_app"}
ACCOUNTS = {
    R.GRID_WORKER: "worker",
    R.INSPECTOR: "inspector",
    R.DISPATCHER: "disp_w",
    R.COMMAND: "command_staff",
    R.LEADER: "leader",
    R.ADMIN: "admin",
}


def body_for(source: str, **fields: Any) -> dict[str, Any]:
    extra = {"appeal_type": "help"} if source in CITIZEN else {}
    return report(source=source, **extra) | fields


def call(client, city, who="command_staff", form=False, **fields):
    body = body_for(fields.pop("source", "hotline"), **fields)
    if form:
        data = {k: str(v) for k, v in body.items() if v is not None}
        return client.post("/api/events", data=data, headers=bearer(city[who]))
    return client.post("/api/events", json=body, headers=bearer(city[who]))


def events(session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


# -- sources honoured ------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(MAY_FILE))
def test_each_source_is_filed_by_its_roles_and_refused_to_the_others(client, city, source):
    for role, who in ACCOUNTS.items():
        response = client.post("/api/events", json=body_for(source), headers=bearer(city[who]))
        if role in MAY_FILE[source]:
            assert response.status_code == 201, (role, response.text)
            assert response.json()["source"] == source
        elif role is R.DISPATCHER:
            assert_error(response, 403)  # a unit's dispatcher files nothing
        else:
            error = assert_error(response, 403, "may not file", source)
            assert error["field"] == "source"


@pytest.mark.parametrize("source", ["open311", "sensor"])
def test_integration_sources_are_never_taken_from_a_filing(client, city, source):
    response = client.post(
        "/api/events", json=report(source=source), headers=bearer(city["command_staff"])
    )
    error = assert_error(response, 422, "only through their integration")
    assert error["field"].endswith("source")
    assert events(city["session"]) == 0


def test_a_command_centre_filing_must_name_its_channel(client, city):
    response = client.post("/api/events", json=report(), headers=bearer(city["command_staff"]))
    error = assert_error(response, 422, "name the channel", "not a grid worker")
    assert error["field"] == "source"
    assert events(city["session"]) == 0


def test_roles_with_one_own_source_file_it_without_naming_it(client, city):
    for who, source in (
        ("worker", "grid_worker"),
        ("inspector", "inspection"),
        ("leader", "leader"),
    ):
        response = client.post("/api/events", json=report(), headers=bearer(city[who]))
        assert response.status_code == 201, response.text
        assert response.json()["source"] == source


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_a_hotline_call_is_filed_as_a_hotline_case_with_its_caller_masked(client, city, form):
    response = call(client, city, form=form, ticket="12345-0001", **CALLER)
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["source"] == "hotline" and event["appeal_type"] == "help"
    assert event["status"] == "reported" and event["stage"] == "check"  # 核实 first
    assert event["caller_phone"] == "139****5678" and event["caller_name"] == "张**"
    assert event["ticket"] == "12345-0001"
    assert "13912345678" not in response.text and "张三丰" not in response.text
    row = city["session"].get(Event, event["id"])
    assert row.source is EventSource.HOTLINE and b"13912345678" not in row.contact_enc


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_unknown_fields_are_refused_with_their_names(client, city, form):
    response = call(client, city, form=form, caller_fone="13912345678", ticket_no="1")
    error = assert_error(response, 422, "caller_fone")
    assert "ticket_no" in response.text
    assert error["code"] == "invalid"
    assert events(city["session"]) == 0


def test_a_citizen_case_needs_its_appeal_type(client, city):
    body = report(source="hotline")
    response = client.post("/api/events", json=body, headers=bearer(city["command_staff"]))
    assert_error(response, 422, "appeal_type")
    assert events(city["session"]) == 0


def test_a_bad_caller_phone_is_refused_before_anything_is_written(client, city):
    response = call(client, city, caller_phone="1391234")
    assert_error(response, 422, "caller_phone")
    assert events(city["session"]) == 0


# -- ticket numbers (工单号) --------------------------------------------------------------------


def test_a_ticket_number_filed_twice_on_a_channel_is_a_409_naming_the_first_event(client, city):
    first = call(client, city, ticket="12345-0042").json()
    again = call(client, city, ticket="12345-0042", description="同一工单再次录入")
    error = assert_error(again, 409, first["code"], "12345-0042")
    assert error["field"] == "ticket" and error["existing_event"] == first["code"]
    assert events(city["session"]) == 1
    other_channel = call(client, city, source="mailbox", ticket="12345-0042")
    assert other_channel.status_code == 201, other_channel.text


# -- the caller's phone (来电人) -----------------------------------------------------------------


def unmask(client, city, who, code, reason="回访来电人核实情况"):
    return client.post(
        f"/api/events/{code}/contact/unmask", json={"reason": reason}, headers=bearer(city[who])
    )


def access_rows(session) -> list[PiiAccessLog]:
    return list(session.scalars(select(PiiAccessLog).order_by(PiiAccessLog.id)))


def test_the_command_centre_reads_the_callers_phone_with_a_reason_and_it_is_logged(client, city):
    event = call(client, city, **CALLER).json()
    response = unmask(client, city, "command_staff", event["code"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "code": event["code"],
        "caller_name": "张三丰",
        "caller_phone": "13912345678",
    }
    [row] = access_rows(city["session"])
    assert row.event_id == event["id"] and row.staff_id == city["command_staff"].staff_id
    assert row.fields == "caller_name,caller_phone" and row.reason == "回访来电人核实情况"
    # the event itself still reads masked
    again = client.get(f"/api/events/{event['code']}", headers=bearer(city["command_staff"]))
    assert again.json()["caller_phone"] == "139****5678"


def test_the_callers_phone_is_refused_to_other_roles_other_districts_and_without_reason(
    client, city
):
    event = call(client, city, **CALLER).json()
    for who in ("worker", "inspector", "leader", "disp_w"):
        assert_error(unmask(client, city, who, event["code"]), 403)
    city["other_cc"] = add_person(city["session"], "cc.wjg", StaffRole.COMMAND, area="420503000000")
    assert_error(unmask(client, city, "other_cc", event["code"]), 403, "outside")
    assert_error(unmask(client, city, "command_staff", event["code"], reason="看"), 422, "why")
    assert access_rows(city["session"]) == []


def test_lists_show_no_callers_phone(client, city):
    call(client, city, **CALLER)
    page = client.get("/api/events?source=hotline", headers=bearer(city["command_staff"]))
    assert page.status_code == 200 and page.json()["total"] == 1
    assert "13912345678" not in page.text and "张三丰" not in page.text


# -- cases placed by address only (待定位) -------------------------------------------------------


def test_a_call_with_an_address_and_no_point_waits_in_the_unlocated_queue(client, city):
    body = body_for("hotline", lon=None, lat=None, address="西陵区某小区门口")
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/api/events", json=body, headers=bearer(city["command_staff"]))
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["lon"] is None and event["locate_match"] == "none"
    assert event["status"] == "reported" and event["stage"] is None
    assert event["actions"][:2] == ["locate", "direct-reply"] or "locate" in event["actions"]
    assert "check" not in event["actions"]
    queue = client.get("/api/events?unlocated=true", headers=bearer(city["command_staff"]))
    assert [e["code"] for e in queue.json()["items"]] == [event["code"]]
    located = client.get("/api/events?unlocated=false", headers=bearer(city["command_staff"]))
    assert located.json()["total"] == 0


def test_a_case_needs_a_point_or_an_address(client, city):
    body = {k: v for k, v in report().items() if k not in ("lon", "lat", "address")}
    response = client.post("/api/events", json=body, headers=bearer(city["worker"]))
    assert_error(response, 422, "address")


def test_locate_then_check_then_dispatch(client, city):
    body = {k: v for k, v in body_for("hotline").items() if k not in ("lon", "lat")}
    code = client.post("/api/events", json=body, headers=bearer(city["command_staff"])).json()[
        "code"
    ]
    too_early = client.post(f"/api/events/{code}/check", json={}, headers=bearer(city["worker"]))
    assert too_early.status_code == 403  # not in any grid yet: no grid worker's case
    located = client.post(
        f"/api/events/{code}/locate",
        json={"lon": 111.292, "lat": 30.705, "crs": "cgcs2000"},
        headers=bearer(city["command_staff"]),
    )
    assert located.status_code == 200, located.text
    after = located.json()
    assert after["grid_code"] == EAST and after["status"] == "reported"
    assert after["stage"] == "check" and after["locate_match"] == "inside"
    again = client.post(
        f"/api/events/{code}/locate",
        json={"lon": 111.292, "lat": 30.705},
        headers=bearer(city["command_staff"]),
    )
    assert_error(again, 409, "located already")
    checked = client.post(f"/api/events/{code}/check", json={}, headers=bearer(city["worker"]))
    assert checked.status_code == 200, checked.text
    # a hotline case waits for 立案 by the command centre (issue 13), then for 派遣
    assert checked.json()["status"] == "pending" and checked.json()["stage"] == "register"
    assert checked.json()["actions"] == []  # the grid worker's part is done
    staff = bearer(city["command_staff"])
    seen = client.get(f"/api/events/{code}", headers=staff).json()
    assert {"register", "refuse", "escalate"} <= set(seen["actions"])
    assert "delegate" not in seen["actions"]  # no community or street centre in this city
    registered = client.post(f"/api/events/{code}/register", data={"note": "属实"}, headers=staff)
    assert registered.status_code == 200, registered.text
    assert registered.json()["status"] == "registered" and registered.json()["stage"] == "dispatch"
    proposal = client.get(f"/api/events/{code}/dispatch-proposal", headers=staff)
    assert proposal.status_code == 200, proposal.text
    assert proposal.json()["unit"]["code"] == "PS-W" and proposal.json()["lead_type"] == "police"
    assert "covers the location" in proposal.json()["how"]
    assert client.get(f"/api/events/{code}", headers=staff).json()["status"] == "registered"
    sent = client.post(f"/api/events/{code}/dispatch", json={}, headers=staff)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "dispatched" and sent.json()["unit"]["code"] == "PS-W"
    assert [s["action"] for s in sent.json()["steps"]] == [
        "report",
        "locate",
        "check",
        "register",
        "dispatch",
    ]
    done = client.get(f"/api/events/{code}/dispatch-proposal", headers=bearer(city["worker"]))
    assert_error(done, 403)


def test_refuse_and_dispatch_elsewhere_by_json_and_form_bodies(client, city):
    staff = bearer(city["command_staff"])
    codes = [
        client.post("/api/events", json=body_for("hotline"), headers=staff).json()["code"]
        for _ in range(2)
    ]
    for code in codes:
        checked = client.post(f"/api/events/{code}/check", json={}, headers=bearer(city["worker"]))
        assert checked.json()["status"] == "pending", checked.text
    no_reason = client.post(f"/api/events/{codes[0]}/refuse", data={}, headers=staff)
    assert_error(no_reason, 422, "reason")
    refused = client.post(
        f"/api/events/{codes[0]}/refuse", data={"reason": "重复来电，已并案"}, headers=staff
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused" and refused.json()["reason"] == "重复来电，已并案"
    assert refused.json()["actions"] == []
    again = client.post(f"/api/events/{codes[0]}/register", json={}, headers=staff)
    assert_error(again, 409, "refused")
    client.post(f"/api/events/{codes[1]}/register", json={}, headers=staff)
    east = city["police_e"].id
    unexplained = client.post(
        f"/api/events/{codes[1]}/dispatch", json={"unit_id": east}, headers=staff
    )
    assert_error(unexplained, 422, "reason")
    chosen = client.post(
        f"/api/events/{codes[1]}/dispatch",
        data={"unit_id": str(east), "reason": "东区派出所正在现场"},
        headers=staff,
    )
    assert chosen.status_code == 200, chosen.text
    record = chosen.json()["dispatch"]
    assert chosen.json()["unit"]["code"] == "PS-E" and record["reason"] == "东区派出所正在现场"
    assert record["proposal"]["unit_id"] == city["police_w"].id


def test_locate_is_for_the_command_centre(client, city):
    body = {k: v for k, v in body_for("hotline").items() if k not in ("lon", "lat")}
    code = client.post("/api/events", json=body, headers=bearer(city["command_staff"])).json()[
        "code"
    ]
    refused = client.post(
        f"/api/events/{code}/locate",
        json={"lon": 111.292, "lat": 30.705},
        headers=bearer(city["inspector"]),
    )
    assert_error(refused, 403)


# -- 直接答复 --------------------------------------------------------------------------------


def test_a_question_is_answered_at_once_and_closed_without_dispatch(client, city):
    code = call(client, city, appeal_type="consult").json()["code"]
    answered = client.post(
        f"/api/events/{code}/direct-reply",
        json={"reply": "办理居住证请携带身份证到社区服务中心", "reply_channel": "phone"},
        headers=bearer(city["command_staff"]),
    )
    assert answered.status_code == 200, answered.text
    event = answered.json()
    assert event["status"] == "closed" and event["unit"] is None
    last = event["steps"][-1]
    assert last["action"] == "direct-reply"
    assert last["data"]["reply"] == "办理居住证请携带身份证到社区服务中心"
    assert last["data"]["reply_channel"] == "phone"
    assert datetime.fromisoformat(last["data"]["replied_at"])


def test_a_complaint_cannot_be_answered_without_dispatch(client, city):
    code = call(client, city, appeal_type="complaint").json()["code"]
    refused = client.post(
        f"/api/events/{code}/direct-reply",
        json={"reply": "已收到", "reply_channel": "phone"},
        headers=bearer(city["command_staff"]),
    )
    assert_error(refused, 409, "咨询")
    detail = client.get(f"/api/events/{code}", headers=bearer(city["command_staff"])).json()
    assert detail["status"] == "reported" and "direct-reply" not in detail["actions"]


# -- patrols and leaders --------------------------------------------------------------------


def test_an_inspectors_patrol_finding_skips_the_check_waits_for_register_never_self_resolved(
    client, city
):
    # No 核实 (the inspector saw it), but 立案 by the command centre's judgement (issue 13).
    finding = client.post("/api/events", json=report(), headers=bearer(city["inspector"]))
    assert finding.status_code == 201, finding.text
    assert finding.json()["source"] == "inspection" and finding.json()["status"] == "pending"
    assert finding.json()["stage"] == "register"
    fixed = client.post(
        "/api/events", json=report(self_resolved=True), headers=bearer(city["inspector"])
    )
    assert_error(fixed, 422, "only a grid worker")


def test_a_leaders_instruction_is_urgent_with_deadlines_on_the_clock(client, city):
    # 0601 暴露垃圾 is normal priority, signed for within 2 working hours.
    response = client.post(
        "/api/events",
        json=report(category="0601", description="请城管部门尽快清理此处暴露垃圾"),
        headers=bearer(city["leader"]),
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["source"] == "leader" and event["priority"] == "urgent"
    assert event["status"] == "dispatched" and event["stage"] == "sign"  # no 核实 first
    started = datetime.fromisoformat(event["reported_at"])
    assert datetime.fromisoformat(event["stage_deadline"]) - started == timedelta(hours=2)
    ordinary = client.post(
        "/api/events", json=report(category="0601"), headers=bearer(city["worker"])
    ).json()
    assert ordinary["priority"] == "normal"


def test_the_command_centre_enters_a_leaders_instruction_too(client, city):
    response = call(client, city, source="leader", description="区长批示：立即处理")
    assert response.status_code == 201, response.text
    assert response.json()["priority"] == "urgent"


def test_a_tiers_queue_is_a_filter_of_the_event_list(client, city):
    staff = bearer(city["command_staff"])
    code = client.post("/api/events", json=body_for("hotline"), headers=staff).json()["code"]
    client.post(f"/api/events/{code}/check", json={}, headers=bearer(city["worker"]))
    for tier, listed in (("mine", [code]), ("district", [code]), ("street", [])):
        page = client.get(
            "/api/events", params={"tier": tier, "status": "pending"}, headers=staff
        ).json()
        assert [e["code"] for e in page["items"]] == listed, tier
        assert all(e["tier"] == "district" for e in page["items"])
    assert_error(client.get("/api/events", params={"tier": "village"}, headers=staff), 422)
    mine = client.get("/api/events", params={"tier": "mine"}, headers=bearer(city["worker"]))
    assert_error(mine, 422, "tier=mine is for command staff")
