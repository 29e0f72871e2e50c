"""Joint cases (主办/协办): each assisting unit's sub-task with its own clocks, sign-for and report;
the command centre adds, removes and waives; the lead cannot report the case handled while one
is open; the KPIs of the assisting units."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from events import joint
from events.calendar import Light
from events.escalation import escalate_overdue
from events.exceptions import ActionNotAllowed, Conflict, Forbidden, InvalidReport
from events.kpis import subtask_kpis
from events.models import Event, EventSubtask, Outbox, SubtaskStatus
from events.query import event_detail, list_events
from events.schemas import EventRead, SubtaskRead
from gis.clock import CHINA_TZ
from tests.events.districts_city import WJG, add_second_district
from tests.events.joint_city import NOISE, add_joint_units
from tests.events.workflow_city import MONDAY_10, do, file, photo

MON_12 = MONDAY_10.replace(hour=12)  # 10:00 + 2 working hours
THU_1730 = datetime(2026, 11, 26, 17, 30, tzinfo=CHINA_TZ)  # Monday is day 0 of 3 working days
FRIDAY_10 = datetime(2026, 11, 27, 10, 0, tzinfo=CHINA_TZ)


@pytest.fixture
def joint_city(city: dict[str, Any]) -> dict[str, Any]:
    """The workflow city with a 城管 squad and an 生态环境 office, each with a dispatcher."""
    return add_joint_units(city)


def noise(city: dict[str, Any], now: datetime = MONDAY_10) -> EventRead:
    return file(city, category=NOISE, now=now)


def rows(session: Session, event: EventRead) -> list[tuple[str, str]]:
    """(unit code, status) of the event's sub-tasks, by independent SQL."""
    return [
        (code, status)
        for code, status in session.execute(
            text(
                "SELECT u.code, s.status::text FROM event_subtask s "
                "JOIN department_unit u ON u.id = s.unit_id "
                "JOIN event e ON e.id = s.event_id AND e.district_code = s.district_code "
                "WHERE e.code = :code ORDER BY s.id"
            ),
            {"code": event.code},
        )
    ]


def task_of(
    city: dict[str, Any], event: EventRead, unit: str, now: datetime = MONDAY_10
) -> SubtaskRead:
    """The open (else latest) sub-task of `unit` on `event`, read by an admin at `now`."""
    tasks = [
        t
        for t in joint.event_subtasks(
            city["session"], actor=city["admin"], code=event.code, now=now
        )
        if t.unit.code == unit
    ]
    open_ones = [t for t in tasks if t.status in (SubtaskStatus.DISPATCHED, SubtaskStatus.SIGNED)]
    return (open_ones or tasks)[-1]


def step(
    city: dict[str, Any], who: str, event: EventRead, unit: str, action: str, now: datetime, **kw
) -> SubtaskRead:
    return joint.act_on_subtask(
        city["session"],
        actor=city[who],
        code=event.code,
        subtask_id=task_of(city, event, unit).id,
        action=action,
        now=now,
        **kw,
    )


def test_dispatch_opens_a_subtask_for_each_assisting_unit_of_the_category(joint_city):
    event = noise(joint_city)
    assert event.unit and event.unit.code == "UM-1"
    assert rows(joint_city["session"], event) == [
        ("PS-W", "dispatched"),
        ("ECO-1", "dispatched"),
    ]
    police = task_of(joint_city, event, "PS-W")
    assert police.sign_deadline == MON_12
    assert police.handle_deadline == THU_1730
    assert police.lead_unit and police.lead_unit.code == "UM-1"
    assert police.light is Light.GREEN
    # A category without assisting departments opens none.
    plain = file(joint_city, category="0101")
    assert rows(joint_city["session"], plain) == []


