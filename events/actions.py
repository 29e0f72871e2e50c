"""Workflow actions (办理动作): what grid workers, units and the command centre do to an event.

`act()` is the one entry point; `act_for()` is the same for an API caller, who is first told
nothing about an event outside their sight. It locks the event row, asks the transition table
(`events.workflow`) whether the action is possible from the event's state and for the actor's
role, checks the actor's scope (a dispatcher works on their unit's cases, a grid worker on their
grids), runs the action and records it as an `event_step`, queuing outbox rows for the units
concerned. Like every service it never commits.

Refusals: ActionNotAllowed (not from this state; lists the possible actions), Forbidden (role
or scope), InvalidReport (a field the action needs is missing or wrong), NotFound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events import deadlines
from events.attachments import PhotoInfo
from events.calendar import Light, Limit, LimitUnit
from events.catalog import Priority
from events.dispatch import dispatch_event, event_point
from events.escalation import district_command_centre, supervise
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport, NotFound
from events.models import (
    CITIZEN_SOURCES,
    AppealType,
    DepartmentUnit,
    Event,
    EventCategory,
    EventSource,
    EventStatus,
    EventStep,
    Outbox,
    ReplyChannel,
    Stage,
)
from events.outbox import notify
from events.photos import attach_photos
from events.reference import work_calendar
from events.schemas import ActionInput, EventDetail, EventRead
from events.service import (
    building_point,
    checked_on_site_first,
    code_is,
    get_event,
    read_event,
    route_located,
)
from events.transfer import check_transfer, transfer_event
from events.workflow import (
    SYSTEM,
    TRANSITIONS,
    IllegalTransition,
    Transition,
    add_step,
    allowed_actions,
    transition,
)
from gis.crs import STORAGE_SRID, CoordinateError, Crs, to_storage
from grid.exceptions import InvalidQuery
from grid.models import Building
from grid.service import area_prefix, locate_point
from people.access import Actor
from people.models import Staff, StaffRole

VERIFY_RADIUS_M = 100.0  # verification (核查) is done on site: within this distance of the event
# The steps that open or decide an extension request in the running handling stage.
_EXTENSION_ACTIONS = ("sign", "rework", "extend", "approve-extension")


@dataclass
class _Context:
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


def _moment(now: datetime | None) -> datetime:
    at = now or datetime.now(UTC)
    if at.utcoffset() is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    return at


def _locked_event(session: Session, code: str) -> Event:
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


def _rule(event: Event, action: str, actor: Actor) -> Transition:
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


def _in_area(actor: Actor, event: Event) -> bool:
    """Whether the event lies in the actor's admin area (its grid, else its admin codes)."""
    if actor.role is StaffRole.ADMIN:
        return True
    if not actor.area_code:
        return False
    try:
        prefix = area_prefix(actor.area_code)
    except InvalidQuery:
        return False
    place = event.grid_code or event.community_code or event.street_code or event.district_code
    return place.startswith(prefix)


def _reporter_role(session: Session, event: Event) -> StaffRole | None:
    if event.reporter_id is None:
        return None
    return session.scalar(select(Staff.role).where(Staff.id == event.reporter_id))


def _is_events_grid_worker(session: Session, actor: Actor, event: Event) -> bool:
    """The grid worker who reported the event; for reports from elsewhere, one of its grid's."""
    if _reporter_role(session, event) is StaffRole.GRID_WORKER:
        return actor.staff_id == event.reporter_id
    return event.grid_code is not None and event.grid_code in actor.grid_codes


def _check_scope(session: Session, actor: Actor, event: Event, action: str) -> None:
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
        if action in ("verify", "rework", "self-resolve"):
            if not _is_events_grid_worker(session, actor, event):
                reporter = session.scalar(
                    select(Staff.username).where(Staff.id == event.reporter_id)
                )
                raise Forbidden(
                    f"only the grid worker who reported event {event.code} "
                    f"({reporter or 'unknown'}) or an inspector may {action} it"
                )
            return
        if event.grid_code is None or event.grid_code not in actor.grid_codes:
            raise Forbidden(
                f"event {event.code} is in grid {event.grid_code or '(outside every grid)'}, "
                f"not in your grids ({', '.join(sorted(actor.grid_codes)) or 'none'})"
            )
        return
    if not _in_area(actor, event):
        raise Forbidden(
            f"event {event.code} is outside your area ({actor.area_code or 'none'}); "
            f"ask the command centre of district {event.district_code}"
        )


