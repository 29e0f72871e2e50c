"""Vector tiles (Mapbox Vector Tile, MVT) of buildings, city parts, open events and grids, built
by PostGIS.

Tiles are addressed z/x/y in the XYZ scheme of Web Mercator (EPSG:3857) that Leaflet and
VectorGrid use: x grows east, y grows south, both from 0 to 2**z - 1. Geometry is stored in
CGCS2000 (EPSG:4490, degrees), so, as in tipg, the query transforms the tile envelope (grown
by the buffer) to 4490 for the `&&` filter on the GiST index, and each row's geometry to 3857
for `ST_AsMVTGeom`, which clips it to the tile and quantises it to `EXTENT` units.

Each layer is a small declaration: its table, the properties it shows (never personal data),
the zoom it starts at and the rows it keeps. `gis` sits below the domain packages, so the
tables are named here with lightweight `sqlalchemy.table()` clauses, not the domain models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    TableClause,
    and_,
    bindparam,
    column,
    false,
    func,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.orm import Session

from gis.crs import STORAGE_SRID

WEB_MERCATOR = 3857
MAX_ZOOM = 22
EXTENT = 4096  # tile coordinates run 0..EXTENT, y downwards
BUFFER = 64  # tile units drawn beyond each edge, so strokes join across tiles
MAX_FEATURES = 20_000  # per tile; rows past it (by key) are left out
# Half the width of the Web Mercator square, in metres (the bounds ST_TileEnvelope defaults to).
MERCATOR_HALF = 20037508.342789244


class TileError(ValueError):
    """A tile address outside the tile matrix; the message says what is allowed."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TileScope:
    """Which rows of a scoped layer (events) a caller may see.

    Everything; or the rows of some grids, of an area (grid-code prefix, plus the rows outside
    every grid of `district_code` when the area is a district, or of every district starting with
    it when the area is a city) or of one department unit.
    """

    everything: bool = False
    grid_codes: frozenset[str] = frozenset()
    area_prefix: str | None = None
    district_code: str | None = None
    unit_id: int | None = None

    def clause(self, rows: TableClause) -> ColumnElement[bool]:
        """The WHERE clause limiting `rows` (with grid_code, district_code, unit_id) to scope."""
        if self.everything:
            return true()
        parts: list[ColumnElement[bool]] = []
        if self.grid_codes:
            parts.append(rows.c.grid_code.in_(sorted(self.grid_codes)))
        if self.area_prefix:
            parts.append(rows.c.grid_code.startswith(self.area_prefix, autoescape=True))
        if self.district_code:
            parts.append(
                and_(
                    rows.c.grid_code.is_(None),
                    rows.c.district_code.startswith(self.district_code, autoescape=True),
                )
            )
        if self.unit_id is not None:
            parts.append(rows.c.unit_id == self.unit_id)
        return or_(*parts) if parts else false()


@dataclass(frozen=True)
class TileLayer:
    """A tile layer: its rows, the properties each feature carries, and when it shows."""

    name: str
    rows: TableClause
    properties: tuple[str, ...]
    key: str  # orders features, so the same rows always give the same bytes (and ETag)
    minzoom: int
    where: tuple[ColumnElement[bool], ...] = ()
    computed: dict[str, ColumnElement[Any]] = field(default_factory=dict)
    scoped: bool = False  # rows are filtered by the caller's TileScope
    max_age: int = 300  # seconds a browser may reuse the tile without asking again


_building = table(
    "building",
    column("code", String),
    column("floors", Integer),
    column("use", String),
    column("grid_code", String),
    column("district_code", String),
    column("geom"),
)
_grid = table(
    "grid",
    column("code", String),
    column("name", String),
    column("district_code", String),
    column("geom"),
)
_event = table(
    "event",
    column("code", String),
    column("status", String),
    column("category_code", String),
    column("priority", String),
    column("grid_code", String),
    column("district_code", String),
    column("unit_id", Integer),
    column("stage_deadline"),
    column("suspended_at"),
    column("geom"),
)

_part = table(
    "city_part",
    column("code", String),
    column("type_code", String),
    column("state", String),
    column("district_code", String),
    column("geom"),
)

# events.workflow.OPEN_STATES, spelled out because gis never imports a domain package;
# tests/gis/test_tiles.py checks the two agree.
OPEN_EVENT_STATES = (
    "reported",
    "pending",
    "registered",
    "dispatched",
    "signed",
    "handled",
    "verified",
    "returned",
    "suspended",
)

