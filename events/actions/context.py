"""The ground every workflow action stands on: the action in progress, the event row locked, the
transition asked for, the actor's scope, and the small checks several actions share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events.attachments import PhotoInfo
from events.calendar import Limit, LimitUnit
from events.catalog import Priority
from events.dispatch import district_command_centre, event_point
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport, NotFound
from events.models import (
    CITIZEN_SOURCES,
    DepartmentUnit,
    Event,
    EventCategory,
    EventStatus,
    EventStep,
    Outbox,
)
from events.outbox import notify
from events.reference import work_calendar
from events.schemas import ActionInput
from events.service import (
    code_is,
)
from events.tiers import actor_tier, in_area, rank
from events.workflow import (
    TRANSITIONS,
    IllegalTransition,
    Transition,
    add_step,
    allowed_actions,
    transition,
)
from gis.crs import STORAGE_SRID, CoordinateError, to_storage
from people.access import Actor
from people.models import Staff, StaffRole

VERIFY_RADIUS_M = 100.0  # verification (核查) is done on site: within this distance of the event
# The steps that open or decide an extension request in the running handling stage.
EXTENSION_ACTIONS = ("sign", "rework", "extend", "approve-extension")


@dataclass
class ActionContext:
    """One action in progress."""

    session: Session
    actor: Actor
    event: Event
    category: EventCategory
    rule: Transition
    data: ActionInput
    photos: list[PhotoInfo]
    at: datetime

    def step(
        self,
        to_status: EventStatus,
        *,
        action: str | None = None,
        note: str | None = None,
        data: dict[str, Any] | None = None,
        unit_id: int | None = None,
        without_unit: bool = False,
        by_system: bool = False,
    ) -> EventStep:
        """Record the step: the actor's (the system's if `by_system`), for the event's unit."""
        return add_step(
            self.session,
            event=self.event,
            action=action or self.rule.action,
            to_status=to_status,
            at=self.at,
            actor_id=None if by_system else self.actor.staff_id,
            unit_id=None if without_unit else unit_id or self.event.unit_id,
            note=note if note is not None else self.data.note,
            data=data,
        )

    def tell(self, step: EventStep, unit_ids: list[int | None], **extra: Any) -> list[Outbox]:
        """Queue one outbox row per unit (each unit once), the step's action as the kind."""
        unique = list(dict.fromkeys(u for u in unit_ids if u is not None))
        if not unique:
            return []
        rows = notify(
            self.session, event=self.event, step=step, unit_ids=unique, kind=step.action, at=self.at
        )
        if extra:
            for row in rows:
                row.payload = {**row.payload, **extra}
        return rows

    def command_centre_id(self) -> int | None:
        """The district command centre's unit id, if the district has one."""
        centre = district_command_centre(self.session, district_code=self.event.district_code)
        return centre.id if centre else None


def moment(now: datetime | None) -> datetime:
    """The moment of the action: `now`, which must carry a time zone, or the present."""
    at = now or datetime.now(UTC)
    if at.utcoffset() is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    return at


