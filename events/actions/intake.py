"""Actions on a case before it reaches a unit: 定位, 核实, 直接答复, 作废 and 自行处置."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy import select

from events import deadlines
from events.actions.context import (
    ActionContext,
    check_photo,
    need,
    unlocated_first,
)
from events.evaluation import evaluate_event
from events.exceptions import ActionNotAllowed, InvalidReport, NotFound
from events.models import (
    CITIZEN_SOURCES,
    AppealType,
    Event,
    EventSource,
    EventStatus,
    ReplyChannel,
)
from events.service import (
    building_point,
    checked_on_site_first,
    intake_status,
    route_located,
)
from events.subtasks import cancel_subtasks
from events.workflow import (
    allowed_actions,
)
from gis.crs import STORAGE_SRID, Crs
from grid.exceptions import InvalidQuery
from grid.models import Building
from grid.service import locate_point


def _locate(ctx: ActionContext) -> None:
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
        EventStatus.REPORTED if check_first else intake_status(event, ctx.category),
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


def _direct_reply(ctx: ActionContext) -> None:
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
    reply = need(ctx.data.reply, "a direct reply needs the answer given to the caller (reply)")
    channel = ctx.data.reply_channel or (
        ReplyChannel.PHONE if event.source is EventSource.HOTLINE else None
    )
    channel = need(channel, "say how the caller was answered (reply_channel): phone, sms …")
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
    evaluate_event(ctx.session, event=event, at=ctx.at)  # 考评


def _check(ctx: ActionContext) -> None:
    """核实: a grid worker confirms a report from another source, which then waits for 立案
    (or, urgent, is registered and dispatched at once)."""
    event = ctx.event
    unlocated_first(ctx)
    if ctx.data.passed is False:
        reason = need(ctx.data.reason, "a failed check needs a reason: what was found on site")
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
    ctx.step(intake_status(event, ctx.category), data={"passed": True}, without_unit=True)
    route_located(
        ctx.session,
        event=event,
        category=ctx.category,
        at=ctx.at,
        actor_id=ctx.actor.staff_id,
        check=False,
    )


def _void(ctx: ActionContext) -> None:
    """作废: an invalid or duplicate report, with the reason (and the event it duplicates)."""
    event = ctx.event
    reason = need(ctx.data.reason, "voiding a case needs a reason, e.g. 重复上报 or 不属实")
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
    cancel_subtasks(ctx.session, event=event, at=ctx.at, reason=f"案件作废 (voided): {reason}")
    event.void_reason = reason
    step = ctx.step(EventStatus.VOIDED, note=ctx.data.note or reason, data=data)
    ctx.tell(step, [had_unit], reason=reason)


def _self_resolve(ctx: ActionContext) -> None:
    """自行处置: the grid worker fixed it on the spot; a photo shows it."""
    event = ctx.event
    check_photo(ctx, "a case fixed on the spot")
    had_unit = event.unit_id if event.status is EventStatus.DISPATCHED else None
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    cancel_subtasks(
        ctx.session, event=event, at=ctx.at, reason="网格员自行处置 (fixed on the spot)"
    )
    event.closed_at = ctx.at
    step = ctx.step(EventStatus.SELF_RESOLVED, note=ctx.data.note or "网格员现场自行处置")
    ctx.tell(step, [had_unit])
    evaluate_event(ctx.session, event=event, at=ctx.at)  # 考评


HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    "locate": _locate,
    "check": _check,
    "direct-reply": _direct_reply,
    "void": _void,
    "self-resolve": _self_resolve,
}