def test_the_assisting_unit_sees_the_case_read_only_and_queues_its_subtask(joint_city):
    event = noise(joint_city)
    session = joint_city["session"]
    detail = event_detail(session, actor=joint_city["disp_eco"], code=event.code, now=MONDAY_10)
    assert detail.actions == []  # the lead's actions are not theirs
    lead = event_detail(session, actor=joint_city["disp_um"], code=event.code, now=MONDAY_10)
    assert "sign" in lead.actions
    queue = joint.subtask_queue(session, actor=joint_city["disp_eco"], now=MONDAY_10)
    assert [(t.event_code, t.unit.code, t.actions) for t in queue] == [
        (event.code, "ECO-1", ["sign"])
    ]
    # Neither the lead's dispatcher nor a unit with no part has a sub-task in its queue.
    assert joint.subtask_queue(session, actor=joint_city["disp_um"], now=MONDAY_10) == []
    assert joint.subtask_queue(session, actor=joint_city["disp_e"], now=MONDAY_10) == []
    with pytest.raises(Forbidden, match="no sub-task queue"):
        joint.subtask_queue(session, actor=joint_city["worker"], now=MONDAY_10)
    with pytest.raises(InvalidReport, match="status 'late'"):
        joint.subtask_queue(session, actor=joint_city["disp_eco"], status="late")


def test_the_assisting_unit_signs_and_reports_while_the_lead_and_others_are_refused(
    joint_city, tmp_path
):
    event = noise(joint_city)
    with pytest.raises(Forbidden, match="not your unit's"):
        step(joint_city, "disp_um", event, "ECO-1", "sign", MONDAY_10)  # the lead's dispatcher
    with pytest.raises(Forbidden, match="outside your unit's cases"):
        step(joint_city, "disp_e", event, "ECO-1", "sign", MONDAY_10)  # a unit with no part
    with pytest.raises(Forbidden, match="not your unit's"):
        step(joint_city, "disp_w", event, "ECO-1", "sign", MONDAY_10)  # the other assisting unit
    with pytest.raises(ActionNotAllowed, match="possible steps are: sign, waive, cancel"):
        step(joint_city, "disp_eco", event, "ECO-1", "report", MONDAY_10, note="已监测")
    signed = step(joint_city, "disp_eco", event, "ECO-1", "sign", MONDAY_10 + timedelta(hours=1))
    assert signed.status is SubtaskStatus.SIGNED and signed.signed_by == "disp.eco"
    assert signed.actions == ["report"]
    with pytest.raises(InvalidReport, match="needs a note"):
        step(joint_city, "disp_eco", event, "ECO-1", "report", MONDAY_10 + timedelta(hours=2))
    done = joint.act_on_subtask(
        joint_city["session"],
        actor=joint_city["disp_eco"],
        code=event.code,
        subtask_id=signed.id,
        action="report",
        note="现场噪声监测超标，已开具整改通知",
        photos=[photo("red")],
        photo_dir=tmp_path,
        now=MONDAY_10 + timedelta(hours=5),
    )
    assert done.status is SubtaskStatus.DONE and done.on_time is True and done.light is None
    assert done.report == "现场噪声监测超标，已开具整改通知" and len(done.photos) == 1
    assert done.actions == []
    # The trail shows both steps; the case itself did not move.
    trail = [
        s.action
        for s in event_detail(
            joint_city["session"], actor=joint_city["admin"], code=event.code
        ).steps
    ]
    assert trail[-2:] == ["subtask-sign", "subtask-report"]
    assert rows(joint_city["session"], event) == [("PS-W", "dispatched"), ("ECO-1", "done")]


def test_the_lead_cannot_report_handled_while_a_subtask_is_open(joint_city):
    event = noise(joint_city)
    do(joint_city, "disp_um", event, "sign", MONDAY_10 + timedelta(minutes=10))
    step(joint_city, "disp_w", event, "PS-W", "sign", MONDAY_10 + timedelta(minutes=20))

    def offered() -> list[str]:
        session = joint_city["session"]
        return event_detail(session, actor=joint_city["disp_um"], code=event.code).actions

    assert "handle" not in offered()  # not offered while parts are open …
    with pytest.raises(ActionNotAllowed) as refused:  # … and refused, naming them, if sent
        do(joint_city, "disp_um", event, "handle", MONDAY_10 + timedelta(hours=3), note="已处理")
    message = str(refused.value)
    assert joint_city["police_w"].name in message and joint_city["eco"].name in message
    assert "处置中" in message and "待签收" in message
    # The police report their part; the ecology office's is still open.
    step(
        joint_city, "disp_w", event, "PS-W", "report", MONDAY_10 + timedelta(hours=4), note="已劝离"
    )
    with pytest.raises(ActionNotAllowed) as still:
        do(joint_city, "disp_um", event, "handle", MONDAY_10 + timedelta(hours=5), note="已处理")
    assert joint_city["eco"].name in str(still.value)
    assert joint_city["police_w"].name not in str(still.value)
    # Waived by the command centre: nothing open, the lead reports the case handled.
    step(
        joint_city,
        "command_staff",
        event,
        "ECO-1",
        "waive",
        MONDAY_10 + timedelta(hours=6),
        reason="经监测未超标，无需生态环境部门处置",
    )
    assert "handle" in offered()
    handled = do(
        joint_city, "disp_um", event, "handle", MONDAY_10 + timedelta(hours=7), note="已处理"
    )
    assert handled.status.value == "handled"


