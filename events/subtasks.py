"""Joint cases (主办/协办): one sub-task (协办任务) per assisting unit of a dispatched case.

A case has one lead unit (`event.unit_id`, 主办) and any number of assisting units
(`event.assisting_unit_ids`, 协办). When the case is dispatched, `open_subtasks` gives each
assisting unit a sub-task with clocks of its own on the work calendar (urgent cases on the wall
clock, like every stage): sign for it by the category's sign-for limit from the dispatch, and
report it done by the handling limit counted from that sign-for deadline. The assisting unit's
dispatchers sign for it and report what they did; the command centre may add units, remove
them (撤销) or waive a sub-task (免除) with a reason. A new dispatch replaces the sub-tasks, and
a case returned, voided, transferred or fixed on the spot ends them (`cancel_subtasks`).

The lead cannot report the case handled while a sub-task is open (`refuse_handling_while_open`).

    待签收 dispatched --sign--> 处置中 signed --report--> 已完成 done
         \\---------------------\\--waive--> 已免除 waived, --cancel--> 已撤销 cancelled

`SUBTASK_ACTIONS` is the one table of which step is possible from which state and for whom;
`events.joint` runs the steps for an account. Lights use `events.deadlines.light`, the one
definition: green while at most 80 % of the running clock is used, yellow to 100 %, red after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from events import deadlines
from events.calendar import Light
from events.exceptions import ActionNotAllowed
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventStatus,
    EventStep,
    EventSubtask,
    Stage,
    SubtaskStatus,
)
from events.outbox import notify
from events.workflow import SYSTEM, add_step
from people.models import StaffRole

OPEN_SUBTASK = frozenset({SubtaskStatus.DISPATCHED, SubtaskStatus.SIGNED})
# The case states in which the assisting units work on their part (the lead holds the case);
# while it is suspended (挂账) their clocks stop with it and only the command centre acts.
WORKING_STATES = frozenset({EventStatus.DISPATCHED, EventStatus.SIGNED})
HELD_STATES = WORKING_STATES | {EventStatus.SUSPENDED}
# The command centre adds an assisting unit only while the lead is still at work.
ADDING_STATES = WORKING_STATES


@dataclass(frozen=True)
class SubtaskAction:
    """A step on a sub-task: the states it starts from, the state it leads to, who may, and
    in which states of the case."""

    label: str
    sources: frozenset[SubtaskStatus]
    target: SubtaskStatus
    roles: frozenset[StaffRole]
    case_states: frozenset[EventStatus]


SUBTASK_ACTIONS: dict[str, SubtaskAction] = {
    "sign": SubtaskAction(
        "协办签收",
        frozenset({SubtaskStatus.DISPATCHED}),
        SubtaskStatus.SIGNED,
        frozenset({StaffRole.DISPATCHER}),
        WORKING_STATES,
    ),
    "report": SubtaskAction(
        "协办完成",
        frozenset({SubtaskStatus.SIGNED}),
        SubtaskStatus.DONE,
        frozenset({StaffRole.DISPATCHER}),
        WORKING_STATES,
    ),
    "waive": SubtaskAction("免除协办", OPEN_SUBTASK, SubtaskStatus.WAIVED, SYSTEM, HELD_STATES),
    "cancel": SubtaskAction("撤销协办", OPEN_SUBTASK, SubtaskStatus.CANCELLED, SYSTEM, HELD_STATES),
}


def open_subtask(
    session: Session,
    *,
    event: Event,
    category: EventCategory,
    unit_id: int,
    at: datetime,
    actor_id: int | None = None,
    note: str | None = None,
) -> EventSubtask:
    """Open one sub-task for `unit_id`: sign for it by the sign-for limit, report it done by
    the handling limit after that (both on the work calendar, on the clock if urgent)."""
    sign_by = deadlines.due_at(
        session, category=category, stage=Stage.SIGN, start=at, priority=event.priority
    )
    handle_by = deadlines.due_at(
        session, category=category, stage=Stage.HANDLE, start=sign_by, priority=event.priority
    )
    row = EventSubtask(
        event_id=event.id,
        district_code=event.district_code,
        unit_id=unit_id,
        status=SubtaskStatus.DISPATCHED,
        opened_at=at,
        opened_by=actor_id,
        note=note,
        sign_deadline=sign_by,
        handle_deadline=handle_by,
        clock_started_at=at,
    )
    session.add(row)
    session.flush()
    return row


def open_subtasks(
    session: Session, *, event: Event, category: EventCategory, at: datetime
) -> list[EventSubtask]:
    """The case was just dispatched: its earlier sub-tasks give way, and each assisting unit
    (`event.assisting_unit_ids`, other than the lead) gets a new one."""
    cancel_subtasks(
        session, event=event, at=at, reason="案件重新派遣 (the case was dispatched again)"
    )
    return [
        open_subtask(session, event=event, category=category, unit_id=unit_id, at=at)
        for unit_id in dict.fromkeys(event.assisting_unit_ids or [])
        if unit_id != event.unit_id
    ]


def cancel_subtasks(
    session: Session, *, event: Event, at: datetime, reason: str, actor_id: int | None = None
) -> list[EventSubtask]:
    """End the case's open sub-tasks as cancelled (已撤销): the case was re-dispatched,
    returned, voided, transferred or fixed on the spot, so the units' part lapses."""
    rows = list(
        session.scalars(
            select(EventSubtask).where(
                EventSubtask.event_id == event.id, EventSubtask.status.in_(sorted(OPEN_SUBTASK))
            )
        )
    )
    for row in rows:
        row.status, row.ended_at, row.ended_by = SubtaskStatus.CANCELLED, at, actor_id
        row.end_reason = reason[:300]
    if rows:
        session.flush()
    return rows


