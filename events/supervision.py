"""Supervision orders (督办单) with teeth: issued, replied to, escalated, lifted; sanctions.

An order names the case, the unit that must answer, the demand (督办要求) and the reply
deadline on the work calendar (by level: `SUPERVISION_REPLY_GENERAL` 2d, `…_KEY` 1d,
`…_LISTED` 4h unless the issuer gives one). Levels, lowest first: 一般督办 (general), 重点督办
(key), 挂牌督办 (listed: shown on the leader's map until the command centre lifts it, 摘牌).

- **issue** (`issue`): by the command centre through the workflow action `supervise` (the
  transition table and the scope rule apply), or by the escalation job (`events.escalation`).
  Each order records one `event_step` with action `supervise` (evaluation counts those) and
  outbox rows to the unit (naming its supervisor) and the district command centre. The order
  is for the unit named, else the unit holding the case, else — while no unit holds it (立案,
  派遣, 核查 …) — the centre of the tier holding the case (else the district's) itself.
  `event.supervision_level` holds the highest level ordered in the running stage (reset when
  a new stage starts), so the job never issues a level twice in one stage and never below one
  issued by hand.
- **reply** (`reply`, 督办回复): only by the unit's dispatchers (for an order to a command
  centre, by command staff of the case's area); after the deadline it is recorded late.
- **escalate** (`escalate_unanswered`, run by `gridgov escalate` with the overdue job): an open
  order past its deadline is escalated once to the leader: a step `supervise-escalate` and
  outbox rows to the command centre (naming the area's leaders and the unit's supervisor) and
  to the unit. Leaders list them (`escalated=true`).
- **lift** (`lift`, 摘牌): listed orders only, by the command centre, with a reason.
- An order outlives the stage it was issued in: the reply is owed even once the case has moved
  on or closed (the unit then says what was done).
- **sanctions** (`record_sanction`): 约谈 (interview) and 通报 (public notice) against a unit.

Who sees orders: a unit's dispatchers their unit's; command staff and leaders those of cases
in their area; admins all. Like every service this never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from events import deadlines
from events.calendar import Light, Limit, LimitUnit
from events.catalog import DepartmentType, Priority
from events.dispatch import district_command_centre
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport, NotFound
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventStatus,
    EventStep,
    Outbox,
    Stage,
    SupervisionLevel,
    SupervisionOrder,
    SupervisionStatus,
)
from events.outbox import notify
from events.reference import work_calendar
from events.schemas import (
    ActionInput,
    SupervisionFilter,
    SupervisionIssue,
    SupervisionOrderRead,
    UnitRef,
)
from events.tiers import in_area, tier_centre
from events.workflow import SYSTEM, add_step
from gis.config import get_settings
from grid.exceptions import InvalidQuery
from grid.service import area_prefix
from people.access import Actor
from people.models import Staff, StaffRole

# The unit answers for the clock while it holds the case; a late check (核实) or verification
# (核查) is the grid worker's, so only the command centre is told.
UNIT_STATES: Final = frozenset({EventStatus.DISPATCHED, EventStatus.SIGNED, EventStatus.SUSPENDED})
RANK: Final[dict[str | None, int]] = {
    None: 0,
    SupervisionLevel.GENERAL.value: 1,
    SupervisionLevel.KEY.value: 2,
    SupervisionLevel.LISTED.value: 3,
}
DEFAULT_DEMANDS: Final = {
    SupervisionLevel.GENERAL: "请加快办理，按时限办结并回复督办情况",
    SupervisionLevel.KEY: "案件已超时，请立即办理，并书面回复原因及办结时间",
    SupervisionLevel.LISTED: "挂牌督办：请主要负责人牵头办理，每日报告进展，办结后申请摘牌",
}
# Who reads orders: units, the command centre, leaders (their area's, no personal data), admins.
READERS: Final = frozenset(
    {StaffRole.DISPATCHER, StaffRole.COMMAND, StaffRole.LEADER, StaffRole.ADMIN}
)
REPLIERS: Final = frozenset({StaffRole.DISPATCHER, StaffRole.COMMAND, StaffRole.ADMIN})


def responsible_unit_id(event: Event) -> int | None:
    """The unit answering for the event's running clock, or None while it is not with a unit."""
    return event.unit_id if event.status in UNIT_STATES else None