# -- helpers ---------------------------------------------------------------------------------


def _need(value: Any, message: str) -> Any:
    if value is None or value == "":
        raise InvalidReport(message)
    return value


def _check_photo(ctx: _Context, what: str) -> None:
    if not ctx.photos:
        raise InvalidReport(f"{what} needs a photo taken on site; attach one and send it again")


def _later(session: Session, event: Event, start: datetime, limit: Limit) -> datetime:
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


def _paused(session: Session, event: Event, moment: datetime, until: datetime) -> datetime:
    """`moment` pushed out by the working time suspended until `until` (wall time if urgent)."""
    begin = event.suspended_at
    assert begin is not None
    if event.priority is Priority.URGENT:
        return moment + (until - begin)
    return work_calendar(session).extend_for_pause(moment, (begin, until))


def _distance_m(session: Session, event: Event, data: ActionInput) -> float:
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


def _manual_dispatch(ctx: _Context, unit_id: int) -> EventStep:
    """Dispatch to a unit chosen by the command centre, starting its sign-for clock."""
    if ctx.actor.role not in SYSTEM:
        raise Forbidden("only the command centre chooses a unit by hand; leave unit_id empty")
    unit = ctx.session.get(DepartmentUnit, unit_id)
    if unit is None or not unit.active:
        raise NotFound(f"unit {unit_id} does not exist or is inactive")
    event = ctx.event
    if unit.district_code != event.district_code:
        raise InvalidReport(
            f"{unit.name}属于{unit.district_code}区县，不能接收{event.district_code}的案件；"
            f"跨区案件请用跨区移交 (unit {unit_id} is in district {unit.district_code}, not in "
            f"the event's district {event.district_code}; transfer the case instead)"
        )
    deadlines.start_stage(
        ctx.session,
        event=event,
        category=ctx.category,
        stage=Stage.SIGN,
        at=ctx.at,
        unit_id=unit.id,
    )
    event.unit_id = unit.id
    event.assisting_unit_ids = [u for u in event.assisting_unit_ids or [] if u != unit.id]
    helpers = ctx.session.scalars(
        select(DepartmentUnit.code).where(DepartmentUnit.id.in_(event.assisting_unit_ids))
    ).all()
    step = ctx.step(
        EventStatus.DISPATCHED,
        unit_id=unit.id,
        data={
            "dispatch": {
                "rule_id": None,
                "rule": f"chosen by hand by {ctx.actor.username}",
                "lead_type": unit.dept_type.value,
                "unit_id": unit.id,
                "unit": f"{unit.name}, chosen by the command centre",
                "assisting": sorted(helpers),
                "excluded_units": sorted(event.returned_by_unit_ids or []),
            }
        },
    )
    ctx.tell(step, [unit.id, *event.assisting_unit_ids])
    return step


def _close(ctx: _Context) -> EventStep:
    """The system's closing step (结案): clock stopped, closed_at set, the unit told."""
    deadlines.end_stage(ctx.session, event=ctx.event, at=ctx.at)
    ctx.event.closed_at = ctx.at
    step = ctx.step(EventStatus.CLOSED, action="close", note="核查通过，结案", by_system=True)
    ctx.tell(step, [ctx.event.unit_id])
    return step


# -- the actions -----------------------------------------------------------------------------


def _unlocated_first(ctx: _Context) -> None:
    if ctx.event.geom is None:
        raise ActionNotAllowed(
            f"event {ctx.event.code} has no point yet; the command centre locates it first "
            "(locate: lon and lat, or a building code)",
            allowed=["locate", "void", "transfer"],
        )


