"""核查 and 结案 by the right people, and the deadline of every stage with its light and the
working time left (frozen while suspended, 挂账)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from events.calendar import Light
from events.catalog import Priority
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport
from events.models import Event, EventSource, EventStatus, Stage
from events.query import list_events
from events.schemas import EventFilter, EventRead
from events.service import read_event
from people.models import StaffRole
from tests.events.workflow_city import (
    EAST,
    MONDAY_10,
    SPOT,
    TUESDAY,
    WEDNESDAY,
    WEST,
    add_person,
    do,
    file,
    handled,
    photo,
    signed,
    taken_up,
)

AT = TUESDAY.replace(hour=11)  # the check, the morning after the fix (handled Tuesday 10:00)


def point_at(city: dict[str, Any], metres: float) -> tuple[float, float]:
    """The point `metres` due east of SPOT, measured on the ellipsoid by PostGIS itself."""
    row = (
        city["session"]
        .execute(
            select(
                func.ST_X(func.geometry(func.ST_Project(func.geography(_spot()), metres, 1.5708))),
                func.ST_Y(func.geometry(func.ST_Project(func.geography(_spot()), metres, 1.5708))),
            )
        )
        .one()
    )
    return float(row[0]), float(row[1])


def _spot() -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(*SPOT), 4490)


def verify(city: dict[str, Any], who: str, event: EventRead, where: tuple[float, float]) -> Any:
    """`who` checks the fix at `where` on Tuesday 11:00 with a photo."""
    return do(
        city,
        who,
        event,
        "verify",
        AT,
        photos=[photo()],
        photo_dir=city["photo_dir"],
        lon=where[0],
        lat=where[1],
    )


@pytest.fixture
def city(city: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    """The workflow city, photos kept under the test's own folder."""
    return {**city, "photo_dir": tmp_path}


# -- who checks (核查) -----------------------------------------------------------------------


def test_any_grid_worker_of_the_cases_grid_checks_it_and_the_neighbouring_grids_may_not(city):
    event = handled(city, city["photo_dir"])  # reported by worker1 in grid EAST
    with pytest.raises(Forbidden, match=rf"in grid {EAST}, not in your grids \({WEST}\)"):
        verify(city, "west_worker", event, SPOT)  # worker3: the neighbouring grid only
    done = verify(city, "worker2", event, SPOT)  # covers EAST; a colleague reported it
    assert done.status is EventStatus.VERIFIED
    assert (done.steps[-1].action, done.steps[-1].actor) == ("verify", "worker2")


def test_an_inspector_checks_inside_their_area_and_is_refused_outside_it(city):
    event = handled(city, city["photo_dir"])
    # Another street's inspector; inspector1's area is the case's community.
    city["inspector_out"] = add_person(
        city["session"], "inspector.other", StaffRole.INSPECTOR, area="420502002000"
    )
    with pytest.raises(Forbidden, match="outside your area"):
        verify(city, "inspector_out", event, SPOT)
    assert city["session"].get(Event, event.id).status is EventStatus.HANDLED
    done = verify(city, "inspector", event, SPOT)  # area: the case's community
    assert done.status is EventStatus.VERIFIED and done.steps[-1].actor == "inspector1"


def test_a_check_101_m_away_is_refused_and_at_100_m_it_passes(city):
    event = handled(city, city["photo_dir"])
    with pytest.raises(InvalidReport, match=r"you are 101 m from the event.*within 100 m"):
        verify(city, "worker", event, point_at(city, 101))
    assert city["session"].get(Event, event.id).status is EventStatus.HANDLED
    done = verify(city, "worker", event, point_at(city, 100))
    assert done.status is EventStatus.VERIFIED
    assert done.steps[-1].data["distance_m"] == pytest.approx(100, abs=0.05)


# -- 结案 by the command centre ---------------------------------------------------------------


