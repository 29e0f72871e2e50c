"""Queries of the spatial frame: locate a point, list grids and buildings, count contents."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, false, func, null, or_, select, true
from sqlalchemy.orm import Session, aliased

from gis.config import get_settings
from gis.crs import STORAGE_SRID, CoordinateError, Crs, check_lon_lat, parse_crs, to_storage
from grid.exceptions import InvalidQuery, NotFound
from grid.models import AdminUnit, Building, Grid, GridType, House
from grid.schemas import (
    AdminRef,
    BuildingPage,
    BuildingRead,
    BuildingRef,
    GridCounts,
    GridPage,
    GridRead,
    HousePage,
    HouseRead,
    LocateResult,
)

MAX_PAGE_SIZE = 1000
_METRES_PER_DEGREE = 111_320.0
_Columns = TypeVarTuple("_Columns")


def _point(lon: float, lat: float) -> ColumnElement[Any]:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), STORAGE_SRID)


def _search_box(point: ColumnElement[Any], lat: float, metres: float) -> ColumnElement[Any]:
    """A box around `point` at least `metres` wide in every direction, for index pre-filters."""
    degrees = metres / (_METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01)) * 1.05
    return func.ST_Expand(point, degrees)


def _geodesic_distance(a: Any, b: Any) -> ColumnElement[float]:
    return func.ST_Distance(func.Geography(a), func.Geography(b))


def _admin_ref(unit: AdminUnit | None) -> AdminRef | None:
    return AdminRef(code=unit.code, name=unit.name) if unit else None


def area_prefix(code: str) -> str:
    """The code prefix shared by everything inside an admin unit or grid.

    Accepts 4-digit city prefixes (地级市, e.g. 4205 宜昌市: every district of the city),
    6-digit district codes, 9-digit street prefixes, 12-digit admin codes (trailing zero
    groups dropped) and 15-digit grid codes.
    """
    code = code.strip()
    if not code.isdigit() or len(code) not in (4, 6, 9, 12, 15):
        raise InvalidQuery(
            f"area code '{code}' is not a 4-digit city, 6-, 9-, 12- or 15-digit administrative "
            "or grid code (区划代码格式不对)"
        )
    if len(code) == 12:
        if code[4:] == "00000000":
            return code[:4]
        if code[6:] == "000000":
            return code[:6]
        if code[9:] == "000":
            return code[:9]
    return code


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse 'min_lon,min_lat,max_lon,max_lat' (CGCS2000/WGS84 degrees)."""
    parts = text.split(",")
    if len(parts) != 4:
        raise InvalidQuery(f"bbox '{text}' needs four numbers: min_lon,min_lat,max_lon,max_lat")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
        check_lon_lat(min_lon, min_lat)
        check_lon_lat(max_lon, max_lat)
    except ValueError as exc:
        raise InvalidQuery(f"bbox '{text}' is not valid: {exc}") from exc
    if min_lon >= max_lon or min_lat >= max_lat:
        raise InvalidQuery(
            f"bbox '{text}' is empty: min_lon must be below max_lon and min_lat below max_lat"
        )
    return min_lon, min_lat, max_lon, max_lat