def _locate(ctx: _Context) -> None:
    """定位: the command centre gives a case placed by address its point (lon/lat/crs, or a
    building), and it goes on as if filed there: the on-site check, or dispatch."""
    event = ctx.event
    if event.geom is not None:
        raise ActionNotAllowed(
            f"event {event.code} is located already (grid {event.grid_code or 'none'}); "
            "a case is located once — void or transfer it if the place is wrong",
            allowed=allowed_actions(event.status, ctx.actor.role),
        )
    data = ctx.data
    if data.lon is None and not data.building:
        raise InvalidReport(
            "locating a case needs its place: lon and lat (with crs), or a building code",
            field="lon",
        )
    lon, lat, crs = data.lon, data.lat, data.crs
    if lon is None:
        assert data.building is not None
        (lon, lat), crs = building_point(ctx.session, data.building), Crs.CGCS2000
    assert lat is not None
    try:
        found = locate_point(ctx.session, lon=lon, lat=lat, crs=crs)
    except InvalidQuery as exc:
        raise InvalidReport(str(exc)) from exc
    district = found.district.code[:6] if found.district else None
    if district is not None and district != event.district_code:
        raise InvalidReport(
            f"这个位置属于{district}，不在本案所属的{event.district_code}；请用跨区移交 "
            f"(the point is in district {district}, not in the case's district "
            f"{event.district_code}; transfer the case instead)",
            field="lon",
        )
    building_code = data.building or (found.building.code if found.building else None)
    event.geom = WKTElement(  # type: ignore[assignment]  # stored as WKB, read back as such
        f"POINT({found.lon} {found.lat})", srid=STORAGE_SRID
    )
    event.input_crs = found.input_crs.value
    event.locate_match = found.match
    event.grid_code = found.grid.code if found.grid else None
    event.community_code = found.community.code if found.community else None
    event.street_code = found.street.code if found.street else None
    event.building_id = (
        ctx.session.scalar(select(Building.id).where(Building.code == building_code))
        if building_code
        else None
    )
    ctx.session.flush()
    check_first = checked_on_site_first(event.source, ctx.category)
    ctx.step(
        EventStatus.REPORTED if check_first else EventStatus.REGISTERED,
        data={
            "locate": found.model_dump(
                mode="json", include={"match", "distance_to_grid_m", "grid_candidates"}
            ),
            "lon": found.lon,
            "lat": found.lat,
            "building": building_code,
        },
        without_unit=True,
    )
    route_located(
        ctx.session, event=event, category=ctx.category, at=ctx.at, actor_id=ctx.actor.staff_id
    )


def _direct_reply(ctx: _Context) -> None:
    """直接答复: the operator answers a citizen's question (咨询) at once; closed without
    dispatch, the answer recorded (counted as 直办) and a callback (回访) opened."""
    event = ctx.event
    if event.source not in CITIZEN_SOURCES or event.appeal_type is not AppealType.CONSULT:
        kind = event.appeal_type.label if event.appeal_type else "无诉求类型"
        raise ActionNotAllowed(
            f"只有群众来电来信的咨询可以直接答复；本案为{event.source.label}·{kind} "
            "(only a citizen's question, appeal_type consult, is answered without dispatch; "
            f"event {event.code} follows the normal path: check, dispatch, handle)",
            allowed=allowed_actions(event.status, ctx.actor.role),
        )
    reply = _need(ctx.data.reply, "a direct reply needs the answer given to the caller (reply)")
    channel = ctx.data.reply_channel or (
        ReplyChannel.PHONE if event.source is EventSource.HOTLINE else None
    )
    channel = _need(channel, "say how the caller was answered (reply_channel): phone, sms …")
    replied_at = ctx.data.replied_at or ctx.at
    if replied_at > ctx.at + timedelta(minutes=5):
        raise InvalidReport(
            f"replied_at {replied_at.isoformat()} is in the future; give when the caller was "
            "answered",
            field="replied_at",
        )
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.closed_at = ctx.at
    ctx.step(
        EventStatus.CLOSED,
        note=ctx.data.note or reply[:200],
        data={
            "reply": reply,
            "reply_channel": channel.value,
            "replied_at": replied_at.isoformat(),
        },
        without_unit=True,
    )
    from events.callbacks import open_callback  # callbacks records through this module

    open_callback(ctx.session, event=event, at=ctx.at)  # a 直办 case is called back too


