"""The ledger rules that raise grid workers' tasks (people.tasks) about rentals and floating
residents, run daily (`gridgov tasks generate`, or `generate_tasks` from a scheduled job).

Each rule selects the records it is about and raises one task per record (people.tasks),
keyed by the rule and the record (plus the date where the rule may fire again), so a nightly
run raises each task once while it is open:

- 出租屋无人登记 rental_unregistered: an active rental nobody lives in as a tenant once the
  registration deadline (30 days) after the lease began has passed (lease_start + 30 < today);
  and a house the ledger marks 出租 with no active rental (never registered, or closed);
- 居住登记逾期 registration_overdue: a floating resident not registered by arrival + 30 days;
- 居住证即将到期 permit_expiring: a floating resident's permit expiring within 30 days (or
  expired), one task per expiry day;
- 疑似群租 crowded_rental: an active rental over the per-room or per-m² threshold;
- 租约到期仍有登记 lease_ended: an active rental whose lease ended before today with tenants
  still living there, one task per lease end.

Records outside every grid (no grid code) raise nothing: no worker could take the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Bundle, Session

from gis.clock import local_today
from gis.config import get_settings
from grid import service as grid_service
from grid.models import Building, House, HouseUse
from people import floating
from people.models import (
    Rental,
    RentalStatus,
    RentalTenant,
    Resident,
    TaskKind,
)
from people.rentals import crowding, occupants_of
from people.tasks import raise_tasks


@dataclass
class RuleRun:
    """What one rule found: records matched, and how many of their tasks are new."""

    matched: int = 0
    raised: int = 0


def _rentals(district_code: str | None) -> Any:
    """Active rentals with their house code, area and grid (rentals outside grids left out)."""
    stmt: Any = (
        select(
            # Plain values, not Rental objects: a district has tens of thousands of rentals.
            Bundle(
                "rental",
                Rental.id,
                Rental.district_code,
                Rental.lease_start,
                Rental.lease_end,
                Rental.rooms,
            ),
            grid_service.HOUSE_CODE.label("house_code"),
            House.area_m2,
            Building.grid_code,
        )
        .join(House, (House.id == Rental.house_id) & (House.district_code == Rental.district_code))
        .join(Building, House.building_id == Building.id)
        .where(Rental.status == RentalStatus.ACTIVE, Building.grid_code.is_not(None))
    )
    if district_code:
        stmt = stmt.where(Rental.district_code == district_code)
    return stmt


def _unregistered_lets(district_code: str | None) -> Any:
    """Houses the ledger marks 出租 with no active rental (id, district, code, grid)."""
    let = exists().where(
        Rental.house_id == House.id,
        Rental.district_code == House.district_code,
        Rental.status == RentalStatus.ACTIVE,
    )
    stmt = (
        select(House.id, House.district_code, grid_service.HOUSE_CODE, Building.grid_code)
        .join(Building, House.building_id == Building.id)
        .where(House.use == HouseUse.RENTED, ~let, Building.grid_code.is_not(None))
    )
    return stmt.where(House.district_code == district_code) if district_code else stmt


def _living() -> Any:
    return exists().where(
        RentalTenant.rental_id == Rental.id,
        RentalTenant.district_code == Rental.district_code,
        RentalTenant.moved_out.is_(None),
    )


def _residents(stmt: Any, district_code: str | None) -> Any:
    """The rule's residents as plain values (id, name, district, grid and the two dates)."""
    stmt = stmt.with_only_columns(
        Bundle(
            "resident",
            Resident.id,
            Resident.name,
            Resident.district_code,
            Resident.grid_code,
            Resident.arrival_date,
            Resident.permit_expiry,
        )
    ).where(Resident.grid_code.is_not(None))
    return stmt.where(Resident.district_code == district_code) if district_code else stmt


