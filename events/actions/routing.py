"""Actions that decide who has a case: 派遣, 重新派遣, 退回, 督办 and 跨区移交."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from events import deadlines
from events.actions.context import (
    ActionContext,
    need,
    unlocated_first,
)
from events.calendar import Light
from events.dispatch import dispatch_event, propose_dispatch
from events.disputes import refuse_return_if_ruled, returners
from events.exceptions import Forbidden, InvalidReport, NotFound
from events.models import (
    DepartmentUnit,
    EventStatus,
    EventStep,
    Stage,
    SupervisionLevel,
)
from events.subtasks import cancel_subtasks, open_subtasks
from events.supervision import issue
from events.transfer import check_transfer, transfer_event
from events.workflow import (
    SYSTEM,
)


def manual_dispatch(
    ctx: ActionContext, unit_id: int, *, proposal: dict[str, Any] | None = None
) -> EventStep:
    """Dispatch to a unit chosen by the command centre, starting its sign-for clock; with the
    automatic `proposal` it differs from, the step records both and the dispatcher's reason."""
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
    if not event.assisting_unit_ids and event.status in (
        EventStatus.REGISTERED,
        EventStatus.RETURNED,
    ):
        # A hand choice of the lead (派遣, 同意退回, 驳回退回, 裁定) keeps the case joint: the
        # category's usual assisting units, as automatic routing finds them (a return cleared
        # them), each get their sub-task again.
        usual = propose_dispatch(ctx.session, event=event, category=ctx.category, at=ctx.at)
        event.assisting_unit_ids = [u.id for u in usual.assisting]
    event.assisting_unit_ids = [u for u in event.assisting_unit_ids or [] if u != unit.id]
    open_subtasks(ctx.session, event=event, category=ctx.category, at=ctx.at)
    helpers = ctx.session.scalars(
        select(DepartmentUnit.code).where(DepartmentUnit.id.in_(event.assisting_unit_ids))
    ).all()
    chosen: dict[str, Any] = {
        "rule_id": None,
        "rule": f"chosen by hand by {ctx.actor.username}",
        "lead_type": unit.dept_type.value,
        "unit_id": unit.id,
        "unit": f"{unit.name}, chosen by the command centre",
        "assisting": sorted(helpers),
        "excluded_units": sorted(event.returned_by_unit_ids or []),
    }
    if proposal is not None:
        chosen |= {"proposal": proposal, "reason": ctx.data.reason}
    step = ctx.step(EventStatus.DISPATCHED, unit_id=unit.id, data={"dispatch": chosen})
    ctx.tell(step, [unit.id, *event.assisting_unit_ids])
    return step


def _dispatch(ctx: ActionContext) -> None:
    """派遣: as automatic routing proposes (no unit_id), or to the unit chosen; a unit other
    than the proposal's needs the dispatcher's reason, recorded with the proposal."""
    if ctx.data.unit_id is not None:
        if ctx.actor.role not in SYSTEM:
            raise Forbidden("only the command centre chooses a unit by hand; leave unit_id empty")
        event = ctx.event
        unlocated_first(ctx)
        proposed = propose_dispatch(ctx.session, event=event, category=ctx.category, at=ctx.at)
        if proposed.lead is None or proposed.lead.id == ctx.data.unit_id:
            # the proposal itself, or no proposal at all: the hand choice needs no reason
            manual_dispatch(ctx, ctx.data.unit_id, proposal=proposed.explanation())
            return
        need(
            ctx.data.reason,
            "改派须写明理由 (a unit other than the proposal's needs a reason: why not "
            f"{proposed.lead.name if proposed.lead else 'the proposal'}), e.g. 该路段属市政养护",
        )
        manual_dispatch(ctx, ctx.data.unit_id, proposal=proposed.explanation())
        return
    dispatch_event(
        ctx.session,
        event=ctx.event,
        category=ctx.category,
        at=ctx.at,
        actor_id=ctx.actor.staff_id,
        note=ctx.data.note,
    )


def redispatch(ctx: ActionContext) -> None:
    """重新派遣 (redispatch)."""
    redispatch_step(ctx)


