"""Workflow actions: the closed loop, its branches, who may do what, and one winner per race."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from events.actions import act
from events.calendar import Light
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport
from events.models import (
    AppealType,
    Attachment,
    Event,
    EventSource,
    EventStage,
    EventStatus,
    EventStep,
    Outbox,
    Stage,
)
from events.reference import work_calendar
from events.schemas import ActionInput, EventRead
from events.service import read_event
from events.workflow import TRANSITIONS, allowed_actions
from gis import local_pg
from people.models import StaffRole
from tests.events.districts_city import WJG, add_second_district
from tests.events.workflow_city import (
    EAST,
    MONDAY_10,
    SPOT,
    THURSDAY,
    TUESDAY,
    WEDNESDAY,
    WEST,
    add_person,
    build_city,
    do,
    file,
    handled,
    photo,
    signed,
    taken_up,
    unit_code,
)
from tests.factories import (
    COMMUNITY,
    METRE_LON,
    fresh_database,
)


def outbox(session: Session, event: EventRead) -> list[tuple[str, str]]:
    """(kind, unit code) of the event's outbox rows, in order."""
    rows = session.scalars(select(Outbox).where(Outbox.event_id == event.id).order_by(Outbox.id))
    return [(r.kind, r.payload["unit"]) for r in rows]


def routing(event: EventRead) -> dict[str, Any]:
    """Why the event went to its unit."""
    assert event.dispatch is not None
    return event.dispatch


def trail(event: EventRead) -> list[tuple[str, str | None, str]]:
    """(action, from, to) of every step."""
    return [
        (s.action, s.from_status.value if s.from_status else None, s.to_status.value)
        for s in event.steps
    ]


# -- the loop ------------------------------------------------------------------------------


def test_happy_loop_report_sign_handle_verify_then_the_centre_closes_with_the_exact_trail(
    city, tmp_path
):
    # A passed check no longer closes the case by itself (issue: 结案 by the command centre):
    # it waits, verified, on a 结案 clock of CLOSE_LIMIT (4 working hours by default).
    event = handled(city, tmp_path)
    near = (SPOT[0] + 20 * METRE_LON, SPOT[1])
    verified = do(
        city,
        "worker",
        event,
        "verify",
        TUESDAY.replace(hour=11),
        photos=[photo()],
        photo_dir=tmp_path,
        lon=near[0],
        lat=near[1],
    )
    assert verified.status is EventStatus.VERIFIED and verified.closed_at is None
    # 11:00 + 4 working hours: 1 h to 12:00, lunch until 14:30, 3 h to 17:30.
    assert verified.stage is Stage.CLOSE and verified.stage_label == "结案"
    assert verified.stage_deadline == TUESDAY.replace(hour=17, minute=30)
    closed = do(city, "command_staff", event, "close", TUESDAY.replace(hour=15))
    assert closed.status is EventStatus.CLOSED
    assert closed.closed_at == TUESDAY.replace(hour=15)
    assert trail(closed) == [
        ("report", None, "registered"),
        ("dispatch", "registered", "dispatched"),
        ("sign", "dispatched", "signed"),
        ("handle", "signed", "handled"),
        ("verify", "handled", "verified"),
        ("close", "verified", "closed"),
    ]
    assert [s.actor for s in closed.steps] == [
        "worker1",
        "worker1",
        "disp.w",
        "disp.w",
        "worker1",
        "cc.duty",  # the command centre closes, not the system
    ]
    assert [(s.stage, s.on_time) for s in closed.stages] == [
        (Stage.SIGN, True),
        (Stage.HANDLE, True),
        (Stage.VERIFY, True),
        (Stage.CLOSE, True),
    ]
    assert all(s.ended_at is not None for s in closed.stages)
    assert closed.stage is None and closed.light is None and closed.time_left is None
    assert closed.steps[4].data["distance_m"] == pytest.approx(20, abs=1)
    assert outbox(city["session"], closed) == [("dispatch", "PS-W"), ("close", "PS-W")]
    photos = city["session"].scalars(select(Attachment).where(Attachment.event_id == event.id))
    assert sorted(city["session"].get(EventStep, p.step_id).action for p in photos) == [
        "handle",
        "verify",
    ]


