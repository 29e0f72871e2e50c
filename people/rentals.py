"""Rentals (出租屋): a house let out, its landlord, lease and tenants, and its risk grade.

A rental names its house and its landlord (a resident or an organisation of the same
district), the lease, the day the security responsibility letter (治安责任书) was signed, the
declared use and the rooms let. Its tenants are the residents living in the house: those
there when it is registered, then whoever moves in (`resident_moved`) until they move out
(`end_tenancies`) or the rental is closed (退租), which moves every tenant out that day.

The risk grade (风险等级 低/中/高) is the highest grade any rule gives, with each rule that
raised it said in words: 群租 suspected (occupants per room let, floor area per occupant, the
thresholds in settings), fire-safety events at the building and recent events there (counted
by the events package and handed in as `Findings`: people does not read events), and an
unsigned 治安责任书.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gis.clock import local_today
from gis.codes import LabelledEnum
from gis.config import Settings, get_settings
from grid import exceptions as grid_errors
from grid import service as grid_service
from grid.models import Building, House, HouseUse
from grid.schemas import HouseUpdate
from people import houses
from people.access import READ_PERSONS, Actor, grid_scope, require_grid, require_role
from people.changes import LedgerEntity, Written, create_once, record_change
from people.exceptions import AlreadyClosed, Duplicate, InvalidRecord, NotFound
from people.houses import HOUSE_WRITERS
from people.models import (
    Organisation,
    Rental,
    RentalStatus,
    RentalTenant,
    Residence,
    Resident,
)
from people.schemas import RentalCreate, RentalPage, RentalRead, RentalUpdate, TenantRead

# Grid workers keep the rentals of their grids (admins everywhere), as they keep houses.
RENTAL_WRITERS = HOUSE_WRITERS
# As people.service.MAX_PAGE_SIZE (not imported: people.service calls into this module).
MAX_PAGE_SIZE = 500


class RiskGrade(LabelledEnum):
    """risk grade"""

    LOW = "low", "低"
    MEDIUM = "medium", "中"
    HIGH = "high", "高"


_ORDER = {RiskGrade.LOW: 0, RiskGrade.MEDIUM: 1, RiskGrade.HIGH: 2}


@dataclass(frozen=True)
class Findings:
    """What happened at a building lately: fire-safety events and events of any kind."""

    fire_events: int = 0
    recent_events: int = 0


# (district code, building id) of each building → its findings; buildings with none are left out.
FindingsOf = Callable[[Collection[tuple[str, int]]], Mapping[tuple[str, int], Findings]]


@dataclass(frozen=True)
class Assessment:
    """A rental's risk grade, whether 群租 is suspected, and the rules that raised the grade."""

    grade: RiskGrade
    crowded: bool
    reasons: list[str]


def crowding(
    *, occupants: int, rooms: int | None, area_m2: float | None, settings: Settings
) -> list[str]:
    """Why 群租 is suspected (empty when it is not): over the occupants allowed per room let,
    or under the floor area allowed per occupant."""
    reasons = []
    per_room = settings.rental_max_occupants_per_room
    if rooms and occupants > rooms * per_room:
        reasons.append(
            f"群租嫌疑：出租{rooms}间住{occupants}人，每间超过{per_room}人 "
            f"({occupants} occupants in {rooms} room(s) let, more than {per_room} per room)"
        )
    per_occupant = settings.rental_min_m2_per_occupant
    if area_m2 and occupants and area_m2 < occupants * per_occupant:
        reasons.append(
            f"群租嫌疑：人均面积{area_m2 / occupants:.1f} m²，不足{per_occupant:g} m² "
            f"({occupants} occupants in {area_m2:g} m²)"
        )
    return reasons


