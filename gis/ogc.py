"""OGC API – Features collections of the spatial frame and of event counts, with no web framework.

As in pygeoapi the HTTP layer is a thin adapter: it resolves who calls (`Scope`), parses
nothing, and turns `OgcError` into a status code. Every collection is a declaration: a select
whose columns are `id`, the properties, `geom` and, for temporal collections, `t_start`/`t_end`.
The filters (bbox, datetime, properties) are GeoAlchemy2/SQLAlchemy expressions with bound
parameters; no user input is ever pasted into SQL.

Coordinates: geometry is stored in CGCS2000 (EPSG:4490) lon/lat. CRS84 output is that as
lon/lat (CGCS2000 and WGS84 differ by centimetres, see DESIGN.md); EPSG:4490 output and
bbox-crs follow the EPSG axis order, latitude first (OGC API – Features Part 2).

`gis` sits below the domain packages, so the tables are `sqlalchemy.table()` clauses as in
`gis.tiles`. Every collection shows places and counts only, never personal data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.orm import Session

from gis.clock import CHINA_TZ
from gis.crs import STORAGE_SRID
from gis.tiles import TileScope

CRS84: Final = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000: Final = f"http://www.opengis.net/def/crs/EPSG/0/{STORAGE_SRID}"
SUPPORTED_CRS: Final = (CRS84, CGCS2000)
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
MAX_OFFSET: Final = 10_000_000
GEOJSON: Final = "application/geo+json"
# Query parameters every items request may carry besides the queryables.
ITEMS_PARAMETERS: Final = frozenset(
    {"bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "f", "api_key", "key"}
)


class OgcError(ValueError):
    """A request the OGC API answers with `status` and a sentence saying what was wrong."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Scope:
    """What a caller sees: the base map of `districts` (None: all) and events of `events`."""

    districts: tuple[str, ...] | None
    events: TileScope


@dataclass(frozen=True)
class Queryable:
    """A property a caller may filter on with `name=value`: its JSON type and title."""

    name: str
    type: str  # "string" or "integer"
    title: str


@dataclass(frozen=True)
class Collection:
    """A feature collection: its rows (a select of id, properties, geom[, t_start, t_end])."""

    id: str
    title: str
    description: str
    source: Callable[[Scope], Select[Any]]
    properties: tuple[str, ...]
    queryables: tuple[Queryable, ...]
    temporal: str | None = None  # the property the datetime parameter filters on
    tile_layer: str | None = None  # the gis.tiles layer of the same rows


def _within(code: ColumnElement[Any], districts: tuple[str, ...] | None) -> ColumnElement[bool]:
    if districts is None:
        return true()
    return or_(literal(False), *(code.startswith(d, autoescape=True) for d in districts))


_admin = table(
    "admin_unit",
    column("code", String),
    column("name", String),
    column("level"),
    column("parent_code", String),
    column("district_code", String),
    column("geom"),
)
_grid = table(
    "grid",
    column("code", String),
    column("name", String),
    column("community_code", String),
    column("grid_type"),
    column("households", Integer),
    column("district_code", String),
    column("geom"),
)
_building = table(
    "building",
    column("code", String),
    column("name", String),
    column("address", String),
    column("floors", Integer),
    column("use"),
    column("grid_code", String),
    column("district_code", String),
    column("geom"),
)
_part = table(
    "city_part",
    column("code", String),
    column("type_code", String),
    column("name", String),
    column("state"),
    column("district_code", String),
    column("updated_at", DateTime(timezone=True)),
    column("geom"),
)
# Only the columns the counts need: no reporter, caller, contact, description or photo.
_event = table(
    "event",
    column("category_id", Integer),
    column("status"),
    column("grid_code", String),
    column("district_code", String),
    column("unit_id", Integer),
    column("reported_at", DateTime(timezone=True)),
)
_category = table(
    "event_category",
    column("id", Integer),
    column("major_code", String),
    column("major_name", String),
)


def _text(value: Any) -> ColumnElement[str]:
    # Enum columns read and compare as text, so an unknown value filters to nothing, not an error.
    return cast(value, String)


def _admin_source(level: str) -> Callable[[Scope], Select[Any]]:
    def source(scope: Scope) -> Select[Any]:
        a = _admin.c
        return select(
            a.code.label("id"),
            a.code,
            a.name,
            _text(a.level).label("level"),
            a.parent_code,
            a.geom,
        ).where(_text(a.level) == level, _within(a.district_code, scope.districts))

    return source