def test_sign_for_records_whether_it_was_in_time_and_starts_the_handling_clock(city):
    event = file(city)  # 0101: sign for within 1 working hour
    late = do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(hours=2))
    assert late.status is EventStatus.SIGNED and late.stage is Stage.HANDLE
    assert late.stages[0].on_time is False and late.steps[-1].data == {"on_time": False}
    assert late.stage_deadline == TUESDAY.replace(hour=17, minute=30)  # 1 working day


# -- the transition table, roles and scope -------------------------------------------------


def bring_to(city: dict[str, Any], status: EventStatus, tmp_path: Any) -> EventRead:
    """An event in `status`, reached by real actions."""
    morning = MONDAY_10 + timedelta(hours=1)
    if status is EventStatus.REPORTED:
        return file(
            city,
            by="command_staff",
            appeal_type=AppealType.HELP,
            source=EventSource.HOTLINE,
            contact="13912345678",
        )
    if status is EventStatus.REGISTERED:
        city["command"].active = False  # no unit at all for city management: waits for a hand
        city["session"].flush()
        return file(city, category="0601")
    if status is EventStatus.PENDING:  # a dispute: the command centre's judgement (立案)
        return file(city, category="0302")
    if status is EventStatus.REFUSED:
        return do(
            city,
            "command_staff",
            file(city, category="0302"),
            "refuse",
            morning,
            reason="属民事纠纷，已告知当事人诉讼途径",
        )
    if status is EventStatus.SELF_RESOLVED:
        return file(city, self_resolved=True)
    if status is EventStatus.DISPATCHED:
        return file(city)
    if status is EventStatus.RETURNED:
        return do(city, "disp_w", file(city), "return", morning, reason="不属于本辖区")
    if status is EventStatus.SUSPENDED:
        return do(city, "command_staff", file(city), "suspend", morning, reason="等待法院判决")
    if status is EventStatus.VOIDED:
        return do(city, "command_staff", file(city), "void", morning, reason="不属实")
    if status is EventStatus.TRANSFERRED:
        add_second_district(city["session"], city)
        return do(
            city,
            "command_staff",
            file(city),
            "transfer",
            morning,
            to_district=WJG,
            reason="属伍家岗区",
        )
    if status is EventStatus.SIGNED:
        return signed(city)
    event = handled(city, tmp_path)
    if status is EventStatus.HANDLED:
        return event
    verified = do(
        city,
        "worker",
        event,
        "verify",
        TUESDAY.replace(hour=11),
        photos=[photo()],
        photo_dir=tmp_path,
        lon=SPOT[0],
        lat=SPOT[1],
    )
    if status is EventStatus.VERIFIED:
        return verified
    assert status is EventStatus.CLOSED
    return do(city, "command_staff", event, "close", TUESDAY.replace(hour=12))


ACTOR_OF_ROLE = {
    StaffRole.GRID_WORKER: "worker",
    StaffRole.INSPECTOR: "inspector",
    StaffRole.DISPATCHER: "disp_w",
    StaffRole.COMMAND: "command_staff",
    StaffRole.LEADER: "leader",
    StaffRole.ADMIN: "admin",
}


@pytest.mark.parametrize("status", list(EventStatus), ids=lambda s: s.value)
def test_every_action_impossible_from_a_state_is_refused_naming_the_possible_ones(
    city, tmp_path, status
):
    event = bring_to(city, status, tmp_path)
    session = city["session"]
    steps_before = session.scalar(select(func.count()).where(EventStep.event_id == event.id))
    possible = allowed_actions(status)
    listed = ", ".join(possible) or "none (it is final)"
    impossible = [a for a, rule in TRANSITIONS.items() if status not in rule.sources]
    assert sorted(impossible + possible) == sorted(TRANSITIONS)
    for action in impossible:
        role = sorted(TRANSITIONS[action].roles, key=lambda r: r.value)[0]  # a role that may
        with pytest.raises(ActionNotAllowed) as refused:
            do(city, ACTOR_OF_ROLE[role], event, action, MONDAY_10 + timedelta(hours=3))
        message = str(refused.value)
        assert f"an event that is {status.value}" in message, action
        assert f"from {status.value} the possible actions are: {listed}" in message, action
        assert refused.value.allowed == possible, action
    assert session.get(Event, event.id).status is status
    assert session.scalar(select(func.count()).where(EventStep.event_id == event.id)) == (
        steps_before
    )


