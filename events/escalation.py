"""Supervision (督办): telling a unit, its supervisor and the command centre that a case is late.

A stage turns yellow once 80 % of its working time is used and red when it is overdue. The
periodic job `escalate_overdue` supervises each running stage at most once per level — yellow,
then red — and the command centre may supervise by hand at any time (`supervise`).
Every supervision is an `event_step` (action 'supervise', the status unchanged) and one outbox
row per informed unit: the unit responsible for the stage, whose row names its supervisor, and
the district command centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Integer, and_, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from events import deadlines
from events.calendar import Light, Limit, LimitUnit
from events.catalog import DepartmentType, Priority
from events.exceptions import InvalidReport
from events.models import DepartmentUnit, Event, EventStatus, EventStep
from events.outbox import notify
from events.reference import work_calendar
from events.schemas import SupervisionLevel
from events.workflow import TRANSITIONS, add_step
from people.models import Staff

# The unit answers for the clock while it holds the case; a late check (核实) or verification
# (核查) is the grid worker's, so only the command centre is told.
UNIT_STATES = frozenset({EventStatus.DISPATCHED, EventStatus.SIGNED, EventStatus.SUSPENDED})
LEVELS: dict[str | None, int] = {None: 0, "yellow": 1, "red": 2}
YELLOW_SHARE = 0.8  # green while at most 80 % of the stage's working time is used
_SAFETY = timedelta(minutes=1)  # makes the candidate bound strict (see _candidates)
_LONGEST_SPAN_DAYS = 60  # longer stages (long extended disputes) are always candidates


def district_command_centre(session: Session, *, district_code: str) -> DepartmentUnit | None:
    """The district's command centre (指挥中心): its active unit with the lowest id."""
    return session.scalar(
        select(DepartmentUnit)
        .where(
            DepartmentUnit.active,
            DepartmentUnit.dept_type == DepartmentType.COMMAND_CENTRE,
            DepartmentUnit.district_code == district_code,
        )
        .order_by(DepartmentUnit.id)
        .limit(1)
    )


def responsible_unit_id(event: Event) -> int | None:
    """The unit answering for the event's running clock, or None while it is not with a unit."""
    return event.unit_id if event.status in UNIT_STATES else None


def supervise(
    session: Session,
    *,
    event: Event,
    level: SupervisionLevel,
    at: datetime,
    actor_id: int | None,
    note: str | None = None,
    light: Light | None = None,
    command_centre: DepartmentUnit | None = None,
) -> EventStep:
    """Supervise (督办) `event` at `level`: a step, and outbox rows to the unit and command centre.

    `command_centre` saves a lookup when the caller already knows the district's; `actor_id`
    None means the escalation job.
    """
    if level not in ("yellow", "red"):
        raise InvalidReport(f"supervision level '{level}' is unknown; use yellow or red")
    unit_id = responsible_unit_id(event)
    unit = session.get(DepartmentUnit, unit_id) if unit_id else None
    centre = command_centre or district_command_centre(session, district_code=event.district_code)
    supervisor = (
        session.get(Staff, unit.supervisor_staff_id)
        if unit is not None and unit.supervisor_staff_id
        else None
    )
    informed = [u for u in (unit, centre) if u is not None]
    informed = [u for i, u in enumerate(informed) if u not in informed[:i]]
    step = add_step(
        session,
        event=event,
        action="supervise",
        to_status=event.status,
        at=at,
        actor_id=actor_id,
        unit_id=unit_id,
        note=note or _default_note(event, level),
        data={
            "level": level,
            "automatic": actor_id is None,
            "stage": event.stage.value if event.stage else None,
            "stage_deadline": event.stage_deadline.isoformat() if event.stage_deadline else None,
            "light": light.value if light else None,
            "informed": [u.code for u in informed],
            "supervisor": supervisor.username if supervisor else None,
        },
    )
    rows = notify(
        session,
        event=event,
        step=step,
        unit_ids=[u.id for u in informed],
        kind="supervise",
        at=at,
    )
    for row in rows:
        extra: dict[str, Any] = {"level": level, "lead_unit": unit.code if unit else None}
        if unit is not None and row.unit_id == unit.id and supervisor is not None:
            extra["supervisor"] = {
                "id": supervisor.id,
                "username": supervisor.username,
                "name": supervisor.full_name,
                "phone": supervisor.phone,
            }
        row.payload = {**row.payload, **extra}
    if LEVELS[level] > LEVELS[event.supervision_level]:
        event.supervision_level = level  # never lowered within a stage, so never repeated
    session.flush()
    return step


def _default_note(event: Event, level: str) -> str:
    stage = event.stage.label if event.stage else "办理"
    return f"{stage}即将超时，黄灯督办" if level == "yellow" else f"{stage}已超时，红灯督办"


@dataclass
class EscalationReport:
    """What one run of the escalation job did."""

    checked: int = 0  # candidate stages whose light was computed
    yellow: list[str] = field(default_factory=list)  # codes supervised at yellow
    red: list[str] = field(default_factory=list)  # codes supervised at red
    notifications: int = 0  # outbox rows written


