"""A unit's own actions while it has the case: 签收, 处置完成, 延期 and 挂账/恢复."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from events import deadlines
from events.actions.context import (
    ActionContext,
    check_photo,
    later,
    need,
    paused,
    pending_extension,
)
from events.calendar import Limit
from events.catalog import Priority
from events.exceptions import ActionNotAllowed, InvalidReport
from events.models import (
    EventStatus,
    Stage,
)
from events.reference import work_calendar
from events.subtasks import refuse_handling_while_open, resume_subtasks
from events.workflow import (
    allowed_actions,
)


def _sign(ctx: ActionContext) -> None:
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


def _handle(ctx: ActionContext) -> None:
    """处置完成: the unit reports the fix; the grid worker's verification clock starts."""
    need(ctx.data.note, "reporting the fix needs a note: what was done")
    refuse_handling_while_open(ctx.session, event=ctx.event)
    if ctx.category.photo_required:
        check_photo(ctx, f"handling a {ctx.category.name} case")
    deadlines.start_stage(
        ctx.session, event=ctx.event, category=ctx.category, stage=Stage.VERIFY, at=ctx.at
    )
    ctx.step(EventStatus.HANDLED)


def _extend(ctx: ActionContext) -> None:
    """申请延期: the unit asks for more time; the command centre decides (approve-extension)."""
    event = ctx.event
    reason = need(ctx.data.reason, "an extension request needs a reason: why more time is needed")
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
    replaced = pending_extension(ctx.session, event)
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


def _approve_extension(ctx: ActionContext) -> None:
    """批准延期: the running deadline moves by the working time asked (or as approved)."""
    event = ctx.event
    request = pending_extension(ctx.session, event)
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
        after = later(ctx.session, event, before, Limit.parse(extra_limit))
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


def _suspend(ctx: ActionContext) -> None:
    """挂账: the case waits on something outside the unit's hands; its clock stops."""
    event = ctx.event
    reason = need(ctx.data.reason, "suspending a case (挂账) needs a reason: what it waits for")
    event.status_before_suspension = event.status
    event.suspended_at = ctx.at
    step = ctx.step(EventStatus.SUSPENDED, note=ctx.data.note or reason, data={"reason": reason})
    ctx.tell(step, [event.unit_id], reason=reason)


def _resume(ctx: ActionContext) -> None:
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
        after = paused(ctx.session, event, before, ctx.at)
        event.stage_started_at = paused(ctx.session, event, event.stage_started_at, ctx.at)
        deadlines.extend_stage(ctx.session, event=event, new_deadline=after)
        data |= {"deadline_from": before.isoformat(), "deadline_to": after.isoformat()}
    resume_subtasks(
        ctx.session, event=event, shift=lambda at: paused(ctx.session, event, at, ctx.at)
    )
    event.suspended_at = None
    event.status_before_suspension = None
    step = ctx.step(back, data=data)
    ctx.tell(step, [event.unit_id])


HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    "sign": _sign,
    "handle": _handle,
    "extend": _extend,
    "approve-extension": _approve_extension,
    "suspend": _suspend,
    "resume": _resume,
}
