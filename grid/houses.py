"""Writing the house ledger (实有房屋): a house added to a building, or its fields changed.

A house is known by its code, building code-unit-room (`grid.service.house_code`), so a unit
and room are unique within a building whatever the floor. Who may write which house, and the
history of each write, are the caller's (`people.houses`): this module knows buildings, not
accounts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grid.exceptions import HouseTaken, InvalidHouse, NotFound
from grid.models import Building, House
from grid.schemas import HouseCreate, HouseUpdate
from grid.service import find_house, house_code
from grid.std_address import attach_buildings, attach_houses


def find_building(session: Session, *, code: str) -> Building:
    """The building with that code, or NotFound."""
    building = session.scalar(select(Building).where(Building.code == code.strip()))
    if building is None:
        raise NotFound(f"building {code} does not exist; check the building code")
    return building


def house_fields(house: House, building: Building) -> dict[str, Any]:
    """A house's ledger fields as plain values (what its history records)."""
    return {
        "code": house_code(building.code, house.unit, house.room),
        "building_code": building.code,
        "unit": house.unit,
        "floor": house.floor,
        "room": house.room,
        "use": house.use.value,
        "area_m2": house.area_m2,
    }


def _check_floor(floor: int, building: Building) -> None:
    if floor == 0:
        raise InvalidHouse("there is no floor 0: the ground floor is 1 and basements are -1, -2 …")
    if building.floors is not None and floor > building.floors:
        raise InvalidHouse(
            f"floor {floor} is above the top of building {building.code}, which has "
            f"{building.floors} floors; check the floor, or have the building's floors corrected"
        )


def _check_code_free(
    session: Session, building: Building, unit: str, room: str, own_id: int | None = None
) -> None:
    other = session.scalar(
        select(House.id).where(
            House.building_id == building.id,
            House.district_code == building.district_code,
            House.unit == unit,
            House.room == room,
        )
    )
    if other is not None and other != own_id:
        raise HouseTaken(
            f"building {building.code} already has house {house_code(building.code, unit, room)} "
            f"(unit {unit}, room {room}); edit that house instead of adding another"
        )


def _flushed(session: Session, building: Building, house: House) -> None:
    """Flush the house; a twin written by a concurrent request is a HouseTaken, not a 500."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise HouseTaken(
            f"building {building.code} already has a house at unit {house.unit}, floor "
            f"{house.floor}, room {house.room}; edit that house instead of adding another"
        ) from None


def add_house(session: Session, *, building: Building, data: HouseCreate) -> House:
    """Add a house to `building`; its unit and room must be free and its floor inside."""
    _check_floor(data.floor, building)
    _check_code_free(session, building, data.unit, data.room)
    house = House(
        building_id=building.id,
        district_code=building.district_code,
        unit=data.unit,
        floor=data.floor,
        room=data.room,
        use=data.use,
        area_m2=data.area_m2,
    )
    session.add(house)
    _flushed(session, building, house)
    if building.address_code is None:  # a building from before standard addresses
        attach_buildings(session, building_ids=[building.id])
    attach_houses(session, house_ids=[house.id])  # its room address (标准地址)
    session.refresh(house)
    return house


def change_house(
    session: Session, *, house: House, building: Building, changes: HouseUpdate
) -> House:
    """Change the fields given in `changes` (unit, floor, room, use, area) of a house."""
    values = changes.model_dump(exclude_unset=True)
    for name in ("unit", "floor", "room", "use"):
        if name in values and values[name] is None:
            raise InvalidHouse(f"{name} cannot be empty; leave it out to keep the current value")
    if "floor" in values:
        _check_floor(values["floor"], building)
    unit, room = values.get("unit", house.unit), values.get("room", house.room)
    if (unit, room) != (house.unit, house.room):
        _check_code_free(session, building, unit, room, own_id=house.id)
    moved = any(name in values for name in ("unit", "floor", "room"))
    for name, value in values.items():
        setattr(house, name, value)
    if moved:  # another room: the old address stays (codes are never re-used)
        house.address_code = None
    _flushed(session, building, house)
    if moved:
        attach_houses(session, house_ids=[house.id])
        session.refresh(house)
    return house


def find_house_for_writing(session: Session, *, code: str) -> tuple[House, Building]:
    """The house and its building for a code, locked against a concurrent change."""
    house, building = find_house(session, code=code)
    session.refresh(house, with_for_update=True)
    return house, building
