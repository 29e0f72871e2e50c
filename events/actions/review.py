"""The command centre's review of a unit's return (退回审核) and its ruling on a dispute (争议裁定).

A unit's `return` sends the case to the command centre (RETURNED), which decides:
`accept-return` 同意退回 (the case is re-dispatched: to the unit named or by the rules again,
never to a unit that returned it — the same code as `redispatch`, its synonym for a returned
case), `reject-return` 驳回退回 (back to the unit that returned it, with the ruling as its note
and a fresh sign-for clock) or, once two different units have returned the case, `rule` 裁定
(names the lead unit with the reasoning; binding: that unit may not return this case again,
events.disputes). Each step's data names the returning unit(s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.actions.context import ActionContext, need
from events.actions.routing import manual_dispatch, redispatch_step
from events.disputes import (
    awaiting_ruling,
    is_disputed,
    record_ruling,
    refuse_return_if_ruled,
    returners,
)
from events.exceptions import ActionNotAllowed
from events.models import Event, EventStatus, EventStep, Outbox
from events.workflow import allowed_actions


def _annotate(ctx: ActionContext, step: EventStep, *, note: str, **data: Any) -> None:
    """Give the dispatch step the ruling as its note and `data`, and its notices the same."""
    step.note = note if not ctx.data.note else f"{note}\n{ctx.data.note}"
    step.data = {**step.data, **data}
    for row in ctx.session.scalars(
        select(Outbox).where(
            Outbox.step_id == step.id, Outbox.district_code == ctx.event.district_code
        )
    ):
        row.payload = {**row.payload, "ruling": note}
    ctx.session.flush()


def _last_returner(ctx: ActionContext) -> int:
    """The unit whose return is under review (the last to return the case)."""
    returned_by = ctx.event.returned_by_unit_ids or []
    if not returned_by:
        raise ActionNotAllowed(
            f"event {ctx.event.code} has no unit's return on record to review; dispatch it "
            "(accept-return routes it by the rules)",
            allowed=["accept-return", "void", "transfer"],
        )
    return returned_by[-1]


def _accept_return(ctx: ActionContext) -> None:
    """同意退回: the return was right; re-dispatched, never to a unit that returned it. The unit
    whose return it was is told too (`return_accepted`): the case is off its books."""
    returner = _last_returner(ctx)
    step = redispatch_step(ctx)
    ctx.tell(step, [returner], return_accepted=True)


def _reject_return(ctx: ActionContext) -> None:
    """驳回退回: the case goes back to the unit that returned it, with the ruling and a fresh
    sign-for clock."""
    ruling = need(
        ctx.data.reason,
        "驳回退回需写明审核意见，例如 经核实属贵单位辖区 (rejecting a return needs the ruling in "
        "reason: why the case is the unit's after all)",
    )
    unit_id = _last_returner(ctx)
    step = manual_dispatch(ctx, unit_id)
    _annotate(ctx, step, note=ruling, returned_by_unit_id=unit_id, ruling=ruling)


def _rule(ctx: ActionContext) -> None:
    """裁定: two units returned the case; the command centre names the lead unit, binding."""
    event = ctx.event
    units = returners(event)
    if len(units) < 2:
        raise ActionNotAllowed(
            f"event {event.code} is not a dispute: only one unit has returned it; accept the "
            "return (accept-return) or reject it (reject-return)",
            allowed=[a for a in allowed_actions(event.status) if a != "rule"],
        )
    unit_id = need(
        ctx.data.unit_id,
        "裁定需指定主办单位 (unit_id): one of the units that returned the case, or another unit "
        "of the district",
    )
    reasoning = need(
        ctx.data.reason,
        "裁定需写明理由 (reason), e.g. 事发地位于该单位辖区，依职责由其主办 — the ruling binds "
        "the unit, so it must say why",
    )
    step = manual_dispatch(ctx, unit_id)
    ruling = record_ruling(
        ctx.session,
        event=event,
        step=step,
        unit_ids=units,
        unit_id=unit_id,
        reasoning=reasoning,
        actor_id=ctx.actor.staff_id,
        at=ctx.at,
    )
    _annotate(
        ctx,
        step,
        note=reasoning,
        unit_ids=units,
        returned_by_unit_id=units[-1],
        ruling_id=ruling.id,
        ruling=reasoning,
    )
    ctx.tell(step, [u for u in units if u != unit_id], ruling=reasoning, ruling_id=ruling.id)


def available(session: Session, *, event: Event, action: str) -> bool:
    """Whether `action`, allowed by the table, makes sense for this case now: `rule` only on a
    dispute awaiting its ruling, `return` not by the unit a ruling named, `redispatch` of a
    returned case as accept-return."""
    if action == "redispatch" and event.status is EventStatus.RETURNED:
        return False  # offered as accept-return, its synonym for a returned case
    if action == "rule":
        return is_disputed(event) and awaiting_ruling(session, event=event)
    if action == "return":
        try:
            refuse_return_if_ruled(session, event=event, unit_id=event.unit_id)
        except ActionNotAllowed:
            return False
    return True


HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    "accept-return": _accept_return,
    "reject-return": _reject_return,
    "rule": _rule,
}
