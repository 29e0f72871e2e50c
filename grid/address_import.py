"""Importing a door-plate list (门牌清单) into the standard-address tree; all or nothing.

Each row gives a road (路巷), a door number (门牌号), the plate's point and optionally the
code of the building behind it. The point's grid gives the community; the road and door plate
are found or added (grid/std_address.py), and a named building with no door plate yet hangs
on the plate. Bad rows are reported by row number and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.bulk import copy_rows
from gis.crs import Crs
from gis.db import STORAGE_SRID
from grid.address_text import ROAD_ENDINGS, normalise
from grid.exceptions import ImportRejected
from grid.importer import ImportReport, _as_text, _feature_ids, _pick, _Problems, _whole_number
from grid.io import FeatureFile, read_feature_file
from grid.std_address import (
    BUILDING_LABEL_SQL,
    BUILDING_STAGE,
    add_roads_and_doors,
    add_staged_buildings,
    attach_houses,
    drop_tables,
    temp_table,
)

ADDRESS_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "road": ("road", "road_name", "路巷", "街路巷", "道路", "路名"),
    "number": ("number", "door_number", "门牌号", "门牌", "号"),
    "building_code": ("building_code", "building", "楼栋编码", "建筑编码"),
}
MAX_NUMBER: Final = 99_999
_ROWS: Final = "_door_import"


def import_addresses(
    session: Session, *, path: str | Path, crs: Crs | str = Crs.CGCS2000
) -> ImportReport:
    """Import a door-plate list from CSV (lon and lat columns, or WKT) or GeoJSON points.

    Raises ImportRejected listing every bad row when any row fails; nothing is written then.
    """
    return load_addresses(session, features=read_feature_file(path, crs=crs))


def _road(value: str | None, i: int, problems: _Problems) -> str | None:
    if value is None:
        problems.add(i, "road is missing; every door plate is on a road (路巷), e.g. 夷陵大道.")
        return None
    road = normalise(value)
    if any(c.isdigit() for c in road) or not road.endswith(ROAD_ENDINGS) or len(road) > 40:
        problems.add(
            i,
            f"road '{value}' is not a road name: it should end with "
            f"{'/'.join(ROAD_ENDINGS)} and hold no digits (the number goes in its own column).",
        )
        return None
    return road


def _number(value: Any, i: int, problems: _Problems) -> int | None:
    if isinstance(value, str):
        value = normalise(value).removesuffix("号")
    number = _whole_number(value) if value is not None else None
    if number is None or not 1 <= number <= MAX_NUMBER:
        problems.add(
            i, f"number '{value}' is not a door number; give a whole number 1..{MAX_NUMBER}."
        )
        return None
    return number


def load_addresses(session: Session, *, features: FeatureFile) -> ImportReport:
    """Validate and write door-plate rows already read; raise ImportRejected if any fails."""
    session.flush()
    total = len(features)
    columns = _pick(features.attributes, ADDRESS_ALIASES)
    building_codes = _as_text(columns["building_code"])
    problems = _Problems(_feature_ids([None] * total))
    problems.add_all(features.problems)
    geometries = features.geometries
    is_point = shapely.get_type_id(geometries) == 0
    for index in np.flatnonzero(~is_point):
        if int(index) not in features.problems:
            problems.add(int(index), "has no point; give the plate's lon and lat (or a Point).")
    roads = [_road(v, i, problems) for i, v in enumerate(_as_text(columns["road"]))]
    numbers = [_number(v, i, problems) for i, v in enumerate(columns["number"])]
    points = [
        None if not ok else shapely.to_wkb(g, hex=True)
        for g, ok in zip(geometries, is_point.tolist(), strict=True)
    ]
    drop_tables(session, _ROWS)
    session.execute(
        text(
            f"CREATE TEMP TABLE {_ROWS} (row_no int, road text, number int, building_code text, "
            f"point geometry(Point, {STORAGE_SRID})) ON COMMIT DROP"
        )
    )
    copy_rows(
        session,
        table=_ROWS,
        columns=("row_no", "road", "number", "building_code", "point"),
        rows=zip(range(1, total + 1), roads, numbers, building_codes, points, strict=True),
    )
    _database_checks(session, problems)
    if problems:
        drop_tables(session, _ROWS, "_door_stage")
        raise ImportRejected(ImportReport(total, 0, problems.rejections()))
    add_roads_and_doors(session, "_door_stage")
    _attach_named_buildings(session)
    drop_tables(session, _ROWS, "_door_stage", BUILDING_STAGE)
    session.expire_all()
    return ImportReport(total, total)


def _database_checks(session: Session, problems: _Problems) -> None:
    """The grid and community of each plate, and the buildings the rows name."""
    temp_table(
        session,
        "_door_stage",
        f"""
        SELECT t.row_no, t.road, t.number, t.building_code, t.point,
               g.code AS grid_code, g.district_code, g.community_code,
               d.name || s.name || c.name AS place, CAST(NULL AS text) AS door_code
        FROM {_ROWS} t
        LEFT JOIN LATERAL (
            SELECT code, district_code, community_code FROM grid
            WHERE ST_Covers(geom, t.point) ORDER BY code LIMIT 1
        ) g ON true
        LEFT JOIN admin_unit c ON c.code = g.community_code
        LEFT JOIN admin_unit s ON s.code = substr(g.community_code, 1, 9) || '000'
        LEFT JOIN admin_unit d ON d.code = g.district_code || '000000'
        WHERE t.point IS NOT NULL
        """,
    )
    for row_no, lon, lat in session.execute(
        text(
            "SELECT row_no, ST_X(point), ST_Y(point) FROM _door_stage "
            "WHERE grid_code IS NULL ORDER BY row_no"
        )
    ):
        problems.add(
            row_no - 1,
            f"lies outside every grid ({lon:.6f}, {lat:.6f}); import the grid first or correct "
            "the point (and its crs).",
        )
    for row_no, code, known, held, community in session.execute(
        text(
            """
            SELECT t.row_no, t.building_code, b.id IS NOT NULL, a.full_text,
                   CASE WHEN a.community_code <> t.community_code THEN c.name END
            FROM _door_stage t
            LEFT JOIN building b ON b.code = t.building_code
            LEFT JOIN std_address a ON a.code = b.address_code
                                   AND a.district_code = b.district_code
            LEFT JOIN std_address door ON door.code = a.parent_code
                                      AND door.district_code = a.district_code
            LEFT JOIN admin_unit c ON c.code = a.community_code
            WHERE t.building_code IS NOT NULL
              AND (b.id IS NULL OR a.community_code <> t.community_code
                   OR door.match_key <> t.road || t.number || '号')
            ORDER BY t.row_no
            """
        )
    ):
        if not known:
            problems.add(
                row_no - 1,
                f"building {code} does not exist; import the building first or leave "
                "building_code empty.",
            )
        elif community is not None:
            problems.add(
                row_no - 1,
                f"building {code} is in {community}, but the plate's point lies in another "
                "community; correct the point (and its crs) or the building_code.",
            )
        else:
            problems.add(
                row_no - 1,
                f"building {code} already has the standard address {held}; a building's code "
                "never moves to another door plate, so leave building_code empty for it.",
            )


def _attach_named_buildings(session: Session) -> None:
    """Hang each named building not yet on a door plate on its row's door plate, then its
    houses.

    A building that hung on its community (no door plate was known when it was surveyed) gets
    a new address under the plate, and its houses new ones under it; the old codes stay in the
    tree, unused, so no code is ever given to another place.
    """
    session.execute(
        text(
            """
            WITH moved AS (
                SELECT b.id FROM _door_stage s
                JOIN building b ON b.code = s.building_code
                JOIN std_address a ON a.code = b.address_code AND a.district_code = b.district_code
                WHERE a.parent_code IS NULL
            ), houses AS (
                UPDATE house h SET address_code = NULL FROM moved WHERE h.building_id = moved.id
            )
            UPDATE building b SET address_code = NULL FROM moved WHERE b.id = moved.id
            """
        )
    )
    session.execute(
        text(
            """
            UPDATE _door_stage s SET door_code = a.code
            FROM std_address r
            JOIN std_address a ON a.parent_code = r.code AND a.district_code = r.district_code
                              AND a.level = 'door'
            WHERE r.district_code = s.district_code AND r.parent_code IS NULL
              AND r.community_code = s.community_code AND r.level = 'road'
              AND r.match_key = s.road AND a.match_key = s.road || s.number || '号'
            """
        )
    )
    temp_table(
        session,
        BUILDING_STAGE,
        f"""
        SELECT DISTINCT ON (b.id) b.id, b.code AS building_code, b.district_code, s.grid_code,
               s.community_code, s.place, ST_PointOnSurface(b.geom) AS point, b.name_key,
               {BUILDING_LABEL_SQL} AS label,
               s.road, s.number, s.door_code
        FROM _door_stage s JOIN building b ON b.code = s.building_code
        WHERE b.address_code IS NULL
        ORDER BY b.id, s.row_no
        """,
    )
    add_staged_buildings(session)
    districts = [
        str(d)
        for d in session.scalars(text(f"SELECT DISTINCT district_code FROM {BUILDING_STAGE}"))
    ]
    if districts:
        attach_houses(session, district_codes=districts)