def _check(ctx: _Context) -> None:
    """核实: a grid worker confirms a report from another source, which is then dispatched."""
    event = ctx.event
    _unlocated_first(ctx)
    if ctx.data.passed is False:
        reason = _need(ctx.data.reason, "a failed check needs a reason: what was found on site")
        deadlines.end_stage(ctx.session, event=event, at=ctx.at)
        event.void_reason = reason
        ctx.step(
            EventStatus.VOIDED,
            note=ctx.data.note or reason,
            data={"passed": False},
            without_unit=True,
        )
        return
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    ctx.step(EventStatus.REGISTERED, data={"passed": True}, without_unit=True)
    dispatch_event(
        ctx.session, event=event, category=ctx.category, at=ctx.at, actor_id=ctx.actor.staff_id
    )


def _dispatch(ctx: _Context) -> None:
    """派遣 by hand: to the unit chosen, or by the dispatch rules again."""
    if ctx.data.unit_id is not None:
        _manual_dispatch(ctx, ctx.data.unit_id)
        return
    dispatch_event(
        ctx.session,
        event=ctx.event,
        category=ctx.category,
        at=ctx.at,
        actor_id=ctx.actor.staff_id,
        note=ctx.data.note,
    )


def _redispatch(ctx: _Context) -> None:
    """重新派遣: a returned (or re-routed) case to another unit, never to one that returned it."""
    event = ctx.event
    if ctx.data.unit_id is not None:
        _manual_dispatch(ctx, ctx.data.unit_id)
        return
    if event.status is EventStatus.DISPATCHED:
        raise InvalidReport(
            f"event {event.code} is already dispatched; name the unit to re-route it to (unit_id)"
        )
    dispatch_event(
        ctx.session,
        event=event,
        category=ctx.category,
        at=ctx.at,
        actor_id=ctx.actor.staff_id,
        action="redispatch",
        note=ctx.data.note,
    )


def _sign(ctx: _Context) -> None:
    """签收: the unit takes the case; the sign-for stage ends and handling starts."""
    ended = deadlines.end_stage(ctx.session, event=ctx.event, at=ctx.at)
    deadlines.start_stage(
        ctx.session,
        event=ctx.event,
        category=ctx.category,
        stage=Stage.HANDLE,
        at=ctx.at,
        unit_id=ctx.event.unit_id,
    )
    ctx.step(EventStatus.SIGNED, data={"on_time": ended.on_time if ended is not None else None})


def _return(ctx: _Context) -> None:
    """退回: a wrongly routed case goes back to the command centre for re-dispatch."""
    event = ctx.event
    reason = _need(
        ctx.data.reason,
        "returning a case needs a reason: say why it is not your unit's, e.g. 不属于本辖区",
    )
    unit_id = event.unit_id
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.returned_by_unit_ids = [
        *(event.returned_by_unit_ids or []),
        *([unit_id] if unit_id else []),
    ]
    event.return_count += 1
    step = ctx.step(EventStatus.RETURNED, note=ctx.data.note or reason, data={"reason": reason})
    event.unit_id = None  # the case waits at the command centre
    event.assisting_unit_ids = []
    ctx.tell(step, [ctx.command_centre_id()], reason=reason, returned_by_unit_id=unit_id)


def _handle(ctx: _Context) -> None:
    """处置完成: the unit reports the fix; the grid worker's verification clock starts."""
    _need(ctx.data.note, "reporting the fix needs a note: what was done")
    if ctx.category.photo_required:
        _check_photo(ctx, f"handling a {ctx.category.name} case")
    deadlines.start_stage(
        ctx.session, event=ctx.event, category=ctx.category, stage=Stage.VERIFY, at=ctx.at
    )
    ctx.step(EventStatus.HANDLED)


def _verify(ctx: _Context) -> None:
    """核查: on site, with a photo, within 100 m; a pass closes the case at once."""
    if ctx.data.passed is False:
        _rework(ctx)
        return
    event = ctx.event
    data: dict[str, Any] = {"passed": True}
    if ctx.category.onsite_verification_required:
        _check_photo(ctx, "verifying a fix")
        if ctx.data.lon is None:
            raise InvalidReport(
                "verifying a fix needs where you stand (lon, lat and crs); it is done on site"
            )
        metres = _distance_m(ctx.session, event, ctx.data)
        if metres > VERIFY_RADIUS_M:
            raise InvalidReport(
                f"you are {metres:.0f} m from the event; verification is done on site, within "
                f"{VERIFY_RADIUS_M:.0f} m — go to the place and send it again"
            )
        data |= {"distance_m": round(metres, 1), "lon": ctx.data.lon, "lat": ctx.data.lat}
        data["crs"] = ctx.data.crs.value
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    ctx.step(EventStatus.VERIFIED, data=data)
    if event.source in CITIZEN_SOURCES:  # the caller is answered first (答复), which closes it
        deadlines.start_stage(
            ctx.session, event=event, category=ctx.category, stage=Stage.REPLY, at=ctx.at
        )
        return
    _close(ctx)