LAYERS: dict[str, TileLayer] = {
    layer.name: layer
    for layer in (
        TileLayer(
            name="buildings",
            rows=_building,
            properties=("code", "floors", "use", "grid_code"),
            key="code",
            minzoom=14,
        ),
        TileLayer(
            name="grids",
            rows=_grid,
            properties=("code", "name"),
            key="code",
            minzoom=10,
        ),
        TileLayer(  # city parts (城市部件): lamps, covers, bins … are thick on the ground
            name="parts",
            rows=_part,
            properties=("code", "type_code", "state"),
            key="code",
            minzoom=16,
        ),
        TileLayer(
            name="events",
            rows=_event,
            properties=("code", "status", "priority"),
            computed={
                "category": _event.c.category_code,
                # The red light (超期) without the work calendar: the running stage's deadline
                # has passed (by the time its clock stopped, if suspended 挂账). Green and
                # yellow need the working-time calendar, so the tile does not tell them apart.
                "overdue": func.coalesce(
                    _event.c.stage_deadline < func.coalesce(_event.c.suspended_at, func.now()),
                    false(),
                ),
            },
            where=(_event.c.status.in_(OPEN_EVENT_STATES),),
            key="code",
            minzoom=12,
            scoped=True,
            max_age=0,
        ),
    )
}


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse a z/x/y that is not a tile of the Web Mercator matrix (zoom 0..MAX_ZOOM)."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(f"zoom {z} is outside 0..{MAX_ZOOM}", field="z")
    last = 2**z - 1
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value <= last:
            raise TileError(
                f"{name} {value} is outside 0..{last}, the tiles of zoom {z}", field=name
            )


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's west, south, east, north edges in EPSG:3857 metres."""
    size = 2 * MERCATOR_HALF / 2**z
    west = -MERCATOR_HALF + x * size
    north = MERCATOR_HALF - y * size
    return west, north - size, west + size, north


def tile_query(
    layer: TileLayer, scope: TileScope | None = None, districts: tuple[str, ...] | None = None
) -> Any:
    """The statement that returns one tile of `layer` as MVT bytes, for bind params z, x, y;
    only rows of `districts` (district or city code prefixes; None: all) when given."""
    z, x, y = (bindparam(name, type_=Integer) for name in ("z", "x", "y"))
    envelope = func.ST_TileEnvelope(z, x, y)
    world = func.ST_MakeEnvelope(
        -MERCATOR_HALF, -MERCATOR_HALF, MERCATOR_HALF, MERCATOR_HALF, WEB_MERCATOR
    )
    # The envelope grown by the buffer, in the storage SRID: the filter the GiST index serves.
    # A Web Mercator rectangle is a lon/lat rectangle, so its corners transform exactly.
    search = func.ST_Transform(func.ST_TileEnvelope(z, x, y, world, BUFFER / EXTENT), STORAGE_SRID)
    rows = layer.rows
    geom = rows.c.geom
    features = (
        select(
            *(rows.c[name] for name in layer.properties),
            *(expr.label(name) for name, expr in layer.computed.items()),
            func.ST_AsMVTGeom(
                func.ST_Transform(geom, WEB_MERCATOR), envelope, EXTENT, BUFFER, True
            ).label("geom"),
        )
        .where(geom.op("&&")(search), *layer.where)
        .order_by(rows.c[layer.key])
        .limit(MAX_FEATURES)
    )
    if layer.scoped:
        features = features.where((scope or TileScope()).clause(rows))
    if districts is not None:
        code = rows.c.district_code
        features = features.where(
            or_(false(), *(code.startswith(d, autoescape=True) for d in districts))
        )
    t = features.subquery("t")
    return select(func.ST_AsMVT(t.table_valued(), layer.name, EXTENT, "geom"))


def render_tile(
    session: Session,
    *,
    layer: TileLayer,
    z: int,
    x: int,
    y: int,
    scope: TileScope | None = None,
    districts: tuple[str, ...] | None = None,
) -> bytes:
    """One tile of `layer` as MVT bytes; empty bytes when the zoom is below the layer's or no
    feature touches the tile. Scoped layers show only the rows of `scope` (none without one);
    every layer only the rows of `districts` when given (None: every district)."""
    check_tile(z, x, y)
    if z < layer.minzoom:
        return b""
    statement = tile_query(layer, scope, districts)
    data = session.execute(statement, {"z": z, "x": x, "y": y}).scalar_one()
    return bytes(data) if data is not None else b""