def moment(now: datetime | None) -> datetime:
    """`now`, which must carry a time zone, or the present."""
    at = now or datetime.now(UTC)
    if at.utcoffset() is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    return at


def reply_limit(level: SupervisionLevel) -> Limit:
    """The working time a unit has to reply to an order of `level` (settings)."""
    settings = get_settings()
    return Limit.parse(
        {
            SupervisionLevel.GENERAL: settings.supervision_reply_general,
            SupervisionLevel.KEY: settings.supervision_reply_key,
            SupervisionLevel.LISTED: settings.supervision_reply_listed,
        }[level]
    )


def listed_at(session: Session, *, event: Event) -> datetime | None:
    """When the running stage, red since its deadline, is owed 挂牌督办: SUPERVISION_LISTED_AFTER
    of working time past the deadline (on the clock for urgent events)."""
    if event.stage_deadline is None:
        return None
    limit = Limit.parse(get_settings().supervision_listed_after)
    if event.priority is Priority.URGENT:
        hours = limit.amount if limit.unit is LimitUnit.HOURS else limit.amount * 24
        return event.stage_deadline + timedelta(hours=hours)
    return work_calendar(session).add(event.stage_deadline, limit)


def listed_after_wall() -> timedelta:
    """A wall-time span never longer than SUPERVISION_LISTED_AFTER of working time (a bound)."""
    limit = Limit.parse(get_settings().supervision_listed_after)
    return (
        timedelta(hours=limit.amount)
        if limit.unit is LimitUnit.HOURS
        else timedelta(days=limit.amount)
    )


def _order_unit(
    session: Session, *, event: Event, unit_id: int | None, centre: DepartmentUnit | None
) -> DepartmentUnit:
    if unit_id is not None:
        unit = session.get(DepartmentUnit, unit_id)
        if unit is None or not unit.active:
            raise NotFound(f"unit {unit_id} does not exist or is inactive", field="unit_id")
        if unit.district_code != event.district_code:
            raise InvalidReport(
                f"{unit.name}属于{unit.district_code}区县，不能督办{event.district_code}的案件 "
                f"(unit {unit_id} is in district {unit.district_code}, not in the case's "
                f"district {event.district_code})",
                field="unit_id",
            )
        return unit
    held = responsible_unit_id(event)
    # With no unit holding it, the case is its tier centre's (分级流转), else the district's.
    unit = (
        session.get(DepartmentUnit, held)
        if held
        else tier_centre(session, event=event, tier=event.tier) or centre
    )
    if unit is None:
        raise InvalidReport(
            f"case {event.code} is with no unit and district {event.district_code} has no "
            "command centre; name the unit the order is for (unit_id)",
            field="unit_id",
        )
    return unit