def test_wrong_role_is_refused_naming_the_roles_that_may(city):
    event = file(city)
    with pytest.raises(Forbidden, match=r"grid_worker .* may not sign .*needs one of: dispatcher"):
        do(city, "worker", event, "sign", MONDAY_10)
    with pytest.raises(Forbidden, match=r"needs one of: admin, command$"):
        do(city, "leader", event, "suspend", MONDAY_10, reason="等待")
    with pytest.raises(Forbidden, match="needs one of: grid_worker"):
        do(city, "disp_w", event, "self-resolve", MONDAY_10, photos=[photo()])


def test_dispatcher_of_another_unit_is_refused(city):
    event = file(city)  # with PS-W
    with pytest.raises(Forbidden, match=r"not with your unit .*PS-E"):
        do(city, "disp_e", event, "sign", MONDAY_10)
    assert do(city, "disp_w2", event, "sign", MONDAY_10).status is EventStatus.SIGNED


def test_unknown_action_is_refused_with_the_list_of_actions(city):
    event = file(city)
    with pytest.raises(InvalidReport, match="'approve' is not an event action; actions are check"):
        do(city, "command_staff", event, "approve", MONDAY_10)


def test_staff_outside_the_events_area_are_refused(city, session):
    event = file(city)
    elsewhere = add_person(session, "cc.other", StaffRole.COMMAND, area=COMMUNITY[:9] + "002")
    city["elsewhere"] = elsewhere
    with pytest.raises(Forbidden, match="outside your area"):
        do(city, "elsewhere", event, "suspend", MONDAY_10, reason="等待")


# -- check (核实) and dispatch ---------------------------------------------------------------


def test_hotline_report_checked_on_site_waits_for_register_then_for_dispatch(city):
    # Issue 13 item 2: a report from another source than a grid worker is registered (立案)
    # by the command centre's judgement, no longer dispatched as soon as it is checked.
    event = file(
        city,
        by="command_staff",
        appeal_type=AppealType.HELP,
        source=EventSource.HOTLINE,
        contact="13912345678",
    )
    checked = do(city, "worker", event, "check", MONDAY_10 + timedelta(minutes=20), note="属实")
    assert checked.status is EventStatus.PENDING and checked.unit is None
    assert checked.stage is Stage.REGISTER
    registered = do(city, "command_staff", event, "register", MONDAY_10 + timedelta(minutes=30))
    assert registered.status is EventStatus.REGISTERED and registered.stage is Stage.DISPATCH
    sent = do(city, "command_staff", event, "dispatch", MONDAY_10 + timedelta(minutes=40))
    assert sent.status is EventStatus.DISPATCHED and unit_code(sent) == "PS-W"
    assert trail(sent) == [
        ("report", None, "reported"),
        ("check", "reported", "pending"),
        ("register", "pending", "registered"),
        ("dispatch", "registered", "dispatched"),
    ]
    assert [(s.stage, s.ended_at is not None) for s in sent.stages] == [
        (Stage.CHECK, True),
        (Stage.REGISTER, True),
        (Stage.DISPATCH, True),
        (Stage.SIGN, False),
    ]


def test_failed_check_voids_the_report_as_invalid(city):
    event = file(city, by="command_staff", appeal_type=AppealType.HELP, source=EventSource.HOTLINE)
    with pytest.raises(InvalidReport, match="needs a reason"):
        do(city, "worker", event, "check", MONDAY_10, passed=False)
    voided = do(city, "worker", event, "check", MONDAY_10, passed=False, reason="现场无此情况")
    assert voided.status is EventStatus.VOIDED and voided.unit is None
    assert city["session"].get(Event, event.id).void_reason == "现场无此情况"
    assert voided.steps[-1].data == {"passed": False}


