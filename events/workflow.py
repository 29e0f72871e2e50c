"""The event state machine: which action moves an event from which state to which, and who may.

`reported → (pending →) registered → dispatched → signed → handled → verified → closed` (a
citizen's case closes by the reply to the caller, 答复, and is reopened, 重办, when the caller is
not satisfied at the callback). A case not registered at once waits pending (待立案) for 立案 or
不予立案 (refused); before dispatch a tier may hand it up (上报) or down (下派) or resolve it
itself (就地解决). Branches: returned, suspended/resumed, rework (verification failed: back to
signed), voided, self_resolved and transferred (跨区移交: the case goes on as a new case of
another district).
The table is the single source of truth; services call `transition()` and get a
domain error that lists what is allowed when the action is not, and record each move with
`add_step()` (the audit trail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from events.models import Event, EventStep
from events.models import EventStatus as S
from people.models import StaffRole as R

OPEN_STATES = frozenset(
    {
        S.REPORTED,
        S.PENDING,
        S.REGISTERED,
        S.DISPATCHED,
        S.SIGNED,
        S.HANDLED,
        S.VERIFIED,
        S.RETURNED,
        S.SUSPENDED,
    }
)
# Ended for this event's district: a transferred case goes on as a new case elsewhere.
FINAL_STATES = frozenset({S.CLOSED, S.VOIDED, S.SELF_RESOLVED, S.TRANSFERRED, S.REFUSED})


class IllegalTransition(Exception):
    """The action is not allowed from the event's state or for the actor's role."""


@dataclass(frozen=True)
class Transition:
    """One action: the states it starts from, the state it leads to, the roles that may."""

    action: str
    label: str
    sources: frozenset[S]
    target: S | None  # None: stays in its state (extension requests, supervision)
    roles: frozenset[R]


def _t(action: str, label: str, sources: set[S], target: S | None, roles: set[R]) -> Transition:
    return Transition(action, label, frozenset(sources), target, frozenset(roles))


SYSTEM = frozenset({R.COMMAND, R.ADMIN})
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("check", "核实", {S.REPORTED}, S.REGISTERED, {R.GRID_WORKER, R.INSPECTOR}),
        # A case placed by address only gets its point (定位), then goes on as if filed there.
        _t("locate", "定位", {S.REPORTED}, None, set(SYSTEM)),
        # A citizen's question (咨询) the operator answers at once: closed without dispatch (直办).
        _t(
            "direct-reply",
            "直接答复",
            {S.REPORTED, S.PENDING, S.REGISTERED},
            S.CLOSED,
            set(SYSTEM),
        ),
        _t("dispatch", "派遣", {S.REGISTERED}, S.DISPATCHED, set(SYSTEM) | {R.GRID_WORKER}),
        _t("redispatch", "重新派遣", {S.RETURNED, S.DISPATCHED}, S.DISPATCHED, set(SYSTEM)),
        _t("sign", "签收", {S.DISPATCHED}, S.SIGNED, {R.DISPATCHER}),
        _t("return", "退回", {S.DISPATCHED}, S.RETURNED, {R.DISPATCHER}),
        _t("handle", "处置完成", {S.SIGNED}, S.HANDLED, {R.DISPATCHER}),
        _t("verify", "核查通过", {S.HANDLED}, S.VERIFIED, {R.GRID_WORKER, R.INSPECTOR}),
        _t("rework", "核查不通过", {S.HANDLED}, S.SIGNED, {R.GRID_WORKER, R.INSPECTOR}),
        # A citizen case (CITIZEN_SOURCES) closes by the operator's reply to the caller, not
        # by close; the callback (events.callbacks) may then reopen it (重办) to the same unit.
        _t("close", "结案", {S.VERIFIED}, S.CLOSED, set(SYSTEM)),
        _t("reply", "答复", {S.VERIFIED}, S.CLOSED, set(SYSTEM)),
        _t("reopen", "重办", {S.CLOSED}, S.SIGNED, set(SYSTEM)),
        _t("extend", "申请延期", {S.SIGNED}, None, {R.DISPATCHER}),
        _t("approve-extension", "批准延期", {S.SIGNED}, None, set(SYSTEM)),
        _t("suspend", "挂账", {S.DISPATCHED, S.SIGNED}, S.SUSPENDED, set(SYSTEM)),
        _t("resume", "恢复", {S.SUSPENDED}, None, set(SYSTEM)),  # back to the state before
        _t(
            "void",
            "作废",
            {S.REPORTED, S.PENDING, S.REGISTERED, S.DISPATCHED, S.RETURNED},
            S.VOIDED,
            set(SYSTEM),
        ),
        _t(
            "self-resolve",
            "自行处置",
            {S.REGISTERED, S.DISPATCHED},
            S.SELF_RESOLVED,
            {R.GRID_WORKER},
        ),
        # Not leaders: they see aggregates only, and a supervision answers with the event;
        # a leader's instruction (领导批示) is entered by the command centre.
        _t("supervise", "督办", set(OPEN_STATES) - {S.REPORTED}, None, set(SYSTEM)),
        # The place or the party responsible is in another district (events.transfer).
        _t("transfer", "跨区移交", set(OPEN_STATES), S.TRANSFERRED, set(SYSTEM)),
        # -- TIERS: 立案 by judgement and the tiers (分级流转), events.actions.tiers --------------
        _t("register", "立案", {S.PENDING}, S.REGISTERED, set(SYSTEM)),
        _t("refuse", "不予立案", {S.PENDING}, S.REFUSED, set(SYSTEM)),
        # Up to the tier above, or down to a tier below whose area holds the case; it stays
        # pending or registered, at the other tier, on a fresh clock.
        _t("escalate", "上报", {S.PENDING, S.REGISTERED}, None, set(SYSTEM)),
        _t("delegate", "下派", {S.PENDING, S.REGISTERED}, None, set(SYSTEM)),
        # The holding tier resolves it itself (就地解决); the grid worker then checks the fix.
        _t("resolve", "就地解决", {S.PENDING, S.REGISTERED}, S.HANDLED, set(SYSTEM)),
        # REVIEW: the command centre reviews a unit's return (退回审核) and rules disputes
        # (争议裁定); `redispatch` of a returned case is a synonym of accept-return.
        _t("accept-return", "同意退回", {S.RETURNED}, S.DISPATCHED, set(SYSTEM)),
        _t("reject-return", "驳回退回", {S.RETURNED}, S.DISPATCHED, set(SYSTEM)),
        _t("rule", "争议裁定", {S.RETURNED}, S.DISPATCHED, set(SYSTEM)),
    )
}


def allowed_actions(status: S, role: R | None = None) -> list[str]:
    """Actions possible from `status` (for `role`, when given), in table order."""
    return [
        t.action
        for t in TRANSITIONS.values()
        if status in t.sources and (role is None or role in t.roles)
    ]


def transition(status: S, action: str, role: R) -> Transition:
    """The transition for `action`, or IllegalTransition saying what is allowed instead."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise IllegalTransition(
            f"'{action}' is not an event action; actions are {', '.join(TRANSITIONS)}"
        )
    if status not in rule.sources:
        possible = ", ".join(allowed_actions(status)) or "none (it is final)"
        raise IllegalTransition(
            f"cannot {action} ({rule.label}) an event that is {status.value} ({status.label}); "
            f"from {status.value} the possible actions are: {possible}"
        )
    if role not in rule.roles:
        roles = ", ".join(sorted(r.value for r in rule.roles))
        raise IllegalTransition(
            f"a {role.value} ({role.label}) may not {action} ({rule.label}); "
            f"that needs one of: {roles}"
        )
    return rule


