"""The command centre's judgement and the tiers (分级流转): 立案, 不予立案, 上报, 下派 and 就地解决.

Who may act is the common scope (`context.check_scope`: the case in the actor's area, held at
the actor's tier or below); which tiers exist for a case is `events.tiers`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events import deadlines
from events.actions.context import ActionContext, need, unlocated_first
from events.catalog import Tier
from events.exceptions import ActionNotAllowed, InvalidReport
from events.models import EventStatus, Stage
from events.tiers import (
    rank,
    starting_tier,
    tier_above,
    tier_centre,
    tier_exists,
    tiers_below,
)
from events.workflow import allowed_actions


def _tier_data(ctx: ActionContext, tier: Tier, **extra: Any) -> tuple[int | None, dict[str, Any]]:
    """The centre holding the case at `tier` (its id, for the step) and the step's data."""
    centre = tier_centre(ctx.session, event=ctx.event, tier=tier)
    data = {"tier": tier.value, "centre": centre.name if centre else None, **extra}
    return (centre.id if centre else None), data


def _register(ctx: ActionContext) -> None:
    """立案: the case is taken up at the tier holding it — its category's start tier, or the tier
    it was escalated (上报) or delegated (下派) to — or, when that tier's centre is gone, the
    nearest tier above with one; it waits there for 派遣 on the dispatch clock."""
    event = ctx.event
    unlocated_first(ctx)
    tier = event.tier
    if not tier_exists(ctx.session, event=event, tier=tier):
        above = tier_above(ctx.session, event=event)
        tier = above or starting_tier(ctx.session, event=event, category=ctx.category)
    event.tier = tier
    deadlines.start_stage(
        ctx.session, event=event, category=ctx.category, stage=Stage.DISPATCH, at=ctx.at
    )
    centre_id, data = _tier_data(ctx, tier)
    ctx.step(EventStatus.REGISTERED, unit_id=centre_id, without_unit=centre_id is None, data=data)


def _refuse(ctx: ActionContext) -> None:
    """不予立案: the case is not taken up; the reporter reads the reason with the case."""
    event = ctx.event
    reason = need(
        ctx.data.reason,
        "不予立案须写明理由，上报人会看到 (refusing a case needs a reason, which the reporter "
        "reads), e.g. 不属于受理范围",
    )
    deadlines.end_stage(ctx.session, event=event, at=ctx.at)
    event.void_reason = reason
    ctx.step(
        EventStatus.REFUSED,
        note=ctx.data.note or reason,
        data={"reason": reason},
        without_unit=True,
    )


def _move(ctx: ActionContext, tier: Tier, reason: str | None) -> None:
    """The case goes to `tier`, in its state, on a fresh clock of its stage there; that tier's
    centre is told (a notice, like a unit's dispatch)."""
    event = ctx.event
    before = event.tier
    stage = Stage.REGISTER if event.status is EventStatus.PENDING else Stage.DISPATCH
    event.tier = tier
    deadlines.start_stage(ctx.session, event=event, category=ctx.category, stage=stage, at=ctx.at)
    centre_id, data = _tier_data(ctx, tier, from_tier=before.value, reason=reason)
    step = ctx.step(
        event.status,
        note=ctx.data.note or reason,
        unit_id=centre_id,
        without_unit=centre_id is None,
        data=data,
    )
    ctx.tell(step, [centre_id], reason=reason)  # the centre now holding it is told, with why


def _escalate(ctx: ActionContext) -> None:
    """上报: beyond the holding tier's power, the case goes to the tier above, with the reason."""
    event = ctx.event
    above = tier_above(ctx.session, event=event)
    if above is None:
        raise ActionNotAllowed(
            f"案件{event.code}已在{event.tier.label}层级，没有更高层级可上报 (event {event.code} "
            f"is held at the {event.tier.value} tier; there is no tier above it to escalate to)",
            allowed=allowed_actions(event.status, ctx.actor.role),
        )
    reason = need(
        ctx.data.reason,
        "上报须写明理由，例如 超出社区调处能力 (escalating needs a reason: why this tier cannot "
        "resolve it)",
    )
    _move(ctx, above, reason)


def _delegate(ctx: ActionContext) -> None:
    """下派: the case goes down to a lower tier whose area holds it (tier: community or street)."""
    event = ctx.event
    below = tiers_below(ctx.session, event=event)
    target = ctx.data.tier
    if target is None:
        named = ", ".join(t.value for t in below) or "none"
        raise InvalidReport(
            f"下派须指明层级 (delegating needs the tier to hand the case to: tier; for event "
            f"{event.code} the tiers below with a centre are: {named})",
            field="tier",
        )
    if rank(target) >= rank(event.tier):
        raise InvalidReport(
            f"{target.label}不在{event.tier.label}之下 (the {target.value} tier is not below the "
            f"{event.tier.value} tier holding event {event.code}; escalate to go up)",
            field="tier",
        )
    if not tier_exists(ctx.session, event=event, tier=target):
        raise InvalidReport(
            f"案件所在地没有{target.label}综治中心（站） (no {target.value} centre serves the "
            f"place of event {event.code}); choose one of: "
            + (", ".join(t.value for t in below) or "none"),
            field="tier",
        )
    _move(ctx, target, ctx.data.reason)


def _resolve(ctx: ActionContext) -> None:
    """就地解决: the holding tier handles the case itself; the grid worker then checks the fix."""
    event = ctx.event
    unlocated_first(ctx)
    note = need(ctx.data.note, "就地解决须写明处理情况 (resolving needs a note: what was done)")
    centre_id, data = _tier_data(ctx, event.tier, registered=event.status is EventStatus.PENDING)
    deadlines.start_stage(
        ctx.session, event=event, category=ctx.category, stage=Stage.VERIFY, at=ctx.at
    )
    event.unit_id = centre_id
    event.assisting_unit_ids = []
    ctx.step(
        EventStatus.HANDLED, note=note, unit_id=centre_id, without_unit=centre_id is None, data=data
    )


HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    "register": _register,
    "refuse": _refuse,
    "escalate": _escalate,
    "delegate": _delegate,
    "resolve": _resolve,
}