def assess(
    *,
    occupants: int,
    rooms: int | None,
    area_m2: float | None,
    signed: bool,
    findings: Findings | None,
    settings: Settings,
) -> Assessment:
    """The risk grade of a rental and each rule that raised it (the highest rule wins)."""
    crowded = crowding(occupants=occupants, rooms=rooms, area_m2=area_m2, settings=settings)
    raised = [(RiskGrade.HIGH, reason) for reason in crowded]
    days = settings.rental_event_lookback_days
    if findings is not None and findings.fire_events:
        grade = RiskGrade.HIGH if findings.fire_events >= 2 else RiskGrade.MEDIUM
        raised.append(
            (
                grade,
                f"消防隐患：本楼近{days}天{findings.fire_events}起 "
                f"({findings.fire_events} fire-safety event(s) at the building in {days} days)",
            )
        )
    if findings is not None and findings.recent_events >= settings.rental_recent_events_medium:
        raised.append(
            (
                RiskGrade.MEDIUM,
                f"近期事件较多：本楼近{days}天{findings.recent_events}起 "
                f"({findings.recent_events} events at the building in {days} days)",
            )
        )
    if not signed:
        raised.append(
            (RiskGrade.MEDIUM, "未签治安责任书 (no security responsibility letter signed)")
        )
    if not raised:
        return Assessment(RiskGrade.LOW, False, ["无风险规则触发 (no rule raised the grade)"])
    grade = max((g for g, _ in raised), key=_ORDER.__getitem__)
    return Assessment(grade, bool(crowded), [f"{g.label} {g.value}: {text}" for g, text in raised])


# --- reading -----------------------------------------------------------------------------------


def rental_not_visible(rental_id: int) -> NotFound:
    """One answer for a rental that does not exist or lies outside the actor's scope."""
    return NotFound(
        f"rental {rental_id} does not exist or is outside your scope "
        "(该出租屋不存在或不在您的管辖范围内)"
    )


def occupants_of(session: Session, rental_ids: Collection[int]) -> dict[int, int]:
    """How many tenants live in each rental now (rentals with none are left out)."""
    if not rental_ids:
        return {}
    rows = session.execute(
        select(RentalTenant.rental_id, func.count())
        .where(RentalTenant.rental_id.in_(rental_ids), RentalTenant.moved_out.is_(None))
        .group_by(RentalTenant.rental_id)
    ).all()
    return {rental_id: int(n) for rental_id, n in rows}


def _read(
    session: Session, rentals: list[Rental], findings_of: FindingsOf | None
) -> list[RentalRead]:
    """Rentals as staff see them, tenants masked, in a few queries for the whole page."""
    if not rentals:
        return []
    settings = get_settings()
    houses = {
        row.id: row
        for row in session.execute(
            select(
                House.id,
                House.area_m2,
                grid_service.HOUSE_CODE.label("code"),
                Building.id.label("building_id"),
                Building.grid_code,
            )
            .join(Building, House.building_id == Building.id)
            .where(House.id.in_({r.house_id for r in rentals}))
        )
    }
    residents = dict(
        session.execute(
            select(Resident.id, Resident.name).where(
                Resident.id.in_({r.landlord_resident_id for r in rentals} - {None})
            )
        ).all()
    )
    organisations = dict(
        session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_({r.landlord_organisation_id for r in rentals} - {None})
            )
        ).all()
    )
    tenants: dict[int, list[TenantRead]] = {r.id: [] for r in rentals}
    for tenant, name, doc_masked, residence_type in session.execute(
        select(RentalTenant, Resident.name, Resident.doc_masked, Resident.residence_type)
        .join(
            Resident,
            (Resident.id == RentalTenant.resident_id)
            & (Resident.district_code == RentalTenant.district_code),
        )
        .where(RentalTenant.rental_id.in_(tenants))
        .order_by(RentalTenant.moved_in, RentalTenant.id)
    ):
        tenants[tenant.rental_id].append(
            TenantRead(
                resident_id=tenant.resident_id,
                name=name,
                doc_masked=doc_masked,
                residence_type=residence_type.value,
                moved_in=tenant.moved_in,
                moved_out=tenant.moved_out,
            )
        )
    findings: Mapping[tuple[str, int], Findings] = (
        findings_of({(r.district_code, houses[r.house_id].building_id) for r in rentals})
        if findings_of is not None
        else {}
    )
    reads = []
    for rental in rentals:
        house = houses[rental.house_id]
        living = [t for t in tenants[rental.id] if t.moved_out is None]
        assessment = assess(
            occupants=len(living),
            rooms=rental.rooms,
            area_m2=house.area_m2,
            signed=rental.responsibility_signed_on is not None,
            findings=findings.get((rental.district_code, house.building_id)),
            settings=settings,
        )
        by_resident = rental.landlord_resident_id is not None
        landlord_id = rental.landlord_resident_id or rental.landlord_organisation_id
        assert landlord_id is not None  # a check constraint keeps exactly one landlord
        reads.append(
            RentalRead(
                id=rental.id,
                house_code=house.code,
                grid_code=house.grid_code,
                district_code=rental.district_code,
                area_m2=house.area_m2,
                landlord_kind="resident" if by_resident else "organisation",
                landlord_id=landlord_id,
                landlord_name=(residents if by_resident else organisations).get(landlord_id, ""),
                lease_start=rental.lease_start,
                lease_end=rental.lease_end,
                responsibility_signed_on=rental.responsibility_signed_on,
                declared_use=rental.declared_use,
                rooms=rental.rooms,
                status=rental.status.value,
                status_label=rental.status.label,
                closed_at=rental.closed_at,
                occupants=len(living),
                crowded=assessment.crowded,
                risk_grade=assessment.grade.value,
                risk_label=assessment.grade.label,
                risk_reasons=assessment.reasons,
                tenants=tenants[rental.id],
            )
        )
    return reads