def test_check_is_for_a_grid_worker_of_the_events_grid(city):
    event = file(
        city, by="command_staff", appeal_type=AppealType.HELP, source=EventSource.HOTLINE
    )  # grid EAST
    with pytest.raises(Forbidden, match=f"in grid {EAST}, not in your grids \\({WEST}\\)"):
        do(city, "west_worker", event, "check", MONDAY_10)


def test_command_centre_dispatches_a_waiting_case_to_the_unit_it_chooses(city):
    city["command"].active = False
    event = file(city, category="0601")  # no unit for it: registered, waiting
    assert event.status is EventStatus.REGISTERED and event.unit is None
    with pytest.raises(Forbidden, match="only the command centre chooses a unit"):
        do(city, "worker", event, "dispatch", MONDAY_10, unit_id=city["fire"].id)
    sent = do(city, "admin", event, "dispatch", MONDAY_10, unit_id=city["fire"].id)
    assert sent.status is EventStatus.DISPATCHED and unit_code(sent) == "FS-1"
    assert sent.stage is Stage.SIGN and "chosen by hand" in routing(sent)["rule"]
    assert outbox(city["session"], sent) == [("dispatch", "FS-1")]


# -- return and redispatch -----------------------------------------------------------------


def test_return_then_redispatch_goes_to_a_different_unit(city):
    event = file(city)
    assert unit_code(event) == "PS-W"
    with pytest.raises(InvalidReport, match="needs a reason"):
        do(city, "disp_w", event, "return", MONDAY_10)
    back = do(city, "disp_w", event, "return", MONDAY_10, reason="不属于本辖区")
    row = city["session"].get(Event, event.id)
    assert back.status is EventStatus.RETURNED and back.unit is None and back.stage is None
    assert (row.returned_by_unit_ids, row.return_count) == ([city["police_w"].id], 1)
    assert back.steps[-1].unit == city["police_w"].name
    again = do(city, "command_staff", event, "redispatch", MONDAY_10 + timedelta(minutes=5))
    assert again.status is EventStatus.DISPATCHED and unit_code(again) == "PS-E"
    assert routing(again)["excluded_units"] == [city["police_w"].id]
    assert [s.action for s in again.steps] == ["report", "dispatch", "return", "redispatch"]
    assert outbox(city["session"], again) == [
        ("dispatch", "PS-W"),
        ("return", "CC"),
        ("redispatch", "PS-E"),
    ]
    centre = city["session"].scalar(
        select(Outbox).where(Outbox.event_id == event.id, Outbox.kind == "return")
    )
    assert centre.payload["reason"] == "不属于本辖区"


def test_redispatching_a_dispatched_case_needs_the_unit_to_send_it_to(city):
    event = file(city)
    with pytest.raises(InvalidReport, match="already dispatched; name the unit"):
        do(city, "command_staff", event, "redispatch", MONDAY_10)
    moved = do(city, "command_staff", event, "redispatch", MONDAY_10, unit_id=city["police_e"].id)
    assert unit_code(moved) == "PS-E" and moved.status is EventStatus.DISPATCHED


# -- handle, verify, rework ----------------------------------------------------------------


def test_handling_needs_a_note_and_a_photo_when_the_category_requires_one(city, tmp_path):
    fire_case = file(city, category="0201")  # 楼道堆放杂物: fire, photo required
    assert unit_code(fire_case) == "FS-1"
    do(city, "disp_fire", fire_case, "sign", MONDAY_10 + timedelta(minutes=10))
    later = MONDAY_10 + timedelta(hours=2)
    with pytest.raises(InvalidReport, match="needs a note"):
        do(city, "disp_fire", fire_case, "handle", later, photos=[photo()], photo_dir=tmp_path)
    with pytest.raises(InvalidReport, match="needs a photo"):
        do(city, "disp_fire", fire_case, "handle", later, note="已清理")
    done = do(
        city,
        "disp_fire",
        fire_case,
        "handle",
        later,
        note="已清理",
        photos=[photo()],
        photo_dir=tmp_path,
    )
    assert done.status is EventStatus.HANDLED and done.stage is Stage.VERIFY