def _rework(ctx: _Context) -> None:
    """核查不通过: back to the unit, which handles it again on a new clock (counts against it)."""
    event = ctx.event
    reason = _need(
        ctx.data.reason, "sending a fix back needs a reason: what is still wrong on site"
    )
    event.rework_count += 1
    _back_to_unit(ctx, reason, action="rework", rework_count=event.rework_count)


def _back_to_unit(
    ctx: _Context, reason: str, *, action: str | None = None, **data: Any
) -> EventStep:
    """The case goes back to its unit, signed, on a fresh handling clock, with `reason`."""
    event = ctx.event
    deadlines.start_stage(
        ctx.session,
        event=event,
        category=ctx.category,
        stage=Stage.HANDLE,
        at=ctx.at,
        unit_id=event.unit_id,
    )
    step = ctx.step(
        EventStatus.SIGNED,
        action=action,
        note=ctx.data.note or reason,
        data={"reason": reason, **data},
    )
    ctx.tell(step, [event.unit_id], reason=reason)
    return step


def _citizens(event: Event) -> bool:
    return event.source in CITIZEN_SOURCES


def _close_action(ctx: _Context) -> None:
    """结案 by hand, for a verified case the system did not close (never a citizen's case)."""
    event = ctx.event
    if _citizens(event):
        raise ActionNotAllowed(
            f"案件{event.code}来自{event.source.label}，须先答复来电人，答复后自动结案 "
            f"(event {event.code} was raised by a citizen ({event.source.value}): reply to the "
            "caller first (reply, 答复); the reply closes it)",
            allowed=["reply"],
        )
    _close(ctx)


def _reply(ctx: _Context) -> None:
    """答复: the operator's answer to the caller closes a verified citizen case; the callback
    (回访) is then due."""
    event, data = ctx.event, ctx.data
    if not _citizens(event):
        raise ActionNotAllowed(
            f"event {event.code} was not raised by a citizen ({event.source.value}); there is "
            "no caller to answer — close it instead (close, 结案)",
            allowed=["close"],
        )
    text = _need(data.reply, "a reply needs its text (reply, 答复内容): what the caller was told")
    channel = _need(
        data.reply_channel,
        "say how the caller was answered (reply_channel): phone, sms, letter, web_app, in_person",
    )
    replied_at = data.replied_at or ctx.at
    waiting_since = event.stage_started_at
    if replied_at > ctx.at:
        raise InvalidReport(f"replied_at {replied_at.isoformat()} is in the future")
    if waiting_since is not None and replied_at < waiting_since:
        raise InvalidReport(
            f"replied_at {replied_at.isoformat()} is before the fix was verified "
            f"({waiting_since.isoformat()}); the reply comes after the check (核查)"
        )
    deadlines.end_stage(ctx.session, event=event, at=replied_at)
    event.closed_at = ctx.at
    step = ctx.step(
        EventStatus.CLOSED,
        note=data.note or f"答复（{channel.label}）：{text}",  # the history shows what was said
        data={
            "reply": text,
            "reply_channel": channel.value,
            "replied_at": replied_at.isoformat(),
        },
    )
    ctx.tell(step, [event.unit_id])
    from events.callbacks import open_callback  # callbacks records through this module

    open_callback(ctx.session, event=event, at=ctx.at)


def _reopen(ctx: _Context) -> None:
    """重办: the caller was not satisfied at the callback; back to the same unit, signed, with
    the caller's reason and a fresh handling deadline (recorded through events.callbacks)."""
    from events.callbacks import reopening_callback  # callbacks records through this module

    event = ctx.event
    callback = reopening_callback(ctx.session, event=event)
    if callback is None:
        raise ActionNotAllowed(
            f"event {event.code} is reopened (重办) only when the caller says 不满意 at the "
            f"callback; record that with POST /api/events/{event.code}/callbacks",
            allowed=[],
        )
    reason = _need(ctx.data.reason, "reopening a case needs the caller's reason (reason)")
    event.closed_at = None
    step = _back_to_unit(ctx, reason, callback_id=callback.id, round=callback.round)
    callback.reopen_step_id = step.id


