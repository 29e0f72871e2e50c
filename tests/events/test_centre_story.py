"""The command centre's workflow told as stories (issue 13, "Done when"): every path a real
centre uses, through the real services, one case at a time, each step asserting what its users
see — status, tier, unit, steps, deadlines, notices — and at the end the 考评 score, the KPIs
and the month's bulletin against figures made by hand.

1. A grid worker's 邻里纠纷 is registered and resolved by the community (就地解决), checked on
   site, closed by the district (结案), evaluated and counted for the community's centre.
2. A dispute beyond the community's power climbs to the street and the district, which
   dispatches a joint case; the lead returns it, the return is accepted, the next unit returns
   it too, the dispute is ruled back and the ruling routes the next such case; a 督办单 is
   answered on time; the assisting unit reports its sub-task; the lead handles; the case is
   checked, closed, evaluated and counted.
3. (inside 2) Whom the tier rule lets act on a case the district holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from events.actions import actions_for
from events.bulletin import monthly_bulletin
from events.catalog import Tier
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport
from events.kpis import kpis, review_kpis, subtask_kpis, supervision_kpis
from events.models import (
    Event,
    EventEvaluation,
    EventStatus,
    Outbox,
    Stage,
    SubtaskStatus,
)
from events.rulings import make_dispatch_rule
from events.schemas import EventRead, RuleFromRuling, SupervisionIssue
from events.supervision import issue_by_hand, reply
from gis.clock import CHINA_TZ, local_today
from people.models import StaffRole
from tests.api.test_events_api import jpeg
from tests.events.joint_city import add_joint_units
from tests.events.test_subtasks import rows, step
from tests.events.workflow_city import (
    MONDAY_10,
    SPOT,
    TUESDAY,
    WEDNESDAY,
    add_person,
    do,
    file,
    photo,
    unit_code,
)
from tests.factories import add_unit, bearer, square

DISPUTE = "0302"  # 邻里纠纷: justice leads, police assist; starts at the community, waits for 立案
MONTH = "2026-11"
NOVEMBER = (datetime(2026, 11, 1, tzinfo=CHINA_TZ), datetime(2026, 12, 1, tzinfo=CHINA_TZ))
FRIDAY_10 = datetime(2026, 11, 27, 10, tzinfo=CHINA_TZ)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


def trail(event: EventRead) -> list[tuple[str, EventStatus]]:
    return [(s.action, s.to_status) for s in event.steps]


def notices(story: dict[str, Any], event: EventRead, kind: str) -> list[str]:
    """The units told of the event's steps of `kind` (the outbox), in order."""
    found = story["session"].scalars(
        select(Outbox).where(Outbox.event_id == event.id, Outbox.kind == kind).order_by(Outbox.id)
    )
    return [row.payload["unit"] for row in found]


def checked(story: dict[str, Any], event: EventRead, when: datetime) -> EventRead:
    """The grid worker of the case's grid checks the fix on the spot, with a photo."""
    return do(
        story,
        "worker",
        event,
        "verify",
        when,
        photos=[photo()],
        photo_dir=story["photo_dir"],
        lon=SPOT[0],
        lat=SPOT[1],
    )


def evaluation(story: dict[str, Any], event: EventRead) -> EventEvaluation:
    row = story["session"].scalar(
        select(EventEvaluation).where(EventEvaluation.event_id == event.id)
    )
    assert row is not None, f"{event.code} was not evaluated"
    return row