def _grids(scope: Scope) -> Select[Any]:
    g = _grid.c
    return select(
        g.code.label("id"),
        g.code,
        g.name,
        g.community_code,
        _text(g.grid_type).label("grid_type"),
        g.households,
        g.geom,
    ).where(_within(g.district_code, scope.districts))


def _buildings(scope: Scope) -> Select[Any]:
    b = _building.c
    return select(
        b.code.label("id"),
        b.code,
        b.name,
        b.address,
        b.floors,
        _text(b.use).label("use"),
        b.grid_code,
        b.geom,
    ).where(_within(b.district_code, scope.districts))


def _parts(scope: Scope) -> Select[Any]:
    p = _part.c
    return select(
        p.code.label("id"),
        p.code,
        p.type_code,
        p.name,
        _text(p.state).label("state"),
        p.updated_at,
        p.updated_at.label("t_start"),
        p.updated_at.label("t_end"),
        p.geom,
    ).where(_within(p.district_code, scope.districts))


def _event_counts(scope: Scope) -> Select[Any]:
    """Events reported per grid, major category (大类) and calendar month (China time), voided
    ones left out; each row carries its grid's polygon."""
    e, c = _event.c, _category.c
    month = func.date_trunc("month", func.timezone(str(CHINA_TZ), e.reported_at))
    counts = (
        select(
            e.grid_code,
            c.major_code,
            func.max(c.major_name).label("major_name"),
            month.label("month"),
            func.count().label("events"),
        )
        .join(_category, c.id == e.category_id)
        .where(
            e.grid_code.is_not(None),
            _text(e.status) != "voided",
            scope.events.clause(_event),
            _within(e.district_code, scope.districts),
        )
        .group_by(e.grid_code, c.major_code, month)
        .subquery("counts")
    )
    k, g = counts.c, _grid.c
    period = func.to_char(k.month, "YYYY-MM")
    start = func.timezone(str(CHINA_TZ), k.month)
    end = func.timezone(str(CHINA_TZ), k.month + func.make_interval(0, 1))
    return select(
        (k.grid_code + "-" + k.major_code + "-" + period).label("id"),
        k.grid_code,
        g.name.label("grid_name"),
        k.major_code.label("category_code"),
        k.major_name.label("category_name"),
        period.label("period"),
        start.label("period_start"),
        end.label("period_end"),
        k.events,
        start.label("t_start"),
        end.label("t_end"),
        g.geom,
    ).join(_grid, and_(g.code == k.grid_code, g.district_code == func.substr(k.grid_code, 1, 6)))


def _q(name: str, title: str, type_: str = "string") -> Queryable:
    return Queryable(name, type_, title)


COLLECTIONS: Final[dict[str, Collection]] = {
    c.id: c
    for c in (
        *(
            Collection(
                id=f"{level}s" if level != "community" else "communities",
                title=f"{label} {level}s" if level != "community" else f"{label} communities",
                description=f"{label}边界 (admin_unit, level {level}): 12-digit code and name",
                source=_admin_source(level),
                properties=("code", "name", "level", "parent_code"),
                queryables=(_q("code", "区划代码 code"), _q("parent_code", "上级代码 parent code")),
            )
            for level, label in (("district", "区县"), ("street", "街道"), ("community", "社区"))
        ),
        Collection(
            id="grids",
            title="网格 grids",
            description="网格 grids: 15-digit code, name, community, type and households",
            source=_grids,
            properties=("code", "name", "community_code", "grid_type", "households"),
            queryables=(
                _q("code", "网格编码 grid code"),
                _q("community_code", "社区代码 community code"),
                _q("grid_type", "网格类型 basic/dedicated"),
            ),
            tile_layer="grids",
        ),
        Collection(
            id="buildings",
            title="建筑 buildings",
            description="建筑 building footprints: code, name, address, floors, use and grid",
            source=_buildings,
            properties=("code", "name", "address", "floors", "use", "grid_code"),
            queryables=(
                _q("code", "建筑编码 building code"),
                _q("grid_code", "网格编码 grid code"),
                _q("use", "用途 use (residential, commercial …)"),
                _q("floors", "层数 floors", "integer"),
            ),
            tile_layer="buildings",
        ),
        Collection(
            id="city_parts",
            title="城市部件 city parts",
            description="城市部件 city parts (GB/T 30428.2): code, type, name, state, updated",
            source=_parts,
            properties=("code", "type_code", "name", "state", "updated_at"),
            queryables=(
                _q("code", "部件编码 part code"),
                _q("type_code", "部件类型 4-digit type"),
                _q("state", "状态 state (normal, damaged …)"),
            ),
            temporal="updated_at",
            tile_layer="parts",
        ),
        Collection(
            id="event_counts",
            title="事件数量 event counts",
            description="事件数量: events reported per grid, 大类 and month (China time), "
            "voided ones left out; counts only, no event, reporter or caller",
            source=_event_counts,
            properties=(
                "grid_code",
                "grid_name",
                "category_code",
                "category_name",
                "period",
                "period_start",
                "period_end",
                "events",
            ),
            queryables=(
                _q("grid_code", "网格编码 grid code"),
                _q("category_code", "事件大类 major category code"),
                _q("period", "月份 month, YYYY-MM"),
            ),
            temporal="period_start",
        ),
    )
}


