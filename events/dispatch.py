"""Automatic dispatch: which rule decides the department type, and which unit gets the case.

1. the first active rule (by position) matching category (subcategory or major code), area
   (admin-code prefix), day and time of day and priority; else the category's own default;
2. a rule's fixed unit; else the owner unit of the city part (城市部件) the event names (a
   broken lamp goes to the lamp's owner); else the unit of that type whose jurisdiction covers
   the point; else the nearest unit of that type in the district; else the district command
   centre. Units are per district: a case is
   only ever routed to a unit of its own district, whatever another district's jurisdiction
   polygon (or a rule's fixed unit) says.
Every decision carries a sentence saying why, kept in the event's history. `propose_dispatch`
decides without changing anything (the dispatcher's proposal); `dispatch_event` applies the
decision: it routes the event, starts its sign-for clock and queues the webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from events import deadlines
from events.catalog import DepartmentType
from events.models import (
    DepartmentUnit,
    DispatchRule,
    Event,
    EventCategory,
    EventStatus,
    EventStep,
    Stage,
)
from events.outbox import notify
from events.subtasks import open_subtasks
from events.workflow import add_step
from gis.clock import CHINA_TZ
from grid.models import CityPart
from grid.parts import part_types


@dataclass(frozen=True)
class RuleDecision:
    """The department types a case goes to, and why."""

    lead: DepartmentType
    assisting: list[DepartmentType]
    rule_id: int | None
    fixed_unit_id: int | None
    why: str


@dataclass(frozen=True)
class UnitChoice:
    """The unit chosen for one department type, and how it was found."""

    unit: DepartmentUnit | None
    how: str
    distance_m: float | None = None
    notes: list[str] = field(default_factory=list)


def _in_window(at: time, start: time | None, end: time | None) -> bool:
    if start is None or end is None:
        return True
    if start <= end:
        return start <= at < end
    return at >= start or at < end  # a night window such as 22:00–06:00


def rule_matches(
    rule: DispatchRule, *, category: EventCategory, area_code: str, at: datetime
) -> bool:
    """Whether every condition of `rule` holds for this case."""
    local = at.astimezone(CHINA_TZ)
    return (
        (rule.category_code is None or category.code.startswith(rule.category_code))
        and (rule.area_prefix is None or area_code.startswith(rule.area_prefix))
        and (not rule.weekdays or local.isoweekday() in rule.weekdays)
        and _in_window(local.time(), rule.time_from, rule.time_to)
        and (rule.priority is None or rule.priority is category.priority)
    )


def decide_departments(
    session: Session, *, category: EventCategory, area_code: str, at: datetime
) -> RuleDecision:
    """The first matching dispatch rule's departments, else the category's defaults."""
    rules = session.scalars(
        select(DispatchRule)
        .where(DispatchRule.active)
        .order_by(DispatchRule.position, DispatchRule.id)
    )
    for rule in rules:
        if rule_matches(rule, category=category, area_code=area_code, at=at):
            return RuleDecision(
                lead=rule.lead,
                assisting=[DepartmentType(a) for a in rule.assisting],
                rule_id=rule.id,
                fixed_unit_id=rule.fixed_unit_id,
                why=f"rule {rule.position} “{rule.name}” matched (category "
                f"{rule.category_code or 'any'}, area {rule.area_prefix or 'any'})",
            )
    return RuleDecision(
        lead=category.lead,
        assisting=[DepartmentType(a) for a in category.assisting],
        rule_id=None,
        fixed_unit_id=None,
        why=f"no dispatch rule matched; category {category.code} {category.name} goes to "
        f"{category.lead.label} by default",
    )


def district_command_centre(
    session: Session, *, district_code: str, exclude: frozenset[int] = frozenset()
) -> DepartmentUnit | None:
    """The district's command centre (指挥中心): its active district-tier centre (no area, or the
    district's own) with the lowest id — never a community, street or city centre (events.tiers)
    — and none of the units in `exclude`."""
    return session.scalar(
        select(DepartmentUnit)
        .where(
            DepartmentUnit.active,
            DepartmentUnit.dept_type == DepartmentType.COMMAND_CENTRE,
            DepartmentUnit.district_code == district_code,
            or_(DepartmentUnit.area_code.is_(None), func.length(DepartmentUnit.area_code) == 6),
            DepartmentUnit.id.notin_(exclude) if exclude else true(),
        )
        .order_by(DepartmentUnit.id)
        .limit(1)
    )


def choose_unit(
    session: Session,
    *,
    dept_type: DepartmentType,
    point: Any,
    district_code: str,
    exclude: frozenset[int] = frozenset(),
    outside_grids: bool = False,
) -> UnitChoice:
    """The unit of `dept_type` in `district_code` responsible for `point` (SRID 4490 point)."""
    active = and_(
        DepartmentUnit.active,
        DepartmentUnit.district_code == district_code,
        DepartmentUnit.id.notin_(exclude) if exclude else true(),
    )
    if not outside_grids:
        covering = session.scalar(
            select(DepartmentUnit)
            .where(
                active,
                DepartmentUnit.dept_type == dept_type,
                func.ST_Covers(DepartmentUnit.geom, point),
            )
            .order_by(DepartmentUnit.id)
            .limit(1)
        )
        if covering is not None:
            return UnitChoice(covering, f"{covering.name}'s jurisdiction covers the location")
        distance = func.ST_Distance(func.Geography(DepartmentUnit.location), func.Geography(point))
        nearest = session.execute(
            select(DepartmentUnit, distance)
            .where(
                active,
                DepartmentUnit.dept_type == dept_type,
                DepartmentUnit.location.is_not(None),
            )
            .order_by(DepartmentUnit.location.op("<->")(point))
            .limit(1)
        ).first()
        if nearest is not None:
            unit, metres = nearest
            return UnitChoice(
                unit,
                f"no {dept_type.label} jurisdiction covers the location; "
                f"nearest {dept_type.label} unit is {unit.name}, "
                f"{metres:.0f} m away",
                distance_m=float(metres),
            )
    command = district_command_centre(session, district_code=district_code, exclude=exclude)
    reason = (
        "the location is outside every grid"
        if outside_grids
        else f"the district has no {dept_type.label} unit"
    )
    if command is not None:
        return UnitChoice(
            command, f"{reason}; routed to the district command centre {command.name}"
        )
    return UnitChoice(
        None,
        f"{reason} and no command centre is configured for district "
        f"{district_code}; the case waits for manual dispatch",
    )


def event_point(event: Event) -> Any:
    """The event's stored location as an SQL expression (valid once the row is flushed)."""
    return select(Event.geom).where(Event.id == event.id).scalar_subquery()


