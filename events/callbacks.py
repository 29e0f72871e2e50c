"""Callbacks (回访) after a citizen case closes, and the caller's satisfaction (满意度).

A citizen-raised case (`CITIZEN_SOURCES`) closes by the operator's reply (答复, the `reply`
action); closing opens a callback due `CALLBACK_LIMIT` working time later. The operator records
each attempt:

- 满意 / 基本满意: the callback ends, reached;
- 不满意, with the caller's reason: the case is reopened (重办, the `reopen` action) to the same
  unit with a fresh handling deadline, and runs handle → verify → reply again, which opens a
  new callback; a second 不满意 on the same case goes to the command centre's review (复核)
  instead (status `review`, listed by `review_list`);
- 未接通: nobody answered; after `MAX_ATTEMPTS` such attempts the callback ends unreached.

Only the command centre (and admins) call back, within their area, like `events.query`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from events import deadlines
from events.actions import act
from events.calendar import Limit
from events.evaluation import evaluate_event
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport, NotFound
from events.models import Callback as CallbackRow
from events.models import (
    CallbackStatus,
    DepartmentUnit,
    Event,
    EventCategory,
    EventStep,
    Satisfaction,
)
from events.query import check_visible, visible_to
from events.reference import work_calendar
from events.schemas import (
    OUTCOME_LABELS,
    ActionInput,
    CallbackAttempt,
    CallbackInput,
    CallbackRead,
)
from events.service import get_event
from events.workflow import SYSTEM
from gis.clock import CHINA_TZ
from gis.config import get_settings
from people.access import Actor

MAX_ATTEMPTS: Final = 3  # 未接通 three times: the callback ends unreached
SATISFIED: Final = frozenset({Satisfaction.SATISFIED, Satisfaction.FAIRLY_SATISFIED})
# The steps that answer a caller (their data holds reply, reply_channel, replied_at).
REPLY_ACTIONS: Final = ("reply", "direct-reply")


def _moment(now: datetime | None) -> datetime:
    at = now or datetime.now(UTC)
    if at.utcoffset() is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    return at


def callback_due(session: Session, *, at: datetime) -> datetime:
    """When a callback opened at `at` is due: CALLBACK_LIMIT of working time later."""
    return work_calendar(session).add(at, Limit.parse(get_settings().callback_limit))


def open_callback(session: Session, *, event: Event, at: datetime) -> CallbackRow:
    """Open the callback (回访) of a citizen case that has just closed at `at`."""
    rounds = session.scalar(
        select(func.count()).select_from(CallbackRow).where(CallbackRow.event_id == event.id)
    )
    row = CallbackRow(
        event_id=event.id,
        district_code=event.district_code,
        round=int(rounds or 0) + 1,
        status=CallbackStatus.DUE,
        opened_at=at,
        due_at=callback_due(session, at=at),
        attempts=0,
        attempt_log=[],
    )
    session.add(row)
    session.flush()
    return row


def reopening_callback(session: Session, *, event: Event) -> CallbackRow | None:
    """The callback whose 不满意 the event is being reopened for, if there is one waiting."""
    row = session.scalar(
        select(CallbackRow)
        .where(CallbackRow.event_id == event.id)
        .order_by(CallbackRow.id.desc())
        .limit(1)
    )
    if (
        row is None
        or row.status is not CallbackStatus.REACHED
        or row.satisfaction is not Satisfaction.DISSATISFIED
        or row.reopen_step_id is not None
    ):
        return None
    return row


def _require_command(actor: Actor) -> None:
    if actor.role not in SYSTEM:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not call callers back; "
            "callbacks (回访) are the command centre's"
        )


def record_callback(
    session: Session,
    *,
    actor: Actor,
    code: str,
    entry: CallbackInput,
    now: datetime | None = None,
) -> CallbackRead:
    """Record one callback attempt on event `code` and return the callback as it now stands;
    a first 不满意 reopens the case (重办) to its unit, a second (or any on a case answered
    at once, which has no unit) goes to review (复核)."""
    at = _moment(now)
    _require_command(actor)
    event = get_event(session, code=code.strip())
    check_visible(session, actor=actor, event=event)
    row = session.scalar(
        select(CallbackRow)
        .where(CallbackRow.event_id == event.id, CallbackRow.ended_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise ActionNotAllowed(
            f"案件{event.code}没有待回访的任务 (event {event.code} has no callback waiting; a "
            "callback opens when a citizen's case is closed by the reply to the caller)"
        )
    if entry.outcome == "dissatisfied" and entry.note is None:
        raise InvalidReport(
            "不满意须记录来电人的理由 (a 不满意 needs the caller's reason in note: it goes to "
            "the unit with the reopened case)",
            field="note",
        )
    row.attempts += 1
    row.attempt_log = [
        *row.attempt_log,
        {
            "at": at.isoformat(),
            "outcome": entry.outcome,
            "note": entry.note,
            "actor": actor.username,
        },
    ]
    row.actor_id = actor.staff_id
    if entry.outcome == "no_answer":
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.ended_at = CallbackStatus.UNREACHED, at
        session.flush()
        return read_callbacks(session, rows=[row], now=at)[0]
    satisfaction = Satisfaction(entry.outcome)
    row.satisfaction, row.note, row.ended_at = satisfaction, entry.note, at
    row.status = CallbackStatus.REACHED
    if satisfaction is Satisfaction.DISSATISFIED:
        earlier = session.scalar(
            select(func.count())
            .select_from(CallbackRow)
            .where(
                CallbackRow.event_id == event.id,
                CallbackRow.id != row.id,
                CallbackRow.satisfaction == Satisfaction.DISSATISFIED,
            )
        )
        if earlier or event.unit_id is None:
            # Twice not satisfied, or answered at once (直办) with no unit to reopen it to:
            # the command centre reviews it.
            row.status = CallbackStatus.REVIEW
        else:
            session.flush()
            assert entry.note is not None
            act(
                session,
                actor=actor,
                code=event.code,
                action="reopen",
                data=ActionInput(reason=entry.note[:300], note=entry.note),
                now=at,
            )
    evaluate_event(session, event=event, at=at)  # 考评: scored with the satisfaction, or reopened
    session.flush()
    return read_callbacks(session, rows=[row], now=at)[0]


def review_callback(
    session: Session, *, actor: Actor, callback_id: int, note: str, now: datetime | None = None
) -> CallbackRead:
    """Record the command centre's review (复核) of a case twice not satisfied; it leaves the
    review list."""
    at = _moment(now)
    _require_command(actor)
    row = session.scalar(select(CallbackRow).where(CallbackRow.id == callback_id).with_for_update())
    event = session.get(Event, row.event_id) if row is not None else None
    if row is None or event is None:
        raise NotFound(f"callback {callback_id} does not exist")
    check_visible(session, actor=actor, event=event)
    if row.status is not CallbackStatus.REVIEW:
        raise ActionNotAllowed(
            f"callback {callback_id} of event {event.code} is {row.status.label} "
            f"({row.status.value}), not waiting for review (待复核)"
        )
    row.status, row.reviewed_at, row.review_note = CallbackStatus.REVIEWED, at, note.strip()
    session.flush()
    return read_callbacks(session, rows=[row], now=at)[0]


DUE_CHOICES: Final = ("all", "today", "overdue")


def _due_before(due: str, now: datetime) -> datetime | None:
    """The end of the day a queue filter `due` names (None: no limit)."""
    if due == "all":
        return None
    if due == "overdue":
        return now
    try:
        day = now.astimezone(CHINA_TZ).date() if due == "today" else date.fromisoformat(due)
    except ValueError:
        raise InvalidReport(
            f"due '{due}' is not all, today, overdue or a day (2026-11-26)", field="due"
        ) from None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=CHINA_TZ)


def _scoped(actor: Actor) -> Select[Any]:
    return (
        select(CallbackRow)
        .join(Event, Event.id == CallbackRow.event_id)
        .where(Event.district_code == CallbackRow.district_code, visible_to(actor))
    )


def callback_queue(
    session: Session, *, actor: Actor, due: str = "all", now: datetime | None = None
) -> list[CallbackRead]:
    """The open callbacks in the actor's area, soonest due first: all of them, those due by
    the end of today or of a given day, or the overdue ones."""
    at = _moment(now)
    _require_command(actor)
    limit = _due_before(due.strip() or "all", at)
    query = _scoped(actor).where(CallbackRow.ended_at.is_(None))
    if limit is not None:
        query = query.where(CallbackRow.due_at < limit)
    rows = list(session.scalars(query.order_by(CallbackRow.due_at, CallbackRow.id).limit(500)))
    return read_callbacks(session, rows=rows, now=at)


def review_list(
    session: Session, *, actor: Actor, now: datetime | None = None
) -> list[CallbackRead]:
    """Cases twice not satisfied, waiting for the command centre's review (复核), oldest first."""
    at = _moment(now)
    _require_command(actor)
    rows = session.scalars(
        _scoped(actor)
        .where(CallbackRow.status == CallbackStatus.REVIEW)
        .order_by(CallbackRow.ended_at, CallbackRow.id)
        .limit(500)
    )
    return read_callbacks(session, rows=list(rows), now=at)