def _pending_extension(session: Session, event: Event) -> EventStep | None:
    """The extension request waiting in the running handling stage, if any."""
    last = session.scalar(
        select(EventStep)
        .where(EventStep.event_id == event.id, EventStep.action.in_(_EXTENSION_ACTIONS))
        .order_by(EventStep.id.desc())
        .limit(1)
    )
    return last if last is not None and last.action == "extend" else None


def _extend(ctx: _Context) -> None:
    """申请延期: the unit asks for more time; the command centre decides (approve-extension)."""
    event = ctx.event
    reason = _need(ctx.data.reason, "an extension request needs a reason: why more time is needed")
    if ctx.data.extra_limit is None and ctx.data.new_deadline is None:
        raise InvalidReport(
            "say how much longer: extra_limit in working time (4h, 2d) or new_deadline"
        )
    current = event.stage_deadline
    if ctx.data.new_deadline is not None and current and ctx.data.new_deadline <= current:
        raise InvalidReport(
            f"new_deadline {ctx.data.new_deadline.isoformat()} is not later than the "
            f"current deadline {current.isoformat()}"
        )
    replaced = _pending_extension(ctx.session, event)
    step = ctx.step(
        EventStatus.SIGNED,
        note=ctx.data.note or reason,
        data={
            "extension": {
                "status": "pending",
                "reason": reason,
                "extra_limit": ctx.data.extra_limit,
                "new_deadline": ctx.data.new_deadline.isoformat()
                if ctx.data.new_deadline
                else None,
                "current_deadline": current.isoformat() if current else None,
                "replaces_step_id": replaced.id if replaced else None,
            }
        },
    )
    ctx.tell(step, [ctx.command_centre_id()], reason=reason, extra_limit=ctx.data.extra_limit)


def _approve_extension(ctx: _Context) -> None:
    """批准延期: the running deadline moves by the working time asked (or as approved)."""
    event = ctx.event
    request = _pending_extension(ctx.session, event)
    if request is None:
        raise ActionNotAllowed(
            f"event {event.code} has no extension request waiting; the unit asks first (extend)",
            allowed=allowed_actions(event.status, ctx.actor.role),
        )
    if event.stage_deadline is None:
        raise ActionNotAllowed(f"event {event.code} has no running deadline to move")
    asked = request.data["extension"]
    extra_limit = ctx.data.extra_limit or (None if ctx.data.new_deadline else asked["extra_limit"])
    wanted = ctx.data.new_deadline or (
        datetime.fromisoformat(asked["new_deadline"]) if asked.get("new_deadline") else None
    )
    before = event.stage_deadline
    if extra_limit is not None:
        after = _later(ctx.session, event, before, Limit.parse(extra_limit))
    else:
        assert wanted is not None
        after = wanted
    if after <= before:
        raise InvalidReport(
            f"the new deadline {after.isoformat()} is not later than the current one "
            f"{before.isoformat()}; nothing to extend"
        )
    deadlines.extend_stage(ctx.session, event=event, new_deadline=after)
    step = ctx.step(
        EventStatus.SIGNED,
        data={
            "extension": {
                "request_step_id": request.id,
                "extra_limit": extra_limit,
                "from": before.isoformat(),
                "to": after.isoformat(),
            }
        },
    )
    ctx.tell(step, [event.unit_id], new_deadline=after.isoformat())


def _suspend(ctx: _Context) -> None:
    """挂账: the case waits on something outside the unit's hands; its clock stops."""
    event = ctx.event
    reason = _need(ctx.data.reason, "suspending a case (挂账) needs a reason: what it waits for")
    event.status_before_suspension = event.status
    event.suspended_at = ctx.at
    step = ctx.step(EventStatus.SUSPENDED, note=ctx.data.note or reason, data={"reason": reason})
    ctx.tell(step, [event.unit_id], reason=reason)