def issue(
    session: Session,
    *,
    event: Event,
    level: SupervisionLevel,
    at: datetime,
    actor_id: int | None,
    demand: str | None = None,
    unit_id: int | None = None,
    limit: str | None = None,
    light: Light | None = None,
    command_centre: DepartmentUnit | None = None,
    subtask_stage: Stage | None = None,
) -> SupervisionOrder:
    """Issue a supervision order on `event` (locked by the caller): the order, its `supervise`
    step and outbox rows to the unit and the district command centre.

    `actor_id` None means the escalation job; `command_centre` saves a look-up when the caller
    knows the district's. `subtask_stage` (sign or handle) marks an order on an assisting
    unit's late sub-task (协办): it names that clock's stage and leaves the case's own level.
    """
    centre = command_centre or district_command_centre(session, district_code=event.district_code)
    unit = _order_unit(session, event=event, unit_id=unit_id, centre=centre)
    deadline = work_calendar(session).add(at, Limit.parse(limit) if limit else reply_limit(level))
    supervisor = session.get(Staff, unit.supervisor_staff_id) if unit.supervisor_staff_id else None
    informed = list(dict.fromkeys(u for u in (unit, centre) if u is not None))
    text = demand or DEFAULT_DEMANDS[level]
    stage = subtask_stage or event.stage
    deadline_of_stage = None if subtask_stage else event.stage_deadline
    order = SupervisionOrder(
        event_id=event.id,
        district_code=event.district_code,
        unit_id=unit.id,
        level=level,
        demand=text,
        stage=stage,
        automatic=actor_id is None,
        issued_by_id=actor_id,
        issued_at=at,
        reply_deadline=deadline,
        status=SupervisionStatus.OPEN,
    )
    session.add(order)
    session.flush()
    step = add_step(
        session,
        event=event,
        action="supervise",
        to_status=event.status,
        at=at,
        actor_id=actor_id,
        unit_id=unit.id,
        note=demand or _default_note(event, level),
        data={
            "order_id": order.id,
            "level": level.value,
            "automatic": actor_id is None,
            "stage": stage.value if stage else None,
            "stage_deadline": deadline_of_stage.isoformat() if deadline_of_stage else None,
            "subtask": subtask_stage is not None,
            "light": light.value if light else None,
            "reply_deadline": deadline.isoformat(),
            "informed": [u.code for u in informed],
            "supervisor": supervisor.username if supervisor else None,
        },
    )
    order.step_id = step.id
    rows = notify(
        session, event=event, step=step, unit_ids=[u.id for u in informed], kind="supervise", at=at
    )
    for row in rows:
        extra: dict[str, Any] = {
            "level": level.value,
            "order_id": order.id,
            "demand": text,
            "reply_deadline": deadline.isoformat(),
            "lead_unit": unit.code,
        }
        if row.unit_id == unit.id and supervisor is not None:
            extra["supervisor"] = {
                "id": supervisor.id,
                "username": supervisor.username,
                "name": supervisor.full_name,
                "phone": supervisor.phone,
            }
        row.payload = {**row.payload, **extra}
    if subtask_stage is None and RANK[level.value] > RANK[event.supervision_level]:
        event.supervision_level = level.value  # never lowered within a stage: never repeated
    session.flush()
    return order


def _default_note(event: Event, level: SupervisionLevel) -> str:
    stage = event.stage.label if event.stage else "办理"
    return {
        SupervisionLevel.GENERAL: f"{stage}即将超时，一般督办",
        SupervisionLevel.KEY: f"{stage}已超时，重点督办",
        SupervisionLevel.LISTED: f"{stage}长期超时，挂牌督办",
    }[level]


# -- scope ---------------------------------------------------------------------------------------


def _area_clause(actor: Actor) -> ColumnElement[bool]:
    """Orders of cases in the actor's area (grid prefix, else the case's admin codes)."""
    if not actor.area_code:
        return false()
    try:
        prefix = area_prefix(actor.area_code)
    except InvalidQuery:
        return false()
    place = func.coalesce(Event.community_code, Event.street_code, Event.district_code)
    return or_(
        Event.grid_code.like(f"{prefix}%"),
        and_(Event.grid_code.is_(None), place.like(f"{prefix}%")),
    )


def _scope(actor: Actor) -> ColumnElement[bool]:
    """Which orders (joined to their event) `actor` may read."""
    if actor.role not in READERS:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account has no supervision orders; "
            "they are for units, the command centre and leaders"
        )
    if actor.role is StaffRole.ADMIN:
        return true()
    if actor.role is StaffRole.DISPATCHER:
        if actor.department_unit_id is None:
            return false()
        return SupervisionOrder.unit_id == actor.department_unit_id
    return _area_clause(actor)


def require_command(actor: Actor, what: str) -> None:
    if actor.role not in SYSTEM:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not {what}; "
            "that is the command centre's (指挥中心)"
        )


def may_reply(session: Session, actor: Actor, order: SupervisionOrder, event: Event) -> bool:
    """The unit's dispatchers reply; command staff of the case's area for an order to a
    command centre; admins everywhere."""
    if actor.role is StaffRole.ADMIN:
        return True
    if actor.role is StaffRole.DISPATCHER:
        return actor.department_unit_id == order.unit_id
    if actor.role is StaffRole.COMMAND:
        unit = session.get(DepartmentUnit, order.unit_id)
        return (
            unit is not None
            and unit.dept_type is DepartmentType.COMMAND_CENTRE
            and in_area(actor, event)
        )
    return False


# -- reading -------------------------------------------------------------------------------------


