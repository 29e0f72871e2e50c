"""The escalation job (督办): supervision orders by level — 一般督办 at yellow, 重点督办 at red,
挂牌督办 when red for long — once each per stage, to the unit and the command centre."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from events.escalation import escalate_overdue
from events.models import Event, EventStatus, EventStep, Outbox
from gis.clock import CHINA_TZ
from people.models import StaffRole
from tests.events.workflow_city import (
    MONDAY_10,
    THURSDAY,
    TUESDAY,
    add_person,
    do,
    file,
    handled,
    taken_up,
    unit_code,
)
from tests.factories import add_unit, square


def supervisions(session: Session, event_id: int) -> list[tuple[str, str | None, int | None]]:
    """(level, stage, actor id) of the event's supervise steps, in order."""
    steps = session.scalars(
        select(EventStep)
        .where(EventStep.event_id == event_id, EventStep.action == "supervise")
        .order_by(EventStep.id)
    )
    return [(s.data["level"], s.data["stage"], s.actor_id) for s in steps]


def supervise_rows(session: Session, event_id: int) -> list[tuple[str, str]]:
    """(level, unit code) of the event's supervise outbox rows, step by step, units sorted."""
    rows = session.scalars(
        select(Outbox).where(Outbox.event_id == event_id, Outbox.kind == "supervise")
    )
    return [
        (r.payload["level"], r.payload["unit"])
        for r in sorted(rows, key=lambda r: (r.step_id, r.payload["unit"] != "CC", r.unit_id))
    ]


def test_yellow_then_red_give_general_then_key_orders_once_each_to_unit_and_centre(city):
    session = city["session"]
    event = file(city)  # 0101: sign for within 1 working hour, by 11:00

    quiet = escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=30))  # 50 % used
    assert (quiet.yellow, quiet.red) == ([], [])

    warned = escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=50))  # 83 %
    assert (warned.yellow, warned.red, warned.notifications) == ([event.code], [], 2)
    again = escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=55))
    assert (again.yellow, again.red) == ([], [])

    overdue = escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=90))
    assert (overdue.yellow, overdue.red) == ([], [event.code])
    later = escalate_overdue(session, now=MONDAY_10 + timedelta(hours=5))
    assert (later.yellow, later.red) == ([], [])

    assert supervisions(session, event.id) == [("general", "sign", None), ("key", "sign", None)]
    assert supervise_rows(session, event.id) == [
        ("general", "CC"),
        ("general", "PS-W"),
        ("key", "CC"),
        ("key", "PS-W"),
    ]
    row = session.get(Event, event.id)
    assert row.supervision_level == "key" and row.status is EventStatus.DISPATCHED
    to_unit = session.scalars(
        select(Outbox).where(
            Outbox.event_id == event.id,
            Outbox.kind == "supervise",
            Outbox.unit_id == city["police_w"].id,
        )
    ).first()
    assert to_unit.payload["supervisor"]["username"] == "chief.w"  # the unit's supervisor
    step = session.scalars(
        select(EventStep).where(EventStep.event_id == event.id, EventStep.action == "supervise")
    ).first()
    assert step.data["informed"] == ["PS-W", "CC"] and step.data["automatic"] is True
    assert step.from_status is step.to_status is EventStatus.DISPATCHED


def test_a_stage_that_went_straight_to_red_gets_only_the_red_supervision(city):
    session = city["session"]
    event = file(city)
    report = escalate_overdue(session, now=MONDAY_10 + timedelta(hours=3))
    assert (report.yellow, report.red) == ([], [event.code])
    assert supervisions(session, event.id) == [("key", "sign", None)]


def test_each_new_stage_is_supervised_afresh(city):
    session = city["session"]
    event = file(city)
    escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=90))  # sign-for red
    signed = do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=100))
    assert signed.supervision_level is None  # the handling stage starts clean
    # Handling runs from Monday 11:40 to Tuesday 17:30 (9 h 50 min); 80 % is at Tuesday 15:32.
    assert escalate_overdue(session, now=TUESDAY.replace(hour=15)).yellow == []
    assert escalate_overdue(session, now=TUESDAY.replace(hour=16)).yellow == [event.code]
    assert escalate_overdue(session, now=TUESDAY.replace(hour=18)).red == [event.code]
    assert supervisions(session, event.id) == [
        ("key", "sign", None),
        ("general", "handle", None),
        ("key", "handle", None),
    ]