def _resume(ctx: _Context) -> None:
    """恢复: back to the state before; the deadline moves out by the suspended working time.

    The running clock's start (`event.stage_started_at`) moves by the same amount so the light
    counts only the time not suspended; `event_stage` keeps the real start.
    """
    event = ctx.event
    back = event.status_before_suspension
    if back is None or event.suspended_at is None:
        raise ActionNotAllowed(f"event {event.code} has no record of its suspension to resume")
    suspended_at = event.suspended_at
    paused_s = (
        (ctx.at - suspended_at).total_seconds()
        if event.priority is Priority.URGENT
        else work_calendar(ctx.session).working_seconds_between(suspended_at, ctx.at)
    )
    before = event.stage_deadline
    data: dict[str, Any] = {
        "suspended_at": suspended_at.isoformat(),
        "suspended_working_seconds": paused_s,
    }
    if before is not None and event.stage_started_at is not None:
        after = _paused(ctx.session, event, before, ctx.at)
        event.stage_started_at = _paused(ctx.session, event, event.stage_started_at, ctx.at)
        deadlines.extend_stage(ctx.session, event=event, new_deadline=after)
        data |= {"deadline_from": before.isoformat(), "deadline_to": after.isoformat()}
    event.suspended_at = None
    event.status_before_suspension = None
    step = ctx.step(back, data=data)
    ctx.tell(step, [event.unit_id])


def _void(ctx: _Context) -> None:
    """作废: an invalid or duplicate report, with the reason (and the event it duplicates)."""
    event = ctx.event
    reason = _need(ctx.data.reason, "voiding a case needs a reason, e.g. 重复上报 or 不属实")
    data: dict[str, Any] = {"reason": reason}
    if ctx.data.duplicate_of is not None:
        original = ctx.session.scalar(select(Event).where(Event.code == ctx.data.duplicate_of))
        if original is None:
            raise NotFound(f"event {ctx.data.duplicate_of} (duplicate_of) does not exist")
        if original.id == event.id:
            raise InvalidReport(
                f"event {event.code} cannot be a duplicate of itself; name the earlier event"
            )
        if original.status is EventStatus.VOIDED:
            first = (
                ctx.session.scalar(select(Event.code).where(Event.id == original.duplicate_of_id))
                if original.duplicate_of_id
                else None
            )
            raise InvalidReport(
                f"event {original.code} is voided itself; point to the event still being "
                "handled" + (f", {first}" if first else "")
            )
        event.duplicate_of_id = original.id
        data["duplicate_of"] = original.code
    had_unit = event.unit_id if event.status is EventStatus.DISPATCHED else None
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.void_reason = reason
    step = ctx.step(EventStatus.VOIDED, note=ctx.data.note or reason, data=data)
    ctx.tell(step, [had_unit], reason=reason)


def _self_resolve(ctx: _Context) -> None:
    """自行处置: the grid worker fixed it on the spot; a photo shows it."""
    event = ctx.event
    _check_photo(ctx, "a case fixed on the spot")
    had_unit = event.unit_id if event.status is EventStatus.DISPATCHED else None
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.closed_at = ctx.at
    step = ctx.step(EventStatus.SELF_RESOLVED, note=ctx.data.note or "网格员现场自行处置")
    ctx.tell(step, [had_unit])


def _supervise(ctx: _Context) -> None:
    """督办 by hand: the unit, its supervisor and the command centre are told."""
    event = ctx.event
    light = deadlines.light(ctx.session, event=event, now=ctx.at)
    level = ctx.data.level or ("red" if light is Light.RED else "yellow")
    supervise(
        ctx.session,
        event=event,
        level=level,
        at=ctx.at,
        actor_id=ctx.actor.staff_id,
        note=ctx.data.note,
        light=light,
    )


