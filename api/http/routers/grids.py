"""Locate a point; grids and buildings as GeoJSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.households import building_households
from api.http.auth import ALL_STAFF, allow
from api.http.deps import SessionDep
from api.http.geojson import feature, feature_collection
from api.http.paging import FramePageSize, PageQuery
from events.directory import districts_seen
from gis.crs import Crs
from grid import service
from grid.households import HouseholdTable
from grid.schemas import LocateResult
from people.access import READ_PERSONS, Actor

router = APIRouter(prefix="/api", tags=["grids 网格"])

# The base map is per district: staff see their own district's (or city's) grids, buildings
# and houses; another district's read as missing (404), as for its events and residents.
Staff = Annotated[Actor, allow(ALL_STAFF)]

AreaQuery = Annotated[
    str | None,
    Query(description="admin code (district/street/community, 12 digits) or its prefix"),
]
BboxQuery = Annotated[
    str | None, Query(description="min_lon,min_lat,max_lon,max_lat in CGCS2000/WGS84")
]


@router.get("/locate", response_model=LocateResult)
def locate(
    session: SessionDep,
    actor: Staff,
    lon: Annotated[float, Query(description="longitude in `crs`")],
    lat: Annotated[float, Query(description="latitude in `crs`")],
    crs: Annotated[
        Crs, Query(description="cgcs2000/wgs84, gcj02 (Gaode/Tencent), bd09")
    ] = Crs.WGS84,
) -> LocateResult:
    """Grid, community, street, district and nearest building of a point (定位)."""
    return service.locate_point(session, lon=lon, lat=lat, crs=crs)


@router.get("/grids")
def list_grids(
    session: SessionDep,
    actor: Staff,
    area: AreaQuery = None,
    community: AreaQuery = None,
    street: AreaQuery = None,
    bbox: BboxQuery = None,
    page: PageQuery = 1,
    page_size: FramePageSize = 100,
) -> dict[str, Any]:
    """Grids as a GeoJSON FeatureCollection, filtered by admin area and bbox."""
    result = service.list_grids(
        session,
        area_code=community or street or area,
        districts=districts_seen(session, actor=actor),
        bbox=bbox,
        page=page,
        page_size=page_size,
    )
    return feature_collection(
        result.items, total=result.total, page=result.page, page_size=result.page_size
    )


@router.get("/grids/{code}")
def get_grid(session: SessionDep, actor: Staff, code: str) -> dict[str, Any]:
    """One grid as a GeoJSON Feature with its counts."""
    districts = districts_seen(session, actor=actor)
    return feature(service.get_grid(session, code=code, districts=districts))


@router.get("/buildings")
def list_buildings(
    session: SessionDep,
    actor: Staff,
    grid: Annotated[str | None, Query(description="15-digit grid code")] = None,
    area: AreaQuery = None,
    bbox: BboxQuery = None,
    page: PageQuery = 1,
    page_size: FramePageSize = 100,
) -> dict[str, Any]:
    """Buildings as a GeoJSON FeatureCollection, by grid, admin area and bbox."""
    result = service.list_buildings(
        session,
        grid_code=grid,
        area_code=area,
        bbox=bbox,
        page=page,
        page_size=page_size,
        districts=districts_seen(session, actor=actor),
    )
    return feature_collection(
        result.items, total=result.total, page=result.page, page_size=result.page_size
    )


@router.get("/buildings/{code}")
def get_building(session: SessionDep, actor: Staff, code: str) -> dict[str, Any]:
    """One building as a GeoJSON Feature with its footprint and house count."""
    districts = districts_seen(session, actor=actor)
    return feature(service.get_building(session, code=code, districts=districts))


@router.get("/buildings/{code}/households", response_model=HouseholdTable)
def get_building_households(
    session: SessionDep, actor: Annotated[Actor, allow(READ_PERSONS)], code: str
) -> HouseholdTable:
    """The 楼盘表: the building's rooms as floors × units, each room's use, residents, special
    groups; the building's organisations and open events (the residents routes' scope)."""
    return building_households(session, actor=actor, code=code, now=datetime.now(UTC))


@router.get("/houses")
def list_houses(
    session: SessionDep,
    actor: Staff,
    building: Annotated[str | None, Query(description="building code")] = None,
    grid: Annotated[str | None, Query(description="15-digit grid code")] = None,
    bbox: BboxQuery = None,
    page: PageQuery = 1,
    page_size: FramePageSize = 100,
) -> dict[str, Any]:
    """Houses as a GeoJSON FeatureCollection of points inside their buildings."""
    result = service.list_houses(
        session,
        building_code=building,
        grid_code=grid,
        bbox=bbox,
        page=page,
        page_size=page_size,
        districts=districts_seen(session, actor=actor),
    )
    return feature_collection(
        result.items, total=result.total, page=result.page, page_size=result.page_size
    )


@router.get("/houses/{code}")
def get_house(session: SessionDep, actor: Staff, code: str) -> dict[str, Any]:
    """One house by its code (building code-unit-room) as a GeoJSON Feature."""
    districts = districts_seen(session, actor=actor)
    return feature(service.get_house(session, code=code, districts=districts))