def _check_page(page: int, page_size: int) -> None:
    if page < 1:
        raise InvalidQuery(f"page {page} is not valid; pages start at 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidQuery(f"page_size {page_size} is not valid; use 1..{MAX_PAGE_SIZE}")


def locate_point(
    session: Session, *, lon: float, lat: float, crs: Crs | str = Crs.WGS84
) -> LocateResult:
    """Find the grid, admin units and nearest building of a point given in `crs`.

    Raises `InvalidQuery` only for a malformed coordinate; a point outside every grid is
    a valid answer with `match="outside"` (its district, if any polygon covers it).
    """
    settings = get_settings()
    try:
        input_crs = parse_crs(crs)
        slon, slat = to_storage(lon, lat, input_crs)
    except CoordinateError as exc:
        raise InvalidQuery(str(exc)) from exc
    point = _point(slon, slat)

    covering = session.scalars(
        select(Grid).where(func.ST_Covers(Grid.geom, point)).order_by(Grid.code)
    ).all()
    grid: Grid | None
    distance_to_grid: float | None
    if covering:
        grid, distance_to_grid = covering[0], 0.0
        match = "boundary" if len(covering) > 1 else "inside"
    else:
        tolerance = settings.locate_tolerance_m
        distance = _geodesic_distance(Grid.geom, point)
        nearest = session.execute(
            select(Grid, distance)
            .where(Grid.geom.op("&&")(_search_box(point, slat, tolerance)))
            .where(distance <= tolerance)
            .order_by(distance, Grid.code)
            .limit(1)
        ).first()
        grid, distance_to_grid = (nearest[0], float(nearest[1])) if nearest else (None, None)
        match = "nearby" if nearest else "outside"

    community, street, district = _admin_chain(session, grid, point)
    return LocateResult(
        lon=slon,
        lat=slat,
        input_lon=lon,
        input_lat=lat,
        input_crs=input_crs,
        match=match,
        grid=AdminRef(code=grid.code, name=grid.name) if grid else None,
        grid_candidates=[g.code for g in covering] if len(covering) > 1 else [],
        distance_to_grid_m=distance_to_grid,
        community=_admin_ref(community),
        street=_admin_ref(street),
        district=_admin_ref(district),
        building=_nearest_building(session, point, slat, settings.building_search_m),
    )


def _admin_chain(
    session: Session, grid: Grid | None, point: ColumnElement[Any]
) -> tuple[AdminUnit | None, AdminUnit | None, AdminUnit | None]:
    """Community, street and district of a grid, or of the point when it is in no grid."""
    if grid is not None:
        community: AdminUnit | None = grid.community
    else:
        # Deepest unit whose polygon covers the point (a gap between grids, or open country).
        community = session.scalars(
            select(AdminUnit)
            .where(func.ST_Covers(AdminUnit.geom, point))
            .order_by(func.length(func.rtrim(AdminUnit.code, "0")).desc(), AdminUnit.code)
            .limit(1)
        ).first()
    chain: list[AdminUnit] = []
    unit = community
    while unit is not None:
        chain.append(unit)
        unit = session.get(AdminUnit, unit.parent_code) if unit.parent_code else None
    by_level = {u.level.value: u for u in chain}
    return by_level.get("community"), by_level.get("street"), by_level.get("district")


def _nearest_building(
    session: Session, point: ColumnElement[Any], lat: float, radius_m: float
) -> BuildingRef | None:
    distance = _geodesic_distance(Building.geom, point)
    row = session.execute(
        select(Building.code, Building.name, Building.address, distance)
        .where(Building.geom.op("&&")(_search_box(point, lat, radius_m)))
        .where(distance <= radius_m)
        .order_by(distance, Building.code)
        .limit(1)
    ).first()
    if row is None:
        return None
    return BuildingRef(code=row[0], name=row[1], address=row[2], distance_m=round(row[3], 2))


def _area_filter(
    stmt: Select[*_Columns], code_column: Any, area_code: str | None
) -> Select[*_Columns]:
    if area_code:
        stmt = stmt.where(code_column.startswith(area_prefix(area_code)))
    return stmt


def _bbox_filter(stmt: Select[*_Columns], geom_column: Any, bbox: str | None) -> Select[*_Columns]:
    if bbox:
        envelope = func.ST_MakeEnvelope(*parse_bbox(bbox), STORAGE_SRID)
        stmt = stmt.where(geom_column.op("&&")(envelope)).where(
            func.ST_Intersects(geom_column, envelope)
        )
    return stmt


def _grid_rows(with_geometry: bool) -> Select[*tuple[Any, ...]]:
    street = aliased(AdminUnit)
    buildings = select(func.count()).where(Building.grid_code == Grid.code).scalar_subquery()
    houses = (
        select(func.count())
        .select_from(House)
        .join(Building)
        .where(Building.grid_code == Grid.code)
        .scalar_subquery()
    )
    area = func.ST_Area(func.ST_Transform(Grid.geom, get_settings().metric_srid))
    geometry = func.ST_AsGeoJSON(Grid.geom, 7, 0) if with_geometry else null()
    return (
        select(Grid, street, area, buildings, houses, geometry)
        .join(AdminUnit, Grid.community_code == AdminUnit.code)
        .outerjoin(street, AdminUnit.parent_code == street.code)
    )


def _grid_read(row: Any) -> GridRead:
    grid, street, area, buildings, houses, geometry = row
    grid_type = GridType(grid.grid_type)
    return GridRead(
        code=grid.code,
        name=grid.name,
        grid_type=grid_type.value,
        grid_type_label=grid_type.label,
        households=grid.households,
        community=AdminRef(code=grid.community.code, name=grid.community.name),
        street=_admin_ref(street),
        area_m2=round(float(area), 1),
        buildings=buildings,
        houses=houses,
        geometry=json.loads(geometry) if geometry else None,
    )


def within_districts(column: Any, districts: Sequence[str] | None) -> ColumnElement[bool]:
    """`column` (a district or grid code) in one of `districts` (district or city prefixes);
    None means every district, an empty list none."""
    if districts is None:
        return true()
    return or_(false(), *(column.startswith(d, autoescape=True) for d in districts))


def list_grids(
    session: Session,
    *,
    area_code: str | None = None,
    districts: Sequence[str] | None = None,
    bbox: str | None = None,
    page: int = 1,
    page_size: int = 100,
    with_geometry: bool = True,
) -> GridPage:
    """Grids inside an admin area (code prefix) and/or intersecting a bbox, by code."""
    _check_page(page, page_size)
    stmt = _bbox_filter(
        _area_filter(_grid_rows(with_geometry), Grid.code, area_code), Grid.geom, bbox
    ).where(within_districts(Grid.district_code, districts))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(Grid.code).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return GridPage(
        total=total, page=page, page_size=page_size, items=[_grid_read(r) for r in rows]
    )


def get_grid(
    session: Session,
    *,
    code: str,
    with_geometry: bool = True,
    districts: Sequence[str] | None = None,
) -> GridRead:
    """One grid by its 15-digit code (in `districts`: another district's reads as missing)."""
    row = session.execute(
        _grid_rows(with_geometry).where(
            Grid.code == code, within_districts(Grid.district_code, districts)
        )
    ).first()
    if row is None:
        raise NotFound(f"grid {code} does not exist; grid codes have 15 digits")
    return _grid_read(row)


def list_buildings(
    session: Session,
    *,
    grid_code: str | None = None,
    area_code: str | None = None,
    bbox: str | None = None,
    page: int = 1,
    page_size: int = 100,
    with_geometry: bool = True,
    districts: Sequence[str] | None = None,
) -> BuildingPage:
    """Buildings of a grid, an admin area and/or a bbox, by code."""
    _check_page(page, page_size)
    stmt = _building_rows(with_geometry).where(within_districts(Building.district_code, districts))
    if grid_code:
        stmt = stmt.where(Building.grid_code == grid_code)
    stmt = _bbox_filter(_area_filter(stmt, Building.grid_code, area_code), Building.geom, bbox)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(Building.code).offset((page - 1) * page_size).limit(page_size)
    ).all()
    items = [_building_read(row) for row in rows]
    return BuildingPage(total=total, page=page, page_size=page_size, items=items)