def unit_ref(unit: DepartmentUnit) -> UnitRef:
    return UnitRef(
        id=unit.id,
        code=unit.code,
        name=unit.name,
        dept_type=unit.dept_type.value,
        dept_label=unit.dept_type.label,
    )


def read_orders(
    session: Session, *, actor: Actor, orders: Sequence[SupervisionOrder], now: datetime
) -> list[SupervisionOrderRead]:
    """The orders as `actor` sees them, with the reply deadline's light and what they may do."""
    if not orders:
        return []
    events = {
        e.id: e
        for e in session.scalars(select(Event).where(Event.id.in_({o.event_id for o in orders})))
    }
    units = {
        u.id: u
        for u in session.scalars(
            select(DepartmentUnit).where(DepartmentUnit.id.in_({o.unit_id for o in orders}))
        )
    }
    staff_ids = {s for o in orders for s in (o.issued_by_id, o.replied_by_id, o.lifted_by_id) if s}
    names = dict(
        session.execute(select(Staff.id, Staff.username).where(Staff.id.in_(staff_ids))).all()
    )
    categories = dict(
        session.execute(
            select(EventCategory.id, EventCategory.name).where(
                EventCategory.id.in_({e.category_id for e in events.values()})
            )
        ).all()
    )
    result = []
    for o in orders:
        event = events[o.event_id]
        is_open = o.status is SupervisionStatus.OPEN
        clock = (
            deadlines.deadline_clock(session, start=o.issued_at, deadline=o.reply_deadline, now=now)
            if is_open
            else None
        )
        result.append(
            SupervisionOrderRead(
                id=o.id,
                event_code=event.code,
                event_status=event.status,
                event_status_label=event.status.label,
                category=f"{event.category_code} {categories.get(event.category_id, '')}".strip(),
                unit=unit_ref(units[o.unit_id]),
                level=o.level,
                level_label=o.level.label,
                demand=o.demand,
                stage=o.stage,
                automatic=o.automatic,
                issued_by=names.get(o.issued_by_id) if o.issued_by_id else None,
                issued_at=o.issued_at,
                reply_deadline=o.reply_deadline,
                light=clock.light if clock else None,
                time_left=clock.text if clock else None,
                status=o.status,
                status_label=o.status.label,
                reply=o.reply,
                replied_by=names.get(o.replied_by_id) if o.replied_by_id else None,
                replied_at=o.replied_at,
                replied_on_time=o.replied_on_time,
                escalated_to_leader_at=o.escalated_to_leader_at,
                lifted_at=o.lifted_at,
                lifted_by=names.get(o.lifted_by_id) if o.lifted_by_id else None,
                lift_reason=o.lift_reason,
                can_reply=is_open and may_reply(session, actor, o, event),
                can_lift=o.level is SupervisionLevel.LISTED
                and o.lifted_at is None
                and actor.role in SYSTEM
                and in_area(actor, event),
            )
        )
    return result


def list_orders(
    session: Session, *, actor: Actor, filters: SupervisionFilter, now: datetime | None = None
) -> list[SupervisionOrderRead]:
    """The orders `actor` may see, filtered; open ones first by reply deadline, then newest."""
    at = moment(now)
    query = (
        select(SupervisionOrder)
        .join(Event, Event.id == SupervisionOrder.event_id)
        .where(_scope(actor))
    )
    if filters.status is not None:
        query = query.where(SupervisionOrder.status == filters.status)
    if filters.level is not None:
        query = query.where(SupervisionOrder.level == filters.level)
    if filters.unit_id is not None:
        query = query.where(SupervisionOrder.unit_id == filters.unit_id)
    if filters.escalated is not None:
        escalated = SupervisionOrder.escalated_to_leader_at.is_not(None)
        query = query.where(escalated if filters.escalated else ~escalated)
    if filters.event:
        query = query.where(Event.code == filters.event.strip())
    query = query.order_by(
        (SupervisionOrder.status != SupervisionStatus.OPEN),
        SupervisionOrder.reply_deadline,
        SupervisionOrder.id.desc(),
    ).limit(filters.limit)
    return read_orders(session, actor=actor, orders=session.scalars(query).all(), now=at)


