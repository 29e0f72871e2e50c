"""Who may add and change houses (实有房屋), and the history of each write.

Grid workers keep the houses of the buildings in their own grids, admins everywhere; command
staff and inspectors read the ledger but do not write it. The house itself is written by
`grid.houses`; every write leaves a history row (`people.changes`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from grid import houses as house_ledger
from grid import service as grid_service
from grid.models import Building, House
from grid.schemas import HouseCreate, HouseRead, HouseUpdate
from people.access import READ_PERSONS, Actor, require_grid, require_role
from people.changes import LedgerEntity, Written, create_once, history, record_change
from people.exceptions import NotFound
from people.models import StaffRole
from people.schemas import ChangeRead

HOUSE_WRITERS = frozenset({StaffRole.GRID_WORKER, StaffRole.ADMIN})


def _may_write(actor: Actor, building: Building) -> None:
    require_role(actor, HOUSE_WRITERS, "add or change houses")
    require_grid(actor, building.grid_code, f"building {building.code}")


def building_of(session: Session, house: House) -> Building:
    """The building a house is in."""
    building = session.get(Building, house.building_id)
    assert building is not None  # house.building_id is a foreign key
    return building


def _read(session: Session, house: House, building: Building) -> HouseRead:
    code = grid_service.house_code(building.code, house.unit, house.room)
    return grid_service.get_house(session, code=code)


def add_house(
    session: Session, *, actor: Actor, data: HouseCreate, idempotency_key: str | None = None
) -> Written[HouseRead]:
    """Add a house to a building of my grids (新增房屋); a resent key returns the first house."""
    building = house_ledger.find_building(session, code=data.building_code)
    _may_write(actor, building)

    def create(key: str | None) -> int:
        house = house_ledger.add_house(session, building=building, data=data)
        record_change(
            session,
            actor=actor,
            entity=LedgerEntity.HOUSE,
            entity_id=house.id,
            district_code=house.district_code,
            before=None,
            after=house_ledger.house_fields(house, building),
            idempotency_key=key,
        )
        return house.id

    house_id, created = create_once(
        session,
        actor=actor,
        entity=LedgerEntity.HOUSE,
        idempotency_key=idempotency_key,
        create=create,
    )
    house = session.get(House, house_id)
    if house is None:  # removed with its building since the key first added it
        raise NotFound(
            f"the house this Idempotency-Key added earlier (house {house_id}) no longer exists; "
            "send the form again with a new key"
        )
    placed = building_of(session, house)
    _may_write(actor, placed)  # a replay answers only while the house is in the caller's grids
    return Written(_read(session, house, placed), created)


def change_house(session: Session, *, actor: Actor, code: str, changes: HouseUpdate) -> HouseRead:
    """Change a house of my grids (修改房屋): only the fields given; the change is recorded."""
    house, building = house_ledger.find_house_for_writing(session, code=code)
    _may_write(actor, building)
    before = house_ledger.house_fields(house, building)
    house_ledger.change_house(session, house=house, building=building, changes=changes)
    record_change(
        session,
        actor=actor,
        entity=LedgerEntity.HOUSE,
        entity_id=house.id,
        district_code=house.district_code,
        before=before,
        after=house_ledger.house_fields(house, building),
    )
    return _read(session, house, building)


def house_history(session: Session, *, actor: Actor, code: str) -> list[ChangeRead]:
    """Every recorded write to a house of my scope, oldest first."""
    require_role(actor, READ_PERSONS, "read the history of houses")
    house, building = grid_service.find_house(session, code=code)
    require_grid(actor, building.grid_code, f"house {code}")
    return history(session, entity=LedgerEntity.HOUSE, entity_id=house.id)
