"""The command centre's review queue (退回审核/争议) and its rulings (裁定), read and put to use.

`review_queue` lists the returned cases waiting in the caller's area with every unit's return
and reason, disputes (two different units returned the case) flagged; `list_rulings` the
rulings in the caller's area; `make_dispatch_rule` turns a ruling into a dispatch rule for the
case's category and area (community, street or district), tried before every other rule, so a
fresh case of that category there goes straight to the unit ruled to lead — one click, and the
same dispute does not come back. The actions themselves are in events.actions.review.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from events.actions import actions_for
from events.actions.context import check_scope
from events.admin import add_rule
from events.catalog import DepartmentType
from events.directory import rule_read
from events.disputes import awaiting_ruling, is_disputed
from events.exceptions import Conflict, Forbidden, InvalidReport, NotFound
from events.models import (
    DepartmentUnit,
    DisputeRuling,
    Event,
    EventCategory,
    EventStatus,
    EventStep,
)
from events.query import visible_to
from events.schemas import (
    ReturnedCase,
    ReturnRead,
    RuleFromRuling,
    RuleInput,
    RulingRead,
    RulingRule,
)
from events.service import get_unit_ref
from events.workflow import SYSTEM
from grid.exceptions import InvalidQuery
from grid.service import area_prefix
from people.access import Actor, require_role
from people.models import Staff, StaffRole

MAX_QUEUE = 200  # the oldest returned cases first; a centre with more has a backlog to clear


def review_queue(session: Session, *, actor: Actor) -> list[ReturnedCase]:
    """Returned cases in the actor's area, oldest first, with every return and its reason."""
    require_role(actor, SYSTEM, "review returned cases")
    events = list(
        session.scalars(
            select(Event)
            .where(Event.status == EventStatus.RETURNED, visible_to(actor))
            .order_by(Event.updated_at, Event.id)
            .limit(MAX_QUEUE)
        )
    )
    if not events:
        return []
    steps = session.execute(
        select(EventStep, Staff.username)
        .outerjoin(Staff, Staff.id == EventStep.actor_id)
        .where(EventStep.event_id.in_([e.id for e in events]), EventStep.action == "return")
        .order_by(EventStep.at, EventStep.id)
    ).all()
    categories = {
        c.id: c
        for c in session.scalars(
            select(EventCategory).where(EventCategory.id.in_({e.category_id for e in events}))
        )
    }
    queue = []
    for event in events:
        category = categories[event.category_id]
        returns = [
            ReturnRead(
                unit=get_unit_ref(session, unit_id=step.unit_id),
                reason=(step.data or {}).get("reason") or step.note,
                at=step.at,
                by=username,
            )
            for step, username in steps
            if step.event_id == event.id
        ]
        queue.append(
            ReturnedCase(
                code=event.code,
                status=event.status,
                status_label=event.status.label,
                category=category.code,
                category_name=f"{category.major_name}/{category.name}",
                description=event.description,
                address=event.address,
                grid_code=event.grid_code,
                community=event.community_code,
                street=event.street_code,
                reported_at=event.reported_at,
                returns=returns,
                disputed=is_disputed(event),
                awaiting_ruling=awaiting_ruling(session, event=event),
                actions=actions_for(session, actor=actor, event=event),
            )
        )
    return queue


def _ruling_read(session: Session, ruling: DisputeRuling, event_code: str) -> RulingRead:
    unit = get_unit_ref(session, unit_id=ruling.unit_id)
    assert unit is not None
    return RulingRead(
        id=ruling.id,
        event_code=event_code,
        category=ruling.category_code,
        community=ruling.community_code,
        street=ruling.street_code,
        grid_code=ruling.grid_code,
        district_code=ruling.district_code,
        units=[r for r in (get_unit_ref(session, unit_id=u) for u in ruling.unit_ids) if r],
        unit=unit,
        reasoning=ruling.reasoning,
        ruled_by=session.scalar(select(Staff.username).where(Staff.id == ruling.ruled_by))
        if ruling.ruled_by
        else None,
        ruled_at=ruling.ruled_at,
        dispatch_rule_id=ruling.dispatch_rule_id,
    )