def part_owner(
    session: Session, *, event: Event, excluded: frozenset[int]
) -> tuple[DepartmentUnit | None, str]:
    """The owner unit of the city part the event names, when it can take the case, and a
    sentence saying so (or why it cannot: gone, inactive, another district, returned it)."""
    if not event.part_code:
        return None, ""
    row = session.execute(
        select(CityPart.type_code, CityPart.owner_unit_id).where(
            CityPart.code == event.part_code, CityPart.district_code == event.district_code
        )
    ).first()
    if row is None:
        return None, ""
    type_code, owner_id = row
    kind = part_types().get(type_code)
    part = f"city part {event.part_code} ({kind.name if kind else type_code})"
    owner = session.get(DepartmentUnit, owner_id) if owner_id is not None else None
    if owner is None:
        return None, f"the event names {part}, which has no owner unit on record"
    if not owner.active or owner.district_code != event.district_code:
        return None, f"the event names {part}, whose owner unit {owner.name} is not active here"
    if owner.id in excluded:
        return None, f"the event names {part}, whose owner unit {owner.name} returned the case"
    return owner, f"the event names {part}: its owner unit {owner.name} keeps it (部件权属单位)"


@dataclass(frozen=True)
class DispatchProposal:
    """What automatic routing chooses for a case (lead unit, assisting units) and why."""

    decision: RuleDecision
    lead: DepartmentUnit | None
    how: str
    assisting: list[DepartmentUnit]
    excluded: frozenset[int]
    part_owner: bool = False  # the lead unit is the owner of the city part the event names

    def explanation(self) -> dict[str, Any]:
        """The decision as kept in the dispatch step's data (and shown to the dispatcher)."""
        return {
            "rule_id": self.decision.rule_id,
            "rule": self.decision.why,
            "lead_type": self.decision.lead.value,
            "unit_id": self.lead.id if self.lead else None,
            "unit": self.how,
            "part_owner": self.part_owner,
            "assisting": [u.code for u in self.assisting],
            "excluded_units": sorted(self.excluded),
        }


