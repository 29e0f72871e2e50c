"""Escalation (督办) of late stages: the periodic job that issues supervision orders by level.

A stage turns yellow once 80 % of its working time is used and red when it is overdue. The
job `escalate_overdue` issues a supervision order (督办单, `events.supervision`) by level:

- yellow → 一般督办 (general);
- red (overdue) → 重点督办 (key);
- still red `SUPERVISION_LISTED_AFTER` (3 working days by default; on the clock for urgent
  cases) past its deadline → 挂牌督办 (listed: shown on the leader's map until lifted).

Each running stage gets each level at most once, and only levels above the highest already
ordered in it (by hand or by the job: `event.supervision_level`, reset when a stage starts). A
stage found red gets 重点督办 only, even if it went straight from green; 挂牌督办 comes only after
a 重点督办 of the same stage (so a stage found long red is keyed now and listed by the next run).
An order goes to the unit responsible for the stage (its outbox row names its supervisor) and
to the district command centre; while no unit holds the case (a late check, verification or
reply) the order is the command centre's own. Assisting units' sub-tasks (协办) are escalated
on their own clocks the same way, to 重点督办 at most, without touching the case's level. The
same run escalates orders left unanswered at their reply deadline to the leader
(`supervision.escalate_unanswered`, `gridgov escalate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, DateTime, Integer, and_, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from events import deadlines
from events.calendar import Light, Limit, LimitUnit
from events.catalog import Priority
from events.dispatch import district_command_centre
from events.exceptions import InvalidReport
from events.models import (
    DepartmentUnit,
    Event,
    EventStatus,
    EventSubtask,
    Stage,
    SubtaskStatus,
    SupervisionLevel,
    SupervisionOrder,
)
from events.reference import work_calendar
from events.subtasks import OPEN_SUBTASK, subtask_light
from events.supervision import (
    RANK,
    issue,
    listed_after_wall,
    listed_at,
    responsible_unit_id,
)
from events.workflow import TRANSITIONS

YELLOW_SHARE = 0.8  # green while at most 80 % of the stage's working time is used
_SAFETY = timedelta(minutes=1)  # makes the candidate bound strict (see _candidates)
_LONGEST_SPAN_DAYS = 60  # longer stages (long extended disputes) are always candidates


@dataclass
class EscalationReport:
    """What one run of the escalation job did."""

    checked: int = 0  # candidate stages and open sub-tasks whose light was computed
    yellow: list[str] = field(default_factory=list)  # codes given 一般督办 (yellow light)
    red: list[str] = field(default_factory=list)  # codes given 重点督办 (red light)
    listed: list[str] = field(default_factory=list)  # codes given 挂牌督办 (red for long)
    # (code, unit code, level) of each order to an assisting unit on its late sub-task (协办)
    subtasks: list[tuple[str, str, str]] = field(default_factory=list)
    notifications: int = 0  # outbox rows written


# id, priority, stage start, stage deadline, supervision level
_Clock = tuple[int, Priority, datetime | None, datetime | None, str | None]


def _running(now: datetime) -> ColumnElement[bool]:
    """Open, unsuspended events whose running stage may still be owed an order at `now`."""
    supervisable = TRANSITIONS["supervise"].sources - {EventStatus.SUSPENDED}
    return and_(
        Event.status.in_(sorted(supervisable, key=lambda s: s.value)),
        Event.stage_deadline.is_not(None),
        Event.stage_started_at.is_not(None),
        Event.suspended_at.is_(None),
        # A listed stage is done; a general one waits for its deadline, a key one for the
        # listing threshold (never shorter in wall time than SUPERVISION_LISTED_AFTER).
        or_(
            Event.supervision_level.is_(None),
            and_(
                Event.supervision_level == SupervisionLevel.GENERAL.value,
                Event.stage_deadline < now,
            ),
            and_(
                Event.supervision_level == SupervisionLevel.KEY.value,
                Event.stage_deadline < now - listed_after_wall(),
            ),
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


def _level_due(
    session: Session, event: Event, now: datetime
) -> tuple[Light | None, SupervisionLevel | None]:
    """The light of the event's stage and the order level it is owed, if any."""
    light = deadlines.light(session, event=event, now=now)
    owed = None
    if light is Light.RED:
        owed = SupervisionLevel.KEY
        if event.supervision_level == SupervisionLevel.KEY.value:
            listed = listed_at(session, event=event)  # only after a key order went unheeded
            if listed is not None and now >= listed:
                owed = SupervisionLevel.LISTED
    elif light is Light.YELLOW:
        owed = SupervisionLevel.GENERAL
    if owed is None or RANK[owed.value] <= RANK[event.supervision_level]:
        return light, None
    return light, owed


