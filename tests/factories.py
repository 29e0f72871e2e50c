"""Small builders for test data: an admin tree and grids made of boxes in Yichang."""

from __future__ import annotations

from shapely import MultiPolygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from gis.bulk import ewkb_hex
from grid.models import AdminLevel, AdminUnit, Building, Grid

DISTRICT = "420502"
STREET = "420502001000"
COMMUNITY = "420502001001"


def square(lon: float, lat: float, size: float) -> MultiPolygon:
    """A size×size degree square with its south-west corner at (lon, lat)."""
    return MultiPolygon([box(lon, lat, lon + size, lat + size)])


def ewkb(geom: BaseGeometry) -> str:
    """Geometry as the hex EWKB the models accept."""
    return ewkb_hex(geom)


def admin_tree(
    session: Session, *, community_geom: BaseGeometry | None = None, community: str = COMMUNITY
) -> AdminUnit:
    """District 420502 → street 001 → `community`, each covering `community_geom`."""
    geom = community_geom or square(111.28, 30.70, 0.02)
    for code, name, level, parent in (
        (DISTRICT + "000000", "西陵区", AdminLevel.DISTRICT, None),
        (STREET, "西陵街道", AdminLevel.STREET, DISTRICT + "000000"),
        (community, "测试社区", AdminLevel.COMMUNITY, STREET),
    ):
        if session.get(AdminUnit, code) is None:
            session.add(
                AdminUnit(
                    code=code,
                    name=name,
                    level=level,
                    parent_code=parent,
                    district_code=DISTRICT,
                    geom=ewkb(geom),
                )
            )
            session.flush()
    unit = session.get(AdminUnit, community)
    assert unit is not None
    return unit


def add_grid(session: Session, code: str, geom: BaseGeometry, name: str | None = None) -> Grid:
    """A grid in the community its code names (the community must exist)."""
    grid = Grid(
        code=code,
        name=name or f"第{code[-3:]}网格",
        community_code=code[:12],
        district_code=code[:6],
        geom=ewkb(geom),
    )
    session.add(grid)
    session.flush()
    return grid


def add_building(
    session: Session, code: str, geom: BaseGeometry, grid_code: str | None, **fields: object
) -> Building:
    """A building with the given footprint, assigned to `grid_code`."""
    building = Building(
        code=code, geom=ewkb(geom), grid_code=grid_code, district_code=DISTRICT, **fields
    )
    session.add(building)
    session.flush()
    return building
