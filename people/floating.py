"""Floating residents' deadlines (流动人口): residence registration (居住登记) and permits (居住证).

A floating resident registers their residence within `registration_deadline_days` (30) of
arriving: the deadline is arrival_date + 30 days, and they are overdue from the day after it
until `registered_on` is set. A residence permit is listed from `permit_warning_days` (30)
before its expiry day, and stays listed (days < 0) once expired until it is renewed.

The same selections feed the lists here and the task rules (people.task_rules), so a list
and the tasks it raises never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gis.clock import local_today
from gis.config import get_settings
from grid import service as grid_service
from grid.models import Building, House
from people.access import READ_PERSONS, Actor, grid_scope, require_grid, require_role
from people.exceptions import InvalidRecord
from people.models import ResidenceType, Resident
from people.pii import mask_id_number
from people.rentals import MAX_PAGE_SIZE
from people.schemas import FloatingPage, FloatingRead


def registration_due(arrival: date) -> date:
    """The last day to make the 居住登记 after arriving on `arrival`."""
    return arrival + timedelta(days=get_settings().registration_deadline_days)


def _known(day: date | None) -> date:
    assert day is not None  # the selection keeps only rows with the date
    return day


def _floating() -> list[Any]:
    return [Resident.residence_type == ResidenceType.FLOATING, Resident.active.is_(True)]


def overdue_registrations(today: date) -> Select[Resident]:
    """Floating residents past their registration deadline with no registration, on `today`."""
    days = get_settings().registration_deadline_days
    return select(Resident).where(
        *_floating(),
        Resident.registered_on.is_(None),
        Resident.arrival_date.is_not(None),
        # Overdue from the day after the deadline: arrival + days < today.
        Resident.arrival_date < today - timedelta(days=days),
    )


def expiring_permits(today: date) -> Select[Resident]:
    """Floating residents whose permit expires within the warning days of `today` (or has)."""
    days = get_settings().permit_warning_days
    return select(Resident).where(
        *_floating(),
        Resident.permit_expiry.is_not(None),
        Resident.permit_expiry <= today + timedelta(days=days),
    )


def _page(
    session: Session,
    *,
    actor: Actor,
    stmt: Select[Resident],
    order: Any,
    days_of: Callable[[Resident], int],
    grid_code: str | None,
    page: int,
    page_size: int,
) -> FloatingPage:
    require_role(actor, READ_PERSONS, "list floating residents")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    stmt = stmt.where(grid_scope(actor, Resident.grid_code))
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
        stmt = stmt.where(Resident.grid_code == grid_code)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    residents = session.scalars(
        stmt.order_by(order, Resident.id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    houses = dict(
        session.execute(
            select(House.id, grid_service.HOUSE_CODE)
            .join(Building, House.building_id == Building.id)
            .where(House.id.in_({r.house_id for r in residents if r.house_id}))
        ).all()
    )
    items = [
        FloatingRead(
            resident_id=r.id,
            name=r.name,
            doc_masked=r.doc_masked,
            phone_masked=r.phone_masked,
            house_code=houses.get(r.house_id) if r.house_id else None,
            grid_code=r.grid_code,
            origin=r.origin,
            arrival_date=r.arrival_date,
            registration_due=registration_due(r.arrival_date) if r.arrival_date else None,
            registered_on=r.registered_on,
            permit_number=mask_id_number(r.permit_number) if r.permit_number else None,
            permit_expiry=r.permit_expiry,
            days=days_of(r),
        )
        for r in residents
    ]
    return FloatingPage(total=total, page=page, page_size=page_size, items=items)


def list_overdue_registrations(
    session: Session,
    *,
    actor: Actor,
    grid_code: str | None = None,
    page: int = 1,
    page_size: int = 50,
    today: date | None = None,
) -> FloatingPage:
    """Floating residents of my scope overdue for 居住登记, longest overdue first; `days` is
    how many days past the deadline."""
    today = today or local_today()
    return _page(
        session,
        actor=actor,
        stmt=overdue_registrations(today),
        order=Resident.arrival_date,
        days_of=lambda r: (today - registration_due(_known(r.arrival_date))).days,
        grid_code=grid_code,
        page=page,
        page_size=page_size,
    )


def list_expiring_permits(
    session: Session,
    *,
    actor: Actor,
    grid_code: str | None = None,
    page: int = 1,
    page_size: int = 50,
    today: date | None = None,
) -> FloatingPage:
    """Floating residents of my scope whose 居住证 expires within 30 days (or has), soonest
    first; `days` is the days left (negative once expired)."""
    today = today or local_today()
    return _page(
        session,
        actor=actor,
        stmt=expiring_permits(today),
        order=Resident.permit_expiry,
        days_of=lambda r: (_known(r.permit_expiry) - today).days,
        grid_code=grid_code,
        page=page,
        page_size=page_size,
    )


__all__ = [
    "expiring_permits",
    "list_expiring_permits",
    "list_overdue_registrations",
    "overdue_registrations",
    "registration_due",
]