def _of_event() -> ColumnElement[bool]:
    return and_(
        Event.id == DisputeRuling.event_id, Event.district_code == DisputeRuling.district_code
    )


def list_rulings(session: Session, *, actor: Actor) -> list[RulingRead]:
    """The rulings on cases in the actor's area, newest first."""
    require_role(actor, SYSTEM, "read dispute rulings")
    rows = session.execute(
        select(DisputeRuling, Event.code)
        .join(Event, _of_event())
        .where(visible_to(actor))
        .order_by(DisputeRuling.ruled_at.desc(), DisputeRuling.id.desc())
    ).all()
    return [_ruling_read(session, ruling, code) for ruling, code in rows]


def _area_of(ruling: DisputeRuling, area: Literal["community", "street", "district"]) -> str:
    """The code prefix of the ruled case's community, street or district."""
    code = {
        "community": ruling.community_code,
        "street": ruling.street_code,
        "district": ruling.district_code,
    }[area]
    if not code:
        raise InvalidReport(
            f"裁定{ruling.id}的案件不在任何{'社区' if area == 'community' else '街道'}内，"
            f"请选择更大的范围 (the ruled case has no {area}; choose street or district)",
            field="area",
        )
    return area_prefix(code)


def make_dispatch_rule(
    session: Session, *, actor: Actor, ruling_id: int, data: RuleFromRuling
) -> RulingRule:
    """Turn ruling `ruling_id` into a dispatch rule, tried first: the case's category in its
    community, street or district goes to the unit ruled to lead (a second call is refused)."""
    require_role(actor, SYSTEM, "make a dispatch rule from a ruling")
    ruling = session.scalar(
        select(DisputeRuling).where(DisputeRuling.id == ruling_id).with_for_update()
    )
    event = (
        session.scalar(
            select(Event).where(
                Event.id == ruling.event_id, Event.district_code == ruling.district_code
            )
        )
        if ruling is not None
        else None
    )
    if ruling is None or event is None:
        raise NotFound(f"ruling {ruling_id} does not exist")
    seen = session.scalar(select(Event.id).where(Event.id == event.id, visible_to(actor)))
    if seen is None:
        raise NotFound(f"ruling {ruling_id} does not exist")
    check_scope(session, actor, event, "make a dispatch rule from a ruling on")
    if ruling.dispatch_rule_id is not None:
        raise Conflict(
            f"裁定{ruling.id}已生成派遣规则{ruling.dispatch_rule_id} (ruling {ruling.id} already "
            f"made dispatch rule {ruling.dispatch_rule_id}; edit that rule instead)",
            rule_id=ruling.dispatch_rule_id,
        )
    prefix = _area_of(ruling, data.area)
    if actor.role is not StaffRole.ADMIN:
        try:
            mine = area_prefix(actor.area_code or "")
        except InvalidQuery:
            mine = None
        if mine is None or not prefix.startswith(mine):
            raise Forbidden(
                f"a rule for area {prefix} reaches beyond your area ({actor.area_code or 'none'}); "
                "choose a smaller area (community or street) or ask the centre above"
            )
    unit = session.get(DepartmentUnit, ruling.unit_id)
    category = session.get(EventCategory, event.category_id)
    assert unit is not None and category is not None
    rule = add_rule(
        session,
        data=RuleInput(
            position=0,
            name=f"裁定{ruling.id}：{ruling.category_code}在{prefix}由{unit.name}主办"[:100],
            category_code=ruling.category_code,
            area_prefix=prefix,
            lead=unit.dept_type,
            # The ruling says who leads; the category's usual assisting departments still
            # assist (a joint case stays joint).
            assisting=[DepartmentType(a) for a in category.assisting if a != unit.dept_type.value],
            fixed_unit_id=unit.id,
        ),
        first=True,
    )
    ruling.dispatch_rule_id = rule.id
    session.flush()
    return RulingRule(ruling=_ruling_read(session, ruling, event.code), rule=rule_read(rule))
