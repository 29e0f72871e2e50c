"""Tables of the spatial frame: administrative units, grids (网格), buildings and houses."""

from __future__ import annotations

import enum

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.db import STORAGE_SRID, Base


def _labelled_enum(cls: type[enum.Enum], name: str) -> Enum:
    """A PostgreSQL enum storing the members' English values."""
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


class AdminLevel(enum.StrEnum):
    """Level in the administrative tree."""

    DISTRICT = "district"  # 区县, 6-digit county code + 000000
    STREET = "street"  # 街道/乡镇, 9-digit prefix + 000
    COMMUNITY = "community"  # 社区/村

    @property
    def label(self) -> str:
        return {"district": "区县", "street": "街道", "community": "社区"}[self.value]


class GridType(enum.StrEnum):
    """Kind of grid: a basic residential grid or a dedicated one (school, park, market …)."""

    BASIC = "basic"  # 基础网格
    DEDICATED = "dedicated"  # 专属网格

    @property
    def label(self) -> str:
        return {"basic": "基础网格", "dedicated": "专属网格"}[self.value]


class BuildingUse(enum.StrEnum):
    """Main use of a building."""

    RESIDENTIAL = "residential"  # 住宅
    COMMERCIAL = "commercial"  # 商业
    OFFICE = "office"  # 办公
    INDUSTRIAL = "industrial"  # 工业
    PUBLIC = "public"  # 公共服务 (school, hospital …)
    MIXED = "mixed"  # 商住混合
    OTHER = "other"  # 其他

    @property
    def label(self) -> str:
        return {
            "residential": "住宅",
            "commercial": "商业",
            "office": "办公",
            "industrial": "工业",
            "public": "公共服务",
            "mixed": "商住混合",
            "other": "其他",
        }[self.value]


class HouseUse(enum.StrEnum):
    """How a house (room/flat) is used."""

    SELF_OCCUPIED = "self_occupied"  # 自住
    RENTED = "rented"  # 出租
    COMMERCIAL = "commercial"  # 经营
    VACANT = "vacant"  # 空置

    @property
    def label(self) -> str:
        return {"self_occupied": "自住", "rented": "出租", "commercial": "经营", "vacant": "空置"}[
            self.value
        ]


class AdminUnit(Base):
    """A district, street or community with its 12-digit statistical code."""

    __tablename__ = "admin_unit"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_12_digits"),
        CheckConstraint("district_code = substr(code, 1, 6)", name="district_prefix"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[AdminLevel] = mapped_column(_labelled_enum(AdminLevel, "admin_level"))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("admin_unit.code"), index=True, default=None
    )
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True)
    )


class Grid(Base):
    """A grid (网格): 15-digit code = community code + 3-digit sequence."""

    __tablename__ = "grid"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_15_digits"),
        CheckConstraint("substr(code, 1, 12) = community_code", name="code_in_community"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_unit.code"), index=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    grid_type: Mapped[GridType] = mapped_column(
        _labelled_enum(GridType, "grid_type"), default=GridType.BASIC
    )
    households: Mapped[int | None] = mapped_column(default=None)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True, nullable=False)
    )

    community: Mapped[AdminUnit] = relationship(lazy="joined")


class Building(Base):
    """A building with its footprint, assigned to the grid that contains it."""

    __tablename__ = "building"
    __table_args__ = (CheckConstraint("ST_IsValid(geom)", name="geom_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    floors: Mapped[int | None] = mapped_column(default=None)
    use: Mapped[BuildingUse] = mapped_column(
        _labelled_enum(BuildingUse, "building_use"), default=BuildingUse.RESIDENTIAL
    )
    grid_code: Mapped[str | None] = mapped_column(ForeignKey("grid.code"), index=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True, nullable=False)
    )


class House(Base):
    """A dwelling or premises in a building (unit / floor / room)."""

    __tablename__ = "house"
    __table_args__ = (
        UniqueConstraint("building_id", "unit", "floor", "room", name="uq_house_address"),
        Index("ix_house_building_id", "building_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    unit: Mapped[str] = mapped_column(String(10), default="1")  # 单元
    floor: Mapped[int]
    room: Mapped[str] = mapped_column(String(20))
    use: Mapped[HouseUse] = mapped_column(
        _labelled_enum(HouseUse, "house_use"), default=HouseUse.SELF_OCCUPIED
    )
    area_m2: Mapped[float | None] = mapped_column(default=None)