def test_a_grid_worker_of_the_cases_grid_verifies_a_colleagues_report_and_a_neighbour_may_not(
    city, tmp_path
):
    # The rule: 核查 is the case's grid's work, whoever reported it. worker1 (WEST and EAST)
    # reported a case in EAST; worker3 covers only the neighbouring grid WEST.
    event = handled(city, tmp_path)
    at = TUESDAY.replace(hour=11)
    for action, fields in (("verify", {}), ("rework", {"reason": "仍有人逗留"})):
        with pytest.raises(Forbidden, match=rf"is in grid {EAST}, not in your grids \({WEST}\)"):
            do(
                city,
                "west_worker",
                event,
                action,
                at,
                photos=[photo()],
                photo_dir=tmp_path,
                lon=SPOT[0],
                lat=SPOT[1],
                **fields,
            )
    assert city["session"].get(Event, event.id).status is EventStatus.HANDLED
    done = do(
        city,
        "worker2",  # covers EAST, did not report it
        event,
        "verify",
        at,
        photos=[photo()],
        photo_dir=tmp_path,
        lon=SPOT[0],
        lat=SPOT[1],
    )
    assert done.status is EventStatus.VERIFIED and done.steps[-1].actor == "worker2"


def test_a_hotline_case_is_verified_by_its_grids_worker_not_the_neighbours(city, tmp_path):
    event = file(
        city,
        by="command_staff",
        source=EventSource.HOTLINE,
        contact="13912345678",
        appeal_type=AppealType.COMPLAINT,
    )
    checked = do(city, "worker2", event, "check", MONDAY_10 + timedelta(minutes=10))
    assert checked.status is EventStatus.PENDING  # a citizen's case waits for 立案
    taken_up(city, event, MONDAY_10 + timedelta(minutes=15))
    do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))
    do(city, "disp_w", event, "handle", TUESDAY.replace(hour=10), note="已处理")
    at = TUESDAY.replace(hour=11)
    kwargs = {"photos": [photo()], "photo_dir": tmp_path, "lon": SPOT[0], "lat": SPOT[1]}
    with pytest.raises(Forbidden, match=f"in grid {EAST}"):
        do(city, "west_worker", event, "verify", at, **kwargs)
    done = do(city, "worker", event, "verify", at, **kwargs)  # a grid worker of EAST
    assert done.status is EventStatus.VERIFIED and done.stage is Stage.REPLY


def test_verify_without_a_photo_is_refused(city, tmp_path):
    event = handled(city, tmp_path)
    with pytest.raises(InvalidReport, match="needs a photo"):
        do(city, "worker", event, "verify", TUESDAY.replace(hour=11), lon=SPOT[0], lat=SPOT[1])
    with pytest.raises(InvalidReport, match="needs where you stand"):
        do(
            city,
            "worker",
            event,
            "verify",
            TUESDAY.replace(hour=11),
            photos=[photo()],
            photo_dir=tmp_path,
        )


def test_verify_300_m_away_is_refused_and_within_50_m_passes(city, tmp_path):
    event = handled(city, tmp_path)
    at = TUESDAY.replace(hour=11)
    far = (SPOT[0] + 300 * METRE_LON, SPOT[1])
    with pytest.raises(InvalidReport, match="you are 300 m from the event"):
        do(city, "worker", event, "verify", at, photos=[photo()], lon=far[0], lat=far[1])
    assert city["session"].get(Event, event.id).status is EventStatus.HANDLED
    near = (SPOT[0] + 50 * METRE_LON, SPOT[1])
    done = do(
        city,
        "worker",
        event,
        "verify",
        at,
        photos=[photo()],
        photo_dir=tmp_path,
        lon=near[0],
        lat=near[1],
    )
    assert done.status is EventStatus.VERIFIED
    assert done.steps[-1].data["distance_m"] == pytest.approx(50, abs=1)


def test_a_category_verified_by_phone_needs_no_photo_or_location(city):
    event = signed(city, category="0105")  # 电信诈骗线索: no on-site verification
    do(city, "disp_w", event, "handle", TUESDAY.replace(hour=10), note="已立案侦查")
    done = do(city, "worker", event, "verify", TUESDAY.replace(hour=11), note="电话回访当事人")
    assert done.status is EventStatus.VERIFIED and done.steps[-1].data == {"passed": True}