def get_order(
    session: Session, *, actor: Actor, order_id: int, now: datetime | None = None
) -> SupervisionOrderRead:
    """One order, if the actor may see it (else NotFound, saying nothing of others' orders)."""
    order = visible_order(session, actor=actor, order_id=order_id)
    return read_orders(session, actor=actor, orders=[order], now=moment(now))[0]


def visible_order(
    session: Session, *, actor: Actor, order_id: int, lock: bool = False
) -> SupervisionOrder:
    query = (
        select(SupervisionOrder)
        .join(Event, Event.id == SupervisionOrder.event_id)
        .where(SupervisionOrder.id == order_id, _scope(actor))
    )
    if lock:
        query = query.with_for_update(of=SupervisionOrder).execution_options(populate_existing=True)
    order = session.scalar(query)
    if order is None:
        raise NotFound(
            f"督办单{order_id}不存在或不在您的范围内 (supervision order {order_id} does not exist "
            "or is not one your unit or area may see)"
        )
    return order


# -- issuing by hand -----------------------------------------------------------------------------


def issue_by_hand(
    session: Session, *, actor: Actor, entry: SupervisionIssue, now: datetime | None = None
) -> SupervisionOrderRead:
    """Issue an order through the workflow action `supervise` (state, role and scope rules of
    `events.actions`), and return it."""
    from events.actions import act  # the actions (and the reads) import this module
    from events.query import check_visible
    from events.service import get_event

    at = moment(now)
    require_command(actor, "issue supervision orders (督办)")
    if not entry.event:
        raise InvalidReport("name the case to supervise (event: its code)", field="event")
    # A case outside the caller's sight is refused before anything about its state is said.
    check_visible(session, actor=actor, event=get_event(session, code=entry.event))
    read = act(
        session,
        actor=actor,
        code=entry.event,
        action="supervise",
        data=ActionInput(
            level=entry.level,
            note=entry.demand,
            unit_id=entry.unit_id,
            reply_limit=entry.reply_limit,
        ),
        now=at,
    )
    order = session.scalar(
        select(SupervisionOrder)
        .where(SupervisionOrder.event_id == read.id)
        .order_by(SupervisionOrder.id.desc())
        .limit(1)
    )
    assert order is not None
    return read_orders(session, actor=actor, orders=[order], now=at)[0]


# -- replying, lifting ---------------------------------------------------------------------------


def locked_case(session: Session, order: SupervisionOrder) -> Event:
    """The order's case, its row locked and read fresh: a step recorded on it must not race a
    workflow action (which locks the same row first)."""
    event = session.scalar(
        select(Event)
        .where(Event.id == order.event_id, Event.district_code == order.district_code)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert event is not None
    return event


def _record(
    session: Session,
    *,
    order: SupervisionOrder,
    event: Event,
    action: str,
    at: datetime,
    actor_id: int | None,
    note: str,
    unit_ids: list[int],
    **data: Any,
) -> EventStep:
    """A step on the case for what happened to one of its orders, and outbox rows about it."""
    step = add_step(
        session,
        event=event,
        action=action,
        to_status=event.status,
        at=at,
        actor_id=actor_id,
        unit_id=order.unit_id,
        note=note,
        data={"order_id": order.id, "level": order.level.value, **data},
    )
    rows = notify(
        session,
        event=event,
        step=step,
        unit_ids=list(dict.fromkeys(unit_ids)),
        kind=action,
        at=at,
    )
    for row in rows:
        row.payload = {**row.payload, "order_id": order.id, "level": order.level.value, **data}
    return step


def reply(
    session: Session, *, actor: Actor, order_id: int, text: str, now: datetime | None = None
) -> SupervisionOrderRead:
    """Record the unit's reply (督办回复); on time when given by the reply deadline."""
    at = moment(now)
    if actor.role not in REPLIERS:
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not reply to supervision "
            "orders; the unit's dispatchers do"
        )
    order = visible_order(session, actor=actor, order_id=order_id, lock=True)
    event = locked_case(session, order)
    if not may_reply(session, actor, order, event):
        unit = session.get(DepartmentUnit, order.unit_id)
        raise Forbidden(
            f"督办单{order.id}是发给{unit.name if unit else order.unit_id}的，只有该单位的处置人员"
            f"可以回复 (order {order.id} is addressed to {unit.code if unit else order.unit_id}; "
            "only that unit's dispatchers may reply)"
        )
    if order.status is not SupervisionStatus.OPEN:
        when = order.replied_at or order.lifted_at
        raise ActionNotAllowed(
            f"督办单{order.id}已{order.status.label}，不能再回复 (order {order.id} is "
            f"{order.status.value} since {when.isoformat() if when else '?'}; it takes no "
            "further reply)"
        )
    body = text.strip()
    if not body:
        raise InvalidReport("a reply (督办回复) needs text: what was done", field="reply")
    order.reply, order.replied_by_id, order.replied_at = body, actor.staff_id, at
    order.replied_on_time = at <= order.reply_deadline
    order.status = SupervisionStatus.REPLIED
    centre = district_command_centre(session, district_code=event.district_code)
    _record(
        session,
        order=order,
        event=event,
        action="supervise-reply",
        at=at,
        actor_id=actor.staff_id,
        note=body,
        unit_ids=[u for u in (centre.id if centre else None, order.unit_id) if u],
        on_time=order.replied_on_time,
    )
    session.flush()
    return read_orders(session, actor=actor, orders=[order], now=at)[0]