def add_step(
    session: Session,
    *,
    event: Event,
    action: str,
    to_status: S,
    at: datetime,
    actor_id: int | None,
    unit_id: int | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> EventStep:
    """Record a transition (the audit trail) and move the event to `to_status`."""
    step = EventStep(
        event_id=event.id,
        district_code=event.district_code,
        action=action,
        from_status=event.status,
        to_status=to_status,
        actor_id=actor_id,
        unit_id=unit_id,
        note=note,
        data=data or {},
        at=at,
    )
    event.status = to_status
    session.add(step)
    session.flush()
    return step


def carry_steps(
    session: Session, *, event: Event, steps: Sequence[EventStep], origin: str
) -> dict[int, EventStep]:
    """Copy another event's `steps` into `event`'s history as they were (times, actors, units,
    notes, states), each marked `carried_from` in its data; the event's status is unchanged.

    Returns the new steps by the id of the step each copies.
    """
    carried = {
        step.id: EventStep(
            event_id=event.id,
            district_code=event.district_code,
            action=step.action,
            from_status=step.from_status,
            to_status=step.to_status,
            actor_id=step.actor_id,
            unit_id=step.unit_id,
            note=step.note,
            data={**(step.data or {}), "carried_from": {"event": origin, "step_id": step.id}},
            at=step.at,
        )
        for step in steps
    }
    session.add_all(carried.values())
    session.flush()
    return carried
