"""Small builders for test data: an admin tree and grids made of boxes in Yichang."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shapely import MultiPolygon, box
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.http.auth import issue_token
from events.catalog import DepartmentType
from events.models import Department, DepartmentUnit
from gis import local_pg
from gis.bulk import ewkb_hex
from gis.geometry import to_multipolygon
from gis.migrate import upgrade
from grid.models import AdminLevel, AdminUnit, Building, Grid, House
from grid.std_address import attach_buildings
from people.access import Actor
from people.documents import make_id_number
from people.staff import create_staff

DISTRICT = "420502"
STREET = "420502001000"
COMMUNITY = "420502001001"
DISTRICT_NAMES = {DISTRICT: "西陵区", "420503": "伍家岗区"}


def china_today() -> date:
    """Today in China (UTC+8, no daylight saving), worked out without the code under test."""
    return (datetime.now(UTC) + timedelta(hours=8)).date()


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
    session: Session,
    code: str,
    geom: BaseGeometry,
    grid_code: str | None,
    *,
    attach: bool = True,
    **fields: object,
) -> Building:
    """A building with the given footprint, assigned to `grid_code` (and its district), with
    its standard address (标准地址) as an import gives it (none outside every grid); with
    `attach=False` it waits for a test's own attach step."""
    district = grid_code[:6] if grid_code else DISTRICT
    building = Building(
        code=code, geom=ewkb(geom), grid_code=grid_code, district_code=district, **fields
    )
    session.add(building)
    session.flush()
    if attach:
        attach_buildings(session, building_ids=[building.id])
    return building


# --- files for import tests ---------------------------------------------------------------

# Degrees per metre near 30.7° N (Yichang), good to ~0.1 % for test shapes of a few metres.
METRE_LON = 1 / (111_320 * 0.8598)
METRE_LAT = 1 / 110_850


def metre_box(lon: float, lat: float, width_m: float, height_m: float) -> MultiPolygon:
    """A width×height metre rectangle with its south-west corner at (lon, lat)."""
    return MultiPolygon([box(lon, lat, lon + width_m * METRE_LON, lat + height_m * METRE_LAT)])


def feature_collection(
    path: Path, features: Sequence[tuple[dict[str, Any], BaseGeometry | dict[str, Any] | None]]
) -> Path:
    """Write a GeoJSON FeatureCollection by hand (no GDAL), so broken geometries stay broken.

    Each feature is (properties, geometry) with the geometry as shapely, raw GeoJSON or None.
    """
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": properties,
                "geometry": mapping(geometry) if isinstance(geometry, BaseGeometry) else geometry,
            }
            for properties, geometry in features
        ],
    }
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


# --- people ---------------------------------------------------------------------------------


def add_house(
    session: Session, building: Building, *, unit: str = "1", floor: int = 1, room: str = "0101"
) -> House:
    """A house in `building`; its code is `<building code>-<unit>-<room>`."""
    house = House(
        building_id=building.id,
        district_code=building.district_code,
        unit=unit,
        floor=floor,
        room=room,
    )
    session.add(house)
    session.flush()
    return house


def add_staff(session: Session, username: str, role: str, **scope: Any) -> Actor:
    """An account with password `test-password` and the given scope (grid_codes, area_code …)."""
    return create_staff(
        session, username=username, password="test-password", full_name=username, role=role, **scope
    )


def fresh_database(base_url: str, suffix: str) -> str:
    """URL of a newly created and migrated database named after `base_url`'s plus `suffix`.

    For tests whose code under test commits (servers, CLI subprocesses, background jobs);
    the caller drops it with `local_pg.drop_database`.
    """
    url = make_url(base_url)
    fresh = url.set(database=f"{url.database}{suffix}").render_as_string(hide_password=False)
    local_pg.drop_database(fresh)
    local_pg.ensure_database(fresh)
    upgrade(fresh)
    return fresh


def bearer(actor: Actor) -> dict[str, str]:
    """Request headers that sign in as `actor` (a token issued directly, no password round)."""
    token, _ = issue_token(actor)
    return {"Authorization": f"Bearer {token}"}


def id_number(sequence: int, birth: date = date(1985, 6, 15), region: str = "420502") -> str:
    """A valid GB 11643 ID number; odd sequences are men, even ones women."""
    return make_id_number(region, birth, sequence)


# --- events ---------------------------------------------------------------------------------


def add_unit(
    session: Session,
    code: str,
    dept_type: str,
    *,
    geom: BaseGeometry | None = None,
    location: tuple[float, float] | None = None,
    name: str | None = None,
    webhook_url: str | None = None,
    district: str = DISTRICT,
) -> DepartmentUnit:
    """A department unit (and its district's department) with a jurisdiction and/or a location."""
    kind = DepartmentType(dept_type)
    department = session.scalar(
        select(Department).where(Department.dept_type == kind, Department.district_code == district)
    )
    if department is None:
        place = DISTRICT_NAMES.get(district, district)
        department = Department(name=f"{place}{kind.label}", dept_type=kind, district_code=district)
        session.add(department)
        session.flush()
    unit = DepartmentUnit(
        code=code,
        name=name or f"{kind.label}{code}",
        department_id=department.id,
        dept_type=kind,
        district_code=district,
        geom=ewkb(to_multipolygon(geom)) if geom is not None else None,
        location=f"SRID=4490;POINT({location[0]} {location[1]})" if location else None,
        webhook_url=webhook_url,
        webhook_secret="test-secret" if webhook_url else None,
    )
    session.add(unit)
    session.flush()
    return unit
