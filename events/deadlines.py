"""Stage deadlines: started, due and ended on the work calendar; lights from the time used,
and the time left (剩余/超期, frozen while suspended 挂账) that the API and the pages show."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
# The command centre's own clocks: the same for every category, so settings.
SETTING_LIMIT = {
    Stage.REPLY: "reply_limit",  # 答复 to the caller of a verified citizen case
    Stage.CLOSE: "close_limit",  # 结案 of any other verified case
    Stage.REGISTER: "register_limit",  # 立案 of a pending case
    Stage.DISPATCH: "dispatch_limit",  # 派遣 of a registered case
}


def stage_limit(category: EventCategory, stage: Stage) -> Limit:
    """The time limit of `stage` for events of `category` (the command centre's are settings)."""
    if stage in SETTING_LIMIT:
        return setting_limit(stage)
    return Limit.parse(getattr(category, LIMIT_COLUMN[stage]))


def setting_limit(stage: Stage) -> Limit:
    """The time limit of one of the command centre's own stages, the same for every category."""
    return Limit.parse(getattr(get_settings(), SETTING_LIMIT[stage]))


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
    running = clock(session, event=event, now=now)  # stopped while suspended (挂账)
    return running.light if running else None


def _wall_light(start: datetime, deadline: datetime, now: datetime) -> Light:
    """The light on the clock, not office hours (urgent 特急 cases)."""
    total = (deadline - start).total_seconds()
    used = (now - start).total_seconds() / total if total > 0 else 1.0
    return Light.GREEN if used <= 0.8 else Light.YELLOW if used <= 1.0 else Light.RED


# -- the time left -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A running stage as users read it: its deadline, light and the time left or overdue.

    `seconds_left` is working time on the calendar (wall time for urgent 特急 cases), negative
    when overdue. While the case is suspended (挂账) it is the time left when the clock stopped.
    """

    deadline: datetime
    light: Light
    seconds_left: float
    suspended: bool
    day_seconds: float  # one working day (a wall day for urgent cases), for the text

    @property
    def text(self) -> str:
        """剩余 3小时, 超期 2天, 挂账 剩余 6小时: the one wording of the time left."""
        span = _span(abs(self.seconds_left), self.day_seconds)
        words = f"超期 {span}" if self.light is Light.RED else f"剩余 {span}"
        return f"挂账 {words}" if self.suspended else words


def _span(seconds: float, day_seconds: float) -> str:
    """A span in whole days and hours, hours and minutes, or minutes (rounded down)."""
    if seconds < 60:
        return "不足1分钟"
    if seconds < 3600:
        return f"{math.floor(seconds / 60)}分钟"
    if seconds < day_seconds:
        hours, rest = divmod(seconds, 3600)
        minutes = math.floor(rest / 60)
        return f"{hours:.0f}小时" + (f"{minutes}分钟" if minutes else "")
    days, rest = divmod(seconds, day_seconds)
    hours = math.floor(rest / 3600)
    return f"{days:.0f}天" + (f"{hours}小时" if hours else "")


def clock(session: Session, *, event: Event, now: datetime) -> Clock | None:
    """The running stage's deadline, light and time left at `now` (at the suspension while the
    case is suspended: its clock stopped then); None when no clock runs."""
    if event.stage_started_at is None or event.stage_deadline is None:
        return None
    return deadline_clock(
        session,
        start=event.stage_started_at,
        deadline=event.stage_deadline,
        now=now,
        urgent=event.priority is Priority.URGENT,
        suspended_at=event.suspended_at,
    )


def deadline_clock(
    session: Session,
    *,
    start: datetime,
    deadline: datetime,
    now: datetime,
    urgent: bool = False,
    suspended_at: datetime | None = None,
) -> Clock:
    """Any clock from `start` to `deadline` read at `now` (stopped at `suspended_at`): working
    time on the calendar, wall time if `urgent`. Stages, sub-tasks and callbacks alike."""
    at = suspended_at or now
    if urgent:
        found = _wall_light(start, deadline, at)
        left = (deadline - at).total_seconds()
        day = 86400.0
    else:
        calendar = work_calendar(session)
        found = calendar.light(start, deadline, at)
        left = calendar.working_seconds_between(at, deadline)
        day = calendar.hours.hours_per_day * 3600
    return Clock(
        deadline=deadline,
        light=found,
        seconds_left=left,
        suspended=suspended_at is not None,
        day_seconds=day,
    )


def ended_light(session: Session, *, stage: EventStage, urgent: bool) -> Light | None:
    """The light a stage run showed when it ended (None while it runs)."""
    if stage.ended_at is None:
        return None
    if urgent:
        return _wall_light(stage.started_at, stage.deadline, stage.ended_at)
    return work_calendar(session).light(stage.started_at, stage.deadline, stage.ended_at)


def clock_fields(session: Session, *, event: Event, now: datetime) -> dict[str, Any]:
    """The running stage's fields of an event read (EventRead, EventSummary): stage, deadline,
    light and the time left, from one `clock`."""
    found = clock(session, event=event, now=now)
    return {
        "stage": event.stage,
        "stage_label": event.stage.label if event.stage else None,
        "stage_deadline": event.stage_deadline,
        "light": found.light if found else None,
        "seconds_left": round(found.seconds_left) if found else None,
        "time_left": found.text if found else None,
        "suspended": event.suspended_at is not None,
    }
