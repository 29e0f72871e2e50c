"""Re-cutting grids (网格调整): replace one community's grids and re-assign its buildings.

A building belongs to the grid covering its interior point (ST_PointOnSurface); on a shared
boundary the lowest grid code wins. Houses go with their building. Residents, events and
staff carry grid codes too: the caller (api/recut.py) re-assigns them in the same transaction
after the re-cut, so this package never reaches into theirs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from gis.config import get_settings
from gis.geometry import GeometryError, parse_geometry
from grid.exceptions import InvalidQuery, NotFound, RecutRejected
from grid.importer import (
    GRID_STAGING,
    LOWEST_COVERING_GRID,
    check_grids,
    drop_staging,
    insert_staged_grids,
)
from grid.io import FeatureFile, features_from_frame
from grid.models import AdminLevel, AdminUnit, Building, Grid, House
from grid.std_address import reassign_addresses

__all__ = [
    "BuildingMove",
    "GridMove",
    "NewGrid",
    "RecutSummary",
    "reassign_buildings",
    "recut_community",
]

# (code, name, geometry[, grid_type, households]); geometry as shapely, GeoJSON, WKT or WKB.
NewGrid = Sequence[Any]


@dataclass(frozen=True)
class BuildingMove:
    """One building's change of grid; None means no grid (outside every grid)."""

    building_id: int
    building_code: str
    from_grid: str | None
    to_grid: str | None


@dataclass(frozen=True)
class GridMove:
    """How many buildings, and houses in them, went from one grid to another (None: no grid)."""

    from_grid: str | None
    to_grid: str | None
    buildings: int
    houses: int = 0


@dataclass(frozen=True)
class RecutSummary:
    """What a re-cut changed: grids removed and added, and where every building went.

    `building_moves` has one entry per building of the community's old grids (plus any
    building that joined a new grid from elsewhere), `from_grid` being its grid before the
    re-cut; an entry whose codes are equal kept a grid code the new set reused. `moves`
    counts them by (from_grid, to_grid). Callers re-assign residents and events from these.
    """

    community_code: str
    removed: list[str]
    added: list[str]
    moves: list[GridMove]
    building_moves: list[BuildingMove]
    unassigned: list[str]  # codes of buildings now in no grid
    warnings: list[str]

    def grid_of_building(self) -> dict[int, str | None]:
        """New grid code of each building touched by the re-cut, by building id."""
        return {m.building_id: m.to_grid for m in self.building_moves}


def reassign_buildings(
    session: Session,
    *,
    grid_codes: Iterable[str] | None = None,
    community_code: str | None = None,
) -> list[BuildingMove]:
    """Give each building in or assigned to these grids the grid now covering its interior point.

    Pass `grid_codes`, or `community_code` for all grids of a community. Candidates are the
    buildings assigned to those grids and those whose ST_PointOnSurface lies in one of them;
    each gets the lowest-coded grid covering that point (any grid, not just these), or NULL.
    Returns the buildings whose grid changed.
    """
    if (grid_codes is None) == (community_code is None):
        raise TypeError("reassign_buildings takes exactly one of grid_codes or community_code")
    if community_code is not None:
        codes = list(
            session.scalars(select(Grid.code).where(Grid.community_code == community_code))
        )
    else:
        codes = list(grid_codes or [])
    if not codes:
        return []
    session.flush()
    statement = text(
        f"""
        WITH candidate AS (
            SELECT b.id FROM building b WHERE b.grid_code = ANY(:codes)
            UNION
            SELECT b.id FROM grid g
            JOIN building b ON g.geom && b.geom AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
            WHERE g.code = ANY(:codes)
        ),
        target AS (
            SELECT b.id, b.grid_code AS old_code, g.code AS new_code, g.district_code
            FROM candidate c
            JOIN building b ON b.id = c.id
            LEFT JOIN LATERAL (
                {LOWEST_COVERING_GRID.format(point="ST_PointOnSurface(b.geom)")}
            ) g ON true
        )
        UPDATE building b
        SET grid_code = t.new_code, district_code = COALESCE(t.district_code, b.district_code)
        FROM target t
        WHERE b.id = t.id AND b.grid_code IS DISTINCT FROM t.new_code
        RETURNING b.id, b.code, t.old_code, t.new_code
        """
    ).bindparams(bindparam("codes", type_=ARRAY(String)))
    rows = session.execute(statement, {"codes": codes}).all()
    reassign_addresses(session, grid_codes=codes)  # the 标准地址 in those grids follow
    session.expire_all()  # building rows changed behind the ORM's back
    return sorted(
        (BuildingMove(int(r[0]), str(r[1]), r[2], r[3]) for r in rows),
        key=lambda m: m.building_code,
    )


