"""Joint cases for the people who work them: the sub-tasks of a case, a unit's sub-task queue,
and the steps on a sub-task (`events.subtasks` holds the table and the clocks).

Who may do what (refusals are sentences: 403 for the wrong account, 409 for the wrong state):
- the command centre (and admins), for a case in their area and tier (`check_scope`, as for
  every command-centre action): add an assisting unit to a dispatched case, remove one
  (cancel, with a reason), waive a sub-task (免除, with a reason);
- the assisting unit's dispatchers: sign for their sub-task (签收) and report it done with what
  they did (and photos). The lead unit's dispatchers and any other unit's are refused;
- reading: whoever sees the case (`events.query.visible_to`: an assisting unit's dispatchers
  see the cases they assist while these are open) reads its sub-tasks; a dispatcher's queue
  holds their unit's sub-tasks, the command centre's those of the cases in its area.
Each step locks the case row first, so it queues behind (and is judged after) the lead's
处置完成 or a re-dispatch of the same case.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from events.actions.context import check_scope, locked_event, moment
from events.attachments import PhotoInfo
from events.exceptions import ActionNotAllowed, Conflict, Forbidden, InvalidReport, NotFound
from events.models import (
    Attachment,
    Department,
    DepartmentUnit,
    Event,
    EventCategory,
    EventSubtask,
    SubtaskStatus,
)
from events.photos import attach_photos
from events.query import PHOTO_URL, check_visible, visible_to
from events.schemas import PhotoRef, SubtaskRead, UnitRef
from events.service import get_event
from events.subtasks import (
    ADDING_STATES,
    OPEN_SUBTASK,
    SUBTASK_ACTIONS,
    open_subtask,
    record_subtask_step,
    subtask_light,
)
from events.workflow import SYSTEM
from people.access import Actor
from people.models import Staff, StaffRole

QUEUE_STATUSES = ("open", "all", *(s.value for s in SubtaskStatus))
QUEUE_READERS = frozenset({StaffRole.DISPATCHER, *SYSTEM})
QUEUE_LIMIT = 500


def _require_command(actor: Actor, what: str) -> None:
    if actor.role not in SYSTEM:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not {what}; the command "
            "centre (指挥中心) decides which units assist a case"
        )


def _unit_name(session: Session, unit_id: int | None) -> str:
    unit = session.get(DepartmentUnit, unit_id) if unit_id else None
    return unit.name if unit else "no unit"


def _category(session: Session, event: Event) -> EventCategory:
    category = session.get(EventCategory, event.category_id)
    assert category is not None
    return category


def add_subtask(
    session: Session,
    *,
    actor: Actor,
    code: str,
    unit_id: int,
    note: str | None = None,
    now: datetime | None = None,
) -> SubtaskRead:
    """The command centre adds an assisting unit (增加协办单位) to a dispatched case: the unit
    gets a sub-task with its own clocks and is told."""
    at = moment(now)
    _require_command(actor, "add an assisting unit to a case")
    check_visible(session, actor=actor, event=get_event(session, code=code))
    event = locked_event(session, code)
    check_scope(session, actor, event, "add an assisting unit to")
    if event.status not in ADDING_STATES:
        raise ActionNotAllowed(
            f"案件{event.code}{event.status.label}，不能增加协办单位 (event {event.code} is "
            f"{event.status.value}; assisting units are added while the lead unit holds the "
            "case: dispatched or signed)",
            allowed=[],
        )
    unit = session.get(DepartmentUnit, unit_id)
    if unit is None or not unit.active:
        raise NotFound(f"unit {unit_id} does not exist or is inactive; see GET /api/units")
    if unit.district_code != event.district_code:
        raise InvalidReport(
            f"{unit.name}属于{unit.district_code}，不能协办{event.district_code}的案件 (unit "
            f"{unit_id} is in district {unit.district_code}, not in the case's district "
            f"{event.district_code})",
            field="unit_id",
        )
    if unit.id == event.unit_id:
        raise InvalidReport(
            f"{unit.name}是本案主办单位，不能同时协办 ({unit.name} leads event {event.code}; "
            "choose another unit to assist)",
            field="unit_id",
        )
    running = session.scalar(
        select(EventSubtask).where(
            EventSubtask.event_id == event.id,
            EventSubtask.unit_id == unit.id,
            EventSubtask.status.in_(sorted(OPEN_SUBTASK)),
        )
    )
    if running is not None:
        raise Conflict(
            f"{unit.name}已在协办本案 (sub-task {running.id}, {running.status.label}) "
            f"({unit.name} already assists event {event.code}: sub-task {running.id} is "
            f"{running.status.value})"
        )
    row = open_subtask(
        session,
        event=event,
        category=_category(session, event),
        unit_id=unit.id,
        at=at,
        actor_id=actor.staff_id,
        note=note,
    )
    if unit.id not in (event.assisting_unit_ids or []):
        event.assisting_unit_ids = [*(event.assisting_unit_ids or []), unit.id]
    record_subtask_step(
        session,
        event=event,
        subtask=row,
        action="add",
        at=at,
        actor_id=actor.staff_id,
        note=note or f"增加协办单位 {unit.name}",
        tell=[unit.id, event.unit_id],
    )
    return read_subtasks(session, actor=actor, rows=[row], now=at)[0]


def _load(session: Session, event: Event, subtask_id: int) -> EventSubtask:
    row = session.scalar(
        select(EventSubtask)
        .where(EventSubtask.id == subtask_id, EventSubtask.event_id == event.id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(
            f"event {event.code} has no sub-task {subtask_id}; see GET "
            f"/api/events/{event.code}/subtasks"
        )
    return row


def _check_actor(
    session: Session, actor: Actor, event: Event, row: EventSubtask, action: str
) -> None:
    """Refuse an account that may not take `action` on this sub-task (403, with why)."""
    rule = SUBTASK_ACTIONS[action]
    if actor.role not in rule.roles:
        who = (
            "the assisting unit's dispatchers"
            if rule.roles == {StaffRole.DISPATCHER}
            else "the command centre"
        )
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not {action} "
            f"({rule.label}) a sub-task; that is for {who}"
        )
    if actor.role is StaffRole.DISPATCHER:
        if actor.department_unit_id != row.unit_id:
            mine = "本案主办单位" if actor.department_unit_id == event.unit_id else "其他单位"
            raise Forbidden(
                f"该协办任务属于{_unit_name(session, row.unit_id)}，{mine}不能{rule.label} "
                f"(sub-task {row.id} of event {event.code} is "
                f"{_unit_name(session, row.unit_id)}'s, not your unit's "
                f"({_unit_name(session, actor.department_unit_id)}); only its own dispatchers "
                f"may {action} it)"
            )
    else:
        check_scope(session, actor, event, f"{action} a sub-task of")


def act_on_subtask(
    session: Session,
    *,
    actor: Actor,
    code: str,
    subtask_id: int,
    action: str,
    note: str | None = None,
    reason: str | None = None,
    photos: list[PhotoInfo] | None = None,
    photo_dir: Path | None = None,
    now: datetime | None = None,
) -> SubtaskRead:
    """Take `action` (sign, report, waive or cancel: `SUBTASK_ACTIONS`) on sub-task
    `subtask_id` of case `code` as `actor`, and return the sub-task as it now stands."""
    at = moment(now)
    rule = SUBTASK_ACTIONS.get(action)
    if rule is None:
        raise InvalidReport(
            f"'{action}' is not a sub-task step; the steps are {', '.join(SUBTASK_ACTIONS)}"
        )
    check_visible(session, actor=actor, event=get_event(session, code=code))
    event = locked_event(session, code)
    row = _load(session, event, subtask_id)
    _check_actor(session, actor, event, row, action)
    if photos and action != "report":
        raise InvalidReport(f"{action} ({rule.label}) takes no photos; send them with the report")
    if row.status not in rule.sources:
        possible = [a for a, r in SUBTASK_ACTIONS.items() if row.status in r.sources]
        raise ActionNotAllowed(
            f"协办任务{row.id}{row.status.label}，不能{rule.label} (sub-task {row.id} of event "
            f"{event.code} is {row.status.value}; from there the possible steps are: "
            f"{', '.join(possible) or 'none (it has ended)'})",
            allowed=possible,
        )
    if event.status not in rule.case_states:
        raise ActionNotAllowed(
            f"案件{event.code}{event.status.label}，协办任务现在不能{rule.label} (event "
            f"{event.code} is {event.status.value}; sub-tasks are worked while the lead unit "
            "holds the case, and wait while it is suspended)",
            allowed=[],
        )
    tell: list[int | None] = [event.unit_id]
    data: dict[str, Any] = {}
    if action == "sign":
        row.signed_at, row.signed_by, row.clock_started_at = at, actor.staff_id, at
        data["on_time"] = at <= row.sign_deadline
    elif action == "report":
        if note is None:
            raise InvalidReport(
                "reporting a sub-task needs a note: what your unit did (协办处置情况)",
                field="note",
            )
        row.reported_at, row.reported_by, row.report = at, actor.staff_id, note
        row.ended_at, row.ended_by = at, actor.staff_id
        data["on_time"] = at <= row.handle_deadline
    else:
        if reason is None:
            raise InvalidReport(
                f"{rule.label}须说明理由 ({action} needs a reason: why the unit's part is "
                f"{'no longer needed' if action == 'waive' else 'withdrawn'})",
                field="reason",
            )
        row.ended_at, row.ended_by, row.end_reason = at, actor.staff_id, reason
        data["reason"] = reason
        tell.append(row.unit_id)
        if action == "cancel":
            _drop_assisting(session, event, row)
    row.status = rule.target
    session.flush()
    step = record_subtask_step(
        session,
        event=event,
        subtask=row,
        action=action,
        at=at,
        actor_id=actor.staff_id,
        note=note or reason or rule.label,
        tell=tell,
        data=data,
    )
    if action == "report":
        row.report_step_id = step.id
        if photos:
            attach_photos(session, event=event, step=step, photos=photos, directory=photo_dir)
    session.flush()
    return read_subtasks(session, actor=actor, rows=[row], now=at)[0]


def _drop_assisting(session: Session, event: Event, row: EventSubtask) -> None:
    """A unit removed from the case stops assisting it (and seeing it), unless it still has
    another sub-task on it."""
    others = session.scalar(
        select(EventSubtask.id).where(
            EventSubtask.event_id == event.id,
            EventSubtask.unit_id == row.unit_id,
            EventSubtask.id != row.id,
            EventSubtask.status != SubtaskStatus.CANCELLED,
        )
    )
    if others is None:
        event.assisting_unit_ids = [u for u in event.assisting_unit_ids or [] if u != row.unit_id]


def event_subtasks(
    session: Session, *, actor: Actor, code: str, now: datetime | None = None
) -> list[SubtaskRead]:
    """The sub-tasks of case `code` (every one, ended too), for whoever sees the case."""
    at = moment(now)
    event = get_event(session, code=code)
    check_visible(session, actor=actor, event=event)
    rows = session.scalars(
        select(EventSubtask).where(EventSubtask.event_id == event.id).order_by(EventSubtask.id)
    ).all()
    return read_subtasks(session, actor=actor, rows=list(rows), now=at)


def subtask_queue(
    session: Session, *, actor: Actor, status: str = "open", now: datetime | None = None
) -> list[SubtaskRead]:
    """A dispatcher's queue of their unit's sub-tasks (the command centre's: those of the cases
    in its area), by status (`open`: 待签收 and 处置中), the running deadline first."""
    at = moment(now)
    if actor.role not in QUEUE_READERS:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account has no sub-task queue; "
            "assisting units' dispatchers and the command centre do"
        )
    wanted = status.strip() or "open"
    if wanted not in QUEUE_STATUSES:
        raise InvalidReport(
            f"status '{status}' is not one of {', '.join(QUEUE_STATUSES)}", field="status"
        )
    query = select(EventSubtask).join(
        Event,
        (Event.id == EventSubtask.event_id) & (Event.district_code == EventSubtask.district_code),
    )
    if actor.role is StaffRole.DISPATCHER:
        query = query.where(EventSubtask.unit_id == actor.department_unit_id)
    else:
        query = query.where(visible_to(actor))
    if wanted == "open":
        query = query.where(EventSubtask.status.in_(sorted(OPEN_SUBTASK)))
    elif wanted != "all":
        query = query.where(EventSubtask.status == SubtaskStatus(wanted))
    running = case(
        (EventSubtask.status == SubtaskStatus.DISPATCHED, EventSubtask.sign_deadline),
        else_=EventSubtask.handle_deadline,
    )
    rows = session.scalars(query.order_by(running, EventSubtask.id).limit(QUEUE_LIMIT)).all()
    return read_subtasks(session, actor=actor, rows=list(rows), now=at)


def _allowed(actor: Actor, event: Event, row: EventSubtask) -> list[str]:
    """The steps `actor` may take on the sub-task now (scope as the steps check it)."""
    steps = []
    for action, rule in SUBTASK_ACTIONS.items():
        if event.status not in rule.case_states:
            continue
        if row.status not in rule.sources or actor.role not in rule.roles:
            continue
        if actor.role is StaffRole.DISPATCHER and actor.department_unit_id != row.unit_id:
            continue
        steps.append(action)
    return steps


def read_subtasks(
    session: Session, *, actor: Actor, rows: list[EventSubtask], now: datetime
) -> list[SubtaskRead]:
    """The sub-tasks as people read them: the case, both units, clocks, light and report."""
    if not rows:
        return []
    events = {
        e.id: (e, category_name, major_name)
        for e, category_name, major_name in session.execute(
            select(Event, EventCategory.name, EventCategory.major_name)
            .join(EventCategory, EventCategory.id == Event.category_id)
            .where(Event.id.in_({r.event_id for r in rows}))
        )
    }
    unit_ids = {r.unit_id for r in rows} | {e.unit_id for e, _, _ in events.values() if e.unit_id}
    units = {
        u.id: (u, department)
        for u, department in session.execute(
            select(DepartmentUnit, Department.name)
            .join(Department, Department.id == DepartmentUnit.department_id)
            .where(DepartmentUnit.id.in_(unit_ids))
        )
    }
    staff_ids = {
        s
        for r in rows
        for s in (r.opened_by, r.signed_by, r.reported_by, r.ended_by)
        if s is not None
    }
    names = (
        dict(session.execute(select(Staff.id, Staff.username).where(Staff.id.in_(staff_ids))).all())
        if staff_ids
        else {}
    )
    photos = _report_photos(session, rows, {e.id: e.code for e, _, _ in events.values()})

    def unit_ref(unit_id: int | None) -> UnitRef | None:
        if unit_id is None or unit_id not in units:
            return None
        unit = units[unit_id][0]
        return UnitRef(
            id=unit.id,
            code=unit.code,
            name=unit.name,
            dept_type=unit.dept_type.value,
            dept_label=unit.dept_type.label,
        )

    result = []
    for row in rows:
        event, category_name, major_name = events[row.event_id]
        light = subtask_light(session, subtask=row, event=event, now=now)
        assisting = unit_ref(row.unit_id)
        assert assisting is not None
        result.append(
            SubtaskRead(
                id=row.id,
                event_code=event.code,
                event_status=event.status,
                event_status_label=event.status.label,
                category_name=f"{major_name}/{category_name}",
                description=event.description,
                address=event.address,
                lead_unit=unit_ref(event.unit_id),
                unit=assisting,
                department=units[row.unit_id][1],
                status=row.status,
                status_label=row.status.label,
                note=row.note,
                opened_at=row.opened_at,
                opened_by=names.get(row.opened_by) if row.opened_by else None,
                sign_deadline=row.sign_deadline,
                handle_deadline=row.handle_deadline,
                signed_at=row.signed_at,
                signed_by=names.get(row.signed_by) if row.signed_by else None,
                reported_at=row.reported_at,
                reported_by=names.get(row.reported_by) if row.reported_by else None,
                report=row.report,
                photos=photos.get(row.id, []),
                ended_at=row.ended_at,
                ended_by=names.get(row.ended_by) if row.ended_by else None,
                end_reason=row.end_reason,
                on_time=(
                    row.reported_at <= row.handle_deadline
                    if row.status is SubtaskStatus.DONE and row.reported_at is not None
                    else None
                ),
                light=light,
                light_label=light.label if light else None,
                actions=_allowed(actor, event, row),
            )
        )
    return result


def _report_photos(
    session: Session, rows: list[EventSubtask], codes: dict[int, str]
) -> dict[int, list[PhotoRef]]:
    """The photos sent with each sub-task's report (they hang on its report step)."""
    steps = {r.report_step_id: r for r in rows if r.report_step_id is not None}
    if not steps:
        return {}
    found: dict[int, list[PhotoRef]] = {}
    for a in session.scalars(
        select(Attachment).where(Attachment.step_id.in_(steps)).order_by(Attachment.id)
    ):
        row = steps[a.step_id]  # type: ignore[index]
        url = PHOTO_URL.format(code=codes[row.event_id], id=a.id)
        found.setdefault(row.id, []).append(
            PhotoRef(
                id=a.id,
                url=url,
                thumbnail_url=url + "/thumbnail",
                content_type=a.content_type,
                width=a.width,
                height=a.height,
                step_id=a.step_id,
            )
        )
    return found


__all__ = [
    "QUEUE_STATUSES",
    "act_on_subtask",
    "add_subtask",
    "event_subtasks",
    "read_subtasks",
    "subtask_queue",
]