# id, priority, stage start, stage deadline, supervision level
_Clock = tuple[int, Priority, datetime | None, datetime | None, str | None]


def _running(now: datetime) -> ColumnElement[bool]:
    """Open, unsuspended events whose running stage may still need a supervision at `now`."""
    supervisable = TRANSITIONS["supervise"].sources - {EventStatus.SUSPENDED}
    return and_(
        Event.status.in_(sorted(supervisable, key=lambda s: s.value)),
        Event.stage_deadline.is_not(None),
        Event.stage_started_at.is_not(None),
        Event.suspended_at.is_(None),
        # A stage supervised at red is done; one at yellow only waits for its deadline.
        or_(
            Event.supervision_level.is_(None),
            and_(Event.supervision_level == "yellow", Event.stage_deadline < now),
        ),
    )


def _candidates(session: Session, *, now: datetime) -> Sequence[_Clock]:
    """The clock columns of running stages that may be yellow or red at `now`.

    The light needs the work calendar, so it is computed in Python, but only for candidates the
    database picks with a bound that never leaves a yellow or red stage out. A stage of wall
    length under k+1 days touches at most k+2 calendar days, so it holds at most
    (k+2) × 6.5 working hours; it is yellow only when at most 20 % of that is left, so its
    deadline falls before `add(now, 0.2 × (k+2) × 6.5 h)` — one instant per k, computed here on
    the calendar (holidays included) and looked up by each row; stages longer than
    _LONGEST_SPAN_DAYS are always taken. Urgent stages run on the clock and are tested exactly.
    """
    span_days = cast(
        func.floor(func.extract("epoch", Event.stage_deadline - Event.stage_started_at) / 86400),
        Integer,
    )
    calendar = work_calendar(session)
    day_hours = calendar.hours.hours_per_day
    bounds = [
        calendar.add(now, Limit((1 - YELLOW_SHARE) * (k + 2) * day_hours, LimitUnit.HOURS))
        + _SAFETY
        for k in range(_LONGEST_SPAN_DAYS + 1)
    ]
    bound = array([literal(b, DateTime(timezone=True)) for b in bounds])[
        func.greatest(span_days, 0) + 1
    ]
    elapsed = func.extract("epoch", literal(now, DateTime(timezone=True)) - Event.stage_started_at)
    allowed = func.extract("epoch", Event.stage_deadline - Event.stage_started_at)
    urgent = and_(Event.priority == Priority.URGENT, elapsed >= allowed * YELLOW_SHARE)
    by_calendar = and_(
        Event.priority != Priority.URGENT,
        or_(span_days > _LONGEST_SPAN_DAYS, Event.stage_deadline < bound),
    )
    return session.execute(
        select(
            Event.id,
            Event.priority,
            Event.stage_started_at,
            Event.stage_deadline,
            Event.supervision_level,
        ).where(_running(now), or_(urgent, by_calendar))
    ).all()


def _level_due(session: Session, event: Event, now: datetime) -> tuple[Light | None, str | None]:
    """The light of the event's stage and the supervision it is owed, if any."""
    light = deadlines.light(session, event=event, now=now)
    if light is Light.RED and event.supervision_level != "red":
        return light, "red"
    if light is Light.YELLOW and event.supervision_level is None:
        return light, "yellow"
    return light, None


def escalate_overdue(session: Session, *, now: datetime) -> EscalationReport:
    """The periodic job: supervise every yellow or red running stage once per level.

    Yellow (80 % of the working time used) gives a yellow supervision, overdue a red one; a
    stage that went straight to red gets only the red. The unit responsible for the stage and
    the district command centre each get an outbox row; `event.supervision_level` records the
    level so the next run does not repeat it. Only the events owed a supervision are loaded and
    locked; one that another transaction holds is left for the next run. Never commits.
    """
    if now.utcoffset() is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    report = EscalationReport()
    candidates = _candidates(session, now=now)
    report.checked = len(candidates)
    owed = []
    for event_id, priority, started, deadline, level in candidates:
        # A detached Event carrying only the clock, so that deadlines.light alone defines lights.
        clock = Event(
            priority=priority,
            stage_started_at=started,
            stage_deadline=deadline,
            suspended_at=None,
            supervision_level=level,
        )
        if _level_due(session, clock, now)[1] is not None:
            owed.append(event_id)
    if not owed:
        return report
    events = session.scalars(
        select(Event)
        .where(Event.id.in_(owed), _running(now))
        .order_by(Event.stage_deadline, Event.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    centres: dict[str, DepartmentUnit | None] = {}
    for event in events:
        light, due = _level_due(session, event, now)  # read again under the lock
        if due is None:
            continue
        if event.district_code not in centres:
            centres[event.district_code] = district_command_centre(
                session, district_code=event.district_code
            )
        step = supervise(
            session,
            event=event,
            level="red" if due == "red" else "yellow",
            at=now,
            actor_id=None,
            light=light,
            command_centre=centres[event.district_code],
        )
        (report.red if due == "red" else report.yellow).append(event.code)
        report.notifications += len(step.data["informed"])
    return report


__all__ = [
    "EscalationReport",
    "district_command_centre",
    "escalate_overdue",
    "responsible_unit_id",
    "supervise",
]