def recut_community(
    session: Session,
    *,
    community_code: str,
    new_grids: gpd.GeoDataFrame | Iterable[NewGrid],
) -> RecutSummary:
    """Replace every grid of a community by `new_grids` and re-assign the buildings; flushes only.

    `new_grids` is a GeoDataFrame (columns code, name[, grid_type, households]; no CRS or
    lon/lat means EPSG:4490, another CRS is transformed) or a list of
    (code, name, geometry[, grid_type, households]). The new set is validated like an import
    (RecutRejected lists every problem; nothing changes); new codes may reuse old ones.
    """
    session.flush()
    community = session.get(AdminUnit, community_code)
    if community is None or community.level is not AdminLevel.COMMUNITY:
        raise NotFound(
            f"community {community_code} does not exist; give the 12-digit code of a "
            "community (社区) in the administrative tree."
        )
    features = _new_grid_features(new_grids)
    if len(features) == 0:
        raise InvalidQuery(
            f"no new grids were given for community {community_code}; a community needs at "
            "least one grid."
        )
    checked = check_grids(session, features, replacing=community_code)
    if checked.problems:
        drop_staging(session)
        raise RecutRejected(checked.report(), community_code=community_code)
    warnings = _coverage_warnings(session, community_code)

    removed = list(
        session.scalars(
            select(Grid.code).where(Grid.community_code == community_code).order_by(Grid.code)
        )
    )
    before = {
        int(row.id): (str(row.code), row.grid_code)
        for row in session.execute(
            select(Building.id, Building.code, Building.grid_code).where(
                Building.grid_code.in_(removed)
            )
        )
    }
    # building.grid_code references grid.code: release the buildings before the old grids go.
    session.execute(
        update(Building)
        .where(Building.grid_code.in_(removed))
        .values(grid_code=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Grid)
        .where(Grid.community_code == community_code)
        .execution_options(synchronize_session=False)
    )
    added = insert_staged_grids(session)
    drop_staging(session)
    session.expire_all()
    reassigned = {m.building_id: m for m in reassign_buildings(session, grid_codes=added)}

    building_moves = [
        BuildingMove(
            building_id,
            code,
            old,
            reassigned[building_id].to_grid if building_id in reassigned else None,
        )
        for building_id, (code, old) in before.items()
    ]
    building_moves += [m for m in reassigned.values() if m.building_id not in before]
    building_moves.sort(key=lambda m: m.building_code)
    counts = Counter((m.from_grid, m.to_grid) for m in building_moves)
    houses_of = _house_counts(session, [m.building_id for m in building_moves])
    houses: Counter[tuple[str | None, str | None]] = Counter()
    for m in building_moves:
        houses[(m.from_grid, m.to_grid)] += houses_of.get(m.building_id, 0)
    moves = [
        GridMove(from_grid, to_grid, n, houses[(from_grid, to_grid)])
        for (from_grid, to_grid), n in sorted(
            counts.items(), key=lambda item: (item[0][0] or "", item[0][1] or "")
        )
    ]
    return RecutSummary(
        community_code=community_code,
        removed=removed,
        added=added,
        moves=moves,
        building_moves=building_moves,
        unassigned=[m.building_code for m in building_moves if m.to_grid is None],
        warnings=warnings,
    )


def _house_counts(session: Session, building_ids: list[int]) -> dict[int, int]:
    """How many houses each of these buildings has (buildings without houses left out)."""
    if not building_ids:
        return {}
    rows = session.execute(
        select(House.building_id, func.count())
        .where(House.building_id.in_(building_ids))
        .group_by(House.building_id)
    )
    return {int(building_id): int(n) for building_id, n in rows}


def _new_grid_features(new_grids: gpd.GeoDataFrame | Iterable[NewGrid]) -> FeatureFile:
    """The new grids as a FeatureFile in EPSG:4490, geometries parsed where given as text."""
    if isinstance(new_grids, gpd.GeoDataFrame):
        return features_from_frame(new_grids)
    columns: dict[str, list[Any]] = {
        "code": [],
        "name": [],
        "grid_type": [],
        "households": [],
    }
    geometries: list[Any] = []
    problems: dict[int, str] = {}
    for i, item in enumerate(new_grids):
        values = tuple(item)
        if not 3 <= len(values) <= 5:
            raise InvalidQuery(
                f"new grid {i + 1} has {len(values)} values; give (code, name, geometry"
                "[, grid_type, households])."
            )
        code, name, geometry, *rest = values
        columns["code"].append(code)
        columns["name"].append(name)
        columns["grid_type"].append(rest[0] if rest else None)
        columns["households"].append(rest[1] if len(rest) > 1 else None)
        try:
            geometries.append(None if geometry is None else parse_geometry(geometry))
        except GeometryError as exc:
            geometries.append(None)
            problems[i] = str(exc)
    frame = gpd.GeoDataFrame(columns, geometry=geometries, crs=None)
    features = features_from_frame(frame)
    features.problems.update(problems)
    return features


def _coverage_warnings(session: Session, community_code: str) -> list[str]:
    """A warning when the staged new grids leave more than the tolerance of the community bare."""
    tolerance = get_settings().overlap_tolerance_m2
    uncovered = session.execute(
        text(
            f"""
            SELECT ST_Area(ST_Transform(ST_Difference(c.geom, ST_Union(t.geom)), min(t.epsg)))
            FROM admin_unit c CROSS JOIN {GRID_STAGING} t
            WHERE c.code = :community AND c.geom IS NOT NULL
            GROUP BY c.code
            """
        ),
        {"community": community_code},
    ).scalar()
    if uncovered is None or uncovered <= tolerance:
        return []
    return [
        f"the new grids leave {uncovered:,.1f} m² of community {community_code} outside every "
        "grid; events and buildings there will have no grid until a grid covers them."
    ]
