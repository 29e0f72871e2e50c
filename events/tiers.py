"""Tiers (分级流转) — the community's 综治工作站, the street's 综治中心, the district's
社会治理指挥中心 and the city, which sees every district — and 立案 by judgement.

A tier centre is a unit of type command_centre whose `area_code` is the prefix it serves (12
digits a community, 9 a street, 6 a district, 4 the city); a district centre without an area
code serves its district (as before tiers). A case is held at a tier (`Event.tier`); command
staff belong to the tier of their own area code. The district and the city always exist as
tiers (the district's centre is the fallback of every case, the city's staff see every
district); a community or street exists for a case when it has a centre for the case's place.

A grid worker's (or a device's) report of a category marked `auto_register`, and every urgent
(特急) case, is registered and routed at once; every other report, once located and checked on
site where needed, waits as pending (待立案) on the 立案 clock (setting REGISTER_LIMIT) at the
category's start tier (or the nearest tier above that has a centre). Registered cases the
routing did not place wait for 派遣 on the dispatch clock (DISPATCH_LIMIT).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from events import deadlines
from events.catalog import TIER_ORDER, DepartmentType, Priority, Tier, tier_of_prefix
from events.dispatch import propose_dispatch
from events.exceptions import ActionNotAllowed
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventSource,
    EventStatus,
    Stage,
)
from events.schemas import DispatchProposalRead
from grid.exceptions import InvalidQuery
from grid.service import area_prefix
from people.access import Actor
from people.models import StaffRole

# Sources whose report of an auto_register category is registered at once: the grid worker
# saw it, a device measured it. Everything else waits for the command centre's judgement.
AUTO_REGISTER_SOURCES: Final = frozenset({EventSource.GRID_WORKER, EventSource.SENSOR})
# A case waiting for 派遣 (or for 立案 before it, or dispatched and open to re-routing).
PROPOSAL_STATES: Final = (
    EventStatus.PENDING,
    EventStatus.REGISTERED,
    EventStatus.RETURNED,
    EventStatus.DISPATCHED,
)
# Tiers that exist for every case whether or not a centre unit is configured for them.
ALWAYS_THERE: Final = frozenset({Tier.DISTRICT, Tier.CITY})


def rank(tier: Tier) -> int:
    """0 community, 1 street, 2 district, 3 city."""
    return TIER_ORDER.index(tier)


def actor_tier(actor: Actor) -> Tier | None:
    """The tier of a command account, from its area code (None: no area, or a grid's code)."""
    if not actor.area_code:
        return None
    try:
        return tier_of_prefix(area_prefix(actor.area_code))
    except InvalidQuery:
        return None


def place_prefix(event: Event, tier: Tier) -> str | None:
    """The area prefix of `tier` that contains the event (None when its place lacks that level)."""
    if tier is Tier.COMMUNITY:
        return event.community_code[:12] if event.community_code else None
    if tier is Tier.STREET:
        return event.street_code[:9] if event.street_code else None
    if tier is Tier.DISTRICT:
        return event.district_code
    return event.district_code[:4]


def tier_centre(session: Session, *, event: Event, tier: Tier) -> DepartmentUnit | None:
    """The centre of `tier` serving the event's place, if one is configured."""
    prefix = place_prefix(event, tier)
    if prefix is None:
        return None
    serves = DepartmentUnit.area_code == prefix
    if tier is Tier.DISTRICT:  # a district centre configured before tiers has no area code
        serves = or_(
            serves,
            (DepartmentUnit.area_code.is_(None))
            & (DepartmentUnit.district_code == event.district_code),
        )
    return session.scalar(
        select(DepartmentUnit)
        .where(
            DepartmentUnit.active,
            DepartmentUnit.dept_type == DepartmentType.COMMAND_CENTRE,
            serves,
        )
        .order_by(DepartmentUnit.area_code.is_(None), func.length(DepartmentUnit.area_code))
        .order_by(DepartmentUnit.id)
        .limit(1)
    )


def tier_exists(session: Session, *, event: Event, tier: Tier) -> bool:
    """Whether `tier` can hold the case: district and city always, a community or street
    when it has a centre for the case's place."""
    return tier in ALWAYS_THERE or tier_centre(session, event=event, tier=tier) is not None


def starting_tier(session: Session, *, event: Event, category: EventCategory) -> Tier:
    """The category's start tier, or the nearest tier above it that exists for the case."""
    for tier in TIER_ORDER[rank(category.start_tier) :]:
        if tier_exists(session, event=event, tier=tier):
            return tier
    return Tier.DISTRICT


def tier_above(session: Session, *, event: Event) -> Tier | None:
    """The nearest existing tier above the one holding the case (None at the city)."""
    for tier in TIER_ORDER[rank(event.tier) + 1 :]:
        if tier_exists(session, event=event, tier=tier):
            return tier
    return None


def tiers_below(session: Session, *, event: Event) -> list[Tier]:
    """The existing tiers below the one holding the case, nearest first."""
    return [
        tier
        for tier in reversed(TIER_ORDER[: rank(event.tier)])
        if tier_exists(session, event=event, tier=tier)
    ]


def registers_at_once(event: Event, category: EventCategory) -> bool:
    """Whether a located (and, where needed, checked) report skips 立案 by judgement: an
    urgent case never waits, a grid worker's or a device's report of an auto_register
    category goes straight on."""
    if event.priority is Priority.URGENT:
        return True
    return event.source in AUTO_REGISTER_SOURCES and category.auto_register


def await_registration(
    session: Session, *, event: Event, category: EventCategory, at: datetime
) -> None:
    """A pending case waits at its starting tier on the 立案 clock."""
    event.tier = starting_tier(session, event=event, category=category)
    deadlines.start_stage(session, event=event, category=category, stage=Stage.REGISTER, at=at)


def await_dispatch(
    session: Session, *, event: Event, category: EventCategory, at: datetime
) -> None:
    """A registered case waits for 派遣 at its tier on the dispatch clock."""
    deadlines.start_stage(session, event=event, category=category, stage=Stage.DISPATCH, at=at)


def dispatch_proposal(
    session: Session, *, actor: Actor, code: str, now: datetime | None = None
) -> DispatchProposalRead:
    """What automatic routing would choose for event `code` now, with its explanation, for the
    command staff who may dispatch it (`events.dispatch.propose_dispatch`; nothing applied)."""
    # The reads and the actions import this module: theirs are imported when called.
    from events.actions.context import check_scope
    from events.query import check_visible
    from events.service import get_event, get_unit_ref

    event = get_event(session, code=code)
    check_visible(session, actor=actor, event=event)
    check_scope(session, actor, event, "dispatch")
    if event.status not in PROPOSAL_STATES:
        raise ActionNotAllowed(
            f"event {event.code} is {event.status.value} ({event.status.label}); a dispatch "
            f"proposal is for a case waiting for 派遣 ("
            + ", ".join(s.value for s in PROPOSAL_STATES)
            + ")",
            allowed=[],
        )
    if event.geom is None:
        raise ActionNotAllowed(
            f"event {event.code} has no point yet; locate it first (定位), then ask for the "
            "proposal",
            allowed=["locate"],
        )
    category = session.get(EventCategory, event.category_id)
    assert category is not None
    proposal = propose_dispatch(
        session, event=event, category=category, at=now or datetime.now(UTC)
    )
    return DispatchProposalRead(
        event=event.code,
        unit=get_unit_ref(session, unit_id=proposal.lead.id) if proposal.lead else None,
        assisting_units=[
            ref for u in proposal.assisting if (ref := get_unit_ref(session, unit_id=u.id))
        ],
        rule_id=proposal.decision.rule_id,
        rule=proposal.decision.why,
        lead_type=proposal.decision.lead,
        lead_type_label=proposal.decision.lead.label,
        how=proposal.how,
        excluded_units=sorted(proposal.excluded),
    )


def in_area(actor: Actor, event: Event) -> bool:
    """Whether the event lies in the actor's admin area (its grid, else its admin codes)."""
    if actor.role is StaffRole.ADMIN:
        return True
    if not actor.area_code:
        return False
    try:
        prefix = area_prefix(actor.area_code)
    except InvalidQuery:
        return False
    place = event.grid_code or event.community_code or event.street_code or event.district_code
    return place.startswith(prefix)


__all__ = [
    "AUTO_REGISTER_SOURCES",
    "actor_tier",
    "await_dispatch",
    "await_registration",
    "dispatch_proposal",
    "in_area",
    "place_prefix",
    "rank",
    "registers_at_once",
    "starting_tier",
    "tier_above",
    "tier_centre",
    "tier_exists",
    "tiers_below",
]
