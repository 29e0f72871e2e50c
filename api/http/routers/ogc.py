"""OGC API – Features and Tiles under /ogc, for QGIS, ArcGIS Pro, GDAL and pygeoapi clients.

A thin adapter over gis.ogc and gis.ogc_docs: who calls, in which format, and OgcError → status.
Callers sign in as everywhere else (bearer token, page session) or with an integration's API
key in the X-Api-Key header or the `api_key`/`key` query parameter (QGIS's OGC API provider
cannot easily add headers); either way they see only their own area.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from api.http.auth import ALL_STAFF, Gate, actor_of
from api.http.deps import SessionDep
from api.http.errors import ApiError
from api.http.ogc_html import render
from api.http.routers.tiles import events_scope, tile_response
from events.directory import districts_seen
from gis import ogc
from gis import ogc_docs as docs
from people.access import Actor, load_actor
from people.exceptions import NotFound as AccountNotFound
from people.integrations import InvalidKey, check_key

router = APIRouter(prefix="/ogc", tags=["ogc OGC API – Features and Tiles"])

KEY_HEADER = "X-Api-Key"
KEY_PARAMETERS = ("api_key", "key")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gridgov"'}


def _refuse(message: str) -> ApiError:
    return ApiError(status.HTTP_401_UNAUTHORIZED, message, headers=CHALLENGE)


class OgcGate(Gate):
    """Signed-in staff (token or page session) or an integration's API key (header or query)."""

    def __call__(self, request: Request, session: SessionDep) -> Actor:
        actor = actor_of(request, session)
        if actor is not None:
            return actor
        key = request.headers.get(KEY_HEADER) or next(
            (request.query_params[p] for p in KEY_PARAMETERS if request.query_params.get(p)),
            None,
        )
        if not key:
            raise _refuse(
                "请先登录: sign in first: send 'Authorization: Bearer <token>', or an API key in "
                f"the {KEY_HEADER} header or the api_key query parameter "
                "(keys: gridgov integration issue)"
            )
        try:
            return load_actor(session, staff_id=check_key(session, key=key).staff_id)
        except (InvalidKey, AccountNotFound) as exc:
            raise _refuse(f"API key 无效: {exc}") from exc

    def __repr__(self) -> str:
        return "OgcGate()"


Caller = Annotated[Actor, Depends(OgcGate(ALL_STAFF))]


@contextmanager
def _answering() -> Iterator[None]:
    """OgcError → the error shape with its status and sentence."""
    try:
        yield
    except ogc.OgcError as exc:
        raise ApiError(exc.status, str(exc), field=exc.field) from exc


def _urls(request: Request) -> docs.Urls:
    keep = {p: request.query_params[p] for p in KEY_PARAMETERS if request.query_params.get(p)}
    return docs.Urls(str(request.base_url).rstrip("/") + router.prefix, keep)


def _scope(session: SessionDep, actor: Actor) -> ogc.Scope:
    return ogc.Scope(districts=districts_seen(session, actor=actor), events=events_scope(actor))


def _wants_html(request: Request, allowed: tuple[str, ...] = ("json",)) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        if f == "html":
            return True
        if f not in allowed:
            raise ApiError(
                status.HTTP_400_BAD_REQUEST,
                f"f 参数错误: f '{f}' is not a format of this resource; use "
                f"{' or '.join((*allowed, 'html'))}",
                field="f",
            )
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _answer(
    request: Request,
    title: str,
    doc: dict[str, Any],
    media_type: str = docs.JSON,
    headers: dict[str, str] | None = None,
    formats: tuple[str, ...] = ("json",),
) -> Response:
    if _wants_html(request, formats):
        return HTMLResponse(render(title, doc), headers=headers)
    return JSONResponse(doc, media_type=media_type, headers=headers)


@router.get("", response_class=Response)
def landing(request: Request, actor: Caller) -> Response:
    """The landing page (入口): links to the conformance classes, collections and tiles."""
    doc = docs.landing(
        _urls(request), str(request.base_url).rstrip("/") + (request.app.openapi_url or "")
    )
    return _answer(request, doc["title"], doc)