def test_waiving_needs_a_reason_and_the_command_centre(joint_city):
    event = noise(joint_city)
    with pytest.raises(InvalidReport, match="needs a reason"):
        step(joint_city, "command_staff", event, "ECO-1", "waive", MONDAY_10)
    with pytest.raises(Forbidden, match="the command centre"):
        step(joint_city, "disp_eco", event, "ECO-1", "waive", MONDAY_10, reason="不归我们管")
    with pytest.raises(Forbidden):
        step(joint_city, "leader", event, "ECO-1", "waive", MONDAY_10, reason="领导说免了")
    waived = step(
        joint_city, "command_staff", event, "ECO-1", "waive", MONDAY_10, reason="已由公安处置完毕"
    )
    assert waived.status is SubtaskStatus.WAIVED and waived.end_reason == "已由公安处置完毕"
    assert waived.ended_by == "cc.duty" and waived.light is None
    with pytest.raises(ActionNotAllowed, match="none \\(it has ended\\)"):
        step(joint_city, "command_staff", event, "ECO-1", "waive", MONDAY_10, reason="再免一次")


def test_the_command_centre_adds_and_removes_assisting_units(joint_city):
    session = joint_city["session"]
    event = noise(joint_city)
    fire = joint_city["fire"]
    with pytest.raises(Forbidden, match="outside your unit's cases"):
        event_detail(session, actor=joint_city["disp_fire"], code=event.code)
    with pytest.raises(Forbidden, match="command centre"):
        joint.add_subtask(session, actor=joint_city["disp_um"], code=event.code, unit_id=fire.id)
    added = joint.add_subtask(
        session,
        actor=joint_city["command_staff"],
        code=event.code,
        unit_id=fire.id,
        note="请消防核查是否有燃放行为",
        now=MONDAY_10 + timedelta(hours=1),
    )
    assert added.unit.code == "FS-1" and added.status is SubtaskStatus.DISPATCHED
    assert added.note == "请消防核查是否有燃放行为" and added.opened_by == "cc.duty"
    assert added.sign_deadline == MONDAY_10.replace(hour=15, minute=30)  # 11:00 + 2h, lunch
    # The fire brigade now sees the case and has the sub-task in its queue.
    assert event_detail(session, actor=joint_city["disp_fire"], code=event.code).code == event.code
    assert [t.id for t in joint.subtask_queue(session, actor=joint_city["disp_fire"])] == [added.id]
    assert event.code in [e.code for e in list_events(session, actor=joint_city["disp_fire"]).items]
    with pytest.raises(Conflict, match="already assists"):
        joint.add_subtask(session, actor=joint_city["admin"], code=event.code, unit_id=fire.id)
    with pytest.raises(InvalidReport, match="leads event"):
        joint.add_subtask(
            session, actor=joint_city["admin"], code=event.code, unit_id=joint_city["um"].id
        )
    with pytest.raises(InvalidReport, match="needs a reason"):
        step(joint_city, "command_staff", event, "FS-1", "cancel", MONDAY_10 + timedelta(hours=2))
    removed = step(
        joint_city,
        "command_staff",
        event,
        "FS-1",
        "cancel",
        MONDAY_10 + timedelta(hours=2),
        reason="误加，非消防事项",
    )
    assert removed.status is SubtaskStatus.CANCELLED
    with pytest.raises(Forbidden):
        event_detail(session, actor=joint_city["disp_fire"], code=event.code)
    stored = session.scalar(select(Event).where(Event.code == event.code))
    assert stored is not None and fire.id not in stored.assisting_unit_ids