def test_a_manual_supervision_is_not_repeated_by_the_job(city):
    session = city["session"]
    event = file(city)
    do(city, "command_staff", event, "supervise", MONDAY_10 + timedelta(minutes=5), level="yellow")
    report = escalate_overdue(session, now=MONDAY_10 + timedelta(minutes=50))
    assert report.yellow == []
    assert supervisions(session, event.id) == [("general", "sign", city["command_staff"].staff_id)]


def test_yellow_is_found_when_the_spring_festival_lies_between_now_and_the_deadline(city):
    session = city["session"]
    civil = add_unit(session, "MZ-1", "civil_affairs", geom=square(111.27, 30.69, 0.04))
    city["disp_mz"] = add_person(session, "disp.mz", StaffRole.DISPATCHER, unit_id=civil.id)
    start = datetime(2026, 2, 10, 9, 0, tzinfo=CHINA_TZ)  # a Tuesday
    # 困难群众救助 waits for 立案; registered and dispatched at once: handle in 5d
    filed = start - timedelta(minutes=10)
    event = taken_up(city, file(city, category="0402", now=filed), filed)
    signed = do(city, "disp_mz", event, "sign", start)
    # Day 0 Tue 10 Feb; Wed, Thu, Fri, the worked Saturday 14 Feb, then the holiday until
    # Mon 23 Feb: the fifth working day is Tue 24 Feb.
    assert signed.stage_deadline == datetime(2026, 2, 24, 17, 30, tzinfo=CHINA_TZ)
    saturday = datetime(2026, 2, 14, 15, 0, tzinfo=CHINA_TZ)  # 29.5 of 38.5 working hours: 77 %
    assert escalate_overdue(session, now=saturday).yellow == []
    # In the holiday, 30.8 working hours (80 %) are long used although only 56 % of the wall
    # time has passed: a filter by wall time would miss it.
    holiday = datetime(2026, 2, 18, 10, 0, tzinfo=CHINA_TZ)
    assert escalate_overdue(session, now=holiday).yellow == [event.code]


def test_urgent_events_escalate_on_the_clock_at_night(city):
    session = city["session"]
    saturday_night = datetime(2026, 11, 28, 22, 0, tzinfo=CHINA_TZ)
    fire = file(city, category="1101", now=saturday_night)  # 火灾: sign for within 30 minutes
    assert unit_code(fire) == "FS-1"
    assert escalate_overdue(session, now=saturday_night + timedelta(minutes=20)).yellow == []
    assert escalate_overdue(session, now=saturday_night + timedelta(minutes=25)).yellow == [
        fire.code
    ]
    late = escalate_overdue(session, now=saturday_night + timedelta(minutes=31))
    assert late.red == [fire.code]
    # The lead's order (to FS-1 and the centre), then the assisting police station's own, on
    # its sub-task's clock (火灾: 公安 assists).
    assert late.subtasks == [(fire.code, "PS-W", "key")]
    assert supervise_rows(session, fire.id)[-4:] == [
        ("key", "CC"),
        ("key", "FS-1"),
        ("key", "CC"),
        ("key", "PS-W"),
    ]


def test_a_late_verification_is_reported_to_the_command_centre_only(city, tmp_path):
    session = city["session"]
    event = handled(city, tmp_path)  # verification by Wednesday 17:30, the grid worker's job
    report = escalate_overdue(session, now=THURSDAY.replace(hour=9))
    assert report.red == [event.code]
    assert supervise_rows(session, event.id) == [("key", "CC")]
    assert supervisions(session, event.id) == [("key", "verify", None)]


def test_suspended_events_are_not_escalated(city):
    session = city["session"]
    event = file(city)
    do(city, "command_staff", event, "suspend", MONDAY_10 + timedelta(minutes=10), reason="等待")
    report = escalate_overdue(session, now=THURSDAY)
    assert (report.checked, report.yellow, report.red) == (0, [], [])


def test_events_with_far_deadlines_are_never_examined(city):
    session = city["session"]
    near = file(city)
    now = MONDAY_10 + timedelta(minutes=50)
    columns = [
        c.name
        for c in Event.__table__.columns
        if c.name not in ("id", "code", "idempotency_key", "stage_started_at", "stage_deadline")
        and c.computed is None  # generated by the database
    ]
    listed = ", ".join(columns)
    session.execute(
        text(
            f"INSERT INTO event (code, stage_started_at, stage_deadline, {listed}) "
            f"SELECT 'FAR-' || n, :start, :deadline, {listed} "
            "FROM event, generate_series(1, 300) AS n WHERE event.id = :id"
        ),
        {"start": now, "deadline": now + timedelta(days=10), "id": near.id},
    )
    assert session.scalar(select(func.count()).select_from(Event)) == 301
    report = escalate_overdue(session, now=now)
    assert (report.checked, report.yellow) == (1, [near.code])