@pytest.fixture
def story(tiers: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    """The tiers' city with a 城管 squad, an 生态环境 office and a 司法所 (justice office, the
    lead of a neighbours' dispute) whose area is the whole city, each with a dispatcher."""
    add_joint_units(tiers)
    session = tiers["session"]
    tiers["justice"] = add_unit(
        session,
        "SJ-1",
        "justice",
        geom=square(111.27, 30.69, 0.04),
        location=(111.289, 30.704),
        name="西陵司法所",
    )
    tiers["disp_sj"] = add_person(
        session, "disp.sj", StaffRole.DISPATCHER, unit_id=tiers["justice"].id
    )
    return {**tiers, "photo_dir": tmp_path}


# -- 1. the community resolves it ---------------------------------------------------------------


def test_the_community_resolves_a_neighbours_dispute_and_is_scored_for_it(story):
    session = story["session"]
    filed = file(story, category=DISPUTE)
    # A grid worker's dispute waits for 立案 at the community, 2 working hours: till 12:00.
    assert (filed.status, filed.tier, filed.unit) == (EventStatus.PENDING, Tier.COMMUNITY, None)
    assert (filed.stage, filed.stage_deadline) == (Stage.REGISTER, at(MONDAY_10, 12))

    # Registered late, after lunch (14:30 + 15 min): the 立案 stage is one late stage.
    registered = do(story, "community_staff", filed, "register", at(MONDAY_10, 14, 45))
    assert (registered.status, registered.tier) == (EventStatus.REGISTERED, Tier.COMMUNITY)
    assert registered.steps[-1].unit == "测试社区综治工作站"
    assert (registered.stage, registered.stage_deadline) == (
        Stage.DISPATCH,
        at(MONDAY_10, 15, 45),
    )

    resolved = do(
        story,
        "community_staff",
        registered,
        "resolve",
        at(MONDAY_10, 15),
        note="调解员上门调解，双方达成协议",
    )
    assert resolved.status is EventStatus.HANDLED and unit_code(resolved) == "ZZ-C"
    assert resolved.stage is Stage.VERIFY

    verified = checked(story, resolved, at(TUESDAY, 10))
    assert verified.status is EventStatus.VERIFIED and verified.steps[-1].actor == "worker1"
    # CLOSE_LIMIT: 4 working hours from Tuesday 10:00 → 12:00 and 14:30–16:30.
    assert (verified.stage, verified.stage_deadline) == (Stage.CLOSE, at(TUESDAY, 16, 30))

    closed = do(story, "command_staff", verified, "close", at(TUESDAY, 11))
    assert closed.status is EventStatus.CLOSED
    assert trail(closed) == [
        ("report", EventStatus.PENDING),
        ("register", EventStatus.REGISTERED),
        ("resolve", EventStatus.HANDLED),
        ("verify", EventStatus.VERIFIED),
        ("close", EventStatus.CLOSED),
    ]

    # 考评 by the documented rule: 100 − 10 for the one late stage (立案) = 90.
    row = evaluation(story, closed)
    assert (row.score, row.late_stages, row.returns, row.supervisions) == (90.0, 1, 0, 0)
    assert row.components["deductions"] == {"late_stages": 10.0}
    assert row.unit_id == story["community_centre"].id and row.tier is Tier.COMMUNITY
    assert row.worker_id == story["worker"].staff_id

    bulletin = monthly_bulletin(session, actor=story["command_staff"], month=MONTH, now=FRIDAY_10)
    assert [(r.rank, r.name, r.cases, r.score, r.on_time) for r in bulletin.rows] == [
        (1, "测试社区综治工作站", 1, 90.0, 0)
    ]
    # The KPIs by tier: the community registered one case and closed it, scored 90.
    by_tier = kpis(
        session,
        actor=story["command_staff"],
        start=NOVEMBER[0],
        end=NOVEMBER[1],
        by="tier",
        now=FRIDAY_10,
    )
    assert [(r.key, r.registered, r.closed, r.closure_rate) for r in by_tier] == [
        ("community", 1, 1, 1.0)
    ]
    assert by_tier[0].evaluation_score == pytest.approx(90.0)


# -- 2. street escalates, district dispatches a joint case, a dispute is ruled ----------------


def test_a_dispute_climbs_the_tiers_is_ruled_supervised_checked_closed_and_counted(story):
    session = story["session"]
    justice, um, police = story["justice"], story["um"], story["police_w"]
    filed = file(story, category=DISPUTE)
    registered = do(story, "community_staff", filed, "register", at(MONDAY_10, 10, 10))
    assert registered.tier is Tier.COMMUNITY

    # 上报 needs its reason; with one the case goes to the street on a fresh 派遣 clock.
    with pytest.raises(InvalidReport, match="上报须写明理由"):
        do(story, "community_staff", registered, "escalate", at(MONDAY_10, 10, 15))
    up = do(
        story,
        "community_staff",
        registered,
        "escalate",
        at(MONDAY_10, 10, 20),
        reason="涉及多户，超出社区调处能力",
    )
    assert (up.status, up.tier, up.steps[-1].unit) == (
        EventStatus.REGISTERED,
        Tier.STREET,
        "西陵街道综治中心",
    )
    assert up.stage_deadline == at(MONDAY_10, 11, 20)
    assert up.steps[-1].note == "涉及多户，超出社区调处能力"
    assert notices(story, up, "escalate") == ["ZZ-S"]  # the street's centre is told
    # The community no longer acts on it.
    with pytest.raises(Forbidden, match="held at the street tier"):
        do(story, "community_staff", up, "resolve", at(MONDAY_10, 10, 25), note="再试调解")

    at_district = do(
        story,
        "street_staff",
        up,
        "escalate",
        at(MONDAY_10, 10, 30),
        reason="需司法所主办、派出所协办",
    )
    assert (at_district.tier, at_district.stage_deadline) == (Tier.DISTRICT, at(MONDAY_10, 11, 30))
    assert notices(story, at_district, "escalate") == ["ZZ-S", "CC"]

    # 3. The tier rule at the district: the street is refused, the city level may act.
    row = session.get(Event, at_district.id)
    assert actions_for(session, actor=story["street_staff"], event=row) == []
    with pytest.raises(Forbidden, match=r"held at the district tier.*at the street tier"):
        do(story, "street_staff", at_district, "dispatch", at(MONDAY_10, 10, 35))
    assert "dispatch" in actions_for(session, actor=story["city_staff"], event=row)
    assert "dispatch" in actions_for(session, actor=story["command_staff"], event=row)

    # The district dispatches: 司法所 leads, the police station assists (a sub-task).
    sent = do(story, "command_staff", at_district, "dispatch", at(MONDAY_10, 10, 40))
    assert (sent.status, unit_code(sent), sent.tier) == (
        EventStatus.DISPATCHED,
        "SJ-1",
        Tier.DISTRICT,
    )
    # Sign-for 2 working hours: 10:40–12:00, then 14:30–15:10.
    assert (sent.stage, sent.stage_deadline) == (Stage.SIGN, at(MONDAY_10, 15, 10))
    assert rows(session, sent) == [("PS-W", "dispatched")]

    # The lead returns it; the command centre accepts and sends it to 城管.
    back = do(story, "disp_sj", sent, "return", at(MONDAY_10, 11), reason="属噪声扰民，非纠纷")
    assert back.status is EventStatus.RETURNED
    moved = do(story, "command_staff", back, "accept-return", at(MONDAY_10, 11, 10), unit_id=um.id)
    assert (moved.status, unit_code(moved)) == (EventStatus.DISPATCHED, "UM-1")
    # The second unit returns it too: a jurisdiction dispute, ruled back to the 司法所.
    again = do(story, "disp_um", moved, "return", at(MONDAY_10, 11, 20), reason="属邻里纠纷")
    assert again.disputed is True
    reasoning = "邻里间噪声纠纷属人民调解范围，由司法所主办"
    ruled = do(
        story,
        "command_staff",
        again,
        "rule",
        at(MONDAY_10, 14, 40),
        unit_id=justice.id,
        reason=reasoning,
    )
    assert (ruled.status, unit_code(ruled)) == (EventStatus.DISPATCHED, "SJ-1")
    assert ruled.steps[-1].note == reasoning
    assert (ruled.stage, ruled.stage_deadline) == (Stage.SIGN, at(MONDAY_10, 16, 40))
    # The lead, the assisting police and the other side of the dispute are told; the police
    # get their sub-task again (each return ended the one before).
    assert sorted(notices(story, ruled, "rule")) == ["PS-W", "SJ-1", "UM-1"]
    assert rows(session, ruled) == [
        ("PS-W", "cancelled"),
        ("PS-W", "cancelled"),
        ("PS-W", "dispatched"),
    ]
    with pytest.raises(ActionNotAllowed, match="裁定"):
        do(story, "disp_sj", ruled, "return", at(MONDAY_10, 14, 45), reason="仍非本所")

    # One click: the ruling is a dispatch rule, and the next dispute here goes to the 司法所.
    ruling_id = ruled.steps[-1].data["ruling_id"]
    made = make_dispatch_rule(
        session, actor=story["command_staff"], ruling_id=ruling_id, data=RuleFromRuling()
    )
    fresh = file(story, category=DISPUTE, now=at(MONDAY_10, 15))
    do(story, "community_staff", fresh, "register", at(MONDAY_10, 15, 5))
    routed = do(story, "community_staff", fresh, "dispatch", at(MONDAY_10, 15, 10))
    assert unit_code(routed) == "SJ-1" and routed.dispatch["rule_id"] == made.rule.id
    # Still a joint case: the ruling chose the lead, the police still assist.
    assert [u.code for u in routed.assisting_units] == ["PS-W"]
    assert rows(session, routed) == [("PS-W", "dispatched")]

    # The lead signs; a 重点督办 order must be answered by Wednesday 17:30, and is on Wednesday.
    signed = do(story, "disp_sj", ruled, "sign", at(MONDAY_10, 14, 50))
    assert signed.status is EventStatus.SIGNED
    order = issue_by_hand(
        session,
        actor=story["command_staff"],
        entry=SupervisionIssue(event=ruled.code, level="key", demand="请于周三前报告调解进展"),
        now=at(TUESDAY, 9),
    )
    assert order.unit.code == "SJ-1" and order.reply_deadline == at(WEDNESDAY, 17, 30)
    answered = reply(
        session,
        actor=story["disp_sj"],
        order_id=order.id,
        text="已约双方周三调解",
        now=at(WEDNESDAY, 10),
    )
    assert (answered.status, answered.replied_on_time) == ("replied", True)
    assert sorted(notices(story, ruled, "supervise-reply")) == ["CC", "SJ-1"]  # one step, both told

    # The lead cannot report handled while the police's sub-task is open.
    with pytest.raises(ActionNotAllowed, match=police.name):
        do(story, "disp_sj", ruled, "handle", at(WEDNESDAY, 11), note="已调解")
    step(story, "disp_w", ruled, "PS-W", "sign", at(MONDAY_10, 15))
    done = step(story, "disp_w", ruled, "PS-W", "report", at(TUESDAY, 10), note="已到场维持秩序")
    assert done.status is SubtaskStatus.DONE and done.on_time is True
    handled = do(story, "disp_sj", ruled, "handle", at(WEDNESDAY, 11), note="调解成功，签订协议")
    assert handled.status is EventStatus.HANDLED
    verified = checked(story, handled, at(WEDNESDAY, 15))
    closed = do(story, "command_staff", verified, "close", at(WEDNESDAY, 16))
    assert closed.status is EventStatus.CLOSED and unit_code(closed) == "SJ-1"

    # 考评: 100 − 5 × 2 returns − 5 × 1 supervision, every stage on time = 85.
    row = evaluation(story, closed)
    assert (row.returns, row.supervisions, row.late_stages) == (2, 1, 0)
    assert row.score == 85.0 and row.unit_id == justice.id and row.tier is Tier.DISTRICT
    assert row.components["deductions"] == {"returns": 10.0, "supervisions": 5.0}

    bulletin = monthly_bulletin(session, actor=story["command_staff"], month=MONTH, now=FRIDAY_10)
    assert [(r.name, r.cases, r.score, r.returns, r.supervised) for r in bulletin.rows] == [
        ("西陵司法所", 1, 85.0, 2, 1)
    ]

    # 派遣准确率 by hand: SJ-1 was sent the case (dispatch, rule) and the fresh one: 3, and
    # returned it once — accepted at first, but the ruling sent it back to SJ-1, so not an
    # accepted return → 1; UM-1 was sent it once, returned it, and the ruling went elsewhere
    # (accepted) → 0; both are party to the one dispute.
    figures = review_kpis(session, actor=story["command_staff"], start=NOVEMBER[0], end=NOVEMBER[1])
    by_unit = {r.key: r for r in figures.rows}
    sj, umr = by_unit[str(justice.id)], by_unit[str(um.id)]
    assert (sj.dispatched, sj.returns, sj.accepted_returns, sj.disputes) == (3, 1, 0, 1)
    assert sj.dispatch_accuracy == pytest.approx(1.0)
    assert (umr.dispatched, umr.returns, umr.accepted_returns) == (1, 1, 1)
    assert umr.dispatch_accuracy == pytest.approx(0.0)

    # 协办按时率 by hand: the police were given 4 sub-tasks — the dispatch's and the accepted
    # return's, each ended by the next return (cancelled, not counted), the ruling's, done on
    # time, and the fresh case's, open and not yet due on Friday (10 working days) → 1/1.
    subtasks = {
        r.key: r
        for r in subtask_kpis(
            session, actor=story["command_staff"], start=NOVEMBER[0], end=NOVEMBER[1], now=FRIDAY_10
        )
    }
    ps = subtasks[str(police.id)]
    assert (ps.assigned, ps.cancelled, ps.done, ps.done_on_time, ps.overdue) == (2, 2, 1, 1, 0)
    assert ps.on_time_rate == 1.0
    assert list(subtasks) == [str(police.id)]

    # 督办回复率 / 督办按时率: one order to SJ-1, answered on time.
    supervision = {
        r.key: r
        for r in supervision_kpis(
            session, actor=story["command_staff"], start=NOVEMBER[0], end=NOVEMBER[1], now=FRIDAY_10
        )
    }
    sup = supervision[str(justice.id)]
    assert (sup.issued, sup.due, sup.replied, sup.replied_on_time) == (1, 1, 1, 1)
    assert (sup.reply_rate, sup.on_time_reply_rate) == (1.0, 1.0)


# -- 1 again, through the API and the bulletin page ----------------------------------------------


def test_the_community_resolves_a_dispute_through_the_api_and_the_bulletin_page_shows_it(
    story, client
):
    def post(who: str, path: str, **body: Any) -> dict[str, Any]:
        response = client.post(path, headers=bearer(story[who]), **body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    filed = post(
        "worker",
        "/api/events",
        json={"category": DISPUTE, "lon": SPOT[0], "lat": SPOT[1], "description": "楼上漏水纠纷"},
    )
    code = filed["code"]
    assert (filed["status"], filed["tier"], filed["stage"]) == ("pending", "community", "register")
    # 立案 is the command centre's: a unit's dispatcher is refused.
    refused = client.post(f"/api/events/{code}/register", headers=bearer(story["disp_w"]), json={})
    assert refused.status_code == 403, refused.text
    registered = post("community_staff", f"/api/events/{code}/register", json={})
    assert (registered["status"], registered["tier"]) == ("registered", "community")
    resolved = post(
        "community_staff", f"/api/events/{code}/resolve", data={"note": "调解员上门，双方和解"}
    )
    assert (resolved["status"], resolved["unit"]["code"]) == ("handled", "ZZ-C")
    verified = post(
        "worker",
        f"/api/events/{code}/verify",
        data={"lon": str(SPOT[0]), "lat": str(SPOT[1])},
        files=[("photos", ("site.jpg", jpeg(), "image/jpeg"))],
    )
    assert verified["status"] == "verified"
    closed = post("command_staff", f"/api/events/{code}/close", json={})
    assert closed["status"] == "closed"
    assert [s["action"] for s in closed["steps"]] == [
        "report",
        "register",
        "resolve",
        "verify",
        "close",
    ]

    # Every stage done at once: 100 points, for the community's centre, this month.
    month = f"{local_today():%Y-%m}"
    bulletin = client.get(f"/api/bulletins/{month}", headers=bearer(story["command_staff"]))
    assert bulletin.status_code == 200, bulletin.text
    assert [(r["rank"], r["name"], r["cases"], r["score"]) for r in bulletin.json()["rows"]] == [
        (1, "测试社区综治工作站", 1, 100.0)
    ]
    page = client.get(
        "/reports/bulletin", params={"month": month}, headers=bearer(story["command_staff"])
    )
    assert page.status_code == 200 and "测试社区综治工作站" in page.text


def test_a_case_handed_down_tells_the_centre_below_and_not_the_one_above(story):
    filed = file(story, category=DISPUTE)
    up = do(story, "community_staff", filed, "escalate", at(MONDAY_10, 10, 10), reason="多户")
    down = do(
        story,
        "street_staff",
        up,
        "delegate",
        at(MONDAY_10, 10, 20),
        tier="community",
        reason="社区调解员熟悉双方",
    )
    assert (down.status, down.tier) == (EventStatus.PENDING, Tier.COMMUNITY)
    assert notices(story, down, "escalate") == ["ZZ-S"]
    assert notices(story, down, "delegate") == ["ZZ-C"]


def test_a_return_the_ruling_sends_back_is_not_an_accepted_return(story):
    session = story["session"]
    filed = file(story, category=DISPUTE)
    do(story, "command_staff", filed, "register", at(MONDAY_10, 10, 5))
    do(story, "command_staff", filed, "escalate", at(MONDAY_10, 10, 6), reason="需区级派遣")
    sent = do(story, "command_staff", filed, "dispatch", at(MONDAY_10, 10, 10))
    do(story, "disp_sj", sent, "return", at(MONDAY_10, 10, 20), reason="非纠纷")
    do(story, "command_staff", sent, "accept-return", at(MONDAY_10, 10, 30), unit_id=story["um"].id)
    do(story, "disp_um", sent, "return", at(MONDAY_10, 10, 40), reason="属纠纷")
    do(
        story,
        "command_staff",
        sent,
        "rule",
        at(MONDAY_10, 11),
        unit_id=story["justice"].id,
        reason="由司法所主办",
    )
    figures = review_kpis(session, actor=story["command_staff"], start=NOVEMBER[0], end=NOVEMBER[1])
    by_unit = {r.key: r for r in figures.rows}
    # The ruling says SJ-1 was right to be sent the case: its return was not justified.
    assert by_unit[str(story["justice"].id)].accepted_returns == 0
    assert by_unit[str(story["um"].id)].accepted_returns == 1
