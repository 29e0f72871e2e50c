"""Performance indicators (考核指标) of the event loop, by unit, department, grid, grid worker or
district, for the events reported in a period.

The cohort is every event in the actor's scope whose `reported_at` lies in [start, end); each
indicator is that cohort's state at `now`. One SQL statement computes them all with FILTER
clauses, over the events and their deadline stages.

Definitions (counts are of cohort events unless said otherwise):

- reported (上报数): the cohort.
- voided: status voided (作废: invalid or duplicate).
- valid-report rate (有效上报率) = (reported − voided) / reported.
- registered (立案数): not voided and past the on-site check, i.e. status neither reported
  nor voided; nor transferred (跨区移交: the receiving district counts its new case).
- closed (结案数): status closed, or self_resolved (fixed on the spot by the grid worker).
- closure rate (结案率) = closed / registered.
- closed on time (按期结案数): closed events none of whose stages ended late (a self-resolved
  event has no stage and counts as on time).
- on-time closure rate (按期结案率) = closed on time / closed.
- sign-for stages (签收): SIGN stages of cohort events that have ended (signed for, returned or
  voided while waiting); on time when they ended by their deadline.
  on-time sign-for rate (按时签收率) = SIGN stages ended on time / SIGN stages ended.
- handled (处置数): events with at least one ended HANDLE stage.
- reworked: handled events with rework_count > 0; rework rate (返工率) = reworked / handled.
- mean handling time (平均处置时长), hours of wall-clock time over handled events, from the
  dispatch (start of the first SIGN stage) to the end of the last ended HANDLE stage.
- open: status in `events.workflow.OPEN_STATES`.
- overdue (超期): open events whose clock runs (not suspended) and whose running stage's
  deadline is before `now`.
- returned: events a unit returned at least once (return_count > 0).
- score (指标得分, the indicators' composite), 0–100: 100 × the weighted mean of on-time
  closure rate (weight 0.30), closure rate (0.25), on-time sign-for rate (0.20), 1 − rework
  rate (0.15) and 1 − overdue / registered (0.10), over the components whose denominator is
  not zero (None if none is).
  The valid-report rate measures the reporters, not the handlers, so it is not in the score.

- registered counts neither the cases waiting for 立案 (pending) nor those refused (不予立案).
- voided after registration (立案后作废): voided events that had been registered (a step into
  registered); registration accuracy (立案准确率) = registered / (registered + voided after
  registration), i.e. (cases registered − voided after registration) / cases registered.
- extended (延期数): handled events with at least one approved extension (批准延期); extension
  rate (延期率) = extended / handled.
- found proactively (主动发现数): events reported by grid workers or found on patrol/inspection
  (sources grid_worker, inspection); proactive discovery rate (主动发现率) = found / reported.
- closure rate by tier (结案率 by 层级): the closure rate under the `tier` grouping.
- evaluated (考评数): cohort events with an evaluation (events.evaluation: closed cases);
  evaluation score (综合得分 from 考评) = the mean of their evaluation scores (None if none).
  (`score` above is the indicators' composite, 指标得分; 综合得分 is this evaluation score,
  the one the 考核通报 ranks by.)

Adding an indicator: one entry in `_COUNTS` (its FILTER over the cohort's columns; add a
cohort column in `kpis` if it needs one), one field in `events.schemas.KpiRow` and, for a
rate, one property there. Indicators kept in another table (sub-tasks, reviews, supervision
orders) add a function to `ROLLUPS` that returns (key, name=count …) rows for the cohort;
they are added to the rows by key.

Grouping: events go to the row of their unit (`unit`, the unit holding the case now), that
unit's department (`department`), grid (`grid`), reporter (`worker`, the account that filed it),
district (`district`), the tier holding it (`tier`: community, street, district, city), its
street (`street`), community (`community`) or subcategory (`category`). SIGN stages go to
the unit that had to sign for them under `unit` and `department` (a case returned by one
police station and signed for by a street office counts once for each), and to the event's
row otherwise. Events with no unit, grid or reporter form a
row whose key is None.

Citizen service (`citizen_kpis`, 12345 热线 and the other CITIZEN_SOURCES), same cohort and scope:

- accepted by source (受理量): cohort events per source, every source.
- citizen accepted: cohort events from a citizen source; direct replies (直办): those closed by
  a `direct-reply` step; direct-reply rate (直办率) = direct replies / citizen accepted.
- replies: REPLY stages of cohort events that have ended (the reply was given); on time when
  given by their deadline; on-time reply rate (按时答复率) = on time / replies.
- callbacks due: callbacks of cohort events that have ended (reached, unreached, reviewed) or
  are still open past their due time; reached: those where the caller gave their satisfaction;
  callback rate (回访率) = reached / due; satisfaction rate (满意率) = (满意 + 基本满意) / reached.
- citizen closed: citizen cohort events closed at least once (a step into closed); reopened: of
  those, the ones reopened (重办) at least once; reopen rate (重办率) = reopened / closed.

Return review and disputes (`review_kpis`, 退回审核/争议裁定), same cohort and scope, per unit
(the unit named by each step):

- dispatched (派遣数): steps of cohort events into `dispatched` naming the unit — automatic
  dispatch by the rules, the command centre's dispatch and re-dispatch, accept-return,
  reject-return (the case is sent back to it) and rule.
- returns (退单数): the unit's `return` steps; return rate (退单率) = returns / dispatched.
- accepted returns (退回被同意数): returns whose review (the first later step leaving
  `returned`) accepted them: accept-return or redispatch, or a ruling (rule) naming another unit
  — unless a later ruling names the returning unit itself as lead (the binding ruling found the
  return wrong).
- dispatch accuracy (派遣准确率) = 1 − accepted returns / dispatched: the share of dispatches to
  the unit that were right (CJ/T 292's 准确派遣率, (dispatched − returned-and-accepted) /
  dispatched).
- disputes (争议数): cohort events two or more different units returned (a jurisdiction dispute)
  among whose returners the unit is; the total counts each disputed event once.
A dispatcher sees their own unit's row only.
Joint cases (`subtask_kpis`, 协办), the sub-tasks (`event_subtask`) of the same cohort's events,
grouped by the assisting unit (`unit`) or its department (`department`):

- assigned (协办任务数): sub-tasks not cancelled (cancelled ones are counted apart: removed by
  the command centre, or the case was re-dispatched, returned or ended);
- signed / signed on time: sub-tasks signed for, and those signed by their sign-for deadline;
  on-time sign-for rate (协办按时签收率) = signed on time / signed;
- done (已完成): reported done; done on time: reported by their handling deadline;
- waived (已免除): released by the command centre with a reason; neither on time nor late;
- open: 待签收 or 处置中 at `now`; overdue: open and past their handling deadline at `now`;
- on-time assist rate (协办按时率) = done on time / (done + overdue), i.e. sub-tasks reported
  by their handling deadline over sub-tasks reported or overdue.
A dispatcher reads their own unit's sub-tasks (as the assisting unit); the other roles the
sub-tasks of the events in their scope.

Supervision (`supervision_kpis`, 督办, events.supervision), by `unit` (the unit an order is
addressed to) or its `department`, for the orders issued in [start, end) on cases in scope:

Scope (people.access): admins see everything; leaders, command staff and inspectors their area
(by grid code prefix; events outside every grid by district); grid workers their grids;
dispatchers the events their unit holds, and only their unit's sign-for stages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, Final, Literal

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    cast,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from events.catalog import TIER_ORDER, Tier
from events.exceptions import Forbidden, InvalidReport
from events.models import (
    CITIZEN_SOURCES,
    Callback,
    Department,
    DepartmentUnit,
    Event,
    EventCategory,
    EventEvaluation,
    EventSource,
    EventStage,
    EventStatus,
    EventStep,
    EventSubtask,
    Satisfaction,
    Stage,
    SubtaskStatus,
    SupervisionOrder,
)
from events.schemas import (
    CitizenKpis,
    KpiRow,
    ReviewKpiRow,
    ReviewKpis,
    SubtaskKpiRow,
    SupervisionKpiRow,
)
from events.workflow import OPEN_STATES
from gis.clock import CHINA_TZ, local_today
from grid.models import AdminUnit, Grid
from grid.service import area_prefix
from people.access import READ_AGGREGATES, Actor, grid_scope
from people.models import Staff, StaffRole

KpiGrouping = Literal[
    "unit", "department", "grid", "worker", "district", "tier", "street", "community", "category"
]
GROUPINGS: Final = (
    "unit",
    "department",
    "grid",
    "worker",
    "district",
    "tier",
    "street",
    "community",
    "category",
)
SubtaskGrouping = Literal["unit", "department"]

READ_KPIS: Final = READ_AGGREGATES | {StaffRole.DISPATCHER}
CLOSED_STATES: Final = frozenset({EventStatus.CLOSED, EventStatus.SELF_RESOLVED})
_NO_KEY_NAMES: Final = {
    "unit": "（未派遣）",
    "department": "（未派遣）",
    "grid": "（网格外）",
    "worker": "（无上报人）",
    "district": "（无区县）",
    "tier": "（无层级）",
    "street": "（无街道）",
    "community": "（无社区）",
    "category": "（无类别）",
}
# Sources whose cases are found by the system's own people (主动发现): grid workers, patrols.
PROACTIVE_SOURCES: Final = frozenset({EventSource.GRID_WORKER, EventSource.INSPECTION})
NOT_REGISTERED: Final = (
    EventStatus.REPORTED,
    EventStatus.PENDING,
    EventStatus.REFUSED,
    EventStatus.VOIDED,
    EventStatus.TRANSFERRED,
)


def _scope(actor: Actor) -> ColumnElement[bool]:
    """Which events the actor's indicators may count."""
    if actor.role not in READ_KPIS:
        raise Forbidden(f"a {actor.role.label} ({actor.role.value}) account may not read KPIs")
    return area_scope(
        actor, grid_code=Event.grid_code, district_code=Event.district_code, unit_id=Event.unit_id
    )