def test_photos_sent_with_any_action_belong_to_that_actions_step(city, tmp_path):
    event = file(city)
    do(
        city,
        "disp_w",
        event,
        "return",
        MONDAY_10,
        reason="不属于本辖区",
        photos=[photo("red")],
        photo_dir=tmp_path,
    )
    stored = city["session"].scalar(select(Attachment).where(Attachment.event_id == event.id))
    assert city["session"].get(EventStep, stored.step_id).action == "return"
    assert stored.path.startswith(str(tmp_path))


def test_an_inspector_of_the_area_may_verify(city, tmp_path):
    event = handled(city, tmp_path)
    done = do(
        city,
        "inspector",
        event,
        "verify",
        TUESDAY.replace(hour=11),
        photos=[photo()],
        photo_dir=tmp_path,
        lon=SPOT[0],
        lat=SPOT[1],
    )
    assert done.status is EventStatus.VERIFIED and done.steps[-1].actor == "inspector1"


def test_rework_increments_the_count_and_reopens_handling_on_a_new_clock(city, tmp_path):
    event = handled(city, tmp_path)
    at = TUESDAY.replace(hour=11)
    with pytest.raises(InvalidReport, match="needs a reason"):
        do(city, "worker", event, "verify", at, passed=False)
    back = do(city, "worker", event, "verify", at, passed=False, reason="人员仍在楼道逗留")
    assert back.status is EventStatus.SIGNED and back.rework_count == 1
    assert back.steps[-1].action == "rework"
    assert [(s.stage, s.started_at) for s in back.stages][-2:] == [
        (Stage.VERIFY, TUESDAY.replace(hour=10)),
        (Stage.HANDLE, at),
    ]
    assert back.stages[-2].ended_at == at and back.stage is Stage.HANDLE
    assert back.stage_deadline == WEDNESDAY.replace(hour=17, minute=30)
    stage_row = (
        city["session"]
        .scalars(
            select(EventStage).where(EventStage.event_id == event.id).order_by(EventStage.id.desc())
        )
        .first()
    )
    assert stage_row.unit_id == city["police_w"].id  # the new clock counts against the unit
    assert outbox(city["session"], back)[-1] == ("rework", "PS-W")
    again = do(city, "disp_w", event, "handle", at + timedelta(hours=1), note="已劝离")
    assert again.status is EventStatus.HANDLED
    twice = do(city, "worker", event, "rework", at + timedelta(hours=2), reason="又回来了")
    assert twice.rework_count == 2 and twice.status is EventStatus.SIGNED


# -- extension, suspension -----------------------------------------------------------------


def test_extension_request_then_approval_moves_the_deadline_on_the_work_calendar(city):
    event = signed(city)
    assert event.stage_deadline == TUESDAY.replace(hour=17, minute=30)
    session = city["session"]
    with pytest.raises(ActionNotAllowed, match="no extension request waiting"):
        do(city, "command_staff", event, "approve-extension", TUESDAY.replace(hour=9))
    with pytest.raises(InvalidReport, match="say how much longer"):
        do(city, "disp_w", event, "extend", TUESDAY.replace(hour=9), reason="需协调房东")
    asked = do(
        city,
        "disp_w",
        event,
        "extend",
        TUESDAY.replace(hour=9),
        reason="需协调房东",
        extra_limit="2d",
    )
    assert asked.status is EventStatus.SIGNED
    assert asked.stage_deadline == TUESDAY.replace(hour=17, minute=30)  # not until approved
    assert asked.steps[-1].data["extension"]["status"] == "pending"
    assert outbox(session, asked)[-1] == ("extend", "CC")
    approved = do(city, "command_staff", event, "approve-extension", TUESDAY.replace(hour=10))
    assert approved.stage_deadline == THURSDAY.replace(hour=17, minute=30)  # 2 working days
    assert approved.stages[-1].deadline == THURSDAY.replace(hour=17, minute=30)
    assert approved.steps[-1].data["extension"]["request_step_id"] == asked.steps[-1].id
    assert outbox(session, approved)[-1] == ("approve-extension", "PS-W")
    with pytest.raises(ActionNotAllowed, match="no extension request waiting"):
        do(city, "command_staff", event, "approve-extension", TUESDAY.replace(hour=11))


