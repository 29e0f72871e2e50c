"""Grid, admin-unit and building outlines generalised for a map view (制图综合).

A map of a whole city cannot send every vertex of 20,000 grids: each outline is simplified in
PostGIS with `ST_SimplifyPreserveTopology` to a tolerance of about one screen pixel at the
zoom that fits the area, so nothing visible is lost and no polygon collapses. Geometry comes
back as WKB in CGCS2000 (SRID 4490) lon/lat, ready for `shapely.from_wkb`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from grid.exceptions import NotFound
from grid.models import AdminLevel, AdminUnit, Building, Grid, House
from grid.service import area_prefix

# A map view is about this many pixels across; one pixel is the simplification tolerance.
VIEW_PIXELS: Final = 1200
# Never simplify finer than ~1 m, which no screen shows at the zooms a page opens at.
MIN_TOLERANCE_DEG: Final = 1e-5
_PREFIX_DIGITS: Final = {AdminLevel.DISTRICT: 6, AdminLevel.STREET: 9, AdminLevel.COMMUNITY: 12}
_LEVEL_OF_DIGITS: Final = {6: "district", 9: "street", 12: "community", 15: "grid"}


@dataclass(frozen=True)
class Outline:
    """A simplified outline: code, name and WKB geometry (CGCS2000 lon/lat)."""

    code: str
    name: str
    wkb: bytes


@dataclass(frozen=True)
class BuildingOutline:
    """A building's footprint with what a grid map labels it with (no residents)."""

    id: int
    code: str
    name: str | None
    floors: int | None
    use_label: str
    houses: int
    wkb: bytes


@dataclass(frozen=True)
class AreaView:
    """Where a map page opens: the area, its parents and its extent.

    `bbox` is (min_lon, min_lat, max_lon, max_lat) in CGCS2000 degrees; `prefix` is the code
    prefix shared by everything inside ('' for the whole city).
    """

    code: str | None
    name: str
    level: str  # city, district, street, community or grid
    prefix: str
    bbox: tuple[float, float, float, float]
    trail: list[tuple[str, str]]  # (code, name) from the district down to the area itself