def redispatch_step(ctx: ActionContext) -> EventStep:
    """重新派遣 and 同意退回 (accept-return), one piece: a returned case goes to the unit named or
    by the rules again, never to a unit that returned it; a dispatched case is re-routed to the
    unit named. The step names the unit whose return was accepted (`returned_by_unit_id`)."""
    event = ctx.event
    returned = event.status is EventStatus.RETURNED
    returned_by = returners(event)
    unit_id = ctx.data.unit_id
    if returned and unit_id is not None and unit_id in returned_by:
        unit = ctx.session.get(DepartmentUnit, unit_id)
        raise InvalidReport(
            f"{unit.name if unit else unit_id}已退回过案件{event.code}，同意退回不能再派给它；"
            f"如要退给它办理请用驳回退回 (unit {unit_id} returned event {event.code}: accepting "
            "a return sends the case elsewhere; to send it back use reject-return)",
            field="unit_id",
        )
    if unit_id is not None:
        step = manual_dispatch(ctx, unit_id)
    elif not returned:
        raise InvalidReport(
            f"event {event.code} is already dispatched; name the unit to re-route it to (unit_id)"
        )
    else:
        step = dispatch_event(
            ctx.session,
            event=event,
            category=ctx.category,
            at=ctx.at,
            actor_id=ctx.actor.staff_id,
            action=ctx.rule.action,
            note=ctx.data.note,
        )
    if returned:
        last = event.returned_by_unit_ids[-1] if event.returned_by_unit_ids else None
        step.data = {**step.data, "returned_by_unit_id": last}
        ctx.session.flush()
    return step


def _return(ctx: ActionContext) -> None:
    """退回: a wrongly routed case goes back to the command centre, which reviews the return
    (events.actions.review); refused when a ruling named this unit to lead the case."""
    event = ctx.event
    reason = need(
        ctx.data.reason,
        "returning a case needs a reason: say why it is not your unit's, e.g. 不属于本辖区",
    )
    unit_id = event.unit_id
    refuse_return_if_ruled(ctx.session, event=event, unit_id=unit_id)  # a ruling binds
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.returned_by_unit_ids = [
        *(event.returned_by_unit_ids or []),
        *([unit_id] if unit_id else []),
    ]
    event.return_count += 1
    cancel_subtasks(
        ctx.session, event=event, at=ctx.at, reason=f"主办单位退回 (returned): {reason}"
    )
    step = ctx.step(EventStatus.RETURNED, note=ctx.data.note or reason, data={"reason": reason})
    event.unit_id = None  # the case waits at the command centre
    event.assisting_unit_ids = []
    ctx.tell(step, [ctx.command_centre_id()], reason=reason, returned_by_unit_id=unit_id)


def _supervise(ctx: ActionContext) -> None:
    """督办 by hand: a supervision order (督办单, events.supervision) to the unit holding the
    case (or the one named), its level by choice or by the light (red: 重点督办, else 一般督办)."""
    event = ctx.event
    light = deadlines.light(ctx.session, event=event, now=ctx.at)
    default = SupervisionLevel.KEY if light is Light.RED else SupervisionLevel.GENERAL
    issue(
        ctx.session,
        event=event,
        level=ctx.data.level or default,
        at=ctx.at,
        actor_id=ctx.actor.staff_id,
        demand=ctx.data.note,
        unit_id=ctx.data.unit_id,
        limit=ctx.data.reply_limit,
        light=light,
    )


def _transfer(ctx: ActionContext) -> None:
    """跨区移交: the case goes on as a new case of the receiving district; this one ends."""
    event = ctx.event
    name = check_transfer(
        ctx.session, actor=ctx.actor, event=event, to_district=ctx.data.to_district
    )
    reason = need(
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
    cancel_subtasks(ctx.session, event=event, at=ctx.at, reason=f"跨区移交 (transferred): {reason}")
    event.suspended_at = None
    step = ctx.step(
        EventStatus.TRANSFERRED,
        note=ctx.data.note or f"移交{name}：{reason}",
        data={"transferred_to": new.code, "to_district": target, "reason": reason},
    )
    ctx.tell(step, [had_unit, *(event.assisting_unit_ids or [])], transferred_to=new.code)


HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    "dispatch": _dispatch,
    "redispatch": redispatch,
    "return": _return,
    "supervise": _supervise,
    "transfer": _transfer,
}
