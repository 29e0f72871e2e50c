"""Who lives and works in one building, counted per house for its 楼盘表 (grid/households.py):
residents, floating residents and special-group memberships per house, and the organisations
(实有单位) placed in the building. Counts and organisation names only, never a person's name."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grid.models import House
from grid.service import find_house
from people.access import READ_PERSONS, Actor, require_grid, require_role
from people.models import Organisation, Residence, ResidenceType, Resident, SpecialGroup


@dataclass(frozen=True)
class HouseOccupancy:
    """Active residents of one house, of them floating (流动), and active special-group
    memberships by group type value."""

    house_id: int
    residents: int = 0
    floating: int = 0
    groups: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildingOrganisation:
    """An organisation placed in a building, as its 楼盘表 lists it."""

    credit_code: str
    name: str
    org_type_label: str
    fire_key_unit: bool
    security_key_unit: bool


def occupancy_by_house(
    session: Session, *, actor: Actor, building_id: int, district_code: str, grid_code: str | None
) -> dict[int, HouseOccupancy]:
    """Per house of the building, its active residents, floating residents and active
    special-group memberships (the building's grid must be in the actor's scope)."""
    require_role(actor, READ_PERSONS, "see who lives in a building")
    require_grid(actor, grid_code, "this building")
    in_building = (
        select(House.id)
        .where(House.building_id == building_id, House.district_code == district_code)
        .scalar_subquery()
    )
    people = session.execute(
        select(
            Resident.house_id,
            func.count(),
            func.count().filter(Resident.residence_type == ResidenceType.FLOATING),
        )
        .where(
            Resident.district_code == district_code,
            Resident.active,
            Resident.house_id.in_(in_building),
        )
        .group_by(Resident.house_id)
    ).all()
    groups = session.execute(
        select(Resident.house_id, SpecialGroup.group_type, func.count())
        .join(
            SpecialGroup,
            (SpecialGroup.resident_id == Resident.id)
            & (SpecialGroup.district_code == Resident.district_code),
        )
        .where(
            Resident.district_code == district_code,
            Resident.active,
            Resident.house_id.in_(in_building),
            SpecialGroup.ended_on.is_(None),
        )
        .group_by(Resident.house_id, SpecialGroup.group_type)
    ).all()
    # house_id is never NULL here: the IN above holds only houses of the building.
    by_group: dict[int, dict[str, int]] = {}
    for house_id, group_type, n in groups:
        by_group.setdefault(house_id or 0, {})[group_type.value] = int(n)
    return {
        h: HouseOccupancy(h, int(n), int(f), by_group.get(h, {}))
        for h, n, f in ((house_id or 0, n, f) for house_id, n, f in people)
    }


def organisations_in_building(
    session: Session, *, actor: Actor, building_id: int, district_code: str, grid_code: str | None
) -> list[BuildingOrganisation]:
    """The organisations placed in the building, key units (重点单位) first, then by name."""
    require_role(actor, READ_PERSONS, "see the organisations of a building")
    require_grid(actor, grid_code, "this building")
    rows = session.scalars(
        select(Organisation)
        .where(Organisation.building_id == building_id, Organisation.district_code == district_code)
        .order_by(
            (Organisation.fire_key_unit | Organisation.security_key_unit).desc(),
            Organisation.name,
            Organisation.id,
        )
    ).all()
    return [
        BuildingOrganisation(
            credit_code=o.credit_code,
            name=o.name,
            org_type_label=o.org_type.label,
            fire_key_unit=o.fire_key_unit,
            security_key_unit=o.security_key_unit,
        )
        for o in rows
    ]


class HouseStay(BaseModel):
    """One stay of a resident in a house (the room's history): who, from when, until when."""

    resident_id: int
    name: str
    residence_type_label: str
    moved_in: date
    moved_out: date | None
    reason: str | None


def house_history(session: Session, *, actor: Actor, house_code: str) -> list[HouseStay]:
    """Every stay in one house, the current ones first, then newest first (scoped like the
    residents of the house: names only, no ID number or phone)."""
    require_role(actor, READ_PERSONS, "see who lived in a house")
    house, building = find_house(session, code=house_code)
    require_grid(actor, building.grid_code, f"house {house_code}")
    rows = session.execute(
        select(Residence, Resident.name, Resident.residence_type)
        .join(
            Resident,
            (Resident.id == Residence.resident_id)
            & (Resident.district_code == Residence.district_code),
        )
        .where(Residence.house_id == house.id, Residence.district_code == house.district_code)
        .order_by(
            Residence.moved_out.is_(None).desc(),
            Residence.moved_out.desc(),
            Residence.moved_in.desc(),
            Residence.id,
        )
    ).all()
    return [
        HouseStay(
            resident_id=stay.resident_id,
            name=name,
            residence_type_label=kind.label,
            moved_in=stay.moved_in,
            moved_out=stay.moved_out,
            reason=stay.reason,
        )
        for stay, name, kind in rows
    ]


__all__ = [
    "BuildingOrganisation",
    "HouseOccupancy",
    "HouseStay",
    "house_history",
    "occupancy_by_house",
    "organisations_in_building",
]