def lift(
    session: Session, *, actor: Actor, order_id: int, reason: str, now: datetime | None = None
) -> SupervisionOrderRead:
    """Lift a listed order (摘牌): it leaves the leader's map; the reason is recorded."""
    at = moment(now)
    require_command(actor, "lift a listed supervision (摘牌)")
    order = visible_order(session, actor=actor, order_id=order_id, lock=True)
    if order.level is not SupervisionLevel.LISTED:
        raise ActionNotAllowed(
            f"督办单{order.id}是{order.level.label}，只有挂牌督办需要摘牌 (order {order.id} is "
            f"{order.level.value}; only listed orders are lifted — it ends with its reply)"
        )
    if order.lifted_at is not None:
        raise ActionNotAllowed(
            f"督办单{order.id}已于{order.lifted_at.isoformat()}摘牌 (order {order.id} was "
            "lifted already)"
        )
    text = reason.strip()
    if not text:
        raise InvalidReport("lifting (摘牌) needs a reason", field="reason")
    event = locked_case(session, order)
    order.lifted_at, order.lifted_by_id, order.lift_reason = at, actor.staff_id, text
    order.status = SupervisionStatus.LIFTED
    _record(
        session,
        order=order,
        event=event,
        action="supervise-lift",
        at=at,
        actor_id=actor.staff_id,
        note=text,
        unit_ids=[order.unit_id],
    )
    session.flush()
    return read_orders(session, actor=actor, orders=[order], now=at)[0]


# -- escalation to the leader ----------------------------------------------------------------


@dataclass
class UnansweredReport:
    """What one run of `escalate_unanswered` did."""

    escalated: list[int] = field(default_factory=list)  # order ids told to the leader
    notifications: int = 0


def _leaders(session: Session, event: Event) -> list[Staff]:
    """The leader accounts whose area holds the case."""
    leaders = session.scalars(
        select(Staff)
        .where(Staff.role == StaffRole.LEADER, Staff.active, Staff.area_code.is_not(None))
        .order_by(Staff.id)
    ).all()
    place = event.grid_code or event.community_code or event.street_code or event.district_code
    found = []
    for leader in leaders:
        try:
            prefix = area_prefix(leader.area_code or "")
        except InvalidQuery:
            continue
        if place.startswith(prefix):
            found.append(leader)
    return found


