"""The 楼盘表 (building household table): a building as units across and floors down, one cell
per room coloured by its use, as police and grid workers read it.

This module knows buildings and houses only. What lives in other domains — residents and
special groups per house, organisations and open events of the building — is counted by their
own services and handed in as plain values (`RoomCounts`, `BuildingNote`); the caller in `api/`
gathers them, so `grid` never imports `people` or `events`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.text import natural_order
from grid.exceptions import NotFound
from grid.models import Building, House, HouseUse
from grid.service import house_code, within_districts

# The order of the use legend: 自住, 出租, 空置, 商用 (经营).
USE_ORDER = (HouseUse.SELF_OCCUPIED, HouseUse.RENTED, HouseUse.VACANT, HouseUse.COMMERCIAL)


@dataclass(frozen=True)
class RoomCounts:
    """What other domains counted for one house: active residents, floating residents (流动人口)
    and active special-group memberships by group type value."""

    residents: int = 0
    floating: int = 0
    groups: Mapping[str, int] = field(default_factory=dict)


class GroupCount(BaseModel):
    """How many residents of a room belong to one special group (特殊人群)."""

    type: str
    label: str
    count: int


class RoomCell(BaseModel):
    """One room (户室) of the table."""

    code: str = Field(description="house code: building code-unit-room")
    unit: str
    floor: int
    room: str
    use: str = Field(description="self_occupied / rented / vacant / commercial")
    use_label: str
    area_m2: float | None
    residents: int = Field(description="active residents registered in the room")
    floating: int = Field(description="of them, floating residents (流动人口)")
    special_groups: list[GroupCount]


class UnitFloor(BaseModel):
    """The rooms of one unit (单元) on one floor, left to right."""

    unit: str
    rooms: list[RoomCell]


class FloorRow(BaseModel):
    """One floor across every unit of the building."""

    floor: int
    units: list[UnitFloor]


class UseCount(BaseModel):
    """Rooms of one use, for the legend."""

    use: str
    label: str
    rooms: int


class NoteItem(BaseModel):
    """An organisation or open event of the building, as the table lists it under the rooms."""

    code: str
    title: str
    detail: str | None = None
    flags: list[str] = Field(default_factory=list)
    light: str | None = Field(default=None, description="green / yellow / red for events")


@dataclass(frozen=True)
class BuildingNote:
    """A plain-value organisation or event handed in by the caller."""

    code: str
    title: str
    detail: str | None = None
    flags: tuple[str, ...] = ()
    light: str | None = None


class HouseholdTable(BaseModel):
    """The 楼盘表 of one building: floors top-down, units left to right, one cell per room."""

    building_code: str
    name: str | None
    address: str | None
    grid_code: str | None
    floors: int | None = Field(description="floors above ground as registered for the building")
    units: list[str] = Field(description="unit (单元) names, left to right")
    rows: list[FloorRow] = Field(description="floors from the top down")
    uses: list[UseCount]
    rooms: int
    residents: int
    floating: int
    special_groups: int = Field(description="active special-group memberships in the building")
    organisations: list[NoteItem]
    open_events: list[NoteItem]


@dataclass(frozen=True)
class BuildingRooms:
    """A building and its houses, read once for the table."""

    id: int
    district_code: str
    code: str
    name: str | None
    address: str | None
    grid_code: str | None
    floors: int | None
    houses: Sequence[House]


def building_rooms(
    session: Session, *, code: str, districts: Sequence[str] | None = None
) -> BuildingRooms:
    """The building with this code (in `districts`) and every house in it."""
    building = session.scalars(
        select(Building).where(
            Building.code == code, within_districts(Building.district_code, districts)
        )
    ).first()
    if building is None:
        raise NotFound(f"building {code} does not exist; check the building code")
    houses = session.scalars(
        select(House).where(
            House.building_id == building.id, House.district_code == building.district_code
        )
    ).all()
    return BuildingRooms(
        id=building.id,
        district_code=building.district_code,
        code=building.code,
        name=building.name,
        address=building.address,
        grid_code=building.grid_code,
        floors=building.floors,
        houses=houses,
    )


def household_table(
    building: BuildingRooms,
    *,
    counts: Mapping[int, RoomCounts],
    group_labels: Mapping[str, str],
    organisations: Sequence[BuildingNote] = (),
    open_events: Sequence[BuildingNote] = (),
) -> HouseholdTable:
    """Lay the houses out as floors × units × rooms, each with the counts of its house id."""
    units = sorted({h.unit for h in building.houses}, key=natural_order)
    by_place: dict[tuple[int, str], list[RoomCell]] = {}
    uses = dict.fromkeys(USE_ORDER, 0)
    total_groups = residents = floating = 0
    for house in building.houses:
        count = counts.get(house.id, RoomCounts())
        residents += count.residents
        floating += count.floating
        groups = [
            GroupCount(type=t, label=group_labels.get(t, t), count=n)
            for t, n in sorted(count.groups.items())
            if n
        ]
        total_groups += sum(g.count for g in groups)
        uses[house.use] = uses.get(house.use, 0) + 1
        by_place.setdefault((house.floor, house.unit), []).append(
            RoomCell(
                code=house_code(building.code, house.unit, house.room),
                unit=house.unit,
                floor=house.floor,
                room=house.room,
                use=house.use.value,
                use_label=house.use.label,
                area_m2=house.area_m2,
                residents=count.residents,
                floating=count.floating,
                special_groups=groups,
            )
        )
    floors = sorted({floor for floor, _ in by_place}, reverse=True)
    rows = [
        FloorRow(
            floor=floor,
            units=[
                UnitFloor(
                    unit=unit,
                    rooms=sorted(
                        by_place.get((floor, unit), []), key=lambda r: natural_order(r.room)
                    ),
                )
                for unit in units
            ],
        )
        for floor in floors
    ]
    return HouseholdTable(
        building_code=building.code,
        name=building.name,
        address=building.address,
        grid_code=building.grid_code,
        floors=building.floors,
        units=units,
        rows=rows,
        uses=[UseCount(use=u.value, label=u.label, rooms=n) for u, n in uses.items()],
        rooms=len(building.houses),
        residents=residents,
        floating=floating,
        special_groups=total_groups,
        organisations=[_note(n) for n in organisations],
        open_events=[_note(n) for n in open_events],
    )


def _note(note: BuildingNote) -> NoteItem:
    return NoteItem(
        code=note.code,
        title=note.title,
        detail=note.detail,
        flags=list(note.flags),
        light=note.light,
    )


__all__ = [
    "BuildingNote",
    "BuildingRooms",
    "HouseholdTable",
    "RoomCell",
    "RoomCounts",
    "building_rooms",
    "household_table",
]
