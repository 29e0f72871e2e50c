"""After the fix: 核查 (pass or rework), 结案, the reply to a citizen (答复) and 重办.

Who checks (核查): a grid worker of the case's grid, whoever reported it (a colleague's report
or a hotline call alike), or an inspector whose area holds it (`context.check_scope`); where
the category asks for it, on site with a photo and within VERIFY_RADIUS_M of the case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events import deadlines
from events.actions.context import (
    VERIFY_RADIUS_M,
    ActionContext,
    check_photo,
    citizens,
    distance_m,
    need,
)
from events.catalog import DepartmentType
from events.evaluation import evaluate_event
from events.exceptions import ActionNotAllowed, InvalidReport
from events.models import (
    CITIZEN_SOURCES,
    DepartmentUnit,
    EventStatus,
    EventStep,
    Stage,
)


def _verify(ctx: ActionContext) -> None:
    """核查: on site, with a photo, within 100 m; a pass leaves the case verified, waiting for
    the command centre's 结案 (or, for a citizen's case, the reply 答复)."""
    if ctx.data.passed is False:
        _rework(ctx)
        return
    event = ctx.event
    data: dict[str, Any] = {"passed": True}
    if ctx.category.onsite_verification_required:
        check_photo(ctx, "verifying a fix")
        if ctx.data.lon is None:
            raise InvalidReport(
                "verifying a fix needs where you stand (lon, lat and crs); it is done on site"
            )
        metres = distance_m(ctx.session, event, ctx.data)
        if metres > VERIFY_RADIUS_M:
            raise InvalidReport(
                f"you are {metres:.0f} m from the event; verification is done on site, within "
                f"{VERIFY_RADIUS_M:.0f} m — go to the place and send it again"
            )
        data |= {"distance_m": round(metres, 1), "lon": ctx.data.lon, "lat": ctx.data.lat}
        data["crs"] = ctx.data.crs.value
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    ctx.step(EventStatus.VERIFIED, data=data)
    # The case now waits for the command centre: a citizen's caller is answered (答复), which
    # closes it; any other case is closed (结案) by the centre. Each on a clock of its own.
    deadlines.start_stage(
        ctx.session,
        event=event,
        category=ctx.category,
        stage=Stage.REPLY if event.source in CITIZEN_SOURCES else Stage.CLOSE,
        at=ctx.at,
    )


def _rework(ctx: ActionContext) -> None:
    """核查不通过: back to the unit, which handles it again on a new clock (counts against it);
    a case its tier resolved itself goes back to the tier."""
    event = ctx.event
    reason = need(ctx.data.reason, "sending a fix back needs a reason: what is still wrong on site")
    event.rework_count += 1
    unit = ctx.session.get(DepartmentUnit, event.unit_id) if event.unit_id else None
    if unit is not None and unit.dept_type is DepartmentType.COMMAND_CENTRE:
        # A tier resolved it itself (就地解决) and a centre has no one to sign and handle: the
        # case goes back to its tier, registered, to be resolved again or dispatched.
        deadlines.start_stage(
            ctx.session, event=event, category=ctx.category, stage=Stage.DISPATCH, at=ctx.at
        )
        event.unit_id = None
        ctx.step(
            EventStatus.REGISTERED,
            note=ctx.data.note or reason,
            data={"reason": reason, "rework_count": event.rework_count, "back_to": "tier"},
            unit_id=unit.id,
        )
        return
    back_to_unit(ctx, reason, action="rework", rework_count=event.rework_count)


def back_to_unit(
    ctx: ActionContext, reason: str, *, action: str | None = None, **data: Any
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


def _close_action(ctx: ActionContext) -> None:
    """结案: the command centre closes a case whose check passed (never a citizen's case: the
    reply to the caller closes that); the 结案 clock stops and the unit is told."""
    event = ctx.event
    if citizens(event):
        raise ActionNotAllowed(
            f"案件{event.code}来自{event.source.label}，须先答复来电人，答复后自动结案 "
            f"(event {event.code} was raised by a citizen ({event.source.value}): reply to the "
            "caller first (reply, 答复); the reply closes it)",
            allowed=["reply"],
        )
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.closed_at = ctx.at
    step = ctx.step(EventStatus.CLOSED, note=ctx.data.note or "核查通过，结案")
    ctx.tell(step, [event.unit_id])
    evaluate_event(ctx.session, event=event, at=ctx.at)  # 考评


def _reply(ctx: ActionContext) -> None:
    """答复: the operator's answer to the caller closes a verified citizen case; the callback
    (回访) is then due."""
    event, data = ctx.event, ctx.data
    if not citizens(event):
        raise ActionNotAllowed(
            f"event {event.code} was not raised by a citizen ({event.source.value}); there is "
            "no caller to answer — close it instead (close, 结案)",
            allowed=["close"],
        )
    text = need(data.reply, "a reply needs its text (reply, 答复内容): what the caller was told")
    channel = need(
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
    evaluate_event(ctx.session, event=event, at=ctx.at)  # 考评


def _reopen(ctx: ActionContext) -> None:
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
    reason = need(ctx.data.reason, "reopening a case needs the caller's reason (reason)")
    event.closed_at = None
    step = back_to_unit(ctx, reason, callback_id=callback.id, round=callback.round)
    callback.reopen_step_id = step.id


HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    "verify": _verify,
    "rework": _rework,
    "close": _close_action,
    "reply": _reply,
    "reopen": _reopen,
}