def test_extension_in_hours_crosses_the_lunch_break(city):
    event = signed(city)
    do(city, "disp_w", event, "extend", TUESDAY.replace(hour=9), reason="等待", extra_limit="4h")
    approved = do(city, "admin", event, "approve-extension", TUESDAY.replace(hour=9, minute=5))
    assert approved.stage_deadline == WEDNESDAY.replace(hour=15)  # 17:30 + 3.5 h + 0.5 h


def test_suspended_time_does_not_count_the_deadline_moves_by_exactly_the_suspended_working_time(
    city,
):
    event = signed(city)  # handle by Tuesday 17:30
    session = city["session"]
    before = event.stage_deadline
    suspend_at, resume_at = MONDAY_10 + timedelta(hours=1), WEDNESDAY.replace(hour=11)
    held = do(city, "command_staff", event, "suspend", suspend_at, reason="等待法院判决")
    row = session.get(Event, event.id)
    assert held.status is EventStatus.SUSPENDED
    assert (row.status_before_suspension, row.suspended_at) == (EventStatus.SIGNED, suspend_at)
    # The light is frozen while suspended: days later it is still what it was on Monday.
    assert read_event(session, event=row, now=THURSDAY).light is Light.GREEN
    back = do(city, "command_staff", event, "resume", resume_at)
    calendar = work_calendar(session)
    suspended = calendar.working_seconds_between(suspend_at, resume_at)
    assert suspended == 13 * 3600  # Mon 11–12, 14:30–17:30, all Tuesday, Wed 8:30–11
    assert back.status is EventStatus.SIGNED and back.stage is Stage.HANDLE
    assert back.stage_deadline == THURSDAY.replace(hour=17, minute=30)
    assert before is not None and back.stage_deadline is not None
    assert calendar.working_seconds_between(before, back.stage_deadline) == suspended
    assert back.stages[-1].deadline == back.stage_deadline
    assert back.stages[-1].started_at == MONDAY_10 + timedelta(minutes=30)  # the real start
    assert back.light is Light.GREEN  # half an hour of 11 working hours used
    assert back.steps[-1].data["suspended_working_seconds"] == suspended
    assert (row.suspended_at, row.status_before_suspension) == (None, None)


# -- void, self-resolve, supervise ---------------------------------------------------------


def test_void_as_duplicate_links_the_original(city):
    original = file(city)
    copy = file(city, lon=SPOT[0] + 30 * METRE_LON, now=MONDAY_10 + timedelta(minutes=5))
    assert copy.duplicate_candidates == [original.code]
    with pytest.raises(InvalidReport, match="needs a reason"):
        do(city, "command_staff", copy, "void", MONDAY_10, duplicate_of=original.code)
    voided = do(
        city,
        "command_staff",
        copy,
        "void",
        MONDAY_10 + timedelta(minutes=10),
        reason="重复上报",
        duplicate_of=original.code,
    )
    assert voided.status is EventStatus.VOIDED and voided.duplicate_of == original.code
    assert voided.stage is None and voided.stages[-1].ended_at is not None
    assert city["session"].get(Event, copy.id).void_reason == "重复上报"
    assert outbox(city["session"], voided)[-1] == ("void", "PS-W")  # it was in PS-W's queue


def test_void_cannot_point_to_itself_or_to_a_voided_event(city):
    original = file(city)
    copy = file(city, lon=SPOT[0] + 30 * METRE_LON)
    third = file(city, lon=SPOT[0] + 60 * METRE_LON)
    with pytest.raises(InvalidReport, match="cannot be a duplicate of itself"):
        do(city, "command_staff", third, "void", MONDAY_10, reason="重复", duplicate_of=third.code)
    do(city, "command_staff", copy, "void", MONDAY_10, reason="重复", duplicate_of=original.code)
    with pytest.raises(InvalidReport, match=f"voided itself; .*, {original.code}"):
        do(city, "command_staff", third, "void", MONDAY_10, reason="重复", duplicate_of=copy.code)


