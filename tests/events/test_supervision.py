"""Supervision orders (督办单): levels issued by hand, replies on time and late, escalation of
unanswered orders to the leader, automatic orders by level, 挂牌 until lifted, 约谈/通报, and
the KPIs 督办回复率 / 督办按时率 against independent SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from events.escalation import escalate_overdue
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport, NotFound
from events.kpis import supervision_kpis
from events.models import Event, EventStep, Outbox, SupervisionOrder
from events.sanctions import record_sanction, sanctions
from events.schemas import SanctionInput, SupervisionFilter, SupervisionIssue
from events.supervision import (
    escalate_unanswered,
    get_order,
    issue_by_hand,
    lift,
    list_orders,
    listed_cases,
    reply,
)
from gis.clock import CHINA_TZ
from tests.events.workflow_city import (
    MONDAY_10,
    THURSDAY,
    TUESDAY,
    WEDNESDAY,
    do,
    file,
    signed,
)

TUESDAY_9 = TUESDAY.replace(hour=9)


def order_for(city: dict[str, Any], event: Any, level: str | None = None, **fields: Any) -> Any:
    """Issue an order by hand as the district command centre at Tuesday 9:00 (default)."""
    at = fields.pop("at", TUESDAY_9)
    who = fields.pop("who", "command_staff")
    entry = SupervisionIssue(event=event.code, level=level, **fields)
    return issue_by_hand(city["session"], actor=city[who], entry=entry, now=at)


def outbox_of(session: Session, event_id: int, kind: str) -> list[tuple[str, dict[str, Any]]]:
    rows = session.scalars(
        select(Outbox).where(Outbox.event_id == event_id, Outbox.kind == kind).order_by(Outbox.id)
    )
    return [(r.payload["unit"], r.payload) for r in rows]


# -- issuing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "label", "deadline"),
    [
        # Working days count like a stage's: day 0 is the issue day, the limit ends 17:30.
        ("general", "一般督办", datetime(2026, 11, 26, 17, 30, tzinfo=CHINA_TZ)),  # 2d: Thursday
        ("key", "重点督办", datetime(2026, 11, 25, 17, 30, tzinfo=CHINA_TZ)),  # 1d: Wednesday
        # 4 working hours from 9:00: 9:00–12:00, then 14:30–15:30 after lunch.
        ("listed", "挂牌督办", datetime(2026, 11, 24, 15, 30, tzinfo=CHINA_TZ)),
    ],
)
def test_each_level_issued_by_hand_has_its_reply_deadline_one_step_and_notices(
    city, level, label, deadline
):
    session = city["session"]
    event = signed(city)
    order = order_for(city, event, level, demand="请今日内上门处置并回复")
    assert (order.level, order.level_label, order.unit.code) == (level, label, "PS-W")
    assert order.reply_deadline == deadline and order.status == "open"
    assert order.issued_by == "cc.duty" and order.automatic is False
    steps = session.scalars(
        select(EventStep).where(EventStep.event_id == event.id, EventStep.action == "supervise")
    ).all()
    assert len(steps) == 1 and steps[0].data["order_id"] == order.id
    assert steps[0].data["level"] == level and steps[0].note == "请今日内上门处置并回复"
    assert session.get(Event, event.id).supervision_level == level
    told = outbox_of(session, event.id, "supervise")
    assert sorted(unit for unit, _ in told) == ["CC", "PS-W"]
    to_unit = dict(told)["PS-W"]
    assert to_unit["order_id"] == order.id and to_unit["demand"] == "请今日内上门处置并回复"
    assert to_unit["supervisor"]["username"] == "chief.w"


def test_the_level_defaults_from_the_light_and_the_demand_from_the_level(city):
    event = signed(city)  # handling due Tuesday 17:30
    green = order_for(city, event)
    assert green.level == "general" and "按时限办结" in green.demand
    red = order_for(city, event, at=WEDNESDAY.replace(hour=9))
    assert red.level == "key" and "已超时" in red.demand


def test_an_order_may_name_another_unit_of_the_district_but_not_one_elsewhere(city):
    session = city["session"]
    event = signed(city)
    order = order_for(city, event, "general", unit_id=city["fire"].id)
    assert order.unit.code == "FS-1"
    from tests.factories import add_unit

    elsewhere = add_unit(session, "PS-X", "police", district="420503")
    with pytest.raises(InvalidReport, match="not in the case's district"):
        order_for(city, event, "general", unit_id=elsewhere.id)


def test_only_the_command_centre_issues_orders(city):
    event = signed(city)
    with pytest.raises(Forbidden, match="command centre"):
        order_for(city, event, "general", who="disp_w")
    with pytest.raises(Forbidden, match="command centre"):
        order_for(city, event, "general", who="leader")


def test_a_case_with_no_unit_gets_an_order_to_the_command_centre_itself(city):
    event = file(city)
    do(city, "disp_w", event, "return", MONDAY_10 + timedelta(minutes=20), reason="不属于本辖区")
    order = order_for(city, event, "key")
    assert order.unit.code == "CC"
    # Command staff of the area answer an order to their own centre; a unit's dispatcher
    # does not even see it.
    with pytest.raises(NotFound, match="does not exist or is not one"):
        reply(city["session"], actor=city["disp_w"], order_id=order.id, text="x", now=TUESDAY_9)
    done = reply(
        city["session"],
        actor=city["command_staff"],
        order_id=order.id,
        text="已重新派遣",
        now=TUESDAY_9,
    )
    assert done.status == "replied"


# -- replying ------------------------------------------------------------------------------------


def test_a_reply_at_the_deadline_is_on_time_and_one_second_later_is_late(city):
    session = city["session"]
    event = signed(city)
    first = order_for(city, event, "key")  # reply by Wednesday 17:30
    second = order_for(city, event, "key")
    deadline = datetime(2026, 11, 25, 17, 30, tzinfo=CHINA_TZ)
    assert first.reply_deadline == second.reply_deadline == deadline
    on_time = reply(session, actor=city["disp_w"], order_id=first.id, text="已处置", now=deadline)
    late = reply(
        session,
        actor=city["disp_w2"],
        order_id=second.id,
        text="已处置",
        now=deadline + timedelta(seconds=1),
    )
    assert (on_time.status, on_time.replied_on_time, on_time.replied_by) == (
        "replied",
        True,
        "disp.w",
    )
    assert (late.status, late.replied_on_time, late.replied_by) == ("replied", False, "disp.w2")
    told = outbox_of(session, event.id, "supervise-reply")
    assert sorted(unit for unit, _ in told) == ["CC", "CC", "PS-W", "PS-W"]
    assert {p["on_time"] for _, p in told} == {True, False}


def test_only_the_units_dispatchers_reply_and_only_once(city):
    session = city["session"]
    event = signed(city)
    order = order_for(city, event, "general")
    # Another unit's dispatcher does not even see it; the command centre may not answer for it.
    with pytest.raises(NotFound, match="does not exist or is not one"):
        reply(session, actor=city["disp_e"], order_id=order.id, text="x", now=TUESDAY_9)
    with pytest.raises(Forbidden, match="only that unit's dispatchers"):
        reply(session, actor=city["command_staff"], order_id=order.id, text="x", now=TUESDAY_9)
    with pytest.raises(Forbidden, match="may not reply"):
        reply(session, actor=city["worker"], order_id=order.id, text="x", now=TUESDAY_9)
    reply(session, actor=city["disp_w"], order_id=order.id, text="已处置", now=TUESDAY_9)
    with pytest.raises(ActionNotAllowed, match="takes no further reply"):
        reply(session, actor=city["disp_w2"], order_id=order.id, text="再次", now=TUESDAY_9)


def test_a_unit_lists_only_its_own_orders_and_a_leader_those_of_the_area(city):
    session = city["session"]
    event = signed(city)
    order = order_for(city, event, "general")
    mine = list_orders(session, actor=city["disp_w"], filters=SupervisionFilter(), now=TUESDAY_9)
    assert [o.id for o in mine] == [order.id] and mine[0].can_reply is True
    # Reply by Thursday 17:30, read Tuesday 9:00: the time left in working time, as words.
    assert mine[0].light == "green" and mine[0].time_left.startswith("剩余")
    assert list_orders(session, actor=city["disp_e"], filters=SupervisionFilter()) == []
    seen = list_orders(session, actor=city["leader"], filters=SupervisionFilter(), now=TUESDAY_9)
    assert [o.id for o in seen] == [order.id] and seen[0].can_reply is False
    with pytest.raises(Forbidden, match="no supervision orders"):
        list_orders(session, actor=city["worker"], filters=SupervisionFilter())


# -- escalation to the leader --------------------------------------------------------------------


def test_an_unanswered_order_is_escalated_to_the_leader_once(city):
    session = city["session"]
    event = signed(city)
    unanswered = order_for(city, event, "key")  # reply by Wednesday 17:30
    answered = order_for(city, event, "key")
    reply(session, actor=city["disp_w"], order_id=answered.id, text="已处置", now=TUESDAY_9)
    deadline = datetime(2026, 11, 25, 17, 30, tzinfo=CHINA_TZ)

    assert escalate_unanswered(session, now=deadline).escalated == []  # not yet past it
    report = escalate_unanswered(session, now=deadline + timedelta(seconds=1))
    assert report.escalated == [unanswered.id] and report.notifications == 2
    assert escalate_unanswered(session, now=THURSDAY).escalated == []  # never twice

    told = dict(outbox_of(session, event.id, "supervise-escalate"))
    assert set(told) == {"CC", "PS-W"}
    assert told["CC"]["leaders"] == ["leader1"] and told["CC"]["supervisor"] == "chief.w"
    escalated = get_order(session, actor=city["leader"], order_id=unanswered.id, now=THURSDAY)
    assert escalated.escalated_to_leader_at == deadline + timedelta(seconds=1)
    listed = list_orders(
        session, actor=city["leader"], filters=SupervisionFilter(escalated=True), now=THURSDAY
    )
    assert [o.id for o in listed] == [unanswered.id]
    # The unit may still answer, late.
    late = reply(session, actor=city["disp_w"], order_id=unanswered.id, text="补报", now=THURSDAY)
    assert late.replied_on_time is False


# -- automatic orders by level -------------------------------------------------------------------


def levels_of(session: Session, event_id: int) -> list[tuple[str, bool]]:
    rows = session.scalars(
        select(SupervisionOrder)
        .where(SupervisionOrder.event_id == event_id)
        .order_by(SupervisionOrder.id)
    )
    return [(r.level.value, r.automatic) for r in rows]


def test_the_job_issues_general_key_then_listed_once_each(city):
    session = city["session"]
    event = file(city)  # sign for by Monday 11:00
    escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=50))  # yellow
    escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=55))
    escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=90))  # red
    escalate_overdue(session, now=TUESDAY_9)
    assert levels_of(session, event.id) == [("general", True), ("key", True)]
    # Listed once red to the end of the third working day after the deadline: Thursday 17:30.
    assert escalate_overdue(session, now=THURSDAY.replace(hour=17)).listed == []
    report = escalate_overdue(session, now=THURSDAY.replace(hour=17, minute=30))
    assert report.listed == [event.code]
    assert escalate_overdue(session, now=THURSDAY.replace(hour=18)).listed == []
    assert levels_of(session, event.id) == [("general", True), ("key", True), ("listed", True)]
    steps = session.scalars(
        select(EventStep).where(EventStep.event_id == event.id, EventStep.action == "supervise")
    ).all()
    assert [s.data["level"] for s in steps] == ["general", "key", "listed"]  # one step each
    orders = session.scalars(select(SupervisionOrder).where(SupervisionOrder.event_id == event.id))
    assert {o.unit_id for o in orders} == {city["police_w"].id}


def test_a_stage_found_long_red_is_keyed_first_and_listed_by_the_next_run(city):
    session = city["session"]
    event = file(city)
    monday = datetime(2026, 11, 30, 9, tzinfo=CHINA_TZ)  # a week past the sign-for deadline
    first = escalate_overdue(session, now=monday)
    assert (first.yellow, first.red, first.listed) == ([], [event.code], [])
    second = escalate_overdue(session, now=monday + timedelta(minutes=5))
    assert (second.yellow, second.red, second.listed) == ([], [], [event.code])
    assert levels_of(session, event.id) == [("key", True), ("listed", True)]


def test_a_key_order_by_hand_is_not_repeated_by_the_job(city):
    session = city["session"]
    event = file(city)
    order_for(city, event, "key", at=MONDAY_10 + timedelta(minutes=5))
    report = escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=90))
    assert (report.yellow, report.red) == ([], [])
    assert levels_of(session, event.id) == [("key", False)]


# -- 挂牌 on the leader's map --------------------------------------------------------------------


def test_a_listed_case_is_on_the_leaders_map_until_lifted(city):
    session = city["session"]
    event = signed(city)
    general = order_for(city, event, "general")
    listed = order_for(city, event, "listed", demand="挂牌督办：限期整改")
    on_map = listed_cases(session, actor=city["leader"], prefix="420502")
    assert [(c.code, c.unit, c.demand) for c in on_map] == [
        (event.code, city["police_w"].name, "挂牌督办：限期整改")
    ]
    # Only listed orders are lifted, by the command centre, with a reason.
    with pytest.raises(ActionNotAllowed, match="only listed orders are lifted"):
        lift(session, actor=city["command_staff"], order_id=general.id, reason="x", now=TUESDAY_9)
    with pytest.raises(Forbidden, match="command centre"):
        lift(session, actor=city["disp_w"], order_id=listed.id, reason="x", now=TUESDAY_9)
    with pytest.raises(InvalidReport, match="needs a reason"):
        lift(session, actor=city["command_staff"], order_id=listed.id, reason=" ", now=TUESDAY_9)
    reply(session, actor=city["disp_w"], order_id=listed.id, text="已整改", now=TUESDAY_9)
    assert [c.code for c in listed_cases(session, actor=city["leader"], prefix=None)] == [
        event.code
    ]  # replied, still listed until lifted
    lifted = lift(
        session, actor=city["command_staff"], order_id=listed.id, reason="整改到位", now=WEDNESDAY
    )
    assert (lifted.status, lifted.lifted_by, lifted.lift_reason) == (
        "lifted",
        "cc.duty",
        "整改到位",
    )
    assert listed_cases(session, actor=city["leader"], prefix="420502") == []
    with pytest.raises(ActionNotAllowed, match="lifted already"):
        lift(session, actor=city["command_staff"], order_id=listed.id, reason="x", now=WEDNESDAY)


# -- 约谈 / 通报 ---------------------------------------------------------------------------------


def test_interviews_and_notices_are_recorded_against_the_unit(city):
    session = city["session"]
    event = signed(city)
    order = order_for(city, event, "key")
    police, fire = city["police_w"], city["fire"]
    interview = record_sanction(
        session,
        actor=city["command_staff"],
        entry=SanctionInput(
            unit_id=police.id, kind="interview", reason="督办逾期未回复", order_id=order.id
        ),
        now=THURSDAY,
    )
    notice = record_sanction(
        session,
        actor=city["command_staff"],
        entry=SanctionInput(unit_id=fire.id, kind="notice", reason="本月超期率最高"),
        now=THURSDAY + timedelta(hours=1),
    )
    assert (interview.kind_label, interview.event_code, interview.by) == (
        "约谈",
        event.code,
        "cc.duty",
    )
    assert (notice.kind_label, notice.order_id) == ("通报", None)
    with pytest.raises(InvalidReport, match="addressed to another unit"):
        record_sanction(
            session,
            actor=city["command_staff"],
            entry=SanctionInput(unit_id=fire.id, kind="notice", reason="x", order_id=order.id),
        )
    with pytest.raises(Forbidden, match="command centre"):
        record_sanction(
            session,
            actor=city["disp_w"],
            entry=SanctionInput(unit_id=police.id, kind="notice", reason="x"),
        )
    every = sanctions(session, actor=city["leader"])
    assert [s.id for s in every] == [notice.id, interview.id]
    assert [s.id for s in sanctions(session, actor=city["disp_w"])] == [interview.id]
    assert [s.id for s in sanctions(session, actor=city["command_staff"], unit_id=fire.id)] == [
        notice.id
    ]


# -- KPIs ----------------------------------------------------------------------------------------


def test_reply_and_on_time_rates_match_independent_sql(city):
    session = city["session"]
    first = signed(city)
    second = file(city, lon=111.283)  # the west police area too
    on_time = order_for(city, first, "key")  # by Wednesday 17:30
    late = order_for(city, first, "key")
    order_for(city, second, "general")  # by Thursday 17:30: unanswered
    order_for(city, second, "general", at=THURSDAY.replace(hour=9))  # by Mon 30th: not yet
    fire = order_for(city, first, "listed", unit_id=city["fire"].id)  # by Tuesday 15:30
    lift(session, actor=city["command_staff"], order_id=fire.id, reason="已撤", now=TUESDAY_9)
    reply(session, actor=city["disp_w"], order_id=on_time.id, text="ok", now=WEDNESDAY)
    reply(session, actor=city["disp_w"], order_id=late.id, text="ok", now=THURSDAY)
    now = datetime(2026, 11, 27, 9, tzinfo=CHINA_TZ)  # Friday: unanswered is overdue
    start, end = datetime(2026, 11, 1, tzinfo=CHINA_TZ), datetime(2026, 12, 1, tzinfo=CHINA_TZ)
    rows = supervision_kpis(
        session, actor=city["command_staff"], start=start, end=end, by="unit", now=now
    )
    by_unit = {r.key: r for r in rows}
    police = by_unit[str(city["police_w"].id)]
    # By hand: 4 issued to PS-W; due: the two replied and the unanswered one (not_yet is not).
    assert (police.issued, police.due, police.replied, police.replied_on_time) == (4, 3, 2, 1)
    assert police.reply_rate == pytest.approx(2 / 3)
    assert police.on_time_reply_rate == pytest.approx(1 / 3)
    # The fire station's listed order was lifted before its deadline unanswered: nothing due.
    assert (by_unit[str(city["fire"].id)].due, by_unit[str(city["fire"].id)].reply_rate) == (
        0,
        None,
    )
    independent = session.execute(
        text(
            "SELECT unit_id, count(*) FILTER (WHERE replied_at IS NOT NULL "
            "  OR (reply_deadline <= :now AND NOT (lifted_at IS NOT NULL AND replied_at IS NULL"
            "      AND lifted_at < reply_deadline))),"
            " count(*) FILTER (WHERE replied_at IS NOT NULL),"
            " count(*) FILTER (WHERE replied_at <= reply_deadline)"
            " FROM supervision_order GROUP BY unit_id"
        ),
        {"now": now},
    ).all()
    assert {str(u): (d, r, t) for u, d, r, t in independent} == {
        k: (v.due, v.replied, v.replied_on_time) for k, v in by_unit.items()
    }
    mine = supervision_kpis(session, actor=city["disp_e"], start=start, end=end, now=now)
    assert mine == []  # PS-E has no orders
    departments = supervision_kpis(
        session, actor=city["admin"], start=start, end=end, by="department", now=now
    )
    by_department = session.execute(
        text(
            "SELECT u.department_id, count(*), count(*) FILTER (WHERE o.replied_at IS NOT NULL)"
            " FROM supervision_order o JOIN department_unit u ON u.id = o.unit_id"
            " GROUP BY u.department_id"
        )
    ).all()
    assert {str(d): (n, r) for d, n, r in by_department} == {
        row.key: (row.issued, row.replied) for row in departments
    }
    assert sum(r.issued for r in departments) == 5