def propose_dispatch(
    session: Session, *, event: Event, category: EventCategory, at: datetime
) -> DispatchProposal:
    """Decide where the event would go (skipping units that returned it), applying nothing."""
    point = event_point(event)
    decision = decide_departments(
        session, category=category, area_code=event.grid_code or event.district_code, at=at
    )
    excluded = frozenset(event.returned_by_unit_ids or [])
    outside = event.locate_match == "outside"
    fixed = session.get(DepartmentUnit, decision.fixed_unit_id) if decision.fixed_unit_id else None
    owner, owner_note = part_owner(session, event=event, excluded=excluded)
    if (
        fixed is not None
        and fixed.id not in excluded
        and fixed.district_code == event.district_code
    ):
        lead_unit: DepartmentUnit | None = fixed
        how = f"the rule names a fixed unit, {fixed.name}"
    elif owner is not None:
        lead_unit, how = owner, owner_note
    else:
        choice = choose_unit(
            session,
            dept_type=decision.lead,
            point=point,
            district_code=event.district_code,
            exclude=excluded,
            outside_grids=outside,
        )
        lead_unit, how = choice.unit, choice.how
        if owner_note:
            how = f"{owner_note}; {how}"
    assisting = []
    for dept_type in decision.assisting:
        if outside:
            break  # the command centre decides who assists on a case outside every grid
        helper = choose_unit(
            session,
            dept_type=dept_type,
            point=point,
            district_code=event.district_code,
            exclude=excluded,
        )
        if (
            helper.unit is not None
            and helper.unit.dept_type is dept_type
            and helper.unit != lead_unit
        ):
            assisting.append(helper.unit)
    return DispatchProposal(
        decision, lead_unit, how, assisting, excluded, part_owner=owner is lead_unit is not None
    )


def dispatch_event(
    session: Session,
    *,
    event: Event,
    category: EventCategory,
    at: datetime,
    actor_id: int | None,
    action: str = "dispatch",
    note: str | None = None,
) -> EventStep:
    """Route the event as `propose_dispatch` decides and start its sign-for clock; with no unit
    to route it to, it stays registered and waits for 派遣 on the dispatch clock."""
    proposal = propose_dispatch(session, event=event, category=category, at=at)
    lead_unit = proposal.lead
    explanation = proposal.explanation()
    event.dispatch_rule_id = proposal.decision.rule_id
    event.unit_id = lead_unit.id if lead_unit else None
    event.assisting_unit_ids = [u.id for u in proposal.assisting]
    if lead_unit is None:
        deadlines.start_stage(session, event=event, category=category, stage=Stage.DISPATCH, at=at)
        return add_step(
            session,
            event=event,
            action=action,
            to_status=EventStatus.REGISTERED,
            at=at,
            actor_id=actor_id,
            note=note,
            data={"dispatch": explanation},
        )
    deadlines.start_stage(
        session, event=event, category=category, stage=Stage.SIGN, at=at, unit_id=lead_unit.id
    )
    open_subtasks(session, event=event, category=category, at=at)
    step = add_step(
        session,
        event=event,
        action=action,
        to_status=EventStatus.DISPATCHED,
        at=at,
        actor_id=actor_id,
        unit_id=lead_unit.id,
        note=note,
        data={"dispatch": explanation},
    )
    notify(
        session,
        event=event,
        step=step,
        unit_ids=[lead_unit.id, *event.assisting_unit_ids],
        kind=action,
        at=at,
    )
    return step