def collection(collection_id: str) -> Collection:
    """The collection `collection_id`; OgcError 404 naming the ones there are."""
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise OgcError(
            f"没有这个图层: there is no collection '{collection_id}'; "
            f"use one of {', '.join(COLLECTIONS)}",
            status=404,
        )
    return found


# -- parameters ---------------------------------------------------------------------------------


def parse_crs(value: str | None, *, name: str = "crs") -> str:
    """A supported CRS URI (CRS84 when absent); OgcError 400 for any other."""
    if value is None or value.strip() == "":
        return CRS84
    crs = value.strip().removeprefix("[").removesuffix("]")
    if crs in ("EPSG:4490", "OGC:CRS84"):  # the safe-CURIE forms (Part 2 allows them)
        crs = CGCS2000 if crs == "EPSG:4490" else CRS84
    if crs not in SUPPORTED_CRS:
        raise OgcError(
            f"不支持的坐标系: {name} '{value}' is not supported; use {CRS84} (lon/lat, the "
            f"default) or {CGCS2000} (CGCS2000, lat/lon)",
            field=name,
        )
    return crs


@dataclass(frozen=True)
class Box:
    """A lon/lat box in storage degrees; west > east crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float


def parse_bbox(value: str, crs: str = CRS84) -> Box:
    """`bbox` of 4 (or 6, heights ignored) numbers in `crs` axis order: CRS84 lon,lat first,
    EPSG:4490 lat,lon first; OgcError 400 saying what is wrong."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (4, 6):
        raise OgcError(
            f"bbox 参数错误: bbox '{value}' needs 4 numbers (minLon,minLat,maxLon,maxLat in "
            f"CRS84; minLat,minLon,maxLat,maxLon in EPSG:4490), or 6 with heights",
            field="bbox",
        )
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise OgcError(
            f"bbox 参数错误: bbox '{value}' has a value that is not a number", field="bbox"
        ) from None
    if not all(math.isfinite(n) for n in numbers):
        raise OgcError(
            f"bbox 参数错误: bbox '{value}' has a value that is not finite", field="bbox"
        )
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if crs == CGCS2000:
        south, west, north, east = numbers
    else:
        west, south, east, north = numbers
    for label, lon in (("longitude", west), ("longitude", east)):
        if not -180 <= lon <= 180:
            raise OgcError(
                f"bbox 参数错误: {label} {lon:g} is outside -180..180"
                + ("; EPSG:4490 boxes give latitude first" if crs == CGCS2000 else ""),
                field="bbox",
            )
    for label, lat in (("latitude", south), ("latitude", north)):
        if not -90 <= lat <= 90:
            raise OgcError(
                f"bbox 参数错误: {label} {lat:g} is outside -90..90; did you swap lat and lon?",
                field="bbox",
            )
    if south > north:
        raise OgcError(
            f"bbox 参数错误: bbox '{value}' has its south edge above its north edge",
            field="bbox",
        )
    return Box(west, south, east, north)


@dataclass(frozen=True)
class Period:
    """A closed time interval; None ends are open ('..')."""

    start: datetime | None
    end: datetime | None


