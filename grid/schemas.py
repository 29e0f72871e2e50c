"""Pydantic shapes of the spatial frame as services return them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from gis.crs import Crs
from gis.text import InputModel
from grid.models import HouseUse

LocateMatch = Literal["inside", "boundary", "nearby", "outside"]


class AdminRef(BaseModel):
    """An administrative unit by code and name."""

    code: str
    name: str


class BuildingRef(BaseModel):
    """The building nearest a located point."""

    code: str
    name: str | None
    address: str | None
    distance_m: float = Field(description="metres from the point to the footprint (0 inside)")


class LocateResult(BaseModel):
    """Where a point is: its grid and administrative units, and the nearest building.

    `match` is `inside` (in exactly one grid), `boundary` (on a shared edge or vertex: the
    lowest grid code wins), `nearby` (outside every grid but within the tolerance of the
    nearest one) or `outside` (no grid within the tolerance; still a valid answer).
    """

    lon: float = Field(description="CGCS2000 longitude as stored")
    lat: float = Field(description="CGCS2000 latitude as stored")
    input_lon: float
    input_lat: float
    input_crs: Crs
    match: LocateMatch
    grid: AdminRef | None
    grid_candidates: list[str] = Field(
        default_factory=list, description="all grids whose boundary the point lies on"
    )
    distance_to_grid_m: float | None
    community: AdminRef | None
    street: AdminRef | None
    district: AdminRef | None
    building: BuildingRef | None


class GridRead(BaseModel):
    """A grid with its place in the tree, its size and its contents."""

    code: str
    name: str
    grid_type: str
    grid_type_label: str
    households: int | None
    community: AdminRef
    street: AdminRef | None
    area_m2: float
    buildings: int
    houses: int
    geometry: dict[str, Any] | None = None


class GridPage(BaseModel):
    """A page of grids and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[GridRead]


class BuildingRead(BaseModel):
    """A building with its footprint."""

    code: str
    name: str | None
    address: str | None
    floors: int | None
    use: str
    use_label: str
    grid_code: str | None
    houses: int
    geometry: dict[str, Any] | None = None


class BuildingPage(BaseModel):
    """A page of buildings and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[BuildingRead]


class GridCounts(BaseModel):
    """What one grid holds."""

    code: str
    name: str
    buildings: int
    houses: int


class HouseRead(BaseModel):
    """A house (unit / floor / room of a building), placed at a point inside its building."""

    code: str = Field(description="building code-unit-room")
    building_code: str
    building_name: str | None
    unit: str
    floor: int
    room: str
    use: str
    use_label: str
    area_m2: float | None
    grid_code: str | None
    geometry: dict[str, Any] | None = Field(
        default=None, description="a point inside the building footprint (GeoJSON)"
    )


class HousePage(BaseModel):
    """A page of houses and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[HouseRead]


class AddressCandidate(BaseModel):
    """A place an address text may mean (地址匹配候选), best first in a search."""

    building_code: str | None = Field(
        description="None for a door plate (门牌) with no building registered on it yet"
    )
    building_name: str | None
    address: str | None
    house_id: int | None = Field(description="the house (户) when a unit/room was given and exists")
    house_code: str | None = Field(description="building code-unit-room, as the ledger writes it")
    room: str | None = Field(description="the house as read aloud: 3单元0502室")
    address_code: str | None = Field(
        default=None,
        description="the standard address (标准地址) of the house, else of the building",
    )
    grid_code: str | None
    district_code: str
    lon: float = Field(
        description="CGCS2000 (4490) longitude of a point inside the building (or the door plate)"
    )
    lat: float = Field(
        description="CGCS2000 (4490) latitude of a point inside the building (or the door plate)"
    )
    score: float = Field(ge=0, le=1, description="1 = every part of the text agrees")
    why: str = Field(description="which parts matched (中文), e.g. 道路门牌一致; 楼栋一致")


class AddressSearch(BaseModel):
    """What an address text was read as, and the places it may mean (empty when none)."""

    query: str
    parsed: dict[str, Any]
    candidates: list[AddressCandidate]


# A house's unit and room are parts of its code (building code-unit-room): no '-' or spaces.
_HOUSE_PART = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]+")