def resume_subtasks(
    session: Session, *, event: Event, shift: Callable[[datetime], datetime]
) -> None:
    """The case comes back from 挂账: its open sub-tasks' clocks stopped with it, so their
    deadlines and running clock's start move out by `shift` (the case's own, 挂账 time)."""
    for row in session.scalars(
        select(EventSubtask).where(
            EventSubtask.event_id == event.id, EventSubtask.status.in_(sorted(OPEN_SUBTASK))
        )
    ):
        row.sign_deadline = shift(row.sign_deadline)
        row.handle_deadline = shift(row.handle_deadline)
        row.clock_started_at = shift(row.clock_started_at)
    session.flush()


def subtasks_of(session: Session, *, event: Event) -> Sequence[EventSubtask]:
    """The case's sub-tasks, oldest first."""
    return session.scalars(
        select(EventSubtask).where(EventSubtask.event_id == event.id).order_by(EventSubtask.id)
    ).all()


def open_subtasks_of(session: Session, *, event: Event) -> bool:
    """Whether an assisting unit's sub-task of the case is still open."""
    return (
        session.scalar(
            select(EventSubtask.id)
            .where(
                EventSubtask.event_id == event.id,
                EventSubtask.district_code == event.district_code,
                EventSubtask.status.in_(sorted(OPEN_SUBTASK)),
            )
            .limit(1)
        )
        is not None
    )


def refuse_handling_while_open(session: Session, *, event: Event) -> None:
    """Refuse the lead's 处置完成 while an assisting unit's sub-task is open, naming them."""
    waiting = session.execute(
        select(EventSubtask, DepartmentUnit.name)
        .join(DepartmentUnit, DepartmentUnit.id == EventSubtask.unit_id)
        .where(EventSubtask.event_id == event.id, EventSubtask.status.in_(sorted(OPEN_SUBTASK)))
        .order_by(EventSubtask.id)
    ).all()
    if not waiting:
        return
    names = "、".join(f"{name}（{row.status.label}）" for row, name in waiting)
    ids = ", ".join(f"sub-task {row.id} of {name} ({row.status.value})" for row, name in waiting)
    raise ActionNotAllowed(
        f"案件{event.code}还有协办任务未完成：{names}；协办单位完成后或指挥中心免除后方可办结 "
        f"(event {event.code} cannot be reported handled while assisting units' sub-tasks are "
        f"open: {ids}; each unit reports its part, or the command centre waives it with a "
        "reason)",
        allowed=["extend"],
    )


def subtask_light(
    session: Session, *, subtask: EventSubtask, event: Event, now: datetime
) -> Light | None:
    """The light of the sub-task's running clock (sign-for while dispatched, then handling from
    the sign-for), stopped while the case is suspended; None once it has ended. Computed by
    `deadlines.light`, the one definition."""
    if subtask.status is SubtaskStatus.DISPATCHED:
        deadline = subtask.sign_deadline
    elif subtask.status is SubtaskStatus.SIGNED:
        deadline = subtask.handle_deadline
    else:
        return None
    clock = Event(  # a detached event carrying only the clock, as escalation and lists do
        priority=event.priority,
        stage_started_at=subtask.clock_started_at,
        stage_deadline=deadline,
        suspended_at=event.suspended_at,
    )
    return deadlines.light(session, event=clock, now=now)


def record_subtask_step(
    session: Session,
    *,
    event: Event,
    subtask: EventSubtask,
    action: str,
    at: datetime,
    actor_id: int | None,
    note: str | None,
    tell: list[int | None],
    data: dict[str, object] | None = None,
) -> EventStep:
    """One event_step (action `subtask-<action>`, the case's state unchanged) for the audit
    trail, and one outbox row for each unit to `tell`."""
    step = add_step(
        session,
        event=event,
        action=f"subtask-{action}",
        to_status=event.status,
        at=at,
        actor_id=actor_id,
        unit_id=subtask.unit_id,
        note=note,
        data={
            "subtask": {
                "id": subtask.id,
                "unit_id": subtask.unit_id,
                "status": subtask.status.value,
                **(data or {}),
            }
        },
    )
    units = list(dict.fromkeys(u for u in tell if u is not None))
    if units:
        rows = notify(session, event=event, step=step, unit_ids=units, kind=step.action, at=at)
        for row in rows:
            row.payload = {
                **row.payload,
                "subtask_id": subtask.id,
                "sign_deadline": subtask.sign_deadline.isoformat(),
                "handle_deadline": subtask.handle_deadline.isoformat(),
            }
    return step


__all__ = [
    "ADDING_STATES",
    "HELD_STATES",
    "OPEN_SUBTASK",
    "SUBTASK_ACTIONS",
    "WORKING_STATES",
    "SubtaskAction",
    "cancel_subtasks",
    "open_subtask",
    "open_subtasks",
    "open_subtasks_of",
    "record_subtask_step",
    "refuse_handling_while_open",
    "resume_subtasks",
    "subtask_light",
    "subtasks_of",
]