def escalate_overdue(session: Session, *, now: datetime) -> EscalationReport:
    """The periodic job: issue the supervision order each yellow or red running stage is owed
    (一般督办 at yellow, 重点督办 at red, 挂牌督办 when red for long; see the module docstring).

    Only the events owed an order are loaded and locked; one that another transaction holds is
    left for the next run. Never commits.
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
    events = (
        session.scalars(
            select(Event)
            .where(Event.id.in_(owed), _running(now))
            .order_by(Event.stage_deadline, Event.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        if owed
        else []
    )
    centres: dict[str, DepartmentUnit | None] = {}
    lists = {
        SupervisionLevel.GENERAL: report.yellow,
        SupervisionLevel.KEY: report.red,
        SupervisionLevel.LISTED: report.listed,
    }
    for event in events:
        light, due = _level_due(session, event, now)  # read again under the lock
        if due is None:
            continue
        if event.district_code not in centres:
            centres[event.district_code] = district_command_centre(
                session, district_code=event.district_code
            )
        centre = centres[event.district_code]
        if centre is None and responsible_unit_id(event) is None:
            continue  # nobody to address: a district without a command centre
        order = issue(
            session,
            event=event,
            level=due,
            at=now,
            actor_id=None,
            light=light,
            command_centre=centre,
        )
        lists[due].append(event.code)
        report.notifications += len({order.unit_id, centre.id if centre else order.unit_id})
    _escalate_subtasks(session, now=now, report=report, centres=centres)
    return report


def _escalate_subtasks(
    session: Session,
    *,
    now: datetime,
    report: EscalationReport,
    centres: dict[str, DepartmentUnit | None],
) -> None:
    """Late sub-tasks (协办): an assisting unit whose own clock (sign-for, then handling) is
    yellow gets 一般督办, red 重点督办, each once per clock, addressed to it and the district's
    command centre; never 挂牌 (the leader's map lists cases, not their parts). Their orders
    leave the case's own level alone: the lead unit's stage is escalated on its own clock."""
    open_ = session.execute(
        select(EventSubtask, Event)
        .join(
            Event,
            and_(
                Event.id == EventSubtask.event_id,
                Event.district_code == EventSubtask.district_code,
            ),
        )
        .where(
            EventSubtask.status.in_(sorted(OPEN_SUBTASK)),
            Event.suspended_at.is_(None),
        )
        .order_by(EventSubtask.id)
    ).all()
    for subtask, event in open_:
        report.checked += 1
        light = subtask_light(session, subtask=subtask, event=event, now=now)
        if light not in (Light.YELLOW, Light.RED):
            continue
        stage = Stage.SIGN if subtask.status is SubtaskStatus.DISPATCHED else Stage.HANDLE
        ordered = set(
            session.scalars(
                select(SupervisionOrder.level).where(
                    SupervisionOrder.event_id == event.id,
                    SupervisionOrder.district_code == event.district_code,
                    SupervisionOrder.unit_id == subtask.unit_id,
                    SupervisionOrder.stage == stage,
                    # since this clock started (the sign-for's at the opening, the handling's
                    # at the sign-for; unlike clock_started_at, never moved by a suspension)
                    SupervisionOrder.issued_at >= (subtask.signed_at or subtask.opened_at),
                )
            )
        )
        due = SupervisionLevel.KEY if light is Light.RED else SupervisionLevel.GENERAL
        if any(RANK[level.value] >= RANK[due.value] for level in ordered):
            continue
        locked = session.scalar(
            select(Event)
            .where(Event.id == event.id, Event.district_code == event.district_code)
            .with_for_update(skip_locked=True)
        )
        if locked is None:
            continue  # another transaction holds the case: the next run
        if event.district_code not in centres:
            centres[event.district_code] = district_command_centre(
                session, district_code=event.district_code
            )
        centre = centres[event.district_code]
        late = "已超时" if light is Light.RED else "即将超时"
        order = issue(
            session,
            event=locked,
            level=due,
            at=now,
            actor_id=None,
            unit_id=subtask.unit_id,
            demand=f"协办任务{stage.label}{late}，请抓紧办理并回复 "
            f"(your assisting part of case {event.code} is late at {stage.value})",
            light=light,
            command_centre=centre,
            subtask_stage=stage,
        )
        unit = session.get(DepartmentUnit, order.unit_id)
        report.subtasks.append((event.code, unit.code if unit else "", due.value))
        report.notifications += len({order.unit_id, centre.id if centre else order.unit_id})


__all__ = [
    "EscalationReport",
    "escalate_overdue",
    "responsible_unit_id",
]