def _code_range(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, as a range the B-tree index serves under any collation."""
    if not prefix:
        return true()
    upper = str(int(prefix) + 1).zfill(len(prefix)) if set(prefix) != {"9"} else None
    return column >= prefix if upper is None else and_(column >= prefix, column < upper)


def tolerance_for(bbox: tuple[float, float, float, float], pixels: int = VIEW_PIXELS) -> float:
    """Degrees per screen pixel when `bbox` fills a view `pixels` wide or high."""
    min_lon, min_lat, max_lon, max_lat = bbox
    span = max(max_lon - min_lon, (max_lat - min_lat) * 1.2)
    return max(span / pixels, MIN_TOLERANCE_DEG)


def _grid_extent(session: Session, prefix: str) -> tuple[float, float, float, float] | None:
    """The extent of the grids whose code starts with `prefix`, None when there are none."""
    box = func.ST_Extent(Grid.geom)
    row = session.execute(
        select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box)).where(
            _code_range(Grid.code, prefix)
        )
    ).one()
    if row[0] is None:
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def area_view(session: Session, *, area_code: str | None) -> AreaView:
    """The area a map opens on: a district, street, community or grid code, or None for all."""
    if not area_code:
        bbox = _grid_extent(session, "")
        if bbox is None:
            raise NotFound("there are no grids yet; import grids or run `gridgov seed demo`")
        return AreaView(None, "全市", "city", "", bbox, [])
    prefix = area_prefix(area_code)
    if len(prefix) == 4:  # a city (市级): every district whose code starts with it
        bbox = _grid_extent(session, prefix)
        if bbox is None:
            raise NotFound(f"city {area_code} has no district with grids to show")
        return AreaView(prefix, "全市", "city", prefix, bbox, [])
    trail = _trail(session, prefix)
    if not trail:
        raise NotFound(
            f"area {area_code} does not exist; use a district, street, community or grid code"
        )
    bbox = _grid_extent(session, prefix)
    if bbox is None:
        raise NotFound(f"area {area_code} has no grids to show")
    code, name = trail[-1]
    return AreaView(code, name, _LEVEL_OF_DIGITS[len(prefix)], prefix, bbox, trail)


def _trail(session: Session, prefix: str) -> list[tuple[str, str]]:
    """(code, name) of the district, street, community and grid down to `prefix`."""
    codes = [prefix[:6] + "000000"]
    if len(prefix) >= 9:
        codes.append(prefix[:9] + "000")
    if len(prefix) >= 12:
        codes.append(prefix[:12])
    names = dict(
        session.execute(
            select(AdminUnit.code, AdminUnit.name).where(AdminUnit.code.in_(codes))
        ).all()
    )
    trail = [(c, names[c]) for c in codes if c in names]
    if len(trail) != len(codes):
        return []
    if len(prefix) == 15:
        grid_name = session.scalar(select(Grid.name).where(Grid.code == prefix))
        if grid_name is None:
            return []
        trail.append((prefix, grid_name))
    return trail


def _simplified(geom: Any, tolerance: float) -> Any:
    return func.ST_AsBinary(func.ST_SimplifyPreserveTopology(geom, tolerance))


def generalised_grids(session: Session, *, prefix: str, tolerance: float) -> list[Outline]:
    """Grids whose code starts with `prefix` ('' for all), simplified to `tolerance` degrees."""
    rows = session.execute(
        select(Grid.code, Grid.name, _simplified(Grid.geom, tolerance))
        .where(_code_range(Grid.code, prefix))
        .order_by(Grid.code)
    )
    return [Outline(code, name, bytes(wkb)) for code, name, wkb in rows]


def admin_outlines(
    session: Session, *, level: AdminLevel, prefix: str, tolerance: float
) -> list[Outline]:
    """Districts, streets or communities inside the area `prefix`, and the one containing it."""
    digits = _PREFIX_DIGITS[level]
    own = func.substr(AdminUnit.code, 1, digits)
    inside = (
        _code_range(AdminUnit.code, prefix) if len(prefix) <= digits else own == prefix[:digits]
    )
    rows = session.execute(
        select(AdminUnit.code, AdminUnit.name, _simplified(AdminUnit.geom, tolerance))
        .where(AdminUnit.level == level, AdminUnit.geom.is_not(None), inside)
        .order_by(AdminUnit.code)
    )
    return [Outline(code, name, bytes(wkb)) for code, name, wkb in rows]


def grid_buildings(session: Session, *, grid_code: str) -> list[BuildingOutline]:
    """The buildings of one grid with their house counts, by code."""
    if session.get(Grid, grid_code) is None:
        raise NotFound(f"grid {grid_code} does not exist; grid codes have 15 digits")
    houses = select(func.count()).where(House.building_id == Building.id).scalar_subquery()
    rows = session.execute(
        select(Building, houses, func.ST_AsBinary(Building.geom))
        .where(Building.grid_code == grid_code)
        .order_by(Building.code)
    )
    return [
        BuildingOutline(b.id, b.code, b.name, b.floors, b.use.label, int(n), bytes(wkb))
        for b, n, wkb in rows
    ]


def grid_names(session: Session, *, codes: Iterable[str]) -> list[tuple[str, str]]:
    """(code, name) of the given grids that exist, by code."""
    rows = session.execute(
        select(Grid.code, Grid.name).where(Grid.code.in_(sorted(set(codes)))).order_by(Grid.code)
    )
    return [(code, name) for code, name in rows]


__all__ = [
    "AreaView",
    "BuildingOutline",
    "Outline",
    "admin_outlines",
    "area_view",
    "generalised_grids",
    "grid_buildings",
    "grid_names",
    "tolerance_for",
]