def _building_rows(with_geometry: bool) -> Select[*tuple[Any, ...]]:
    houses = select(func.count()).where(House.building_id == Building.id).scalar_subquery()
    geometry = func.ST_AsGeoJSON(Building.geom, 7, 0) if with_geometry else null()
    return select(Building, houses, geometry)


def _building_read(row: Any) -> BuildingRead:
    building, houses, geometry = row
    return BuildingRead(
        code=building.code,
        name=building.name,
        address=building.address,
        floors=building.floors,
        use=building.use.value,
        use_label=building.use.label,
        grid_code=building.grid_code,
        houses=houses,
        geometry=json.loads(geometry) if geometry else None,
    )


def get_building(
    session: Session,
    *,
    code: str,
    with_geometry: bool = True,
    districts: Sequence[str] | None = None,
) -> BuildingRead:
    """One building by its code, with its footprint (in `districts`)."""
    row = session.execute(
        _building_rows(with_geometry).where(
            Building.code == code, within_districts(Building.district_code, districts)
        )
    ).first()
    if row is None:
        raise NotFound(f"building {code} does not exist; check the building code")
    return _building_read(row)


def grid_counts(session: Session, *, area_code: str | None = None) -> list[GridCounts]:
    """Buildings and houses per grid inside an admin area, by grid code."""
    building_counts = (
        select(Building.grid_code, func.count().label("n")).group_by(Building.grid_code).subquery()
    )
    house_counts = (
        select(Building.grid_code, func.count().label("n"))
        .select_from(House)
        .join(Building)
        .group_by(Building.grid_code)
        .subquery()
    )
    stmt = (
        select(
            Grid.code,
            Grid.name,
            func.coalesce(building_counts.c.n, 0),
            func.coalesce(house_counts.c.n, 0),
        )
        .outerjoin(building_counts, building_counts.c.grid_code == Grid.code)
        .outerjoin(house_counts, house_counts.c.grid_code == Grid.code)
        .order_by(Grid.code)
    )
    stmt = _area_filter(stmt, Grid.code, area_code)
    return [
        GridCounts(code=c, name=n, buildings=b, houses=h) for c, n, b, h in session.execute(stmt)
    ]