def locked_event(session: Session, code: str) -> Event:
    """The event row, locked until the transaction ends and read fresh.

    Two dispatchers signing the same case at once queue here; the second then sees the first
    one's state and is refused by the transition table instead of signing twice.
    """
    event = session.scalar(
        select(Event)
        .where(*code_is(session, code.strip()))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if event is None:
        raise NotFound(f"event {code} does not exist")
    return event


def rule_for(event: Event, action: str, actor: Actor) -> Transition:
    """The transition, or the refusal: wrong state → ActionNotAllowed, wrong role → Forbidden."""
    known = TRANSITIONS.get(action)
    if known is None:
        raise InvalidReport(
            f"'{action}' is not an event action; actions are {', '.join(TRANSITIONS)}"
        )
    try:
        return transition(event.status, action, actor.role)
    except IllegalTransition as exc:
        if event.status in known.sources:
            raise Forbidden(str(exc)) from None
        raise ActionNotAllowed(
            f"event {event.code}: {exc}", allowed=allowed_actions(event.status)
        ) from None


# -- scope ---------------------------------------------------------------------------------------


def reporter_role(session: Session, event: Event) -> StaffRole | None:
    """The role of the account that filed the event, if staff filed it."""
    if event.reporter_id is None:
        return None
    return session.scalar(select(Staff.role).where(Staff.id == event.reporter_id))


def is_events_grid_worker(session: Session, actor: Actor, event: Event) -> bool:
    """The grid worker who reported the event; for reports from elsewhere, one of its grid's."""
    if reporter_role(session, event) is StaffRole.GRID_WORKER:
        return actor.staff_id == event.reporter_id
    return event.grid_code is not None and event.grid_code in actor.grid_codes


def check_scope(session: Session, actor: Actor, event: Event, action: str) -> None:
    """Refuse an actor outside the event: another unit, other grids or another area."""
    role = actor.role
    if role is StaffRole.ADMIN:
        return
    if role is StaffRole.DISPATCHER:
        if actor.department_unit_id is None or actor.department_unit_id != event.unit_id:
            lead = session.get(DepartmentUnit, event.unit_id) if event.unit_id else None
            mine = (
                session.get(DepartmentUnit, actor.department_unit_id)
                if actor.department_unit_id
                else None
            )
            raise Forbidden(
                f"event {event.code} is with {lead.name if lead else 'no unit'}, not with "
                f"your unit ({mine.name if mine else 'none'}); only its unit's dispatchers "
                f"may {action} it"
            )
        return
    if role is StaffRole.GRID_WORKER:
        if action == "self-resolve":
            if not is_events_grid_worker(session, actor, event):
                reporter = session.scalar(
                    select(Staff.username).where(Staff.id == event.reporter_id)
                )
                raise Forbidden(
                    f"only the grid worker who reported event {event.code} "
                    f"({reporter or 'unknown'}) or an inspector may {action} it"
                )
            return
        # Everything else, the on-site checks (核实, 核查) included, is the grid's workers'
        # work, whoever reported the case.
        if event.grid_code is None or event.grid_code not in actor.grid_codes:
            raise Forbidden(
                f"event {event.code} is in grid {event.grid_code or '(outside every grid)'}, "
                f"not in your grids ({', '.join(sorted(actor.grid_codes)) or 'none'}); "
                "its grid's workers or an inspector of its area may do that"
            )
        return
    if not in_area(actor, event):
        raise Forbidden(
            f"event {event.code} is outside your area ({actor.area_code or 'none'}); "
            f"ask the command centre of district {event.district_code}"
        )
    if role is StaffRole.COMMAND:
        check_tier(actor, event, action)


def check_tier(actor: Actor, event: Event, action: str) -> None:
    """Refuse command staff of a tier below the one holding the case (a higher tier may step
    in; a lower one may not act on a case held above it)."""
    mine = actor_tier(actor)
    if mine is not None and rank(mine) >= rank(event.tier):
        return
    held = event.tier
    yours = f"the {mine.value} tier ({mine.label})" if mine else "no tier (no area code)"
    raise Forbidden(
        f"案件{event.code}由{held.label}层级办理，下级不能{TRANSITIONS[action].label} "
        f"(event {event.code} is held at the {held.value} tier and your account is at {yours}; "
        f"a lower tier may not {action} a case held above it — ask the {held.value} centre)"
    )


# -- helpers ---------------------------------------------------------------------------------


def need(value: Any, message: str) -> Any:
    """`value`, or InvalidReport with `message` when it is missing."""
    if value is None or value == "":
        raise InvalidReport(message)
    return value


def check_photo(ctx: ActionContext, what: str) -> None:
    """Refuse the action when it carries no photo taken on site."""
    if not ctx.photos:
        raise InvalidReport(f"{what} needs a photo taken on site; attach one and send it again")


def later(session: Session, event: Event, start: datetime, limit: Limit) -> datetime:
    """`limit` of working time after `start`; on the clock for urgent (特急) events.

    Days are whole working days of working time (Tuesday 17:30 + 2d is Thursday 17:30), not the
    "day 0" counting of a new stage.
    """
    hours = limit.amount
    if event.priority is Priority.URGENT:
        return start + timedelta(hours=hours if limit.unit is LimitUnit.HOURS else hours * 24)
    calendar = work_calendar(session)
    if limit.unit is LimitUnit.DAYS:
        hours *= calendar.hours.hours_per_day
    return calendar.add(start, Limit(hours, LimitUnit.HOURS))


def paused(session: Session, event: Event, moment: datetime, until: datetime) -> datetime:
    """`moment` pushed out by the working time suspended until `until` (wall time if urgent)."""
    begin = event.suspended_at
    assert begin is not None
    if event.priority is Priority.URGENT:
        return moment + (until - begin)
    return work_calendar(session).extend_for_pause(moment, (begin, until))


def distance_m(session: Session, event: Event, data: ActionInput) -> float:
    """Metres from the event to where the actor says they stand (PostGIS geography)."""
    assert data.lon is not None and data.lat is not None
    try:
        lon, lat = to_storage(data.lon, data.lat, data.crs)
    except CoordinateError as exc:
        raise InvalidReport(str(exc)) from exc
    here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), STORAGE_SRID)
    metres = session.scalar(
        select(func.ST_Distance(func.Geography(event_point(event)), func.Geography(here)))
    )
    assert metres is not None
    return float(metres)


# -- the actions -----------------------------------------------------------------------------
def pending_extension(session: Session, event: Event) -> EventStep | None:
    """The extension request waiting in the running handling stage, if any."""
    last = session.scalar(
        select(EventStep)
        .where(EventStep.event_id == event.id, EventStep.action.in_(EXTENSION_ACTIONS))
        .order_by(EventStep.id.desc())
        .limit(1)
    )
    return last if last is not None and last.action == "extend" else None


def citizens(event: Event) -> bool:
    """Whether a citizen raised the event: the caller is answered and called back."""
    return event.source in CITIZEN_SOURCES


def unlocated_first(ctx: ActionContext) -> None:
    """Refuse an action that needs the place while the case has no point yet (定位 first)."""
    if ctx.event.geom is None:
        raise ActionNotAllowed(
            f"event {ctx.event.code} has no point yet; the command centre locates it first "
            "(locate: lon and lat, or a building code)",
            allowed=["locate", "void", "transfer"],
        )