def test_no_unit_is_added_to_a_case_the_lead_no_longer_holds(joint_city):
    event = noise(joint_city)
    step(joint_city, "command_staff", event, "PS-W", "waive", MONDAY_10, reason="无需公安")
    step(joint_city, "command_staff", event, "ECO-1", "waive", MONDAY_10, reason="无需环保")
    do(joint_city, "disp_um", event, "sign", MONDAY_10 + timedelta(minutes=5))
    do(joint_city, "disp_um", event, "handle", MONDAY_10 + timedelta(hours=1), note="已处理")
    with pytest.raises(ActionNotAllowed, match="handled"):
        joint.add_subtask(
            joint_city["session"],
            actor=joint_city["command_staff"],
            code=event.code,
            unit_id=joint_city["fire"].id,
            now=MONDAY_10 + timedelta(hours=2),
        )


def test_the_light_turns_red_one_second_past_each_deadline(joint_city):
    session = joint_city["session"]
    event = noise(joint_city)

    def light(unit: str, at: datetime) -> Light | None:
        [task] = [
            t
            for t in joint.event_subtasks(
                session, actor=joint_city["admin"], code=event.code, now=at
            )
            if t.unit.code == unit
        ]
        return task.light

    # Sign-for clock, 10:00 → 12:00: 80 % is 11:36.
    assert light("PS-W", MONDAY_10.replace(hour=11, minute=36)) is Light.GREEN
    assert light("PS-W", MONDAY_10.replace(hour=11, minute=37)) is Light.YELLOW
    assert light("PS-W", MON_12) is Light.YELLOW
    assert light("PS-W", MON_12 + timedelta(seconds=1)) is Light.RED
    # Handling clock, from the sign-for to Thursday 17:30.
    step(joint_city, "disp_eco", event, "ECO-1", "sign", MONDAY_10 + timedelta(minutes=30))
    assert light("ECO-1", THU_1730) is Light.YELLOW
    assert light("ECO-1", THU_1730 + timedelta(seconds=1)) is Light.RED
    # Reported at the deadline exactly: on time.
    done = step(joint_city, "disp_eco", event, "ECO-1", "report", THU_1730, note="已整改")
    assert done.on_time is True


def test_return_void_and_redispatch_end_the_open_subtasks(joint_city):
    session = joint_city["session"]
    event = noise(joint_city)
    step(joint_city, "disp_w", event, "PS-W", "sign", MONDAY_10 + timedelta(minutes=5))
    do(
        joint_city,
        "disp_um",
        event,
        "return",
        MONDAY_10 + timedelta(minutes=10),
        reason="不属于城管职责",
    )
    assert rows(session, event) == [("PS-W", "cancelled"), ("ECO-1", "cancelled")]
    with pytest.raises(Forbidden):  # the police no longer see a case they do not assist
        event_detail(session, actor=joint_city["disp_w"], code=event.code)
    # Dispatched again by the rules (to another unit: UM-1 returned it): fresh sub-tasks.
    again = do(joint_city, "command_staff", event, "redispatch", MONDAY_10 + timedelta(hours=1))
    assert again.unit is not None and again.unit.code != "UM-1"
    fresh = rows(session, event)
    assert fresh[:2] == [("PS-W", "cancelled"), ("ECO-1", "cancelled")]
    assert sorted(fresh[2:]) == sorted((u.code, "dispatched") for u in again.assisting_units)
    # Re-routed by hand while dispatched: the running ones give way to the new dispatch's.
    do(
        joint_city,
        "command_staff",
        event,
        "redispatch",
        MONDAY_10 + timedelta(hours=2),
        unit_id=joint_city["um"].id,
    )
    statuses = [s for _, s in rows(session, event)]
    assert statuses.count("dispatched") == len(again.assisting_units)
    # Voided: nothing stays open.
    do(joint_city, "command_staff", event, "void", MONDAY_10 + timedelta(hours=3), reason="重复")
    assert "dispatched" not in [s for _, s in rows(session, event)]