# The same code computed in SQL, for queries that join house and building.
HOUSE_CODE = Building.code + "-" + House.unit + "-" + House.room


def house_code(building_code: str, unit: str, room: str) -> str:
    """A house's code as people write it: building code, unit (单元) and room, '-'-joined."""
    return f"{building_code}-{unit}-{room}"


def find_house(session: Session, *, code: str) -> tuple[House, Building]:
    """The house and its building for a code like `420502001001001B0001-1-0301`."""
    parts = code.strip().rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise InvalidQuery(
            f"house code '{code}' should be building code, unit and room joined by '-', "
            "e.g. 420502001001001B0001-1-0301"
        )
    building_code, unit, room = parts
    rows = session.execute(
        select(House, Building)
        .join(Building, House.building_id == Building.id)
        .where(Building.code == building_code, House.unit == unit, House.room == room)
    ).all()
    if not rows:
        raise NotFound(f"house {code} does not exist; check the building code, unit and room")
    if len(rows) > 1:
        raise InvalidQuery(f"house code {code} matches {len(rows)} houses on different floors")
    return rows[0][0], rows[0][1]


def _house_rows() -> Select[*tuple[Any, ...]]:
    point = func.ST_AsGeoJSON(func.ST_PointOnSurface(Building.geom), 7, 0)
    return select(House, Building.code, Building.name, Building.grid_code, point).join(
        Building, House.building_id == Building.id
    )


def _house_read(row: Any) -> HouseRead:
    house, building_code, building_name, grid_code, point = row
    return HouseRead(
        code=house_code(building_code, house.unit, house.room),
        building_code=building_code,
        building_name=building_name,
        unit=house.unit,
        floor=house.floor,
        room=house.room,
        use=house.use.value,
        use_label=house.use.label,
        area_m2=house.area_m2,
        grid_code=grid_code,
        geometry=json.loads(point) if point else None,
    )


def list_houses(
    session: Session,
    *,
    building_code: str | None = None,
    grid_code: str | None = None,
    bbox: str | None = None,
    page: int = 1,
    page_size: int = 100,
    districts: Sequence[str] | None = None,
) -> HousePage:
    """Houses of a building, a grid and/or the buildings in a bbox, by building, unit, room."""
    _check_page(page, page_size)
    stmt = _house_rows().where(within_districts(Building.district_code, districts))
    if building_code:
        stmt = stmt.where(Building.code == building_code)
    if grid_code:
        stmt = stmt.where(Building.grid_code == grid_code)
    stmt = _bbox_filter(stmt, Building.geom, bbox)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(Building.code, House.unit, House.floor, House.room, House.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    items = [_house_read(row) for row in rows]
    return HousePage(total=total, page=page, page_size=page_size, items=items)


def get_house(session: Session, *, code: str, districts: Sequence[str] | None = None) -> HouseRead:
    """One house by its code (building code-unit-room), placed at its building."""
    house, building = find_house(session, code=code)
    if districts is not None and not any(building.district_code.startswith(d) for d in districts):
        raise NotFound(f"house {code} does not exist; check the building code, unit and room")
    return _house_read(session.execute(_house_rows().where(House.id == house.id)).one())