def test_self_resolve_by_the_reporter_needs_a_photo_and_closes_the_case(city, tmp_path):
    event = file(city)
    at = MONDAY_10 + timedelta(minutes=15)
    with pytest.raises(InvalidReport, match="needs a photo"):
        do(city, "worker", event, "self-resolve", at)
    with pytest.raises(Forbidden, match="only the grid worker who reported"):
        do(city, "worker2", event, "self-resolve", at, photos=[photo()], photo_dir=tmp_path)
    done = do(city, "worker", event, "self-resolve", at, photos=[photo()], photo_dir=tmp_path)
    assert done.status is EventStatus.SELF_RESOLVED and done.closed_at == at
    assert done.stage is None
    assert outbox(city["session"], done)[-1] == ("self-resolve", "PS-W")


def test_supervision_tells_the_unit_its_supervisor_and_the_command_centre(city):
    event = signed(city)
    # Leaders see aggregates only; their instruction (领导批示) is entered by the command centre.
    with pytest.raises(Forbidden, match="may not supervise"):
        do(city, "leader", event, "supervise", TUESDAY.replace(hour=9), level="red")
    supervised = do(
        city,
        "command_staff",
        event,
        "supervise",
        TUESDAY.replace(hour=9),
        level="red",
        note="领导批示：限今日办结",
    )
    assert supervised.status is EventStatus.SIGNED and supervised.supervision_level == "key"
    step = supervised.steps[-1]
    assert (step.action, step.from_status, step.to_status) == (
        "supervise",
        EventStatus.SIGNED,
        EventStatus.SIGNED,
    )
    assert step.data["level"] == "key" and step.data["informed"] == ["PS-W", "CC"]
    assert step.data["supervisor"] == "chief.w" and step.actor == "cc.duty"
    rows = city["session"].scalars(
        select(Outbox).where(Outbox.event_id == event.id, Outbox.kind == "supervise")
    )
    payloads = {r.payload["unit"]: r.payload for r in rows}
    assert set(payloads) == {"PS-W", "CC"}
    assert payloads["PS-W"]["supervisor"]["username"] == "chief.w"
    assert payloads["CC"]["level"] == "key" and payloads["CC"]["lead_unit"] == "PS-W"


# -- concurrency ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed_engine(database_url: str) -> Iterator[Engine]:
    """A database of its own: the racing transactions must really commit."""
    text_url = fresh_database(database_url, "_actions_race")
    engine = create_engine(text_url)
    try:
        yield engine
    finally:
        engine.dispose()
        local_pg.drop_database(text_url)


def test_two_dispatchers_signing_the_same_event_at_once_exactly_one_wins(committed_engine):
    with Session(committed_engine) as setup:
        city = build_city(setup)
        event = file(city)
        setup.commit()
    start = threading.Barrier(2)
    results: dict[str, str] = {}

    def sign_for(who: str) -> None:
        with Session(committed_engine) as mine:
            start.wait()
            try:
                act(
                    mine,
                    actor=city[who],
                    code=event.code,
                    action="sign",
                    data=ActionInput(),
                    now=MONDAY_10 + timedelta(minutes=10),
                )
                time.sleep(0.3)  # hold the row lock: the other one must wait, not sign too
                mine.commit()
                results[who] = "signed"
            except ActionNotAllowed as exc:
                mine.rollback()
                results[who] = str(exc)

    threads = [threading.Thread(target=sign_for, args=(w,)) for w in ("disp_w", "disp_w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    outcomes = sorted(results.values())
    assert len(outcomes) == 2 and outcomes.count("signed") == 1, results
    loser = next(v for v in outcomes if v != "signed")
    assert "cannot sign (签收) an event that is signed" in loser
    with Session(committed_engine) as check:
        steps = check.scalars(
            select(EventStep.action).where(EventStep.event_id == event.id).order_by(EventStep.id)
        ).all()
        assert steps == ["report", "dispatch", "sign"]
        assert check.scalar(select(Event.status).where(Event.id == event.id)) is EventStatus.SIGNED
