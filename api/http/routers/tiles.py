"""Vector tiles (MVT) of buildings, grids and open events for the map pages' VectorGrid layers."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from sqlalchemy.orm import Session

from api.http.auth import ALL_STAFF, allow
from api.http.deps import ReadSessionDep
from api.http.errors import ApiError
from events.directory import districts_seen
from gis import tiles
from grid.service import area_prefix
from people.access import Actor
from people.models import StaffRole

router = APIRouter(prefix="/tiles", tags=["tiles 矢量瓦片"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


def events_scope(actor: Actor) -> tiles.TileScope:
    """The events an actor sees on the map, as for other event reads: an admin all, a grid
    worker their grids', a dispatcher their unit's, others their area's."""
    if actor.role is StaffRole.ADMIN:
        return tiles.TileScope(everything=True)
    if actor.role is StaffRole.GRID_WORKER:
        return tiles.TileScope(grid_codes=actor.grid_codes)
    if actor.role is StaffRole.DISPATCHER:
        return tiles.TileScope(unit_id=actor.department_unit_id)
    if not actor.area_code:
        return tiles.TileScope()
    prefix = area_prefix(actor.area_code)
    # A district (or a city, all its districts) also sees its cases outside every grid.
    return tiles.TileScope(area_prefix=prefix, district_code=prefix if len(prefix) <= 6 else None)


def etag_of(data: bytes) -> str:
    """A strong ETag of the tile's bytes."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    sent = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in sent or etag in sent


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={
        200: {
            "content": {MVT_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "the tile; empty when nothing is in it or the zoom is below the layer's",
        },
        304: {"description": "the tile has not changed since the ETag sent in If-None-Match"},
        400: {"description": "z/x/y is not a tile of the Web Mercator matrix"},
        404: {"description": "no such layer"},
    },
)
def get_tile(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(ALL_STAFF)],
    layer: Annotated[
        str, Path(description="buildings (z14+), parts (z16+), grids (z10+) or events (z12+)")
    ],
    z: Annotated[int, Path(description=f"zoom 0..{tiles.MAX_ZOOM}")],
    x: Annotated[int, Path(description="column, 0..2^z-1 from the west")],
    y: Annotated[int, Path(description="row, 0..2^z-1 from the north (XYZ scheme)")],
) -> Response:
    """One Mapbox Vector Tile (EPSG:3857, XYZ) of a layer; the events layer is the caller's."""
    found = tiles.LAYERS.get(layer)
    if found is None:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            f"there is no tile layer '{layer}'; use one of {', '.join(sorted(tiles.LAYERS))}",
        )
    return tile_response(request, session, actor=actor, layer=found, z=z, x=x, y=y)


def tile_response(
    request: Request,
    session: Session,
    *,
    actor: Actor,
    layer: tiles.TileLayer,
    z: int,
    x: int,
    y: int,
) -> Response:
    """The tile z/x/y (XYZ) of `layer` as the caller sees it, with its ETag (304 when the
    client has it); also serves the OGC API – Tiles routes."""
    found = layer
    if found.scoped and actor.role is StaffRole.LEADER:
        raise ApiError(
            status.HTTP_403_FORBIDDEN,
            f"leaders see events as counts and heat maps, not one by one; the '{layer.name}' layer "
            "is for staff who handle cases (领导账号只看汇总，不看单个事件)",
        )
    scope = events_scope(actor) if found.scoped else None
    districts = districts_seen(session, actor=actor)
    try:
        data = tiles.render_tile(
            session, layer=found, z=z, x=x, y=y, scope=scope, districts=districts
        )
    except tiles.TileError as exc:
        raise ApiError(
            status.HTTP_400_BAD_REQUEST,
            f"tile {z}/{x}/{y} does not exist: {exc}",
            field=exc.field,
        ) from exc
    etag = etag_of(data)
    # Tiles need a sign-in, so only the browser may keep them (private), never a shared
    # cache. A scoped layer differs per account and changes as cases move: always revalidate.
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={found.max_age}"
        if found.max_age
        else "private, no-cache",
    }
    # Every layer is cut to the caller's district(s): the bytes differ per account (signed
    # in by token, session cookie, or a GIS tool's API key on the OGC routes).
    headers["Vary"] = "Authorization, Cookie, X-Api-Key"
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=data, media_type=MVT_MEDIA_TYPE, headers=headers)
