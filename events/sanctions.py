"""约谈 (an interview of the unit's head) and 通报 (a public notice) recorded against a unit.

The command centre records them, usually after supervision orders (督办单, events.supervision)
went unanswered or late; a unit's dispatchers read their own unit's, command staff and leaders
those of the units of their district, admins all. Like every service this never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.exceptions import Forbidden, InvalidReport, NotFound
from events.models import DepartmentUnit, Event, UnitSanction
from events.schemas import SanctionInput, SanctionRead
from events.supervision import READERS, moment, require_command, unit_ref, visible_order
from grid.exceptions import InvalidQuery
from grid.service import area_prefix
from people.access import Actor
from people.models import Staff, StaffRole


def record_sanction(
    session: Session, *, actor: Actor, entry: SanctionInput, now: datetime | None = None
) -> SanctionRead:
    """Record 约谈 or 通报 against a unit of the actor's district (optionally for an order)."""
    at = moment(now)
    require_command(actor, "record 约谈 or 通报 against a unit")
    unit = session.get(DepartmentUnit, entry.unit_id)
    if unit is None:
        raise NotFound(f"unit {entry.unit_id} does not exist", field="unit_id")
    if not _unit_in_area(actor, unit):
        raise Forbidden(
            f"{unit.name} is in district {unit.district_code}, outside your area "
            f"({actor.area_code or 'none'})"
        )
    event_id = None
    if entry.order_id is not None:
        order = visible_order(session, actor=actor, order_id=entry.order_id)
        if order.unit_id != unit.id:
            raise InvalidReport(
                f"督办单{order.id}不是发给{unit.name}的 (order {order.id} is addressed to another "
                "unit; name that unit or leave order_id out)",
                field="order_id",
            )
        event_id = order.event_id
    text = entry.reason.strip()
    if not text:
        raise InvalidReport("a 约谈 or 通报 needs a reason", field="reason")
    row = UnitSanction(
        district_code=unit.district_code,
        unit_id=unit.id,
        kind=entry.kind,
        reason=text,
        order_id=entry.order_id,
        event_id=event_id,
        actor_id=actor.staff_id,
        at=at,
    )
    session.add(row)
    session.flush()
    return _read_sanctions(session, [row])[0]


def _unit_in_area(actor: Actor, unit: DepartmentUnit) -> bool:
    if actor.role is StaffRole.ADMIN:
        return True
    if not actor.area_code:
        return False
    try:
        prefix = area_prefix(actor.area_code)
    except InvalidQuery:
        return False
    # A unit serves a district: staff of the district or above see it (a street's staff too,
    # for the units working in their street).
    return (
        unit.district_code.startswith(prefix[:6])
        if len(prefix) >= 6
        else (unit.district_code.startswith(prefix))
    )


def sanctions(session: Session, *, actor: Actor, unit_id: int | None = None) -> list[SanctionRead]:
    """约谈 and 通报 recorded against units the actor may see, newest first."""
    if actor.role not in READERS:
        raise Forbidden(f"a {actor.role.label} ({actor.role.value}) account has no sanctions")
    query = select(UnitSanction).order_by(UnitSanction.at.desc(), UnitSanction.id.desc())
    if actor.role is StaffRole.DISPATCHER:
        query = query.where(UnitSanction.unit_id == (actor.department_unit_id or -1))
    elif actor.role is not StaffRole.ADMIN:
        prefix = _district_prefix(actor)
        if prefix is None:
            return []
        query = query.where(UnitSanction.district_code.startswith(prefix))
    if unit_id is not None:
        query = query.where(UnitSanction.unit_id == unit_id)
    return _read_sanctions(session, session.scalars(query.limit(500)).all())


def _district_prefix(actor: Actor) -> str | None:
    if not actor.area_code:
        return None
    try:
        return area_prefix(actor.area_code)[:6]
    except InvalidQuery:
        return None


def _read_sanctions(session: Session, rows: Sequence[UnitSanction]) -> list[SanctionRead]:
    units = {
        u.id: u
        for u in session.scalars(
            select(DepartmentUnit).where(DepartmentUnit.id.in_({r.unit_id for r in rows}))
        )
    }
    names = dict(
        session.execute(
            select(Staff.id, Staff.username).where(Staff.id.in_({r.actor_id for r in rows}))
        ).all()
    )
    codes = dict(
        session.execute(
            select(Event.id, Event.code).where(
                Event.id.in_({r.event_id for r in rows if r.event_id})
            )
        ).all()
    )
    return [
        SanctionRead(
            id=r.id,
            unit=unit_ref(units[r.unit_id]),
            kind=r.kind,
            kind_label=r.kind.label,
            reason=r.reason,
            order_id=r.order_id,
            event_code=codes.get(r.event_id) if r.event_id else None,
            by=names.get(r.actor_id) if r.actor_id else None,
            at=r.at,
        )
        for r in rows
    ]


__all__ = ["record_sanction", "sanctions"]
