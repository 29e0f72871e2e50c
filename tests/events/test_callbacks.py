"""Reply, callback and satisfaction (答复, 回访, 满意度) of citizen-raised cases: the whole path
with its deadlines, reopening (重办), three unanswered attempts, review after a second 不满意,
who may and who may not."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from events.calendar import Light
from events.callbacks import callback_queue, record_callback, review_callback, review_list
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport
from events.models import (
    Callback,
    CallbackStatus,
    Event,
    EventSource,
    EventStatus,
    Outbox,
    Satisfaction,
    Stage,
)
from events.schemas import CallbackInput, EventRead
from events.service import read_event
from gis.clock import CHINA_TZ
from tests.events.districts_city import add_second_district
from tests.events.workflow_city import (
    MONDAY_10,
    SPOT,
    TUESDAY,
    WEDNESDAY,
    do,
    file,
    photo,
    taken_up,
)
from tests.factories import METRE_LON

THURSDAY = datetime(2026, 11, 26, tzinfo=CHINA_TZ)
FRIDAY = datetime(2026, 11, 27, tzinfo=CHINA_TZ)
NEXT_MONDAY = datetime(2026, 11, 30, tzinfo=CHINA_TZ)
NEXT_TUESDAY = datetime(2026, 12, 1, tzinfo=CHINA_TZ)
NEAR = (SPOT[0] + 20 * METRE_LON, SPOT[1])


def hotline_case(city: dict[str, Any], at: datetime = MONDAY_10) -> EventRead:
    """A 12345 case filed by the command centre's operator (category 0101: sign 1h, handle 1d,
    verify 1d), checked on site by the grid worker 20 minutes later, then registered (立案) and
    dispatched by the command centre at once."""
    event = file(
        city, by="command_staff", source=EventSource.HOTLINE, contact="13912345678", now=at
    )
    assert event.status is EventStatus.REPORTED and event.stage is Stage.CHECK
    checked = do(city, "worker", event, "check", at + timedelta(minutes=20), note="属实")
    assert checked.status is EventStatus.PENDING
    return taken_up(city, checked, at + timedelta(minutes=20))


def fix(city: dict[str, Any], event: EventRead, handled_at: datetime, verified_at: datetime):
    """The unit reports the fix and the grid worker verifies it on site."""
    do(city, "disp_w", event, "handle", handled_at, note="已处理")
    return do(
        city,
        "worker",
        event,
        "verify",
        verified_at,
        photos=[photo()],
        lon=NEAR[0],
        lat=NEAR[1],
    )


def reply(city: dict[str, Any], event: EventRead, at: datetime, **fields: Any) -> EventRead:
    values = {"reply": "已安排民警巡查，人员系外卖员", "reply_channel": "phone", **fields}
    return do(city, "command_staff", event, "reply", at, **values)


def call_back(
    city: dict[str, Any], event: EventRead, outcome: str, at: datetime, note: str | None = None
):
    return record_callback(
        city["session"],
        actor=city["command_staff"],
        code=event.code,
        entry=CallbackInput(outcome=outcome, note=note),  # type: ignore[arg-type]
        now=at,
    )


def trail(event: EventRead) -> list[tuple[str, str]]:
    return [(s.action, s.to_status.value) for s in event.steps]


def callbacks_of(city: dict[str, Any], event: EventRead) -> list[Callback]:
    rows = city["session"].scalars(
        select(Callback).where(Callback.event_id == event.id).order_by(Callback.id)
    )
    return list(rows)


def at_reply(city: dict[str, Any]) -> EventRead:
    """A hotline case verified Tuesday 11:00, waiting for the reply (due Wednesday 17:30)."""
    event = hotline_case(city)
    do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))
    return fix(city, event, TUESDAY.replace(hour=10), TUESDAY.replace(hour=11))


def closed_case(city: dict[str, Any]) -> EventRead:
    """A hotline case replied to Wednesday 10:00: closed, callback due Friday 17:30."""
    return reply(city, at_reply(city), WEDNESDAY.replace(hour=10))


# -- the whole path ---------------------------------------------------------------------------


def test_hotline_case_from_intake_to_a_satisfied_second_callback(city):
    session = city["session"]
    event = hotline_case(city)
    assert event.status is EventStatus.DISPATCHED and event.unit.code == "PS-W"
    assert event.stage is Stage.SIGN
    assert event.stage_deadline == MONDAY_10.replace(hour=11, minute=20)  # 1 working hour

    signed = do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))
    assert signed.stage is Stage.HANDLE
    assert signed.stage_deadline == TUESDAY.replace(hour=17, minute=30)  # 1 working day

    handled = do(city, "disp_w", event, "handle", TUESDAY.replace(hour=10), note="已处理")
    assert handled.stage is Stage.VERIFY
    assert handled.stage_deadline == WEDNESDAY.replace(hour=17, minute=30)

    verified = do(
        city,
        "worker",
        event,
        "verify",
        TUESDAY.replace(hour=11),
        photos=[photo()],
        lon=NEAR[0],
        lat=NEAR[1],
    )
    # Verified, not closed: the caller is answered first, within 1 working day.
    assert verified.status is EventStatus.VERIFIED and verified.closed_at is None
    assert verified.stage is Stage.REPLY
    assert verified.stage_deadline == WEDNESDAY.replace(hour=17, minute=30)

    with pytest.raises(ActionNotAllowed, match="reply to the caller first"):
        do(city, "command_staff", event, "close", TUESDAY.replace(hour=12))

    replied = reply(city, event, WEDNESDAY.replace(hour=10), replied_at=WEDNESDAY.replace(hour=9))
    assert replied.status is EventStatus.CLOSED
    assert replied.closed_at == WEDNESDAY.replace(hour=10)
    assert replied.steps[-1].action == "reply" and replied.steps[-1].actor == "cc.duty"
    assert replied.steps[-1].note == "答复（电话）：已安排民警巡查，人员系外卖员"
    assert replied.steps[-1].data == {
        "reply": "已安排民警巡查，人员系外卖员",
        "reply_channel": "phone",
        "replied_at": WEDNESDAY.replace(hour=9).isoformat(),
    }
    reply_stage = next(s for s in replied.stages if s.stage is Stage.REPLY)
    assert reply_stage.ended_at == WEDNESDAY.replace(hour=9) and reply_stage.on_time is True

    (first,) = callbacks_of(city, event)
    assert first.round == 1 and first.status is CallbackStatus.DUE
    assert first.opened_at == WEDNESDAY.replace(hour=10)
    assert first.due_at == FRIDAY.replace(hour=17, minute=30)  # 2 working days

    unhappy = call_back(city, event, "dissatisfied", THURSDAY.replace(hour=10), "夜里仍有人踩点")
    assert unhappy.status is CallbackStatus.REACHED
    assert unhappy.satisfaction is Satisfaction.DISSATISFIED
    assert unhappy.event_status is EventStatus.SIGNED
    assert unhappy.contact_masked is not None and "1391234" not in unhappy.contact_masked

    reopened = read_event(session, event=session.get(Event, event.id), now=THURSDAY)
    assert reopened.status is EventStatus.SIGNED and reopened.unit.code == "PS-W"
    assert reopened.closed_at is None
    assert reopened.stage is Stage.HANDLE
    assert reopened.stage_deadline == FRIDAY.replace(hour=17, minute=30)  # fresh: 1 working day
    assert reopened.steps[-1].action == "reopen"
    assert reopened.steps[-1].note == "夜里仍有人踩点"
    assert reopened.steps[-1].data["reason"] == "夜里仍有人踩点"
    kinds = session.scalars(
        select(Outbox.kind).where(Outbox.event_id == event.id).order_by(Outbox.id)
    ).all()
    assert kinds == ["dispatch", "reply", "reopen"]

    again = fix(city, event, FRIDAY.replace(hour=9), FRIDAY.replace(hour=10))
    assert again.status is EventStatus.VERIFIED and again.stage is Stage.REPLY
    assert again.stage_deadline == NEXT_MONDAY.replace(hour=17, minute=30)
    closed = reply(city, event, FRIDAY.replace(hour=11), reply="已加装路灯并安排夜巡")
    assert closed.status is EventStatus.CLOSED

    second = callbacks_of(city, event)[1]
    assert second.round == 2 and second.due_at == NEXT_TUESDAY.replace(hour=17, minute=30)
    happy = call_back(city, event, "satisfied", NEXT_MONDAY.replace(hour=9), "满意")
    assert happy.status is CallbackStatus.REACHED
    assert happy.satisfaction is Satisfaction.SATISFIED
    assert happy.event_status is EventStatus.CLOSED
    assert happy.reply == "已加装路灯并安排夜巡"

    final = read_event(session, event=session.get(Event, event.id), now=NEXT_MONDAY)
    assert trail(final) == [
        ("report", "reported"),
        ("check", "pending"),
        ("register", "registered"),
        ("dispatch", "dispatched"),
        ("sign", "signed"),
        ("handle", "handled"),
        ("verify", "verified"),
        ("reply", "closed"),
        ("reopen", "signed"),
        ("handle", "handled"),
        ("verify", "verified"),
        ("reply", "closed"),
    ]
    assert [(s.stage, s.on_time) for s in final.stages] == [
        (Stage.CHECK, True),
        (Stage.REGISTER, True),
        (Stage.DISPATCH, True),
        (Stage.SIGN, True),
        (Stage.HANDLE, True),
        (Stage.VERIFY, True),
        (Stage.REPLY, True),
        (Stage.HANDLE, True),
        (Stage.VERIFY, True),
        (Stage.REPLY, True),
    ]
    assert final.closed_at == FRIDAY.replace(hour=11)


def test_a_grid_workers_case_is_closed_by_the_command_centre_with_no_reply_or_callback(
    city, tmp_path
):
    event = file(city)
    do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))
    verified = fix(city, event, TUESDAY.replace(hour=10), TUESDAY.replace(hour=11))
    assert verified.status is EventStatus.VERIFIED and verified.stage is Stage.CLOSE
    closed = do(city, "command_staff", event, "close", TUESDAY.replace(hour=12))
    assert closed.status is EventStatus.CLOSED
    assert callbacks_of(city, event) == []


# -- the reply's deadline and lights --------------------------------------------------------


def test_reply_light_is_yellow_at_the_deadline_and_red_one_second_past(city):
    event = at_reply(city)
    row = city["session"].get(Event, event.id)
    due = WEDNESDAY.replace(hour=17, minute=30)
    assert row.stage_deadline == due
    assert read_event(city["session"], event=row, now=TUESDAY.replace(hour=11)).light is Light.GREEN
    assert read_event(city["session"], event=row, now=due).light is Light.YELLOW
    late = due + timedelta(seconds=1)
    assert read_event(city["session"], event=row, now=late).light is Light.RED


def test_reply_at_the_deadline_is_on_time_and_one_second_past_is_late(city):
    due = WEDNESDAY.replace(hour=17, minute=30)
    on_time = reply(city, at_reply(city), due)
    assert [s.on_time for s in on_time.stages if s.stage is Stage.REPLY] == [True]
    late = reply(city, at_reply(city), due + timedelta(seconds=1))
    assert [s.on_time for s in late.stages if s.stage is Stage.REPLY] == [False]


def test_reply_needs_its_text_and_channel_and_a_sensible_time(city):
    event = at_reply(city)
    at = WEDNESDAY.replace(hour=10)
    with pytest.raises(InvalidReport, match="needs its text"):
        do(city, "command_staff", event, "reply", at, reply_channel="sms")
    with pytest.raises(InvalidReport, match="reply_channel"):
        do(city, "command_staff", event, "reply", at, reply="已处理")
    with pytest.raises(InvalidReport, match="in the future"):
        reply(city, event, at, replied_at=at + timedelta(hours=1))
    with pytest.raises(InvalidReport, match="before the fix was verified"):
        reply(city, event, at, replied_at=TUESDAY.replace(hour=9))
    assert city["session"].get(Event, event.id).status is EventStatus.VERIFIED


def test_reply_is_the_command_centres_and_close_is_not_offered_on_a_citizen_case(city):
    event = at_reply(city)
    with pytest.raises(Forbidden, match="may not reply"):
        do(city, "disp_w", event, "reply", WEDNESDAY, reply="好", reply_channel="phone")
    with pytest.raises(Forbidden, match="may not reply"):
        do(city, "leader", event, "reply", WEDNESDAY, reply="好", reply_channel="phone")
    from events.actions import actions_for

    session = city["session"]
    actions = actions_for(session, actor=city["command_staff"], event=session.get(Event, event.id))
    assert "reply" in actions and "close" not in actions and "reopen" not in actions


def test_reopen_without_a_dissatisfied_callback_is_refused(city):
    event = closed_case(city)
    with pytest.raises(ActionNotAllowed, match="only when the caller says 不满意"):
        do(city, "command_staff", event, "reopen", THURSDAY, reason="想重办")


# -- callbacks -----------------------------------------------------------------------------


def test_three_unanswered_attempts_end_the_callback_unreached(city):
    event = closed_case(city)
    for n, hour in enumerate((9, 11, 15), start=1):
        row = call_back(city, event, "no_answer", THURSDAY.replace(hour=hour))
        assert row.attempts == n
        assert row.status is (CallbackStatus.UNREACHED if n == 3 else CallbackStatus.DUE)
    assert row.ended_at == THURSDAY.replace(hour=15) and row.satisfaction is None
    assert [a.outcome_label for a in row.attempt_log] == ["未接通"] * 3
    assert row.event_status is EventStatus.CLOSED
    with pytest.raises(ActionNotAllowed, match="no callback waiting"):
        call_back(city, event, "satisfied", FRIDAY)


def test_two_unanswered_then_fairly_satisfied_is_reached(city):
    event = closed_case(city)
    call_back(city, event, "no_answer", THURSDAY.replace(hour=9))
    call_back(city, event, "no_answer", THURSDAY.replace(hour=10))
    row = call_back(city, event, "fairly_satisfied", THURSDAY.replace(hour=11))
    assert row.status is CallbackStatus.REACHED and row.attempts == 3
    assert row.satisfaction_label == "基本满意"


def test_dissatisfied_needs_the_callers_reason(city):
    event = closed_case(city)
    with pytest.raises(InvalidReport, match="caller's reason"):
        call_back(city, event, "dissatisfied", THURSDAY)
    assert callbacks_of(city, event)[0].attempts == 0


def test_a_second_dissatisfied_goes_to_review_instead_of_reopening(city):
    session = city["session"]
    event = closed_case(city)
    call_back(city, event, "dissatisfied", THURSDAY.replace(hour=9), "仍有可疑人员")
    fix(city, event, THURSDAY.replace(hour=11), THURSDAY.replace(hour=14))
    reply(city, event, THURSDAY.replace(hour=15))
    second = call_back(city, event, "dissatisfied", FRIDAY.replace(hour=9), "还是不满意")
    assert second.status is CallbackStatus.REVIEW and second.round == 2
    assert second.event_status is EventStatus.CLOSED  # not reopened a second time
    steps = read_event(session, event=session.get(Event, event.id), now=FRIDAY).steps
    assert [s.action for s in steps].count("reopen") == 1
    listed = review_list(session, actor=city["command_staff"], now=FRIDAY)
    assert [(r.event_code, r.id) for r in listed] == [(event.code, second.id)]

    done = review_callback(
        session,
        actor=city["command_staff"],
        callback_id=second.id,
        note="复核：已处置到位",
        now=FRIDAY.replace(hour=10),
    )
    assert done.status is CallbackStatus.REVIEWED and done.review_note == "复核：已处置到位"
    assert review_list(session, actor=city["command_staff"], now=FRIDAY) == []
    with pytest.raises(ActionNotAllowed, match="not waiting for review"):
        review_callback(session, actor=city["command_staff"], callback_id=second.id, note="再")


def test_queue_by_due_day_and_overdue(city):
    session = city["session"]
    event = closed_case(city)  # callback due Friday 17:30
    staff = city["command_staff"]
    assert [c.event_code for c in callback_queue(session, actor=staff, now=THURSDAY)] == [
        event.code
    ]
    on_thursday = callback_queue(session, actor=staff, due="today", now=THURSDAY.replace(hour=9))
    assert on_thursday == []
    on_friday = callback_queue(session, actor=staff, due="today", now=FRIDAY.replace(hour=9))
    assert [c.event_code for c in on_friday] == [event.code]
    assert on_friday[0].light is Light.GREEN  # Wednesday 10:00 → Friday 17:30, 2/3 used
    assert on_friday[0].time_left == "剩余 6小时"  # 9:00–12:00 and 14:30–17:30
    late_friday = callback_queue(session, actor=staff, due="today", now=FRIDAY.replace(hour=16))
    assert late_friday[0].light is Light.YELLOW
    assert late_friday[0].time_left == "剩余 1小时30分钟"
    assert callback_queue(session, actor=staff, due="2026-11-26", now=THURSDAY) == []
    due = FRIDAY.replace(hour=17, minute=30)
    assert callback_queue(session, actor=staff, due="overdue", now=due) == []
    late = callback_queue(session, actor=staff, due="overdue", now=due + timedelta(seconds=1))
    assert [c.event_code for c in late] == [event.code] and late[0].light is Light.RED
    assert late[0].time_left == "超期 不足1分钟"
    with pytest.raises(InvalidReport, match="not all, today, overdue"):
        callback_queue(session, actor=staff, due="tomorrow", now=THURSDAY)


def test_callbacks_are_the_command_centres_of_the_district(city):
    session = city["session"]
    add_second_district(session, city)
    event = closed_case(city)
    for who in ("leader", "disp_w", "worker"):
        with pytest.raises(Forbidden, match="may not call callers back"):
            record_callback(
                session,
                actor=city[who],
                code=event.code,
                entry=CallbackInput(outcome="satisfied"),
                now=THURSDAY,
            )
    with pytest.raises(Forbidden, match="outside"):
        record_callback(
            session,
            actor=city["wjg_command"],
            code=event.code,
            entry=CallbackInput(outcome="satisfied"),
            now=THURSDAY,
        )
    assert callback_queue(session, actor=city["wjg_command"], now=THURSDAY) == []
    assert len(callback_queue(session, actor=city["city_command"], now=THURSDAY)) == 1
    row = record_callback(
        session,
        actor=city["admin"],
        code=event.code,
        entry=CallbackInput(outcome="satisfied"),
        now=THURSDAY,
    )
    assert row.status is CallbackStatus.REACHED


def test_an_overdue_reply_is_supervised_at_the_command_centre_not_the_unit(city):
    from events.escalation import escalate_overdue

    session = city["session"]
    event = at_reply(city)
    before = set(session.scalars(select(Outbox.id).where(Outbox.event_id == event.id)))
    escalate_overdue(session, now=WEDNESDAY.replace(hour=17, minute=31))
    rows = session.scalars(
        select(Outbox).where(Outbox.event_id == event.id, Outbox.id.notin_(before))
    ).all()
    assert [(r.kind, r.payload["unit"]) for r in rows] == [("supervise", "CC")]
    steps = read_event(session, event=session.get(Event, event.id), now=THURSDAY).steps
    assert steps[-1].action == "supervise" and "答复" in (steps[-1].note or "")