def test_a_passed_check_waits_on_the_close_clock_yellow_at_its_deadline_red_a_second_past(city):
    verified = verify(city, "worker", handled(city, city["photo_dir"]), SPOT)
    assert verified.status is EventStatus.VERIFIED and verified.closed_at is None
    # CLOSE_LIMIT 4 working hours from Tuesday 11:00: 1 h to 12:00, lunch, 3 h to 17:30.
    due = TUESDAY.replace(hour=17, minute=30)
    assert (verified.stage, verified.stage_label, verified.stage_deadline) == (
        Stage.CLOSE,
        "结案",
        due,
    )
    row = city["session"].get(Event, verified.id)
    session = city["session"]
    fresh = read_event(session, event=row, now=AT)
    assert (fresh.light, fresh.seconds_left, fresh.time_left) == (
        Light.GREEN,
        4 * 3600,
        "剩余 4小时",
    )
    # 80 % of 4 h used at 16:42 (3 h 12 min: 48 min before 12:00 … 2 h 12 min after 14:30).
    edge = read_event(session, event=row, now=TUESDAY.replace(hour=16, minute=42))
    assert (edge.light, edge.time_left) == (Light.GREEN, "剩余 48分钟")
    at_deadline = read_event(session, event=row, now=due)
    assert (at_deadline.light, at_deadline.seconds_left) == (Light.YELLOW, 0)
    assert at_deadline.time_left == "剩余 不足1分钟"
    late = read_event(session, event=row, now=due + timedelta(seconds=1))
    assert late.light is Light.RED and late.time_left == "超期 不足1分钟"
    # The list's light filter (in SQL) agrees, on both sides of the deadline.
    for now, light in ((due, Light.YELLOW), (due + timedelta(seconds=1), Light.RED)):
        for asked in Light:
            found = list_events(
                session, actor=city["command_staff"], filters=EventFilter(light=asked), now=now
            ).items
            assert [i.code for i in found] == ([verified.code] if asked is light else []), (
                now,
                asked,
            )
    two_days = read_event(session, event=row, now=THURSDAY_1730)
    assert (two_days.light, two_days.time_left) == (Light.RED, "超期 2天")
    # The running stage's row carries the same light.
    assert [(s.stage, s.light) for s in two_days.stages][-1] == (Stage.CLOSE, Light.RED)


THURSDAY_1730 = datetime(2026, 11, 26, 17, 30, tzinfo=TUESDAY.tzinfo)


def test_close_is_refused_for_a_dispatcher_and_done_by_the_command_centre(city):
    verified = verify(city, "worker", handled(city, city["photo_dir"]), SPOT)
    with pytest.raises(Forbidden, match=r"dispatcher .* may not close .*command"):
        do(city, "disp_w", verified, "close", AT + timedelta(hours=1))
    with pytest.raises(Forbidden, match="may not close"):
        do(city, "worker", verified, "close", AT + timedelta(hours=1))
    closed = do(city, "command_staff", verified, "close", WEDNESDAY.replace(hour=9))
    assert closed.status is EventStatus.CLOSED
    assert closed.closed_at == WEDNESDAY.replace(hour=9)
    assert closed.steps[-1].actor == "cc.duty" and closed.steps[-1].action == "close"
    close_stage = closed.stages[-1]
    # Due Tuesday 17:30, closed Wednesday 9:00: late, and red when it ended.
    assert (close_stage.stage, close_stage.on_time, close_stage.light) == (
        Stage.CLOSE,
        False,
        Light.RED,
    )
    assert closed.stage is None and closed.time_left is None


def test_a_citizens_case_waits_for_the_reply_not_for_close(city):
    event = file(
        city,
        by="command_staff",
        source=EventSource.HOTLINE,
        contact="13912345678",
    )
    do(city, "worker", event, "check", MONDAY_10 + timedelta(minutes=10))
    taken_up(city, event, MONDAY_10 + timedelta(minutes=15))  # 立案 and 派遣
    do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))
    do(city, "disp_w", event, "handle", TUESDAY.replace(hour=10), note="已处理")
    verified = verify(city, "worker", event, SPOT)
    assert (verified.stage, verified.stage_label) == (Stage.REPLY, "答复")
    with pytest.raises(ActionNotAllowed, match="reply to the caller first"):
        do(city, "command_staff", event, "close", AT + timedelta(hours=1))


# -- every stage's deadline, light and time left --------------------------------------------