def _transfer(ctx: _Context) -> None:
    """跨区移交: the case goes on as a new case of the receiving district; this one ends."""
    event = ctx.event
    name = check_transfer(
        ctx.session, actor=ctx.actor, event=event, to_district=ctx.data.to_district
    )
    reason = _need(
        ctx.data.reason,
        "跨区移交需要说明理由，例如 事发地属伍家岗区 (a transfer needs a reason: why the case "
        "belongs to the other district)",
    )
    assert ctx.data.to_district is not None
    target = ctx.data.to_district.strip()
    had_unit = event.unit_id if event.status is not EventStatus.RETURNED else None
    new = transfer_event(
        ctx.session,
        actor=ctx.actor,
        event=event,
        category=ctx.category,
        to_district=target,
        reason=reason,
        at=ctx.at,
    )
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.suspended_at = None
    step = ctx.step(
        EventStatus.TRANSFERRED,
        note=ctx.data.note or f"移交{name}：{reason}",
        data={"transferred_to": new.code, "to_district": target, "reason": reason},
    )
    ctx.tell(step, [had_unit, *(event.assisting_unit_ids or [])], transferred_to=new.code)


HANDLERS: dict[str, Callable[[_Context], None]] = {
    "locate": _locate,
    "check": _check,
    "direct-reply": _direct_reply,
    "dispatch": _dispatch,
    "redispatch": _redispatch,
    "sign": _sign,
    "return": _return,
    "handle": _handle,
    "verify": _verify,
    "rework": _rework,
    "close": _close_action,
    "reply": _reply,
    "reopen": _reopen,
    "extend": _extend,
    "approve-extension": _approve_extension,
    "suspend": _suspend,
    "resume": _resume,
    "void": _void,
    "self-resolve": _self_resolve,
    "supervise": _supervise,
    "transfer": _transfer,
}
assert set(HANDLERS) == set(TRANSITIONS), "every action of the table has a handler"


def act(
    session: Session,
    *,
    actor: Actor,
    code: str,
    action: str,
    data: ActionInput,
    photos: list[PhotoInfo] | None = None,
    photo_dir: Path | None = None,
    now: datetime | None = None,
) -> EventRead:
    """Do `action` to event `code` as `actor` and return the event as it now stands."""
    at = _moment(now)
    event = _locked_event(session, code)
    rule = _rule(event, action, actor)
    _check_scope(session, actor, event, action)
    category = session.get(EventCategory, event.category_id)
    assert category is not None
    context = _Context(
        session=session,
        actor=actor,
        event=event,
        category=category,
        rule=rule,
        data=data,
        photos=list(photos or []),
        at=at,
    )
    last_before = session.scalar(
        select(func.coalesce(func.max(EventStep.id), 0)).where(EventStep.event_id == event.id)
    )
    HANDLERS[action](context)
    if context.photos:  # they belong to the action's own step, the first it recorded
        first = session.scalar(
            select(EventStep)
            .where(EventStep.event_id == event.id, EventStep.id > last_before)
            .order_by(EventStep.id)
            .limit(1)
        )
        assert first is not None
        attach_photos(session, event=event, step=first, photos=context.photos, directory=photo_dir)
    session.flush()
    return read_event(session, event=event, now=at)


def act_for(
    session: Session,
    *,
    actor: Actor,
    code: str,
    action: str,
    data: ActionInput,
    photos: list[PhotoInfo] | None = None,
) -> EventDetail:
    """Do `action` as an API caller: an event outside their sight is refused (Forbidden) before
    anything about its state is said; then `act`, and the event as it stands with its photos and
    the actor's next possible actions."""
    from events.query import check_visible, detail_of  # the reads import this module

    check_visible(session, actor=actor, event=get_event(session, code=code))
    read = act(session, actor=actor, code=code, action=action, data=data, photos=photos)
    return detail_of(session, actor=actor, read=read)


def actions_for(session: Session, *, actor: Actor, event: Event) -> list[str]:
    """The actions `actor` may take on `event` now: by its state, the role and the scope."""
    possible = []
    for action in allowed_actions(event.status, actor.role):
        try:
            _check_scope(session, actor, event, action)
        except Forbidden:
            continue
        if action == "approve-extension" and _pending_extension(session, event) is None:
            continue
        if action == "reopen":  # only through a callback's 不满意 (events.callbacks)
            continue
        if action == ("close" if _citizens(event) else "reply"):
            continue
        if action == "locate" and event.geom is not None:
            continue
        if action == "check" and event.geom is None:
            continue
        if action == "direct-reply" and not (
            event.source in CITIZEN_SOURCES and event.appeal_type is AppealType.CONSULT
        ):
            continue
        possible.append(action)
    return possible


__all__ = ["HANDLERS", "VERIFY_RADIUS_M", "act", "act_for", "actions_for"]
