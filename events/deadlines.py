"""Stage deadlines: started, due and ended on the work calendar; lights from the time used."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.calendar import Light, Limit, LimitUnit
from events.catalog import Priority
from events.models import Event, EventCategory, EventStage, Stage
from events.reference import work_calendar
from gis.config import get_settings

# The category column holding each stage's limit; the check (核实) uses the sign-for limit.
LIMIT_COLUMN = {
    Stage.CHECK: "sign_limit",
    Stage.SIGN: "sign_limit",
    Stage.HANDLE: "handle_limit",
    Stage.VERIFY: "verify_limit",
}


def stage_limit(category: EventCategory, stage: Stage) -> Limit:
    """The time limit of `stage` for events of `category` (the reply's, 立案's and 派遣's are
    settings)."""
    settings = get_settings()
    if stage is Stage.REPLY:
        return Limit.parse(settings.reply_limit)
    if stage is Stage.REGISTER:
        return Limit.parse(settings.register_limit)
    if stage is Stage.DISPATCH:
        return Limit.parse(settings.dispatch_limit)
    return Limit.parse(getattr(category, LIMIT_COLUMN[stage]))


def due_at(
    session: Session,
    *,
    category: EventCategory,
    stage: Stage,
    start: datetime,
    priority: Priority | None = None,
) -> datetime:
    """When a stage started at `start` is due (`priority`: the event's, when it differs from
    its category's, as a leader's instruction 领导批示 is always urgent).

    Urgent (特急) events run on the clock, not office hours: a fire at 22:00 on Saturday
    cannot wait for Monday morning. Everything else counts working time on the calendar.
    """
    limit = stage_limit(category, stage)
    if (priority or category.priority) is Priority.URGENT:
        hours = limit.amount if limit.unit is LimitUnit.HOURS else limit.amount * 24
        return start + timedelta(hours=hours)
    return work_calendar(session).add(start, limit)


def start_stage(
    session: Session,
    *,
    event: Event,
    category: EventCategory,
    stage: Stage,
    at: datetime,
    unit_id: int | None = None,
) -> EventStage:
    """Open `stage` for `event` now and set the event's running clock to it."""
    end_stage(session, event=event, at=at)
    deadline = due_at(session, category=category, stage=stage, start=at, priority=event.priority)
    row = EventStage(
        event_id=event.id,
        district_code=event.district_code,
        stage=stage,
        unit_id=unit_id,
        started_at=at,
        deadline=deadline,
    )
    session.add(row)
    event.stage, event.stage_started_at, event.stage_deadline = stage, at, deadline
    event.supervision_level = None
    session.flush()
    return row


def end_stage(session: Session, *, event: Event, at: datetime) -> EventStage | None:
    """Close the event's open stage, recording whether it ended in time."""
    row = session.scalar(
        select(EventStage).where(EventStage.event_id == event.id, EventStage.ended_at.is_(None))
    )
    if row is not None:
        row.ended_at, row.on_time = at, at <= row.deadline
    event.stage, event.stage_started_at, event.stage_deadline = None, None, None
    return row


def extend_stage(session: Session, *, event: Event, new_deadline: datetime) -> None:
    """Move the running stage's deadline (an approved extension or time spent suspended)."""
    row = session.scalar(
        select(EventStage).where(EventStage.event_id == event.id, EventStage.ended_at.is_(None))
    )
    if row is not None:
        row.deadline = new_deadline
    event.stage_deadline = new_deadline


def light(session: Session, *, event: Event, now: datetime) -> Light | None:
    """Green ≤ 80 % of the stage's time used, yellow to 100 %, red overdue; None when no clock."""
    if event.stage_started_at is None or event.stage_deadline is None:
        return None
    if event.suspended_at is not None:
        now = event.suspended_at  # the clock stops while suspended (挂账)
    if event.priority is Priority.URGENT:
        total = (event.stage_deadline - event.stage_started_at).total_seconds()
        used = (now - event.stage_started_at).total_seconds() / total if total > 0 else 1.0
        return Light.GREEN if used <= 0.8 else Light.YELLOW if used <= 1.0 else Light.RED
    return work_calendar(session).light(event.stage_started_at, event.stage_deadline, now)