def _visible(session: Session, actor: Actor, rental_id: int, *, lock: bool = False) -> Rental:
    rental = session.get(Rental, rental_id, with_for_update=lock or None)
    if rental is None:
        raise rental_not_visible(rental_id)
    grid_code = session.scalar(
        select(Building.grid_code)
        .join(House, House.building_id == Building.id)
        .where(House.id == rental.house_id)
    )
    if not actor.can_see_grid(grid_code):
        raise rental_not_visible(rental_id)
    return rental


def get_rental(
    session: Session, *, actor: Actor, rental_id: int, findings_of: FindingsOf | None = None
) -> RentalRead:
    """One rental in the actor's scope, with its tenants and risk grade."""
    require_role(actor, READ_PERSONS, "read rentals")
    return _read(session, [_visible(session, actor, rental_id)], findings_of)[0]


def list_rentals(
    session: Session,
    *,
    actor: Actor,
    grid_code: str | None = None,
    house_code: str | None = None,
    status: RentalStatus | None = RentalStatus.ACTIVE,
    page: int = 1,
    page_size: int = 50,
    findings_of: FindingsOf | None = None,
) -> RentalPage:
    """Rentals of the actor's grids (area for command staff and inspectors), newest first;
    `house_code` narrows them to one house of the actor's scope (its rental history with
    `status=None`)."""
    require_role(actor, READ_PERSONS, "list rentals")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    stmt = (
        select(Rental)
        .join(House, (House.id == Rental.house_id) & (House.district_code == Rental.district_code))
        .join(Building, House.building_id == Building.id)
        .where(grid_scope(actor, Building.grid_code))
    )
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
        stmt = stmt.where(Building.grid_code == grid_code)
    if house_code:
        house, building = _house(session, house_code)
        if not actor.can_see_grid(building.grid_code):
            raise NotFound(
                f"house {house_code} does not exist or is outside your scope "
                "(该房屋不存在或不在您的管辖范围内)"
            )
        stmt = stmt.where(Rental.house_id == house.id, Rental.district_code == house.district_code)
    if status is not None:
        stmt = stmt.where(Rental.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rentals = session.scalars(
        stmt.order_by(Rental.lease_start.desc(), Rental.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return RentalPage(
        total=total,
        page=page,
        page_size=page_size,
        items=_read(session, list(rentals), findings_of),
    )


# --- writing -----------------------------------------------------------------------------------


def rental_fields(rental: Rental) -> dict[str, Any]:
    """The fields of a rental as its history records them."""
    return {
        "house_id": rental.house_id,
        "landlord_resident_id": rental.landlord_resident_id,
        "landlord_organisation_id": rental.landlord_organisation_id,
        "lease_start": rental.lease_start.isoformat(),
        "lease_end": rental.lease_end.isoformat() if rental.lease_end else None,
        "responsibility_signed_on": (
            rental.responsibility_signed_on.isoformat() if rental.responsibility_signed_on else None
        ),
        "declared_use": rental.declared_use,
        "rooms": rental.rooms,
        "status": rental.status.value,
    }


def _house(session: Session, code: str) -> tuple[House, Building]:
    try:
        return grid_service.find_house(session, code=code)
    except grid_errors.NotFound as exc:
        raise NotFound(str(exc)) from exc
    except grid_errors.InvalidQuery as exc:
        raise InvalidRecord(str(exc)) from exc


def _check_landlord(session: Session, data: RentalCreate, district: str) -> None:
    if (data.landlord_resident_id is None) == (data.landlord_organisation_id is None):
        raise InvalidRecord(
            "name one landlord (房东): landlord_resident_id for a person or "
            "landlord_organisation_id for an organisation, not both"
        )
    if data.landlord_resident_id is not None:
        landlord = session.get(Resident, data.landlord_resident_id)
        if landlord is None or landlord.district_code != district:
            raise InvalidRecord(
                f"landlord_resident_id {data.landlord_resident_id} is not a resident in the "
                f"ledger of district {district}; register the landlord there first"
            )
    elif (
        organisation := session.get(Organisation, data.landlord_organisation_id)
    ) is None or organisation.district_code != district:
        raise InvalidRecord(
            f"landlord_organisation_id {data.landlord_organisation_id} is not an organisation "
            f"in the ledger of district {district}; register it there first"
        )


def _check_lease(start: date, end: date | None) -> None:
    if end is not None and end < start:
        raise InvalidRecord(f"lease_end {end} is before lease_start {start}; check the lease")


def register_rental(
    session: Session,
    *,
    actor: Actor,
    data: RentalCreate,
    idempotency_key: str | None = None,
    findings_of: FindingsOf | None = None,
) -> Written[RentalRead]:
    """Register a rental (出租屋登记) in a house of my grids; the residents living there become
    its tenants. A resent idempotency key answers with the rental it registered first."""
    require_role(actor, RENTAL_WRITERS, "register rentals")
    house, building = _house(session, data.house_code)
    require_grid(actor, building.grid_code, f"house {data.house_code}")

    def create(key: str | None) -> int:
        _check_landlord(session, data, house.district_code)
        _check_lease(data.lease_start, data.lease_end)
        open_one = session.scalar(
            select(Rental.id).where(
                Rental.house_id == house.id,
                Rental.district_code == house.district_code,
                Rental.status == RentalStatus.ACTIVE,
            )
        )
        if open_one is not None:
            raise Duplicate(
                f"house {data.house_code} is already let as rental {open_one}; change that "
                "rental, or close it (退租) before registering a new one"
            )
        rental = Rental(
            district_code=house.district_code,
            house_id=house.id,
            **data.model_dump(exclude={"house_code"}),
        )
        session.add(rental)
        session.flush()
        living = session.execute(
            select(Residence.resident_id, Residence.moved_in).where(
                Residence.house_id == house.id,
                Residence.district_code == house.district_code,
                Residence.moved_out.is_(None),
            )
        ).all()
        for resident_id, moved_in in living:
            if resident_id != rental.landlord_resident_id:
                session.add(
                    RentalTenant(
                        district_code=rental.district_code,
                        rental_id=rental.id,
                        resident_id=resident_id,
                        moved_in=max(moved_in, rental.lease_start),
                    )
                )
        record_change(
            session,
            actor=actor,
            entity=LedgerEntity.RENTAL,
            entity_id=rental.id,
            district_code=rental.district_code,
            before=None,
            after=rental_fields(rental),
            idempotency_key=key,
        )
        # A let house is 出租 in the ledger and the 楼盘表 (recorded like any house change).
        houses.change_house(
            session, actor=actor, code=data.house_code, changes=HouseUpdate(use=HouseUse.RENTED)
        )
        return rental.id

    rental_id, created = create_once(
        session,
        actor=actor,
        entity=LedgerEntity.RENTAL,
        idempotency_key=idempotency_key,
        create=create,
    )
    # A replay answers only while the rental is in the caller's scope.
    rental = _visible(session, actor, rental_id)
    return Written(_read(session, [rental], findings_of)[0], created)


def change_rental(
    session: Session,
    *,
    actor: Actor,
    rental_id: int,
    changes: RentalUpdate,
    today: date | None = None,
    findings_of: FindingsOf | None = None,
) -> RentalRead:
    """Change a rental of my grids (only the fields sent); `status: closed` ends it (退租) and
    moves every tenant out on `closed_on` (default today). Recorded in its history."""
    require_role(actor, RENTAL_WRITERS, "change rentals")
    rental = _visible(session, actor, rental_id, lock=True)
    if rental.status is RentalStatus.CLOSED:
        assert rental.closed_at is not None
        raise AlreadyClosed(
            f"rental {rental_id} was closed (已退租) at {rental.closed_at:%Y-%m-%d}; "
            "register a new rental for a new lease"
        )
    values = changes.model_dump(exclude_unset=True)
    closing = values.pop("status", None) == "closed"
    closed_on = values.pop("closed_on", None)
    if closed_on is not None and not closing:
        raise InvalidRecord("closed_on goes with status: closed (退租); send both")
    before = rental_fields(rental)
    for name, value in values.items():
        setattr(rental, name, value)
    _check_lease(rental.lease_start, rental.lease_end)
    if closing:
        on = closed_on or today or local_today()
        if on < rental.lease_start:
            raise InvalidRecord(
                f"closing on {on} is before the lease started ({rental.lease_start})"
            )
        late = session.scalar(
            select(func.max(RentalTenant.moved_in)).where(
                RentalTenant.rental_id == rental.id, RentalTenant.moved_out.is_(None)
            )
        )
        if late is not None and on < late:
            raise InvalidRecord(f"closing on {on} is before a tenant moved in ({late})")
        session.execute(
            update(RentalTenant)
            .where(
                RentalTenant.rental_id == rental.id,
                RentalTenant.district_code == rental.district_code,
                RentalTenant.moved_out.is_(None),
            )
            .values(moved_out=on)
        )
        rental.status, rental.closed_at = RentalStatus.CLOSED, datetime.now().astimezone()
    session.flush()
    record_change(
        session,
        actor=actor,
        entity=LedgerEntity.RENTAL,
        entity_id=rental.id,
        district_code=rental.district_code,
        before=before,
        after=rental_fields(rental),
    )
    return _read(session, [_visible(session, actor, rental_id)], findings_of)[0]


# --- residents moving (called by people.service) -----------------------------------------------


def end_tenancies(session: Session, *, resident_id: int, district_code: str, on: date) -> None:
    """A resident moved out (or away): their open tenancies end that day."""
    session.execute(
        update(RentalTenant)
        .where(
            RentalTenant.resident_id == resident_id,
            RentalTenant.district_code == district_code,
            RentalTenant.moved_out.is_(None),
        )
        .values(moved_out=func.greatest(RentalTenant.moved_in, on))
        .execution_options(synchronize_session="fetch")
    )


def resident_moved(
    session: Session, *, resident_id: int, district_code: str, house_id: int, on: date
) -> None:
    """A resident started living in a house on `on`: tenancies elsewhere end that day, and a
    house let as an active rental gains them as a tenant (unless they are its landlord)."""
    end_tenancies(session, resident_id=resident_id, district_code=district_code, on=on)
    rental = session.scalar(
        select(Rental).where(
            Rental.house_id == house_id,
            Rental.district_code == district_code,
            Rental.status == RentalStatus.ACTIVE,
        )
    )
    if rental is None or rental.landlord_resident_id == resident_id:
        return
    session.add(
        RentalTenant(
            district_code=district_code,
            rental_id=rental.id,
            resident_id=resident_id,
            moved_in=max(on, rental.lease_start),
        )
    )
    session.flush()


__all__ = [
    "Assessment",
    "Findings",
    "FindingsOf",
    "RiskGrade",
    "assess",
    "change_rental",
    "crowding",
    "end_tenancies",
    "get_rental",
    "list_rentals",
    "register_rental",
    "rental_not_visible",
    "resident_moved",
]