@router.get("/conformance", response_class=Response)
def conformance(request: Request, actor: Caller) -> Response:
    """The conformance classes gridgov implements."""
    return _answer(request, "一致性 Conformance", docs.conformance())


@router.get("/collections", response_class=Response)
def collections(request: Request, session: SessionDep, actor: Caller) -> Response:
    """Every collection, with the extent of the caller's area."""
    extent = ogc.scope_extent(session, scope=_scope(session, actor))
    return _answer(request, "图层 Collections", docs.collections_doc(_urls(request), extent))


CollectionId = Annotated[str, Path(description="a collection id, e.g. grids, buildings")]


# The items parameters, declared for the API definition; gis.ogc reads and checks them (a 400
# with a sentence), so they are text here.
BboxQuery = Annotated[
    str | None, Query(description="minLon,minLat,maxLon,maxLat (CRS84; EPSG:4490 lat first)")
]
BboxCrsQuery = Annotated[str | None, Query(alias="bbox-crs", description="the bbox's CRS")]
CrsQuery = Annotated[
    str | None, Query(description="CRS84 (default) or http://www.opengis.net/def/crs/EPSG/0/4490")
]
DatetimeQuery = Annotated[
    str | None, Query(description="an RFC 3339 instant or date, or an interval a/b ('..' open)")
]
LimitQuery = Annotated[
    str | None,
    Query(description=f"features per page, default {ogc.DEFAULT_LIMIT}, max {ogc.MAX_LIMIT}"),
]
OffsetQuery = Annotated[str | None, Query(description="features to skip, from 0")]
FormatQuery = Annotated[str | None, Query(description="json (GeoJSON) or html")]


@router.get("/collections/{collection_id}", response_class=Response)
def collection(
    request: Request, session: SessionDep, actor: Caller, collection_id: CollectionId
) -> Response:
    """One collection: extent, CRS, links to its items, queryables and tiles."""
    with _answering():
        found = ogc.collection(collection_id)
    extent = ogc.scope_extent(session, scope=_scope(session, actor))
    return _answer(request, found.title, docs.collection_doc(_urls(request), found, extent))


@router.get("/collections/{collection_id}/queryables", response_class=Response)
def queryables(request: Request, actor: Caller, collection_id: CollectionId) -> Response:
    """The properties the items may be filtered on with `name=value`."""
    with _answering():
        found = ogc.collection(collection_id)
    doc = docs.queryables_doc(_urls(request), found)
    return _answer(request, f"{found.title} 可筛选属性", doc, "application/schema+json")


def _content_crs(crs: str) -> dict[str, str]:
    return {"Content-Crs": f"<{crs}>"}