def generate_tasks(
    session: Session, *, today: date | None = None, district_code: str | None = None
) -> dict[TaskKind, RuleRun]:
    """Run every rule on `today` (default: the local date) for one district or all."""
    settings = get_settings()
    today = today or local_today()
    due = today + timedelta(days=settings.task_due_days)
    pending: dict[TaskKind, list[dict[str, Any]]] = {
        kind: [] for kind in TaskKind if kind is not TaskKind.CROSSCHECK
    }

    def task(kind: TaskKind, **values: Any) -> None:
        pending[kind].append({"kind": kind, **values})

    deadline = timedelta(days=settings.registration_deadline_days)
    for rental, code, _, grid in session.execute(
        _rentals(district_code).where(Rental.lease_start < today - deadline, ~_living())
    ):
        task(
            TaskKind.RENTAL_UNREGISTERED,
            district_code=rental.district_code,
            grid_code=grid,
            subject="rental",
            subject_id=rental.id,
            title=f"出租屋 {code} 无人登记: let since {rental.lease_start}, no tenant registered",
            due_on=due,
            key=f"rental_unregistered:rental:{rental.id}",
            detail={"house_code": code, "lease_start": rental.lease_start.isoformat()},
        )

    for house_id, district, code, grid in session.execute(_unregistered_lets(district_code)):
        task(
            TaskKind.RENTAL_UNREGISTERED,
            district_code=district,
            grid_code=grid,
            subject="house",
            subject_id=house_id,
            title=f"出租房屋 {code} 未登记租赁: 用途为出租，无在租登记 (marked rented, no rental)",
            due_on=due,
            key=f"rental_unregistered:house:{house_id}",
            detail={"house_code": code},
        )

    for (resident,) in session.execute(
        _residents(floating.overdue_registrations(today), district_code)
    ):
        assert resident.arrival_date is not None and resident.grid_code is not None
        deadline_day = floating.registration_due(resident.arrival_date)
        task(
            TaskKind.REGISTRATION_OVERDUE,
            district_code=resident.district_code,
            grid_code=resident.grid_code,
            subject="resident",
            subject_id=resident.id,
            title=f"{resident.name} 居住登记逾期: arrived {resident.arrival_date}, "
            f"registration was due by {deadline_day}",
            due_on=due,
            key=f"registration_overdue:resident:{resident.id}",
            detail={"arrival_date": resident.arrival_date.isoformat()},
        )

    for (resident,) in session.execute(_residents(floating.expiring_permits(today), district_code)):
        assert resident.permit_expiry is not None and resident.grid_code is not None
        expiry = resident.permit_expiry
        task(
            TaskKind.PERMIT_EXPIRING,
            district_code=resident.district_code,
            grid_code=resident.grid_code,
            subject="resident",
            subject_id=resident.id,
            title=f"{resident.name} 居住证{'已' if expiry < today else '即将'}到期: {expiry}",
            due_on=max(expiry, today),
            key=f"permit_expiring:resident:{resident.id}:{expiry.isoformat()}",
            detail={"permit_expiry": expiry.isoformat()},
        )

    rows = session.execute(_rentals(district_code).where(_living())).all()
    occupants = occupants_of(session, [row[0].id for row in rows])
    for rental, code, area_m2, grid in rows:
        reasons = crowding(
            occupants=occupants.get(rental.id, 0),
            rooms=rental.rooms,
            area_m2=area_m2,
            settings=settings,
        )
        if reasons:
            task(
                TaskKind.CROWDED_RENTAL,
                district_code=rental.district_code,
                grid_code=grid,
                subject="rental",
                subject_id=rental.id,
                title=f"出租屋 {code} 疑似群租: {'; '.join(reasons)}",
                due_on=due,
                key=f"crowded_rental:rental:{rental.id}",
                detail={"house_code": code, "occupants": occupants.get(rental.id, 0)},
            )
        if rental.lease_end is not None and rental.lease_end < today:
            task(
                TaskKind.LEASE_ENDED,
                district_code=rental.district_code,
                grid_code=grid,
                subject="rental",
                subject_id=rental.id,
                title=f"出租屋 {code} 租约 {rental.lease_end} 到期, "
                f"{occupants.get(rental.id, 0)} tenant(s) still registered",
                due_on=due,
                key=f"lease_ended:rental:{rental.id}:{rental.lease_end.isoformat()}",
                detail={"house_code": code, "lease_end": rental.lease_end.isoformat()},
            )
    # One insert per rule (people.tasks.raise_tasks): a district's first run raises tens of
    # thousands of tasks, which one statement per task would take minutes to write.
    return {
        kind: RuleRun(matched=len(tasks), raised=raise_tasks(session, tasks))
        for kind, tasks in pending.items()
    }


__all__ = ["RuleRun", "generate_tasks"]