def test_kpis_count_subtasks_per_assisting_unit_against_independent_sql(joint_city):
    session = joint_city["session"]
    a = noise(joint_city)
    b = noise(joint_city, now=MONDAY_10 + timedelta(minutes=1))
    # A: the police sign and report on Tuesday (on time); the ecology office is waived.
    step(joint_city, "disp_w", a, "PS-W", "sign", MONDAY_10 + timedelta(hours=1))
    step(joint_city, "disp_w", a, "PS-W", "report", MONDAY_10 + timedelta(days=1), note="已劝离")
    step(joint_city, "command_staff", a, "ECO-1", "waive", MONDAY_10, reason="无需环保")
    # B: the police sign late and never report (overdue on Friday); ecology reports on Friday.
    step(joint_city, "disp_w", b, "PS-W", "sign", MONDAY_10.replace(hour=15))
    step(joint_city, "disp_eco", b, "ECO-1", "sign", MONDAY_10 + timedelta(hours=1))
    step(joint_city, "disp_eco", b, "ECO-1", "report", FRIDAY_10 - timedelta(hours=1), note="迟了")
    # A fire brigade added then removed: counted as cancelled only.
    joint.add_subtask(
        session,
        actor=joint_city["admin"],
        code=b.code,
        unit_id=joint_city["fire"].id,
        now=MONDAY_10 + timedelta(hours=2),
    )
    step(joint_city, "admin", b, "FS-1", "cancel", MONDAY_10 + timedelta(hours=3), reason="误加")

    start, end = MONDAY_10 - timedelta(days=1), MONDAY_10 + timedelta(days=1)
    got = {
        r.key: r
        for r in subtask_kpis(
            session, actor=joint_city["admin"], start=start, end=end, now=FRIDAY_10
        )
    }
    police, eco, fire = (str(joint_city[k].id) for k in ("police_w", "eco", "fire"))
    # By hand: police 2 assigned, 1 done on time, 1 overdue → 1/2; ecology 1 done late,
    # 1 waived → 0/1; fire only cancelled → no rate.
    assert (got[police].assigned, got[police].done, got[police].done_on_time) == (2, 1, 1)
    assert (got[police].overdue, got[police].signed, got[police].signed_on_time) == (1, 2, 1)
    assert got[police].on_time_rate == 0.5
    assert (got[eco].assigned, got[eco].done, got[eco].waived, got[eco].overdue) == (2, 1, 1, 0)
    assert got[eco].on_time_rate == 0.0
    assert (got[fire].assigned, got[fire].cancelled, got[fire].on_time_rate) == (0, 1, None)
    # And by independent SQL over the table.
    sql = session.execute(
        text(
            "SELECT unit_id::text, "
            "count(*) FILTER (WHERE status = 'done' AND reported_at <= handle_deadline), "
            "count(*) FILTER (WHERE status = 'done') + count(*) FILTER (WHERE status IN "
            "('dispatched', 'signed') AND handle_deadline < :now) "
            "FROM event_subtask GROUP BY unit_id"
        ),
        {"now": FRIDAY_10},
    ).all()
    for unit, on_time, due in sql:
        assert (got[unit].done_on_time, got[unit].done + got[unit].overdue) == (on_time, due)
    # By department; a dispatcher reads only their own unit's sub-tasks.
    departments = subtask_kpis(
        session, actor=joint_city["admin"], start=start, end=end, by="department", now=FRIDAY_10
    )
    assert sum(r.assigned for r in departments) == 4
    mine = subtask_kpis(session, actor=joint_city["disp_w"], start=start, end=end, now=FRIDAY_10)
    assert [(r.key, r.assigned) for r in mine] == [(police, 2)]
    assert (
        subtask_kpis(session, actor=joint_city["disp_um"], start=start, end=end, now=FRIDAY_10)
        == []
    )


def test_subtask_rows_belong_to_the_events_district(joint_city):
    event = noise(joint_city)
    districts = (
        joint_city["session"]
        .scalars(
            select(EventSubtask.district_code)
            .join(Event, Event.id == EventSubtask.event_id)
            .where(Event.code == event.code)
        )
        .all()
    )
    assert districts == [event.district_code] * 2


def test_a_transfer_or_a_fix_on_the_spot_ends_the_open_subtasks(joint_city):
    session = joint_city["session"]
    city = add_second_district(session, joint_city)
    moved = noise(city)
    step(city, "disp_w", moved, "PS-W", "sign", MONDAY_10 + timedelta(minutes=5))
    do(
        city,
        "command_staff",
        moved,
        "transfer",
        MONDAY_10 + timedelta(hours=1),
        to_district=WJG,
        reason="噪声源在伍家岗区",
    )
    assert rows(session, moved) == [("PS-W", "cancelled"), ("ECO-1", "cancelled")]
    police = task_of(city, moved, "PS-W")
    assert police.end_reason is not None and "伍家岗区" in police.end_reason
    fixed = noise(city)
    do(city, "worker", fixed, "self-resolve", MONDAY_10 + timedelta(minutes=20), photos=[photo()])
    assert rows(session, fixed) == [("PS-W", "cancelled"), ("ECO-1", "cancelled")]