def area_scope(
    actor: Actor,
    *,
    grid_code: ColumnElement[Any] | Any,
    district_code: ColumnElement[Any] | Any,
    unit_id: ColumnElement[Any] | Any,
) -> ColumnElement[bool]:
    """Which rows with these columns (an event's, or a row about one) the actor may count: all
    for admins, their unit's for dispatchers, their grids' for grid workers, their area's for
    the others (a district or city also its cases outside every grid)."""
    if actor.role is StaffRole.ADMIN:
        return true()
    if actor.role is StaffRole.DISPATCHER:
        if actor.department_unit_id is None:
            return false()
        return unit_id == actor.department_unit_id
    if actor.role is StaffRole.GRID_WORKER:
        return grid_scope(actor, grid_code)
    if not actor.area_code:
        return false()
    in_area = grid_scope(actor, grid_code)
    prefix = area_prefix(actor.area_code)
    if len(prefix) <= 6:  # a district (or city) sees its cases outside every grid too
        outside = and_(grid_code.is_(None), district_code.startswith(prefix))
        return or_(in_area, outside)
    return in_area


def _text_key(key: Any) -> Any:
    """A group key as text, '' for none, so that groups can be joined with = (no NULLs)."""
    return func.coalesce(cast(key, Text), "")


def _event_key(by: str) -> Any:
    """The column an event is grouped by (department: of the unit joined to the event)."""
    return {
        "unit": Event.unit_id,
        "department": DepartmentUnit.department_id,
        "grid": Event.grid_code,
        "worker": Event.reporter_id,
        "district": Event.district_code,
        "tier": Event.tier,
        "street": Event.street_code,
        "community": Event.community_code,
        "category": Event.category_code,
    }[by]