@pytest.mark.parametrize("stage", list(Stage), ids=lambda s: s.value)
def test_every_stage_shows_its_label_light_and_time_left(city, stage):
    # Whatever part starts the clock (立案 and 派遣 are the tiers' clocks), the read model shows
    # it: a stage of 2 working hours from Monday 10:00 is due at 12:00 … on the calendar.
    event = file(city)
    row = city["session"].get(Event, event.id)
    row.stage, row.stage_started_at = stage, MONDAY_10
    row.stage_deadline = MONDAY_10.replace(hour=15, minute=30)  # 2 h + lunch + 1 h = 3 h
    city["session"].flush()
    session = city["session"]
    cases = [
        (MONDAY_10, Light.GREEN, "剩余 3小时"),
        (MONDAY_10.replace(hour=15), Light.YELLOW, "剩余 30分钟"),  # 2.5 of 3 h used
        (TUESDAY.replace(hour=9, minute=30), Light.RED, "超期 3小时"),
    ]
    for now, light, words in cases:
        read = read_event(session, event=row, now=now)
        assert (read.stage, read.stage_label, read.light, read.time_left) == (
            stage,
            stage.label,
            light,
            words,
        ), now
        listed = list_events(session, actor=city["admin"], now=now).items
        assert [(i.code, i.stage_label, i.light, i.time_left) for i in listed] == [
            (event.code, stage.label, light, words)
        ]


def test_an_urgent_stage_counts_wall_time_in_hours_and_days(city):
    event = file(city)
    row = city["session"].get(Event, event.id)
    row.priority = Priority.URGENT
    row.stage, row.stage_started_at = Stage.HANDLE, MONDAY_10
    row.stage_deadline = MONDAY_10 + timedelta(hours=2)
    city["session"].flush()
    later = read_event(city["session"], event=row, now=MONDAY_10 + timedelta(hours=52))
    assert (later.light, later.seconds_left, later.time_left) == (
        Light.RED,
        -50 * 3600,
        "超期 2天2小时",
    )


# -- a suspended case's clock is stopped, never overdue ----------------------------------------


def test_a_suspended_case_shows_the_time_it_had_left_forever_and_never_overdue(city):
    # Signed Monday 10:30, handle by Tuesday 17:30; suspended (挂账) Tuesday 11:00 with 4
    # working hours left (1 h to noon, 3 h after lunch), 7 of its 11 hours used: green.
    event = signed(city)
    suspended = do(city, "command_staff", event, "suspend", AT, reason="等待法院判决")
    row = city["session"].get(Event, event.id)
    for now in (AT, AT + timedelta(days=43), AT + timedelta(days=400)):
        read = read_event(city["session"], event=row, now=now)
        assert (read.light, read.seconds_left, read.time_left, read.suspended) == (
            Light.GREEN,
            4 * 3600,
            "挂账 剩余 4小时",
            True,
        ), now
        listed = list_events(
            city["session"],
            actor=city["command_staff"],
            filters=EventFilter(status=[EventStatus.SUSPENDED]),
            now=now,
        ).items
        assert [(i.code, i.light, i.time_left, i.suspended) for i in listed] == [
            (event.code, Light.GREEN, "挂账 剩余 4小时", True)
        ]
        overdue = list_events(
            city["session"], actor=city["command_staff"], filters=EventFilter(overdue=True), now=now
        )
        assert overdue.total == 0
        green = list_events(
            city["session"],
            actor=city["command_staff"],
            filters=EventFilter(light=Light.GREEN),
            now=now,
        )
        assert [i.code for i in green.items] == [event.code]
    assert suspended.status is EventStatus.SUSPENDED
    # Resumed 43 days later: the 4 hours left run again from then.
    back = do(city, "command_staff", event, "resume", AT + timedelta(days=43))
    assert back.status is EventStatus.SIGNED and not back.suspended
    assert back.time_left == "剩余 4小时" and back.light is Light.GREEN


def test_a_case_suspended_when_already_late_shows_how_late_it_was_and_no_later(city):
    # Due Tuesday 17:30, suspended Wednesday 10:00: 1.5 working hours late when it stopped.
    event = signed(city)
    do(city, "command_staff", event, "suspend", WEDNESDAY.replace(hour=10), reason="等待鉴定")
    row = city["session"].get(Event, event.id)
    for now in (WEDNESDAY.replace(hour=10), WEDNESDAY + timedelta(days=43)):
        read = read_event(city["session"], event=row, now=now)
        assert (read.light, read.seconds_left, read.time_left) == (
            Light.RED,
            -1.5 * 3600,
            "挂账 超期 1小时30分钟",
        ), now