def _moment(text: str, *, end: bool) -> datetime:
    """An RFC 3339 time with its zone, or a date: its first (or, at an end, last) moment in
    China time (a date carries no zone; the city's day is meant)."""
    if "T" not in text.upper() and len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise OgcError(
                f"datetime 参数错误: '{text}' is not a date (YYYY-MM-DD)", field="datetime"
            ) from None
        first = datetime.combine(day, time(), CHINA_TZ)
        return datetime.combine(day, time.max, CHINA_TZ) if end else first
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise OgcError(
            f"datetime 参数错误: '{text}' is not an RFC 3339 time, e.g. 2026-11-01T08:00:00+08:00",
            field="datetime",
        ) from None
    if moment.tzinfo is None:
        raise OgcError(
            f"datetime 参数错误: '{text}' has no time zone; add Z or an offset such as +08:00",
            field="datetime",
        )
    return moment


def parse_datetime(value: str) -> Period:
    """An instant ('t'), or an interval 'a/b' with '..' (or nothing) for an open end."""
    text = value.strip()
    if "/" not in text:
        moment_start = _moment(text, end=False)
        moment_end = _moment(text, end=True)
        return Period(moment_start, moment_end)
    first, _, last = text.partition("/")
    start = None if first.strip() in ("", "..") else _moment(first.strip(), end=False)
    end = None if last.strip() in ("", "..") else _moment(last.strip(), end=True)
    if start is None and end is None:
        raise OgcError(
            f"datetime 参数错误: '{value}' is open at both ends; give at least one time",
            field="datetime",
        )
    if start is not None and end is not None and start > end:
        raise OgcError(f"datetime 参数错误: '{value}' starts after it ends", field="datetime")
    return Period(start, end)