def escalate_unanswered(session: Session, *, now: datetime) -> UnansweredReport:
    """The periodic job: every open order past its reply deadline is escalated to the leader
    once (a `supervise-escalate` step, outbox rows to the command centre and the unit).

    Orders another transaction holds are left for the next run. Never commits.
    """
    at = moment(now)
    report = UnansweredReport()
    orders = session.scalars(
        select(SupervisionOrder)
        .where(
            SupervisionOrder.status == SupervisionStatus.OPEN,
            SupervisionOrder.escalated_to_leader_at.is_(None),
            SupervisionOrder.reply_deadline < at,
        )
        .order_by(SupervisionOrder.reply_deadline, SupervisionOrder.id)
        .with_for_update(skip_locked=True)
    ).all()
    for order in orders:
        event = locked_case(session, order)
        unit = session.get(DepartmentUnit, order.unit_id)
        assert unit is not None
        centre = district_command_centre(session, district_code=event.district_code)
        leaders = _leaders(session, event)
        supervisor = (
            session.get(Staff, unit.supervisor_staff_id) if unit.supervisor_staff_id else None
        )
        order.escalated_to_leader_at = at
        step = _record(
            session,
            order=order,
            event=event,
            action="supervise-escalate",
            at=at,
            actor_id=None,
            note=f"{unit.name}未在时限内回复{order.level.label}，报告领导",
            unit_ids=[u for u in (centre.id if centre else None, unit.id) if u],
            reply_deadline=order.reply_deadline.isoformat(),
            leaders=[s.username for s in leaders],
            supervisor=supervisor.username if supervisor else None,
        )
        report.escalated.append(order.id)
        report.notifications += (
            session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.step_id == step.id)
            )
            or 0
        )
    session.flush()
    return report


# -- the leader's map ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedCase:
    """A case under 挂牌督办 not yet lifted, as the leader's map draws it (no personal data)."""

    code: str
    lon: float
    lat: float
    category: str
    unit: str
    demand: str
    issued_at: datetime
    reply_deadline: datetime
    replied: bool
    status: str


def escalated_count(session: Session, *, actor: Actor, prefix: str | None) -> int:
    """How many orders in the actor's area (and `prefix`) are still unanswered after being
    escalated to the leader: the figure on the leader's map."""
    query = (
        select(func.count())
        .select_from(SupervisionOrder)
        .join(Event, Event.id == SupervisionOrder.event_id)
        .where(
            SupervisionOrder.status == SupervisionStatus.OPEN,
            SupervisionOrder.escalated_to_leader_at.is_not(None),
            _scope(actor),
        )
    )
    if prefix:
        query = query.where(_place().like(f"{prefix}%"))
    return int(session.scalar(query) or 0)


def _place() -> Any:
    return func.coalesce(
        Event.grid_code, Event.community_code, Event.street_code, Event.district_code
    )


def listed_cases(session: Session, *, actor: Actor, prefix: str | None) -> list[ListedCase]:
    """Cases with a listed order not yet lifted, in the actor's area (and `prefix`)."""
    lon, lat = func.ST_X(Event.geom), func.ST_Y(Event.geom)
    query = (
        select(
            Event.code,
            lon,
            lat,
            EventCategory.name,
            DepartmentUnit.name,
            SupervisionOrder.demand,
            SupervisionOrder.issued_at,
            SupervisionOrder.reply_deadline,
            SupervisionOrder.replied_at,
            Event.status,
        )
        .join(Event, Event.id == SupervisionOrder.event_id)
        .join(EventCategory, EventCategory.id == Event.category_id)
        .join(DepartmentUnit, DepartmentUnit.id == SupervisionOrder.unit_id)
        .where(
            SupervisionOrder.level == SupervisionLevel.LISTED,
            SupervisionOrder.lifted_at.is_(None),
            Event.geom.is_not(None),
            _scope(actor),
        )
        .order_by(SupervisionOrder.issued_at, SupervisionOrder.id)
    )
    if prefix:
        query = query.where(_place().like(f"{prefix}%"))
    return [
        ListedCase(
            code=r[0],
            lon=float(r[1]),
            lat=float(r[2]),
            category=r[3],
            unit=r[4],
            demand=r[5],
            issued_at=r[6],
            reply_deadline=r[7],
            replied=r[8] is not None,
            status=r[9].label,
        )
        for r in session.execute(query).all()
    ]


__all__ = [
    "DEFAULT_DEMANDS",
    "RANK",
    "READERS",
    "REPLIERS",
    "ListedCase",
    "UnansweredReport",
    "escalate_unanswered",
    "escalated_count",
    "get_order",
    "issue",
    "issue_by_hand",
    "lift",
    "list_orders",
    "listed_after_wall",
    "listed_at",
    "listed_cases",
    "may_reply",
    "moment",
    "read_orders",
    "reply",
    "reply_limit",
    "require_command",
    "responsible_unit_id",
    "unit_ref",
    "visible_order",
]