def test_subtask_clocks_stop_while_the_case_is_suspended_and_move_out_on_resume(joint_city):
    event = noise(joint_city)
    at_11 = MONDAY_10.replace(hour=11)
    do(joint_city, "command_staff", event, "suspend", at_11, reason="等待环保监测报告")
    wednesday = MONDAY_10 + timedelta(days=2)
    assert task_of(joint_city, event, "PS-W", now=wednesday).light is Light.GREEN  # as at 11:00
    assert task_of(joint_city, event, "PS-W", now=wednesday).actions == ["waive", "cancel"]
    with pytest.raises(ActionNotAllowed, match="suspended"):
        step(joint_city, "disp_w", event, "PS-W", "sign", wednesday)
    tuesday_11 = at_11 + timedelta(days=1)  # one working day (6.5 h) suspended
    resumed = do(joint_city, "command_staff", event, "resume", tuesday_11)
    police = task_of(joint_city, event, "PS-W", now=tuesday_11)
    assert police.sign_deadline == MON_12 + timedelta(days=1) == resumed.stage_deadline
    assert police.handle_deadline == THU_1730 + timedelta(days=1)
    assert police.light is Light.GREEN  # one hour of two used, as when it stopped
    assert task_of(joint_city, event, "PS-W", now=tuesday_11 + timedelta(minutes=37)).light is (
        Light.YELLOW
    )


def test_a_late_subtask_gets_its_own_supervision_orders_once_per_level(joint_city):
    """The escalation job supervises an assisting unit on its own clock: 一般督办 at yellow,
    重点督办 one second past the deadline, each once, to that unit (and the command centre); the
    case's own level, the lead unit's, is left alone."""
    session = joint_city["session"]
    event = noise(joint_city)
    do(joint_city, "disp_um", event, "sign", MONDAY_10 + timedelta(minutes=5))  # the lead
    step(joint_city, "disp_eco", event, "ECO-1", "sign", MONDAY_10 + timedelta(minutes=30))

    def orders() -> list[tuple[str, str, str]]:
        return [
            tuple(row)
            for row in session.execute(
                text(
                    "SELECT u.code, o.level::text, o.stage::text FROM supervision_order o "
                    "JOIN department_unit u ON u.id = o.unit_id "
                    "JOIN event e ON e.id = o.event_id AND e.district_code = o.district_code "
                    "WHERE e.code = :code ORDER BY o.id"
                ),
                {"code": event.code},
            )
        ]

    # PS-W's sign-for clock runs 10:00 → 12:00 (yellow from 80 %, 11:36 + 1 min).
    escalate_overdue(session, now=MONDAY_10.replace(hour=11, minute=36))
    assert orders() == []
    report = escalate_overdue(session, now=MONDAY_10.replace(hour=11, minute=37))
    assert orders() == [("PS-W", "general", "sign")]
    assert (report.yellow, report.subtasks) == ([], [(event.code, "PS-W", "general")])
    escalate_overdue(session, now=MON_12)  # still yellow: no second 一般督办
    assert orders() == [("PS-W", "general", "sign")]
    escalate_overdue(session, now=MON_12 + timedelta(seconds=1))
    escalate_overdue(session, now=MON_12 + timedelta(minutes=30))
    assert orders() == [("PS-W", "general", "sign"), ("PS-W", "key", "sign")]
    told = session.scalars(
        select(Outbox.payload).where(Outbox.event_id == event.id, Outbox.kind == "supervise")
    ).all()
    assert {p["unit"] for p in told} >= {"PS-W"}
    assert {p["lead_unit"] for p in told} == {"PS-W"}
    # ECO-1 signed in time and UM-1's handling clock is green: neither is supervised, and the
    # case itself carries no supervision level.
    assert session.scalar(select(Event.supervision_level).where(Event.code == event.code)) is None