def _int(value: str, name: str, minimum: int, maximum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise OgcError(
            f"{name} 参数错误: {name} '{value}' is not a whole number", field=name
        ) from None
    if not minimum <= number <= maximum:
        raise OgcError(
            f"{name} 参数错误: {name} {number} is outside {minimum}..{maximum}", field=name
        )
    return number


@dataclass(frozen=True)
class ItemsQuery:
    """The parsed parameters of an items request."""

    bbox: Box | None = None
    period: Period | None = None
    crs: str = CRS84
    limit: int = DEFAULT_LIMIT
    requested_limit: int = DEFAULT_LIMIT
    offset: int = 0
    filters: tuple[tuple[str, str | int], ...] = ()


def parse_items_query(found: Collection, params: Mapping[str, str]) -> ItemsQuery:
    """The items parameters of `found` from the query string; OgcError 400 for an unknown
    parameter or a bad value (OGC API – Features: 400 for invalid parameters)."""
    queryables = {q.name: q for q in found.queryables}
    unknown = sorted(set(params) - ITEMS_PARAMETERS - set(queryables))
    if unknown:
        raise OgcError(
            f"未知参数: {', '.join(unknown)} is not a parameter of {found.id}; filter on "
            f"{', '.join(queryables) or 'nothing'} (see /collections/{found.id}/queryables) "
            "or use bbox, bbox-crs, crs, datetime, limit, offset",
            field=unknown[0],
        )
    crs = parse_crs(params.get("crs"))
    bbox_crs = parse_crs(params.get("bbox-crs"), name="bbox-crs")
    if "bbox-crs" in params and "bbox" not in params:
        raise OgcError("bbox-crs 参数错误: bbox-crs was given without a bbox", field="bbox-crs")
    requested = _int(params.get("limit", str(DEFAULT_LIMIT)), "limit", 1, 10**9)
    filters: list[tuple[str, str | int]] = []
    for name, queryable in queryables.items():
        if name in params:
            value = params[name]
            typed: str | int = (
                _int(value, name, -(2**31), 2**31 - 1) if queryable.type == "integer" else value
            )
            filters.append((name, typed))
    return ItemsQuery(
        bbox=parse_bbox(params["bbox"], bbox_crs) if "bbox" in params else None,
        period=parse_datetime(params["datetime"]) if "datetime" in params else None,
        crs=crs,
        limit=min(requested, MAX_LIMIT),
        requested_limit=requested,
        offset=_int(params.get("offset", "0"), "offset", 0, MAX_OFFSET),
        filters=tuple(filters),
    )


# -- queries ------------------------------------------------------------------------------------


def _envelope(west: float, south: float, east: float, north: float) -> ColumnElement[Any]:
    return func.ST_MakeEnvelope(west, south, east, north, STORAGE_SRID)


def _box_clause(geom: ColumnElement[Any], box: Box) -> ColumnElement[bool]:
    if box.west <= box.east:
        boxes = [_envelope(box.west, box.south, box.east, box.north)]
    else:  # across the antimeridian: the part east of west, and the part west of east
        boxes = [
            _envelope(box.west, box.south, 180, box.north),
            _envelope(-180, box.south, box.east, box.north),
        ]
    return or_(*(and_(geom.op("&&")(b), func.ST_Intersects(geom, b)) for b in boxes))


def _filtered(found: Collection, scope: Scope, query: ItemsQuery) -> Any:
    rows = found.source(scope).subquery("rows")
    clauses: list[ColumnElement[bool]] = []
    if query.bbox is not None:
        clauses.append(_box_clause(rows.c.geom, query.bbox))
    if query.period is not None and found.temporal is not None:
        # A feature matches when its time (or period) meets the requested one.
        if query.period.end is not None:
            clauses.append(rows.c.t_start <= query.period.end)
        if query.period.start is not None:
            later = rows.c.t_end > query.period.start
            if found.temporal == "updated_at":  # an instant: its own end counts
                later = rows.c.t_end >= query.period.start
            clauses.append(later)
    for name, value in query.filters:
        clauses.append(rows.c[name] == value)
    return rows, clauses


def _geometry_json(geom: ColumnElement[Any], crs: str) -> ColumnElement[Any]:
    # EPSG:4490 is latitude first (EPSG axis order); CRS84 and storage are longitude first.
    shown = func.ST_FlipCoordinates(geom) if crs == CGCS2000 else geom
    return func.ST_AsGeoJSON(shown, 7, 0)


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _feature(found: Collection, row: Any) -> dict[str, Any]:
    mapping = row._mapping
    geometry = mapping["geometry"]
    return {
        "type": "Feature",
        "id": mapping["id"],
        "geometry": json.loads(geometry) if geometry else None,
        "properties": {name: _value(mapping[name]) for name in found.properties},
    }


@dataclass(frozen=True)
class ItemsPage:
    """One page of features and how many features the query matched."""

    features: list[dict[str, Any]]
    matched: int


def read_items(
    session: Session, *, found: Collection, scope: Scope, query: ItemsQuery
) -> ItemsPage:
    """The features of `found` the caller sees and the query selects, by id, one page."""
    rows, clauses = _filtered(found, scope, query)
    matched = session.scalar(select(func.count()).select_from(rows).where(*clauses)) or 0
    statement = (
        select(
            rows.c.id,
            *(rows.c[name] for name in found.properties),
            _geometry_json(rows.c.geom, query.crs).label("geometry"),
        )
        .where(*clauses)
        .order_by(rows.c.id)
        .offset(query.offset)
        .limit(query.limit)
    )
    features = [_feature(found, row) for row in session.execute(statement)]
    return ItemsPage(features=features, matched=int(matched))


def read_item(
    session: Session, *, found: Collection, scope: Scope, feature_id: str, crs: str = CRS84
) -> dict[str, Any]:
    """One feature by id; OgcError 404 when it does not exist or lies outside the scope (alike)."""
    rows = found.source(scope).subquery("rows")
    row = session.execute(
        select(
            rows.c.id,
            *(rows.c[name] for name in found.properties),
            _geometry_json(rows.c.geom, crs).label("geometry"),
        ).where(rows.c.id == feature_id)
    ).first()
    if row is None:
        raise OgcError(
            f"没有这个要素: feature '{feature_id}' is not in {found.id}, or is outside your area",
            status=404,
        )
    return _feature(found, row)


def scope_extent(session: Session, *, scope: Scope) -> list[float] | None:
    """West, south, east, north (CRS84) of the districts the caller sees, from their outlines;
    None when none has one."""
    a = _admin.c
    box = session.execute(
        select(
            func.ST_XMin(func.ST_Extent(a.geom)),
            func.ST_YMin(func.ST_Extent(a.geom)),
            func.ST_XMax(func.ST_Extent(a.geom)),
            func.ST_YMax(func.ST_Extent(a.geom)),
        ).where(_text(a.level) == "district", _within(a.district_code, scope.districts))
    ).first()
    if box is None or box[0] is None:
        return None
    return [round(float(v), 7) for v in box]