def _stepped(event_id: Any, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether the event has a step matching `where` (an index probe by event id)."""
    return select(EventStep.id).where(EventStep.event_id == event_id, *where).exists()


# The per-event counts of a row: name → FILTER over the cohort's columns `c` at `at`.
_COUNTS: Final[dict[str, Callable[[Any, datetime], ColumnElement[bool]]]] = {
    "reported": lambda c, at: true(),
    "voided": lambda c, at: c.status == EventStatus.VOIDED,
    "registered": lambda c, at: c.status.notin_(NOT_REGISTERED),
    "closed": lambda c, at: c.status.in_(CLOSED_STATES),
    "closed_on_time": lambda c, at: and_(
        c.status.in_(CLOSED_STATES), func.coalesce(c.any_late, False).is_(False)
    ),
    "open": lambda c, at: c.status.in_(OPEN_STATES),
    "overdue": lambda c, at: and_(
        c.status.in_(OPEN_STATES), c.suspended_at.is_(None), c.stage_deadline < at
    ),
    "handled": lambda c, at: c.handled_at.is_not(None),
    "reworked": lambda c, at: and_(c.handled_at.is_not(None), c.rework_count > 0),
    "returned": lambda c, at: c.return_count > 0,
    "voided_after_registration": lambda c, at: and_(
        c.status == EventStatus.VOIDED,
        _stepped(c.id, EventStep.to_status == EventStatus.REGISTERED),
    ),
    "extended": lambda c, at: and_(
        c.handled_at.is_not(None), _stepped(c.id, EventStep.action == "approve-extension")
    ),
    "found_proactively": lambda c, at: c.source.in_(sorted(PROACTIVE_SOURCES)),
    "evaluated": lambda c, at: c.evaluation_score.is_not(None),
}
# Indicators kept in other tables: each gives (key, name=count …) rows for the cohort CTE
# grouped `by` the grouping, which are added to the rows by key (see the module docstring).
Rollup = Callable[[Session, Any, str, Actor], list[dict[str, Any]]]
ROLLUPS: list[Rollup] = []


def kpis(
    session: Session,
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    by: KpiGrouping = "unit",
    now: datetime | None = None,
) -> list[KpiRow]:
    """Indicators of the events reported in [start, end) within the actor's scope, one row per
    `by` group, ordered by key (None last). See the module docstring for the definitions."""
    if by not in GROUPINGS:
        raise InvalidReport(f"cannot group KPIs by '{by}'; use one of {', '.join(GROUPINGS)}")
    at = now or datetime.now(UTC)
    _check_period(start, end, at)

    # Per event, from its stages (an index probe each): any stage late, dispatch and last
    # handling time, and its ended / on-time SIGN stages — those of the unit holding the event
    # ("own") and of other units that held it before ("foreign").
    ended_sign = and_(EventStage.stage == Stage.SIGN, EventStage.ended_at.is_not(None))
    own = EventStage.unit_id.is_not_distinct_from(Event.unit_id)
    split = by in ("unit", "department") or actor.role is StaffRole.DISPATCHER
    mine = own if split else true()
    facts = (
        select(
            func.bool_or(EventStage.on_time.is_(False)).label("any_late"),
            func.min(EventStage.started_at)
            .filter(EventStage.stage == Stage.SIGN)
            .label("dispatched_at"),
            func.max(EventStage.ended_at)
            .filter(EventStage.stage == Stage.HANDLE)
            .label("handled_at"),
            func.count().filter(ended_sign, mine).label("signs_ended"),
            func.count()
            .filter(ended_sign, mine, EventStage.on_time.is_(True))
            .label("signs_on_time"),
            func.count().filter(EventStage.stage == Stage.SIGN, ~own).label("foreign_signs"),
        )
        .where(EventStage.event_id == Event.id)
        .lateral("facts")
    )
    members = (
        select(
            Event.id,
            Event.unit_id,
            _text_key(_event_key(by)).label("key"),
            Event.status,
            Event.source,
            Event.rework_count,
            Event.return_count,
            Event.stage_deadline,
            Event.suspended_at,
            EventEvaluation.score.label("evaluation_score"),
            *facts.c,
        )
        .select_from(Event)
        .join(facts, true())
        .outerjoin(
            EventEvaluation,
            and_(
                EventEvaluation.event_id == Event.id,
                EventEvaluation.district_code == Event.district_code,
            ),
        )
        .where(Event.reported_at >= start, Event.reported_at < end, _scope(actor))
    )
    if by == "department":
        members = members.outerjoin(DepartmentUnit, DepartmentUnit.id == Event.unit_id)
    cohort = members.cte("cohort")
    c = cohort.c
    hours = func.extract("epoch", c.handled_at - c.dispatched_at) / 3600.0
    per_event = select(
        c.key,
        *(func.count().filter(where(c, at)).label(name) for name, where in _COUNTS.items()),
        func.avg(hours).filter(c.handled_at.is_not(None)).label("mean_handling_hours"),
        func.avg(c.evaluation_score).label("evaluation_score"),
        func.coalesce(func.sum(c.signs_ended), 0).label("signs_ended"),
        func.coalesce(func.sum(c.signs_on_time), 0).label("signs_on_time"),
    ).group_by(c.key)
    groups: dict[str, dict[str, Any]] = {}
    for r in session.execute(per_event).mappings():
        groups[r["key"]] = {name: value for name, value in r.items() if name != "key"}
    # SIGN stages of units that no longer hold the event (returned or re-dispatched), counted
    # for the unit that had to sign for them; only under unit and department, never for a
    # dispatcher (who sees their own unit's stages only).
    extra: list[list[dict[str, Any]]] = []
    if split and actor.role is not StaffRole.DISPATCHER:
        earlier = (  # an index probe per event that has such stages, a few per cent of them
            select(EventStage.unit_id, EventStage.ended_at, EventStage.on_time)
            .where(
                EventStage.event_id == c.id,
                EventStage.stage == Stage.SIGN,
                EventStage.unit_id.is_distinct_from(c.unit_id),
            )
            .lateral("earlier")
        )
        foreign_key = _text_key(
            earlier.c.unit_id
            if by == "unit"
            else select(DepartmentUnit.department_id)
            .where(DepartmentUnit.id == earlier.c.unit_id)
            .scalar_subquery()
        )
        foreign = (
            select(
                foreign_key.label("key"),
                func.count().filter(earlier.c.ended_at.is_not(None)).label("signs_ended"),
                func.count().filter(earlier.c.on_time.is_(True)).label("signs_on_time"),
            )
            .select_from(cohort)
            .join(earlier, true())
            .where(c.foreign_signs > 0)
            .group_by(foreign_key)
        )
        extra.append([dict(r) for r in session.execute(foreign).mappings()])
    extra += [rollup(session, cohort, by, actor) for rollup in ROLLUPS]
    for rows in extra:
        for row in rows:
            group = groups.setdefault(row["key"], dict(_EMPTY))
            for name, value in row.items():
                if name != "key":
                    group[name] = group.get(name, 0) + value
    names = group_names(session, by, [key for key in groups if key])
    result = [
        KpiRow(
            key=key or None,
            name=names.get(key, key) if key else _NO_KEY_NAMES[by],
            **{
                name: (None if value is None else float(value))
                if name in _MEANS
                else int(value or 0)
                for name, value in figures.items()
            },
        )
        for key, figures in groups.items()
    ]
    return sorted(result, key=_order(by))


_MEANS: Final = frozenset({"mean_handling_hours", "evaluation_score"})
# A group only other tables know (e.g. a unit that only had to sign for a case before).
_EMPTY: Final[dict[str, Any]] = {
    **dict.fromkeys(_COUNTS, 0),
    "signs_ended": 0,
    "signs_on_time": 0,
    **dict.fromkeys(_MEANS),
}


def _order(by: str) -> Callable[[KpiRow], tuple[Any, ...]]:
    """Rows in key order, no key last: tiers bottom up, ids in numeric order, codes in code
    order (digits)."""
    if by == "tier":
        rank = {tier.value: i for i, tier in enumerate(TIER_ORDER)}
        return lambda row: (row.key is None, rank.get(row.key or "", len(rank)))
    return lambda row: (row.key is None, len(row.key or ""), row.key or "")


def _check_period(start: datetime, end: datetime, at: datetime) -> None:
    for label, moment in (("start", start), ("end", end), ("now", at)):
        if moment.tzinfo is None:
            raise InvalidReport(f"{label} must carry a time zone (e.g. +08:00)")
    if end <= start:
        raise InvalidReport(f"the period is empty: end {end} is not after start {start}")


def citizen_kpis(
    session: Session,
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> CitizenKpis:
    """The citizen-service indicators (受理量, 直办率, 按时答复率, 回访率, 满意率, 重办率) of the
    events reported in [start, end) within the actor's scope (see the module docstring)."""
    at = now or datetime.now(UTC)
    _check_period(start, end, at)
    cohort = (
        select(Event.id, Event.source)
        .where(Event.reported_at >= start, Event.reported_at < end, _scope(actor))
        .cte("cohort")
    )
    c = cohort.c
    citizen = c.source.in_(sorted(CITIZEN_SOURCES))

    def stepped(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        return select(EventStep.id).where(EventStep.event_id == c.id, *where).exists()

    into_closed = EventStep.to_status == EventStatus.CLOSED
    by_source = {
        str(source.value): int(n)
        for source, n in session.execute(select(c.source, func.count()).group_by(c.source))
    }
    events = session.execute(
        select(
            func.count().filter(citizen),
            func.count().filter(citizen, stepped(EventStep.action == "direct-reply", into_closed)),
            func.count().filter(citizen, stepped(into_closed)),
            func.count().filter(
                citizen, stepped(into_closed), stepped(EventStep.action == "reopen")
            ),
        ).select_from(cohort)
    ).one()
    replies = session.execute(
        select(func.count(), func.count().filter(EventStage.on_time.is_(True)))
        .select_from(cohort)
        .join(EventStage, EventStage.event_id == c.id)
        .where(EventStage.stage == Stage.REPLY, EventStage.ended_at.is_not(None))
    ).one()
    reached = Callback.satisfaction.is_not(None)
    callbacks = session.execute(
        select(
            func.count().filter(or_(Callback.ended_at.is_not(None), Callback.due_at < at)),
            func.count().filter(reached),
            func.count().filter(
                Callback.satisfaction.in_([Satisfaction.SATISFIED, Satisfaction.FAIRLY_SATISFIED])
            ),
        )
        .select_from(cohort)
        .join(Callback, Callback.event_id == c.id)
    ).one()
    return CitizenKpis(
        accepted_by_source=by_source,
        citizen_accepted=events[0],
        direct_replies=events[1],
        citizen_closed=events[2],
        reopened=events[3],
        replies=replies[0],
        replies_on_time=replies[1],
        callbacks_due=callbacks[0],
        callbacks_reached=callbacks[1],
        satisfied=callbacks[2],
    )


def subtask_kpis(
    session: Session,
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    by: SubtaskGrouping = "unit",
    now: datetime | None = None,
) -> list[SubtaskKpiRow]:
    """Sub-task counts and 协办按时率 of the assisting units (or their departments) for the
    events reported in [start, end) within the actor's scope (see the module docstring)."""
    if by not in ("unit", "department"):
        raise InvalidReport(f"cannot group sub-task KPIs by '{by}'; use unit or department")
    at = now or datetime.now(UTC)
    _check_period(start, end, at)
    if actor.role is StaffRole.DISPATCHER:
        scope = (
            EventSubtask.unit_id == actor.department_unit_id
            if actor.department_unit_id is not None
            else false()
        )
    else:
        scope = _scope(actor)
    key = EventSubtask.unit_id if by == "unit" else DepartmentUnit.department_id
    s = EventSubtask
    running = s.status.in_([SubtaskStatus.DISPATCHED, SubtaskStatus.SIGNED])
    done = s.status == SubtaskStatus.DONE
    rows = session.execute(
        select(
            key.label("key"),
            func.count().filter(s.status != SubtaskStatus.CANCELLED).label("assigned"),
            func.count().filter(s.signed_at.is_not(None)).label("signed"),
            func.count().filter(s.signed_at <= s.sign_deadline).label("signed_on_time"),
            func.count().filter(done).label("done"),
            func.count().filter(done, s.reported_at <= s.handle_deadline).label("done_on_time"),
            func.count().filter(s.status == SubtaskStatus.WAIVED).label("waived"),
            func.count().filter(s.status == SubtaskStatus.CANCELLED).label("cancelled"),
            func.count().filter(running).label("open"),
            func.count().filter(running, s.handle_deadline < at).label("overdue"),
        )
        .select_from(s)
        .join(Event, and_(Event.id == s.event_id, Event.district_code == s.district_code))
        .join(DepartmentUnit, DepartmentUnit.id == s.unit_id)
        .where(Event.reported_at >= start, Event.reported_at < end, scope)
        .group_by(key)
        .order_by(key)
    ).all()
    names = group_names(session, by, [str(r.key) for r in rows])
    return [
        SubtaskKpiRow(
            key=str(r.key),
            name=names.get(str(r.key), str(r.key)),
            **{
                name: int(getattr(r, name))
                for name in SubtaskKpiRow.model_fields
                if name not in ("key", "name")
            },
        )
        for r in rows
    ]


def group_names(session: Session, by: str, keys: list[str]) -> dict[str, str]:
    """Display names of the group keys."""
    if not keys:
        return {}
    ids = [int(k) for k in keys] if by in ("unit", "department", "worker") else []
    query: Any
    if by == "unit":
        query = select(DepartmentUnit.id, DepartmentUnit.name).where(DepartmentUnit.id.in_(ids))
    elif by == "department":
        query = select(Department.id, Department.name).where(Department.id.in_(ids))
    elif by == "grid":
        query = select(Grid.code, Grid.name).where(Grid.code.in_(keys))
    elif by == "worker":
        query = select(Staff.id, Staff.full_name).where(Staff.id.in_(ids))
    elif by == "tier":
        return {t.value: f"{t.label}级" for t in Tier if t.value in keys}
    elif by in ("street", "community"):
        query = select(AdminUnit.code, AdminUnit.name).where(AdminUnit.code.in_(keys))
    elif by == "category":
        query = select(EventCategory.code, EventCategory.name).where(
            EventCategory.code.in_(keys), EventCategory.valid_to.is_(None)
        )
    else:
        query = select(AdminUnit.district_code, AdminUnit.name).where(
            AdminUnit.code.in_([f"{k}000000" for k in keys])
        )
    return {str(key): str(name) for key, name in session.execute(query).all()}


_YEAR: Final = re.compile(r"^(\d{4})$")
_QUARTER: Final = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH: Final = re.compile(r"^(\d{4})-(\d{1,2})$")


def period_bounds(
    period: str | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
    today: date | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) in China time of a period written `2026`, `2026-Q4`, `2026-11` or
    `2026-11-23`, or of the dates `start`..`end` (both included); default: this month."""
    if period and (start or end):
        raise InvalidReport("give either a period or from/to dates, not both")
    if start or end:
        if start is None or end is None:
            raise InvalidReport("give both from and to dates (YYYY-MM-DD), or a period")
        if end < start:
            raise InvalidReport(f"to {end} is before from {start}; swap them")
        first, last = start, end
    elif period:
        first, last = _period_days(period.strip())
    else:
        day = today or local_today()
        first, last = _period_days(f"{day.year}-{day.month:02d}")
    after = date.fromordinal(last.toordinal() + 1)
    return (
        datetime.combine(first, time(), tzinfo=CHINA_TZ),
        datetime.combine(after, time(), tzinfo=CHINA_TZ),
    )


def _period_days(period: str) -> tuple[date, date]:
    """First and last day of a year, quarter, month or single day."""
    try:
        if match := _YEAR.match(period):
            year = int(match[1])
            return date(year, 1, 1), date(year, 12, 31)
        if match := _QUARTER.match(period):
            year, quarter = int(match[1]), int(match[2])
            first = date(year, 3 * quarter - 2, 1)
            return first, _month_end(year, 3 * quarter)
        if match := _MONTH.match(period):
            year, month = int(match[1]), int(match[2])
            return date(year, month, 1), _month_end(year, month)
        day = date.fromisoformat(period)
        return day, day
    except ValueError:
        raise InvalidReport(
            f"period '{period}' is not a year (2026), quarter (2026-Q4), month (2026-11) "
            "or day (2026-11-23)"
        ) from None


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


# -- return review and disputes (退回审核, 争议裁定) ---------------------------------------------

# Reviews that accepted the return under review (a ruling accepts it when it names another unit).
ACCEPTING_REVIEWS: Final = ("accept-return", "redispatch")


def review_kpis(session: Session, *, actor: Actor, start: datetime, end: datetime) -> ReviewKpis:
    """退单数, 退单率, accepted returns, 派遣准确率 and 争议数 per unit of the events reported in
    [start, end) within the actor's scope, and their total (see the module docstring)."""
    _check_period(start, end, datetime.now(UTC))
    own_unit = actor.department_unit_id if actor.role is StaffRole.DISPATCHER else None
    # A unit that returned a case no longer holds it: its dispatcher's row counts its own steps.
    scope = true() if actor.role is StaffRole.DISPATCHER else _scope(actor)
    cohort = (
        select(Event.id, Event.returned_by_unit_ids)
        .where(Event.reported_at >= start, Event.reported_at < end, scope)
        .cte("review_cohort")
    )
    step = aliased(EventStep)
    per_step = session.execute(
        select(
            step.unit_id,
            func.count().filter(step.to_status == EventStatus.DISPATCHED),
            func.count().filter(step.action == "return"),
        )
        .join(cohort, cohort.c.id == step.event_id)
        .where(step.unit_id.is_not(None))
        .group_by(step.unit_id)
    ).all()
    review = aliased(EventStep)
    next_review = (
        select(review.action, review.unit_id)
        .where(
            review.event_id == step.event_id,
            review.from_status == EventStatus.RETURNED,
            tuple_(review.at, review.id) > tuple_(step.at, step.id),
        )
        .order_by(review.at, review.id)
        .limit(1)
        .lateral("next_review")
    )
    # A later ruling (裁定, binding) naming the returning unit as lead overrules the acceptance.
    ruling = aliased(EventStep)
    ruled_back = (
        select(ruling.id)
        .where(
            ruling.event_id == step.event_id,
            ruling.action == "rule",
            ruling.unit_id == step.unit_id,
            tuple_(ruling.at, ruling.id) > tuple_(step.at, step.id),
        )
        .exists()
    )
    accepted: dict[int | None, int] = dict(
        session.execute(
            select(step.unit_id, func.count())
            .join(cohort, cohort.c.id == step.event_id)
            .join(next_review, true())
            .where(
                step.action == "return",
                or_(
                    next_review.c.action.in_(ACCEPTING_REVIEWS),
                    and_(
                        next_review.c.action == "rule",
                        next_review.c.unit_id.is_distinct_from(step.unit_id),
                    ),
                ),
                ~ruled_back,
            )
            .group_by(step.unit_id)
        ).all()
    )
    pairs = (
        select(cohort.c.id, func.unnest(cohort.c.returned_by_unit_ids).label("unit_id"))
        .distinct()
        .cte("returner_pairs")
    )
    disputed = select(pairs.c.id).group_by(pairs.c.id).having(func.count() >= 2)
    disputes: dict[int, int] = dict(
        session.execute(
            select(pairs.c.unit_id, func.count())
            .where(pairs.c.id.in_(disputed))
            .group_by(pairs.c.unit_id)
        ).all()
    )
    counts = {int(unit or 0): (int(d), int(r)) for unit, d, r in per_step}  # unit is NOT NULL
    units = sorted(set(counts) | {int(u) for u in accepted if u is not None} | set(disputes))
    if actor.role is StaffRole.DISPATCHER:
        units = [u for u in units if u == own_unit]
    names = group_names(session, "unit", [str(u) for u in units])
    rows = [
        ReviewKpiRow(
            key=str(unit),
            name=names.get(str(unit), str(unit)),
            dispatched=counts.get(unit, (0, 0))[0],
            returns=counts.get(unit, (0, 0))[1],
            accepted_returns=int(accepted.get(unit, 0)),
            disputes=int(disputes.get(unit, 0)),
        )
        for unit in units
    ]
    if actor.role is StaffRole.DISPATCHER:
        total_disputes = sum(r.disputes for r in rows)
    else:
        total_disputes = int(
            session.scalar(select(func.count()).select_from(disputed.subquery())) or 0
        )
    total = ReviewKpiRow(
        key=None,
        name="合计 All units",
        dispatched=sum(r.dispatched for r in rows),
        returns=sum(r.returns for r in rows),
        accepted_returns=sum(r.accepted_returns for r in rows),
        disputes=total_disputes,
    )
    return ReviewKpis(start=start, end=end, rows=rows, total=total)


def supervision_kpis(
    session: Session,
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    by: Literal["unit", "department"] = "unit",
    now: datetime | None = None,
) -> list[SupervisionKpiRow]:
    """督办回复率 and 督办按时率 of the orders issued in [start, end) on cases in the actor's
    scope, one row per unit (or department) the orders were addressed to (module docstring)."""
    if by not in ("unit", "department"):
        raise InvalidReport(f"cannot group supervision KPIs by '{by}'; use unit or department")
    at = now or datetime.now(UTC)
    _check_period(start, end, at)
    o = SupervisionOrder
    if actor.role is StaffRole.DISPATCHER:
        scope = o.unit_id == (actor.department_unit_id or -1)
    else:
        scope = _scope(actor)
    key = _text_key(o.unit_id if by == "unit" else DepartmentUnit.department_id)
    withdrawn = and_(
        o.replied_at.is_(None), o.lifted_at.is_not(None), o.lifted_at < o.reply_deadline
    )
    due = and_(or_(o.replied_at.is_not(None), o.reply_deadline <= at), ~withdrawn)
    rows = session.execute(
        select(
            key.label("key"),
            func.count().label("issued"),
            func.count().filter(due).label("due"),
            func.count().filter(o.replied_at.is_not(None)).label("replied"),
            func.count().filter(o.replied_on_time.is_(True)).label("on_time"),
        )
        .select_from(o)
        .join(Event, Event.id == o.event_id)
        .join(DepartmentUnit, DepartmentUnit.id == o.unit_id)
        .where(o.issued_at >= start, o.issued_at < end, scope)
        .group_by(key)
    ).all()
    names = group_names(session, by, [r.key for r in rows if r.key])
    result = [
        SupervisionKpiRow(
            key=r.key,
            name=names.get(r.key, r.key),
            issued=r.issued,
            due=r.due,
            replied=r.replied,
            replied_on_time=r.on_time,
        )
        for r in rows
    ]
    return sorted(result, key=lambda row: (len(row.key or ""), row.key or ""))


__all__ = [
    "GROUPINGS",
    "READ_KPIS",
    "KpiGrouping",
    "SubtaskGrouping",
    "area_scope",
    "citizen_kpis",
    "group_names",
    "kpis",
    "period_bounds",
    "review_kpis",
    "subtask_kpis",
    "supervision_kpis",
]