@router.get(
    "/collections/{collection_id}/items",
    response_class=Response,
    responses={200: {"content": {ogc.GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}},
)
def items(
    request: Request,
    session: SessionDep,
    actor: Caller,
    collection_id: CollectionId,
    bbox: BboxQuery = None,
    bbox_crs: BboxCrsQuery = None,
    crs: CrsQuery = None,
    datetime: DatetimeQuery = None,
    limit: LimitQuery = None,
    offset: OffsetQuery = None,
    f: FormatQuery = None,
) -> Response:
    """Features of a collection in the caller's area: bbox (+bbox-crs), datetime, crs, limit
    (default 100, at most 1000) and offset, and `property=value` for each queryable."""
    params = dict(request.query_params)
    with _answering():
        found = ogc.collection(collection_id)
        query = ogc.parse_items_query(found, params)
        page = ogc.read_items(session, found=found, scope=_scope(session, actor), query=query)
    doc = docs.items_doc(_urls(request), found, query, page, params)
    return _answer(
        request, found.title, doc, ogc.GEOJSON, _content_crs(query.crs), ("json", "geojson")
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=Response,
    responses={200: {"content": {ogc.GEOJSON: {}}, "description": "a GeoJSON Feature"}},
)
def item(
    request: Request,
    session: SessionDep,
    actor: Caller,
    collection_id: CollectionId,
    feature_id: str,
    crs: CrsQuery = None,
    f: FormatQuery = None,
) -> Response:
    """One feature of a collection (404 when it is missing or outside the caller's area)."""
    with _answering():
        found = ogc.collection(collection_id)
        crs = ogc.parse_crs(request.query_params.get("crs"))
        feature = ogc.read_item(
            session, found=found, scope=_scope(session, actor), feature_id=feature_id, crs=crs
        )
    doc = docs.item_doc(_urls(request), found, feature)
    return _answer(request, found.title, doc, ogc.GEOJSON, _content_crs(crs), ("json", "geojson"))


# -- tiles --------------------------------------------------------------------------------------


@router.get("/tileMatrixSets", response_class=Response)
def tile_matrix_sets(request: Request, actor: Caller) -> Response:
    """The tile matrix sets served: WebMercatorQuad."""
    return _answer(
        request, "瓦片矩阵集 Tile matrix sets", docs.tile_matrix_sets_doc(_urls(request))
    )


@router.get("/tileMatrixSets/{tms}", response_class=Response)
def tile_matrix_set(request: Request, actor: Caller, tms: str) -> Response:
    """The WebMercatorQuad tile matrix set definition (OGC TMS 2.0)."""
    _only_web_mercator(tms)
    return _answer(request, docs.TMS, docs.web_mercator_quad())


def _only_web_mercator(tms: str) -> None:
    if tms != docs.TMS:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            f"没有这个瓦片矩阵集: tile matrix set '{tms}' is not served; use {docs.TMS}",
        )


@router.get("/collections/{collection_id}/tiles", response_class=Response)
def tilesets(request: Request, actor: Caller, collection_id: CollectionId) -> Response:
    """The vector tilesets of a collection."""
    with _answering():
        found = ogc.collection(collection_id)
        doc = docs.tilesets_doc(_urls(request), found)
    return _answer(request, f"{found.title} 矢量瓦片", doc)


@router.get("/collections/{collection_id}/tiles/{tms}", response_class=Response)
def tileset(
    request: Request, session: SessionDep, actor: Caller, collection_id: CollectionId, tms: str
) -> Response:
    """A tileset's metadata (OGC API – Tiles), or TileJSON 3.0.0 with `f=tilejson`."""
    _only_web_mercator(tms)
    extent = ogc.scope_extent(session, scope=_scope(session, actor))
    with _answering():
        found = ogc.collection(collection_id)
        if request.query_params.get("f") == "tilejson":
            return JSONResponse(docs.tilejson_doc(_urls(request), found, extent))
        doc = docs.tileset_doc(_urls(request), found, extent)
    return _answer(request, f"{found.title} {docs.TMS}", doc, formats=("json", "tilejson"))


@router.get(
    "/collections/{collection_id}/tiles/{tms}/{tile_matrix}/{tile_row}/{tile_col}",
    response_class=Response,
    responses={200: {"content": {docs.MVT: {}}, "description": "a Mapbox Vector Tile"}},
)
def tile(
    request: Request,
    session: SessionDep,
    actor: Caller,
    collection_id: CollectionId,
    tms: str,
    tile_matrix: Annotated[int, Path(description="zoom 0..22")],
    tile_row: Annotated[int, Path(description="row from the north, 0..2^zoom-1")],
    tile_col: Annotated[int, Path(description="column from the west, 0..2^zoom-1")],
) -> Response:
    """One tile (the same tiles as /tiles/{layer}/{z}/{x}/{y}.mvt, in OGC row/column order)."""
    _only_web_mercator(tms)
    with _answering():
        layer = docs.tile_layer(ogc.collection(collection_id))
    return tile_response(
        request, session, actor=actor, layer=layer, z=tile_matrix, x=tile_col, y=tile_row
    )