def _house_part(value: str) -> str:
    if not _HOUSE_PART.fullmatch(value):
        raise ValueError(
            f"'{value}' may hold only letters, digits and Chinese characters (no '-', '/' or "
            "spaces): the house code joins building, unit and room with '-', e.g. BA-2-0601"
        )
    return value


HousePart = Annotated[str, AfterValidator(_house_part)]


def _parse_house_use(value: Any) -> Any:
    """A house use given by value ("rented") or Chinese label ("出租"); others as they are."""
    return HouseUse.parse(value) if isinstance(value, str) else value


UseOfHouse = Annotated[HouseUse, BeforeValidator(_parse_house_use)]


class HouseCreate(InputModel):
    """A house (房屋) as a grid worker adds it to a building: unit (单元), floor, room, use."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    building_code: str = Field(min_length=1, max_length=32)
    unit: HousePart = Field(default="1", min_length=1, max_length=10)
    floor: int = Field(ge=-5, le=200, description="floor number; basements are -1, -2 …")
    room: HousePart = Field(min_length=1, max_length=20)
    use: UseOfHouse = Field(
        default=HouseUse.SELF_OCCUPIED,
        description="self_occupied 自住, rented 出租, commercial 经营, vacant 空置",
    )
    area_m2: float | None = Field(default=None, gt=0, le=100_000, description="floor area, m²")


class HouseUpdate(InputModel):
    """Fields of a house to change; only those given are touched (the building stays)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    unit: HousePart | None = Field(default=None, min_length=1, max_length=10)
    floor: int | None = Field(default=None, ge=-5, le=200)
    room: HousePart | None = Field(default=None, min_length=1, max_length=20)
    use: UseOfHouse | None = None
    area_m2: float | None = Field(default=None, gt=0, le=100_000)


class PartTypeRead(BaseModel):
    """A city part type (部件小类) of the shipped catalogue, with both code schemes."""

    code: str = Field(description="legacy GB/T 30428.2 class: 2-digit 大类 + 2-digit 小类")
    major_code: str
    major_name: str
    name: str
    gbt47678_code: str | None = Field(description="GB/T 47678.5 class: 2-digit 大类 + 3-digit 小类")
    checked: bool = Field(description="false: codes not yet checked against the standard's text")


class OwnerRef(BaseModel):
    """The unit that owns and keeps a part (权属/养护单位)."""

    id: int
    code: str
    name: str


class PartRead(BaseModel):
    """A city part (城市部件): code, type, point, state and owner unit."""

    code: str = Field(description="16-digit identification code: county + 大类 + 小类 + sequence")
    type: PartTypeRead
    name: str | None
    state: str
    state_label: str
    owner: OwnerRef | None
    district_code: str
    grid_code: str | None = Field(description="the grid covering the point (none on a road)")
    lon: float = Field(description="CGCS2000 (4490) longitude")
    lat: float = Field(description="CGCS2000 (4490) latitude")
    geometry: dict[str, Any] | None = Field(default=None, description="the point (GeoJSON)")


class PartPage(BaseModel):
    """A page of city parts and the total that matched."""

    total: int
    page: int
    page_size: int
    items: list[PartRead]


class PartNamed(BaseModel):
    """A part an event names, as checked for the report: its owner unit and distance."""

    code: str
    type_name: str
    owner_unit_id: int | None
    owner_name: str | None
    distance_m: float


class StdAddressRead(BaseModel):
    """A standard address (标准地址): its code, level, part, full text, point and grid, and the
    building or house hung on it."""

    code: str
    level: str  # road, door, building, unit, floor, room
    level_label: str  # 路巷, 门牌号, 楼栋, 单元, 楼层, 户室
    name: str
    full_text: str
    parent_code: str | None  # None: the community is the parent (community_code)
    community_code: str
    grid_code: str | None
    lon: float
    lat: float
    building_code: str | None = None  # the building on a 楼栋 address
    house_code: str | None = None  # the house on a 户室 address


class StdAddressPage(BaseModel):
    """A page of the addresses one level below an address or community."""

    total: int
    page: int
    page_size: int
    items: list[StdAddressRead]
