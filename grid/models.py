"""Tables of the spatial frame: administrative units, grids (网格), buildings and houses."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.codes import LabelledEnum, db_enum
from gis.db import STORAGE_SRID, Base
from gis.distribution import DistrictKeyed, Placement, district_fk, placed


# Residents, events and staff point at grids that re-cutting may replace inside one
# transaction; the check waits for the commit so the caller can re-assign them first.
def grid_fk(ondelete: str | None = None) -> ForeignKeyConstraint:
    """A reference from `grid_code` to the grid of the same district, checked at commit."""
    return district_fk("grid_code", "grid.code", ondelete=ondelete, deferred=True)


class AdminLevel(LabelledEnum):
    """administrative level"""

    DISTRICT = "district", "区县"  # 6-digit county code + 000000
    STREET = "street", "街道"  # 9-digit prefix + 000
    COMMUNITY = "community", "社区"


class GridType(LabelledEnum):
    """grid type"""

    BASIC = "basic", "基础网格"  # residential grid of 300–500 households
    DEDICATED = "dedicated", "专属网格"  # school, hospital, market, industrial park …


class BuildingUse(LabelledEnum):
    """building use"""

    RESIDENTIAL = "residential", "住宅"
    COMMERCIAL = "commercial", "商业"
    OFFICE = "office", "办公"
    INDUSTRIAL = "industrial", "工业"
    PUBLIC = "public", "公共服务"  # school, hospital …
    MIXED = "mixed", "商住混合"
    OTHER = "other", "其他"


class HouseUse(LabelledEnum):
    """house use"""

    SELF_OCCUPIED = "self_occupied", "自住"
    RENTED = "rented", "出租"
    COMMERCIAL = "commercial", "经营"
    VACANT = "vacant", "空置"


class AdminUnit(Base):
    """A district, street or community with its 12-digit statistical code."""

    __tablename__ = "admin_unit"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_12_digits"),
        CheckConstraint("district_code = substr(code, 1, 6)", name="district_prefix"),
        placed(Placement.REFERENCE),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[AdminLevel] = mapped_column(db_enum(AdminLevel, "admin_level"))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("admin_unit.code"), index=True, default=None
    )
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True)
    )


class Grid(DistrictKeyed, Base):
    """A grid (网格): 15-digit code = community code + 3-digit sequence."""

    __tablename__ = "grid"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_15_digits"),
        CheckConstraint("substr(code, 1, 12) = community_code", name="code_in_community"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        # The code starts with the district's, so (code, district_code) is as unique as code.
        CheckConstraint("substr(code, 1, 6) = district_code", name="code_in_district"),
        placed(Placement.DISTRIBUTED),
    )
    identity_column = "code"

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code"), index=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)
    grid_type: Mapped[GridType] = mapped_column(
        db_enum(GridType, "grid_type"), default=GridType.BASIC
    )
    households: Mapped[int | None] = mapped_column(default=None)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True, nullable=False)
    )

    community: Mapped[AdminUnit] = relationship(lazy="joined")


# The building's key in the standard addresses (std_address.match_key), kept by PostgreSQL on
# every write path (COPY, imports, the ORM). Full-width digits are read as ASCII;
# grid/address_text.py makes the same key from what a caller says, and a test holds the two to
# agreeing. 前进里社区12栋 / 前进里小区12号楼 → 前进里#12: the estate stem and the building number.
NAME_KEY_SQL = (
    "regexp_replace(translate(name, '０１２３４５６７８９', '0123456789'), "
    "'(社区|小区|花园|村)?0*([0-9]+)(号楼|栋|幢|座|号)$', '#\\2')"
)


class Building(DistrictKeyed, Base):
    """A building with its footprint, assigned to the grid that contains it."""

    __tablename__ = "building"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        UniqueConstraint("code", "district_code"),
        district_fk("grid_code", "grid.code"),
        district_fk("address_code", "std_address.code"),
        UniqueConstraint("address_code", "district_code", name="uq_building_address_code"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    name_key: Mapped[str | None] = mapped_column(Text, Computed(NAME_KEY_SQL, persisted=True))
    floors: Mapped[int | None] = mapped_column(default=None)
    use: Mapped[BuildingUse] = mapped_column(
        db_enum(BuildingUse, "building_use"), default=BuildingUse.RESIDENTIAL
    )
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)
    # The building's standard address (标准地址, level 楼栋), set by grid/std_address.py.
    address_code: Mapped[str | None] = mapped_column(String(32), default=None)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True, nullable=False)
    )


class House(DistrictKeyed, Base):
    """A dwelling or premises in a building (unit / floor / room)."""

    __tablename__ = "house"
    __table_args__ = (
        UniqueConstraint(
            "building_id", "district_code", "unit", "floor", "room", name="uq_house_address"
        ),
        Index("ix_house_building_id", "building_id"),
        district_fk("building_id", "building.id", ondelete="CASCADE"),
        district_fk("address_code", "std_address.code"),
        UniqueConstraint("address_code", "district_code", name="uq_house_address_code"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    building_id: Mapped[int]
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    unit: Mapped[str] = mapped_column(String(10), default="1")  # 单元
    floor: Mapped[int]
    room: Mapped[str] = mapped_column(String(20))
    use: Mapped[HouseUse] = mapped_column(
        db_enum(HouseUse, "house_use"), default=HouseUse.SELF_OCCUPIED
    )
    area_m2: Mapped[float | None] = mapped_column(default=None)
    # The house's standard address (标准地址, level 户室), set by grid/std_address.py.
    address_code: Mapped[str | None] = mapped_column(String(32), default=None)


class PartState(LabelledEnum):
    """part state"""

    NORMAL = "normal", "正常"
    DAMAGED = "damaged", "损坏"
    MISSING = "missing", "丢失"
    OCCUPIED = "occupied", "占用"
    REMOVED = "removed", "已拆除"


class CityPart(DistrictKeyed, Base):
    """A city part (城市部件): a fixed public facility with its 16-digit identification code.

    The code follows GB/T 30428.2 (legacy CJ/T 214 scheme): 6-digit county + 2-digit 大类 +
    2-digit 小类 + 6-digit sequence; `type_code` is the 4-digit 大类+小类 from the shipped
    catalogue (grid/data/part_types.csv, which also gives the GB/T 47678.5 code).
    """

    __tablename__ = "city_part"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{16}$'", name="code_16_digits"),
        CheckConstraint("substr(code, 1, 6) = district_code", name="code_in_district"),
        CheckConstraint("substr(code, 7, 4) = type_code", name="code_has_type"),
        Index("ix_city_part_type_code", "type_code"),
        placed(Placement.DISTRIBUTED),
    )
    identity_column = "code"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True, index=True)
    type_code: Mapped[str] = mapped_column(String(4))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    state: Mapped[PartState] = mapped_column(
        db_enum(PartState, "part_state"), default=PartState.NORMAL
    )
    # The unit that owns and keeps the part (权属/养护单位): a department_unit of the events
    # package, referenced by id (grid never imports events).
    owner_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("department_unit.id"), index=True, default=None
    )
    # No stored grid: a part's grid is the one covering its point when read, so re-cutting
    # grids never leaves a part pointing at a grid that is gone.
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=True, nullable=False)
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AddressLevel(LabelledEnum):
    """standard-address level below the community (district, street, community: admin_unit)"""

    ROAD = "road", "路巷"
    DOOR = "door", "门牌号"
    BUILDING = "building", "楼栋"
    UNIT = "unit", "单元"
    FLOOR = "floor", "楼层"
    ROOM = "room", "户室"


# Digits a code has at each level: the community's 12, then road 3, door 4, building 4,
# unit 2, floor 3, room 4 (grid/std_address.py documents the scheme).
ADDRESS_CODE_LENGTH: dict[AddressLevel, int] = {
    AddressLevel.ROAD: 15,
    AddressLevel.DOOR: 19,
    AddressLevel.BUILDING: 23,
    AddressLevel.UNIT: 25,
    AddressLevel.FLOOR: 28,
    AddressLevel.ROOM: 32,
}
_LENGTH_BY_LEVEL = " ".join(
    f"WHEN '{level.value}' THEN {n}" for level, n in ADDRESS_CODE_LENGTH.items()
)


class StdAddress(DistrictKeyed, Base):
    """A standard address (标准地址) below the community: road, door plate, building, unit,
    floor or room, with its stable code, its parent, its full text, point and grid.

    Rows are never deleted, so a code is never given to another place.
    """

    __tablename__ = "std_address"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]+$'", name="code_digits"),
        CheckConstraint(
            f"length(code) = CASE level::text {_LENGTH_BY_LEVEL} END", name="code_fits_level"
        ),
        CheckConstraint("substr(code, 1, 12) = community_code", name="code_in_community"),
        CheckConstraint("substr(code, 1, 6) = district_code", name="code_in_district"),
        CheckConstraint(
            "parent_code IS NULL OR substr(code, 1, length(parent_code)) = parent_code",
            name="code_under_parent",
        ),
        district_fk("parent_code", "std_address.code"),
        Index("ix_std_address_parent_code", "parent_code"),
        # The address search looks door plates and buildings up by key (grid/addresses.py).
        Index(
            "ix_std_address_match_key",
            "match_key",
            postgresql_where=text("level IN ('door', 'building')"),
        ),
        # One road of a name per community, one door plate of a number per road, one unit,
        # floor or room of a label per parent: a re-import finds the address it made before.
        Index(
            "uq_std_address_sibling",
            "district_code",
            text("coalesce(parent_code, community_code)"),
            "level",
            "match_key",
            unique=True,
            postgresql_where=text("level <> 'building'"),
        ),
        placed(Placement.DISTRIBUTED),
    )
    identity_column = "code"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    level: Mapped[AddressLevel] = mapped_column(db_enum(AddressLevel, "address_level"))
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code"), index=True)
    # NULL for a road, and for a building with no door plate (it hangs on its community).
    parent_code: Mapped[str | None] = mapped_column(String(32), default=None)
    name: Mapped[str] = mapped_column(String(100))  # this level's part: 夷陵大道, 121号, 12栋 …
    # What a search compares: the road name, 夷陵大道121号, 前进里#12, the unit, floor or room.
    match_key: Mapped[str | None] = mapped_column(Text, default=None)
    full_text: Mapped[str] = mapped_column(String(300))  # the 标准地址 string
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=True, nullable=False)
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
