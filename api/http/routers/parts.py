"""City parts (城市部件) as GeoJSON, and the part-type catalogue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.http.auth import ALL_STAFF, allow
from api.http.deps import SessionDep
from api.http.geojson import feature, feature_collection
from api.http.paging import FramePageSize, PageQuery
from events.directory import districts_seen
from grid import parts
from grid.schemas import PartTypeRead
from people.access import Actor

router = APIRouter(prefix="/api", tags=["parts 城市部件"])

# Parts are public facilities, part of the base map: every account reads its own district's
# (or city's); another district's read as missing, as its buildings do.
Staff = Annotated[Actor, allow(ALL_STAFF)]
PartCode = Annotated[str, Path(max_length=40, description="16-digit part code")]


@router.get("/parts")
def list_parts(
    session: SessionDep,
    actor: Staff,
    bbox: Annotated[
        str | None,
        Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat in CGCS2000/WGS84"),
    ] = None,
    type: Annotated[
        str | None,
        Query(
            max_length=40,
            description="a 大类 (2 digits), a type's 4-digit class, GB/T 47678.5 5-digit class "
            "or name (路灯)",
        ),
    ] = None,
    state: Annotated[
        str | None,
        Query(
            max_length=20, description="normal 正常, damaged 损坏, missing 丢失, occupied 占用 …"
        ),
    ] = None,
    owner: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="owner unit id (权属单位)")
    ] = None,
    grid: Annotated[
        str | None, Query(max_length=15, description="15-digit grid code covering the part")
    ] = None,
    page: PageQuery = 1,
    page_size: FramePageSize = 100,
) -> dict[str, Any]:
    """City parts as a GeoJSON FeatureCollection of points, filtered and paged, by code."""
    result = parts.list_parts(
        session,
        bbox=bbox,
        part_type_code=type,
        state=state,
        owner_unit_id=owner,
        grid_code=grid,
        page=page,
        page_size=page_size,
        districts=districts_seen(session, actor=actor),
    )
    return feature_collection(
        result.items, total=result.total, page=result.page, page_size=result.page_size
    )


@router.get("/parts/{code}")
def get_part(session: SessionDep, actor: Staff, code: PartCode) -> dict[str, Any]:
    """One city part as a GeoJSON Feature: type (both code schemes), state, owner unit, grid."""
    districts = districts_seen(session, actor=actor)
    return feature(parts.get_part(session, code=code, districts=districts))


@router.get("/part-types", response_model=list[PartTypeRead])
def list_part_types(actor: Staff) -> list[PartTypeRead]:
    """The part-type catalogue (部件小类): legacy 4-digit and GB/T 47678.5 5-digit classes."""
    return [kind.read() for kind in parts.part_types().values()]