def latest_replies(session: Session, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The data of each event's latest step that answered the caller (reply, direct-reply)."""
    if not event_ids:
        return {}
    last = (
        select(func.max(EventStep.id))
        .where(EventStep.event_id.in_(event_ids), EventStep.action.in_(REPLY_ACTIONS))
        .group_by(EventStep.event_id)
    )
    latest = select(EventStep.event_id, EventStep.data).where(
        EventStep.event_id.in_(event_ids), EventStep.id.in_(last)
    )
    return {event_id: data for event_id, data in session.execute(latest)}


def read_callbacks(
    session: Session, *, rows: list[CallbackRow], now: datetime
) -> list[CallbackRead]:
    """The callbacks as the operator reads them, with their cases (caller's phone masked)."""
    ids = list({r.event_id for r in rows})
    cases = {
        event.id: (event, category_name, unit_name)
        for event, category_name, unit_name in session.execute(
            select(Event, EventCategory.name, DepartmentUnit.name)
            .join(EventCategory, EventCategory.id == Event.category_id)
            .outerjoin(DepartmentUnit, DepartmentUnit.id == Event.unit_id)
            .where(Event.id.in_(ids))
        )
    }
    replies = latest_replies(session, ids)
    result = []
    for row in rows:
        event, category_name, unit_name = cases[row.event_id]
        reply = replies.get(row.event_id, {})
        due = (
            deadlines.deadline_clock(session, start=row.opened_at, deadline=row.due_at, now=now)
            if row.ended_at is None
            else None
        )
        replied_at = reply.get("replied_at")
        result.append(
            CallbackRead(
                id=row.id,
                event_code=event.code,
                round=row.round,
                status=row.status,
                status_label=row.status.label,
                opened_at=row.opened_at,
                due_at=row.due_at,
                light=due.light if due else None,
                time_left=due.text if due else None,
                attempts=row.attempts,
                attempt_log=[
                    CallbackAttempt(
                        at=datetime.fromisoformat(a["at"]),
                        outcome=a["outcome"],
                        outcome_label=OUTCOME_LABELS.get(a["outcome"], a["outcome"]),
                        note=a.get("note"),
                        actor=a.get("actor"),
                    )
                    for a in row.attempt_log
                ],
                satisfaction=row.satisfaction,
                satisfaction_label=row.satisfaction.label if row.satisfaction else None,
                note=row.note,
                ended_at=row.ended_at,
                reviewed_at=row.reviewed_at,
                review_note=row.review_note,
                event_status=event.status,
                event_status_label=event.status.label,
                source=event.source,
                source_label=event.source.label,
                category_name=category_name,
                description=event.description,
                address=event.address,
                unit=unit_name,
                contact_masked=event.contact_masked,
                unmask_url=f"/api/events/{event.code}/contact/unmask",
                reply=reply.get("reply"),
                reply_channel=reply.get("reply_channel"),
                replied_at=datetime.fromisoformat(replied_at) if replied_at else None,
            )
        )
    return result


__all__ = [
    "DUE_CHOICES",
    "MAX_ATTEMPTS",
    "callback_due",
    "callback_queue",
    "latest_replies",
    "open_callback",
    "read_callbacks",
    "record_callback",
    "reopening_callback",
    "review_callback",
    "review_list",
]
