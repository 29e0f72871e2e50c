"""Validated imports of grids and buildings: every problem is reported, and nothing is written
unless every feature passes.

Checks that need the database (duplicate codes, overlaps, containment, grid assignment) run
set-based in SQL on a TEMP table filled by COPY, so a city's buildings load in seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.bulk import copy_rows
from gis.config import get_settings
from gis.crs import CoordinateError, Crs, metric_epsg
from gis.db import STORAGE_SRID
from gis.geometry import GeometryError, validate_polygonal
from grid.exceptions import ImportRejected
from grid.io import FeatureFile, GeometryArray, blank, read_feature_file
from grid.models import AdminLevel, AdminUnit, Building, BuildingUse, Grid, GridType
from grid.std_address import attach_buildings

__all__ = [
    "ImportReport",
    "Rejection",
    "import_buildings",
    "import_grids",
    "load_buildings",
    "load_grids",
]

# on_progress(stage, done, total); stages: "read", "load", "check", "write".
ProgressCallback = Callable[[str, int, int], None]

GRID_CODE = re.compile(r"^[0-9]{15}$")

# Column names accepted for each attribute, matched after lower-casing the file's names.
GRID_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "code": ("code", "grid_code", "网格编码", "网格代码", "编码"),
    "name": ("name", "grid_name", "网格名称", "名称"),
    "community_code": ("community_code", "社区编码"),
    "grid_type": ("grid_type", "type", "网格类型", "类型"),
    "households": ("households", "户数"),
}
BUILDING_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "code": ("code", "building_code", "建筑编码", "楼栋编码", "编码"),
    "name": ("name", "building_name", "建筑名称", "楼栋名称", "名称"),
    "address": ("address", "addr", "地址"),
    "floors": ("floors", "层数"),
    "use": ("use", "用途"),
}

_GRID_TYPES: Final[dict[str, GridType]] = {
    **{t.value: t for t in GridType},
    **{t.label: t for t in GridType},
    **{t.label.removesuffix("网格"): t for t in GridType},  # 基础 / 专属
}
_BUILDING_USES: Final[dict[str, BuildingUse]] = {
    **{u.value: u for u in BuildingUse},
    **{u.label: u for u in BuildingUse},
}


# Column widths of the tables, so a long value is reported instead of failing the INSERT.
def _width(column: Any) -> int:
    length = getattr(column.type, "length", None)
    assert isinstance(length, int), f"{column} has no declared width"
    return length


_GRID_NAME_MAX: Final = _width(Grid.__table__.c.name)
_BUILDING_LIMITS: Final[dict[str, int]] = {
    name: _width(Building.__table__.c[name]) for name in ("code", "name", "address")
}

# The grid a point belongs to: the lowest code among those covering it (shared boundaries).
LOWEST_COVERING_GRID: Final = (
    "SELECT g.code, g.district_code FROM grid g WHERE ST_Covers(g.geom, {point}) "
    "ORDER BY g.code LIMIT 1"
)


@dataclass(frozen=True)
class Rejection:
    """One problem with one feature: its code (or "row N" when it has none) and a sentence."""

    feature_id: str
    reason: str
    row: int | None = None  # 1-based position of the feature in the file


@dataclass(frozen=True)
class ImportReport:
    """Outcome of an import: features read, features written, and every problem found."""

    total: int
    imported: int
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def rejected_features(self) -> int:
        """How many distinct features had at least one problem."""
        return len({r.row if r.row is not None else r.feature_id for r in self.rejected})


class _Problems:
    """Problems collected per feature, reported in file order."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids
        self.found: list[tuple[int, int, str]] = []  # (row index, order found, reason)

    def add(self, index: int, reason: str) -> None:
        self.found.append((index, len(self.found), reason))

    def add_all(self, problems: Mapping[int, str]) -> None:
        for index, reason in problems.items():
            self.add(index, reason)

    def __bool__(self) -> bool:
        return bool(self.found)

    def rejections(self) -> list[Rejection]:
        return [Rejection(self.ids[i], reason, i + 1) for i, _, reason in sorted(self.found)]


# --- attribute cleaning -------------------------------------------------------------------


def _pick(attributes: pd.DataFrame, aliases: Mapping[str, tuple[str, ...]]) -> dict[str, list[Any]]:
    """Each canonical column as a list of cleaned values (None where absent or blank)."""
    n = len(attributes)
    picked: dict[str, list[Any]] = {}
    for name, candidates in aliases.items():
        column = next((c for c in candidates if c in attributes.columns), None)
        picked[name] = [None] * n if column is None else _clean(attributes[column])
    return picked


def _clean(column: pd.Series) -> list[Any]:
    """Strip text, turn blanks and NaN into None, and whole floats (450.0) into ints."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind == "string":  # the common case, kept fast for large building files
        return [(v.strip() or None) if isinstance(v, str) else None for v in column.tolist()]
    if kind == "integer" and not column.isna().any():
        return [int(v) for v in column.tolist()]
    cleaned: list[Any] = []
    for value in column.tolist():
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            cleaned.append(None)
        elif isinstance(value, str):
            cleaned.append(value.strip() or None)
        elif isinstance(value, np.integer) or (
            isinstance(value, float | np.floating) and float(value).is_integer()
        ):
            cleaned.append(int(value))
        else:
            cleaned.append(value)
    return cleaned


def _as_text(values: list[Any]) -> list[str | None]:
    """Codes read from numeric columns (450…001.0) as their digits."""
    return [v if v is None or isinstance(v, str) else str(v) for v in values]


def _whole_number(value: Any) -> int | None:
    """The value as an int if it is a whole number (6, "6", 6.0), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def _feature_ids(codes: Sequence[str | None]) -> list[str]:
    return [code if code else f"row {i + 1}" for i, code in enumerate(codes)]


def _first_rows(codes: Sequence[str | None]) -> dict[int, int]:
    """For each repeated code after its first appearance: index → index of the first."""
    first: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for i, code in enumerate(codes):
        if code is None:
            continue
        if code in first:
            repeats[i] = first[code]
        else:
            first[code] = i
    return repeats


# --- geometry checks ----------------------------------------------------------------------


def polygon_problems(
    geometries: GeometryArray, *, label: str, skip: Iterable[int] = ()
) -> dict[int, str]:
    """Why each unusable geometry cannot be stored, vectorised: only the bad ones are explained.

    Checks what `validate_polygonal` checks (type, emptiness, lon/lat ranges, validity) on
    the whole array at once, then asks `validate_polygonal` for the sentence.
    """
    skipped = set(skip)
    type_ok = np.isin(shapely.get_type_id(geometries), (3, 6))  # Polygon, MultiPolygon
    usable = type_ok & ~shapely.is_empty(geometries) & shapely.is_valid(geometries)
    problems: dict[int, str] = {}
    for i in np.flatnonzero(~usable):
        index = int(i)
        if index in skipped:
            continue
        geom = geometries[index]
        if geom is None:
            problems[index] = f"has no {label}; every feature needs a Polygon or MultiPolygon."
            continue
        try:
            validate_polygonal(geom, label=label)
        except GeometryError as exc:
            problems[index] = str(exc)
    return problems


def _wkb_hex(geometries: GeometryArray) -> list[str | None]:
    """Hex WKB of each geometry (None kept) for COPY into a geometry(…, 4490) column.

    Plain WKB has SRID 0, which PostGIS replaces by the column's SRID on input; that, and
    hex-encoding in Python, is several times faster than shapely's hex EWKB.
    """
    return [None if wkb is None else wkb.hex() for wkb in shapely.to_wkb(geometries)]


def _area(m2: float) -> str:
    return f"{m2:,.1f} m²"


# --- grids --------------------------------------------------------------------------------


GRID_STAGING: Final = "_grid_import"  # TEMP table of grids being validated


@dataclass
class CheckedGrids:
    """Grids that passed (or failed) validation, staged in the TEMP table `_grid_import`."""

    total: int
    codes: list[str | None]
    problems: _Problems

    def report(self, imported: int = 0) -> ImportReport:
        return ImportReport(self.total, imported, self.problems.rejections())


def check_grids(
    session: Session, features: FeatureFile, *, replacing: str | None = None
) -> CheckedGrids:
    """Validate grid features and stage them in TEMP table `_grid_import` for insertion.

    With `replacing` (a community code) the features are the new grids of that community:
    its current grids are ignored in the duplicate and overlap checks, and every code must
    belong to it.
    """
    session.flush()
    tolerance = get_settings().overlap_tolerance_m2
    columns = _pick(features.attributes, GRID_ALIASES)
    codes = _as_text(columns["code"])
    names = _as_text(columns["name"])
    community_column = _as_text(columns["community_code"])
    ids = _feature_ids(codes)
    problems = _Problems(ids)
    geometries = features.geometries

    problems.add_all(features.problems)
    geometry_problems = polygon_problems(geometries, label="boundary", skip=features.problems)
    problems.add_all(geometry_problems)
    usable = np.array(
        [i not in features.problems and i not in geometry_problems for i in range(len(ids))],
        dtype=bool,
    )

    well_formed = [c for c in codes if c is not None and GRID_CODE.match(c)]
    community_codes = {code[:12] for code in well_formed}
    communities = set(
        session.scalars(
            select(AdminUnit.code).where(
                AdminUnit.code.in_(community_codes), AdminUnit.level == AdminLevel.COMMUNITY
            )
        )
    )
    in_database: set[str] = set()
    if replacing is None:
        in_database = set(session.scalars(select(Grid.code).where(Grid.code.in_(well_formed))))
    repeats = _first_rows(codes)

    grid_types: list[str | None] = []
    households: list[int | None] = []
    epsgs: list[int | None] = [None] * len(ids)
    bounds = shapely.bounds(geometries)
    for i, code in enumerate(codes):
        if code is None:
            problems.add(
                i,
                "code is missing; every grid needs its 15-digit code "
                "(12-digit community code + 3-digit sequence).",
            )
        elif GRID_CODE.match(code) is None:
            problems.add(
                i,
                f"code '{code}' is not 15 digits; a grid code is the 12-digit community code "
                "followed by a 3-digit sequence number.",
            )
        else:
            community = code[:12]
            if community not in communities:
                problems.add(
                    i,
                    f"community {community} (the first 12 digits of the code) is not a community "
                    "in the administrative tree; add the community first or correct the code.",
                )
            if replacing is not None and community != replacing:
                problems.add(
                    i,
                    f"code {code} belongs to community {community}, not to community {replacing} "
                    "which is being re-cut; give it a code starting with "
                    f"{replacing}.",
                )
            if code in in_database:
                problems.add(
                    i,
                    f"duplicate code: a grid with code {code} already exists; re-cut its "
                    "community to replace it, or give the new grid another code.",
                )
            declared = community_column[i]
            if declared is not None and declared != community:
                problems.add(
                    i,
                    f"community_code {declared} disagrees with the code, whose first 12 digits "
                    f"are {community}; correct one of them.",
                )
        if i in repeats:
            problems.add(
                i,
                f"duplicate code: {code} is also used by row {repeats[i] + 1} of the file; "
                "each grid needs its own code.",
            )
        name = names[i]
        if name is None:
            problems.add(i, "name is missing; every grid needs a name (e.g. 第一网格).")
        elif len(name) > _GRID_NAME_MAX:
            problems.add(i, f"name is {len(name)} characters long; at most {_GRID_NAME_MAX} fit.")
        grid_types.append(
            _coded(
                columns["grid_type"][i],
                i,
                problems,
                field="grid_type",
                what="a grid type",
                lookup=_GRID_TYPES,
                default=GridType.BASIC,
            )
        )
        households.append(_households(columns["households"][i], i, problems))
        if usable[i]:
            try:
                epsgs[i] = metric_epsg((bounds[i, 0] + bounds[i, 2]) / 2)
            except CoordinateError as exc:
                problems.add(i, str(exc))
                usable[i] = False

    _stage_grids(session, codes, names, grid_types, households, epsgs, geometries, usable)
    _spatial_grid_checks(session, ids, problems, tolerance, replacing)
    return CheckedGrids(len(ids), codes, problems)


def _coded(
    value: Any,
    i: int,
    problems: _Problems,
    *,
    field: str,
    what: str,
    lookup: Mapping[str, GridType | BuildingUse],
    default: GridType | BuildingUse,
) -> str | None:
    """The stored value of an enum column given by value or Chinese label."""
    if value is None:
        return default.value
    found = lookup.get(str(value).lower()) or lookup.get(str(value))
    if found is None:
        accepted = ", ".join(f"{m.value} ({m.label})" for m in type(default))
        problems.add(i, f"{field} '{value}' is not {what}; use one of {accepted}.")
        return None
    return found.value


def _households(value: Any, i: int, problems: _Problems) -> int | None:
    if value is None:
        return None
    number = _whole_number(value)
    if number is None or number < 0:
        problems.add(i, f"households '{value}' is not a whole number of 0 or more.")
        return None
    return number


def _create_temp(session: Session, table: str, columns: str) -> None:
    # ON COMMIT DROP cleans up if the caller commits; the explicit DROP lets several imports
    # run in one transaction.
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))
    session.execute(text(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP"))


def drop_staging(session: Session) -> None:
    """Drop the TEMP tables an import or re-cut staged its rows in."""
    for table in (GRID_STAGING, _BUILDING_TABLE, _POINT_TABLE, _ASSIGNMENT_TABLE):
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))


def _stage_grids(
    session: Session,
    codes: list[str | None],
    names: list[str | None],
    grid_types: list[str | None],
    households: list[int | None],
    epsgs: list[int | None],
    geometries: GeometryArray,
    usable: NDArray[np.bool_],
) -> None:
    _create_temp(
        session,
        GRID_STAGING,
        "row_no int PRIMARY KEY, code text, name text, grid_type text, households int, "
        f"epsg int, geom geometry(Geometry, {STORAGE_SRID})",
    )
    wkb = _wkb_hex(blank(geometries, ~usable))
    rows = (
        (i + 1, codes[i], names[i], grid_types[i], households[i], epsgs[i], wkb[i])
        for i in range(len(codes))
        if usable[i]
    )
    copy_rows(
        session,
        table=GRID_STAGING,
        columns=("row_no", "code", "name", "grid_type", "households", "epsg", "geom"),
        rows=rows,
    )
    session.execute(text(f"CREATE INDEX ON {GRID_STAGING} USING gist (geom)"))
    session.execute(text(f"ANALYZE {GRID_STAGING}"))


def _spatial_grid_checks(
    session: Session,
    ids: Sequence[str],
    problems: _Problems,
    tolerance: float,
    replacing: str | None,
) -> None:
    """Overlaps within the file and with stored grids, and containment in the community."""
    params = {"tolerance": tolerance, "replacing": replacing}
    in_file = session.execute(
        text(
            f"""
            SELECT * FROM (
                SELECT a.row_no AS a_row, b.row_no AS b_row,
                       ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), a.epsg)) AS area
                FROM {GRID_STAGING} a
                JOIN {GRID_STAGING} b ON a.row_no < b.row_no AND ST_Intersects(a.geom, b.geom)
            ) pairs
            WHERE area > :tolerance
            ORDER BY a_row, b_row
            """
        ),
        params,
    ).all()
    for a_row, b_row, area in in_file:
        for this, other in ((a_row, b_row), (b_row, a_row)):
            problems.add(
                this - 1,
                f"overlaps {_describe(ids, other)} (row {other} of the file) by {_area(area)}, "
                f"more than the {_area(tolerance)} tolerance; correct the shared boundary.",
            )
    stored = session.execute(
        text(
            f"""
            SELECT * FROM (
                SELECT t.row_no, g.code,
                       ST_Area(ST_Transform(ST_Intersection(t.geom, g.geom), t.epsg)) AS area
                FROM {GRID_STAGING} t
                JOIN grid g ON ST_Intersects(t.geom, g.geom)
                WHERE g.code IS DISTINCT FROM t.code
                  AND (CAST(:replacing AS text) IS NULL OR g.community_code <> :replacing)
            ) pairs
            WHERE area > :tolerance
            ORDER BY row_no, code
            """
        ),
        params,
    ).all()
    for row_no, code, area in stored:
        problems.add(
            row_no - 1,
            f"overlaps existing grid {code} by {_area(area)}, more than the {_area(tolerance)} "
            "tolerance; correct the boundary or re-cut the neighbouring community.",
        )
    outside = session.execute(
        text(
            f"""
            SELECT * FROM (
                SELECT t.row_no, c.code,
                       CASE WHEN ST_CoveredBy(t.geom, c.geom) THEN 0
                            ELSE ST_Area(ST_Transform(ST_Difference(t.geom, c.geom), t.epsg))
                       END AS area
                FROM {GRID_STAGING} t
                JOIN admin_unit c ON c.code = substr(t.code, 1, 12)
                WHERE c.level = 'community' AND c.geom IS NOT NULL
            ) sticking_out
            WHERE area > :tolerance
            ORDER BY row_no
            """
        ),
        params,
    ).all()
    for row_no, community, area in outside:
        problems.add(
            row_no - 1,
            f"reaches {_area(area)} outside its community {community} (tolerance "
            f"{_area(tolerance)}); a grid must lie inside its community, so move its boundary "
            "or correct the code.",
        )


def _describe(ids: Sequence[str], row: int) -> str:
    feature = ids[row - 1]
    return f"grid {feature}" if not feature.startswith("row ") else "the grid"


def insert_staged_grids(session: Session) -> list[str]:
    """Insert the staged grids; returns their codes in order."""
    codes = session.scalars(
        text(
            f"""
            INSERT INTO grid (code, name, community_code, district_code, grid_type, households,
                              geom)
            SELECT code, name, substr(code, 1, 12), substr(code, 1, 6),
                   CAST(grid_type AS grid_type), households, ST_Multi(geom)
            FROM {GRID_STAGING}
            ORDER BY code
            RETURNING code
            """
        )
    ).all()
    return sorted(str(c) for c in codes)


def load_grids(session: Session, *, features: FeatureFile) -> ImportReport:
    """Validate and insert grid features already read; raise ImportRejected if any fails."""
    # Imported here because grid.recut builds on this module's checks.
    from grid.recut import reassign_buildings

    checked = check_grids(session, features)
    if checked.problems:
        drop_staging(session)
        raise ImportRejected(checked.report())
    codes = insert_staged_grids(session)
    drop_staging(session)
    # Buildings left outside every grid, or on a boundary the new grid wins, move in.
    reassign_buildings(session, grid_codes=codes)
    return checked.report(imported=len(codes))


def import_grids(
    session: Session, *, path: str | Path, crs: Crs | str = Crs.CGCS2000
) -> ImportReport:
    """Import grids from a GeoJSON/GeoPackage/Shapefile/CSV file; all or nothing.

    Raises ImportRejected (with the full report) when any feature fails a check.
    """
    return load_grids(session, features=read_feature_file(path, crs=crs))


# --- buildings ----------------------------------------------------------------------------


_BUILDING_TABLE: Final = "_building_import"
_POINT_TABLE: Final = "_building_point"
_ASSIGNMENT_TABLE: Final = "_building_grid"


def import_buildings(
    session: Session,
    *,
    path: str | Path,
    crs: Crs | str = Crs.CGCS2000,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import buildings from a file; each goes to the grid covering its interior point.

    All or nothing: raises ImportRejected listing every problem when any feature fails.
    `on_progress(stage, done, total)` reports "read", "load" (per COPY batch), "check" and
    "write".
    """
    features = read_feature_file(path, crs=crs)
    if on_progress:
        on_progress("read", len(features), len(features))
    return load_buildings(session, features=features, on_progress=on_progress)


def load_buildings(
    session: Session, *, features: FeatureFile, on_progress: ProgressCallback | None = None
) -> ImportReport:
    """Validate and insert building features already read; raise ImportRejected if any fails."""
    session.flush()
    total = len(features)

    def report(stage: str, done: int) -> None:
        if on_progress:
            on_progress(stage, done, total)

    columns = _pick(features.attributes, BUILDING_ALIASES)
    codes = _as_text(columns["code"])
    ids = _feature_ids(codes)
    problems = _Problems(ids)
    geometries = features.geometries

    problems.add_all(features.problems)
    geometry_problems = polygon_problems(geometries, label="footprint", skip=features.problems)
    problems.add_all(geometry_problems)
    bad_geometry = set(features.problems) | set(geometry_problems)

    names, addresses = _as_text(columns["name"]), _as_text(columns["address"])
    floors = [_floors(v, i, problems) for i, v in enumerate(columns["floors"])]
    uses = [
        _coded(
            v,
            i,
            problems,
            field="use",
            what="a building use",
            lookup=_BUILDING_USES,
            default=BuildingUse.RESIDENTIAL,
        )
        for i, v in enumerate(columns["use"])
    ]
    _check_building_text(codes, names, addresses, problems)
    for i, first in _first_rows(codes).items():
        problems.add(
            i,
            f"duplicate code: {codes[i]} is also used by row {first + 1} of the file; "
            "each building needs its own code.",
        )

    usable = np.ones(total, dtype=bool)
    usable[list(bad_geometry)] = False
    wkb = _wkb_hex(blank(geometries, ~usable))
    _create_temp(
        session,
        _BUILDING_TABLE,
        "row_no int, code text, name text, address text, floors int, use text, "
        f"geom geometry(Geometry, {STORAGE_SRID})",
    )
    loaded = 0

    def batch_loaded(rows: int) -> None:
        nonlocal loaded
        loaded += rows
        report("load", loaded)

    copy_rows(
        session,
        table=_BUILDING_TABLE,
        columns=("row_no", "code", "name", "address", "floors", "use", "geom"),
        rows=zip(range(1, total + 1), codes, names, addresses, floors, uses, wkb, strict=True),
        on_batch=batch_loaded,
    )
    _building_database_checks(session, problems)
    report("check", total)

    if problems:
        drop_staging(session)
        raise ImportRejected(ImportReport(total, 0, problems.rejections()))
    new_ids = session.scalars(
        text(
            f"""
            INSERT INTO building (code, name, address, floors, use, grid_code, district_code,
                                  geom)
            SELECT t.code, t.name, t.address, t.floors, CAST(t.use AS building_use),
                   a.grid_code, a.district_code, ST_Multi(t.geom)
            FROM {_BUILDING_TABLE} t JOIN {_ASSIGNMENT_TABLE} a USING (row_no)
            RETURNING id
            """
        )
    ).all()
    drop_staging(session)
    # Each new building gets its standard address (标准地址), and its road and door plate.
    attach_buildings(session, building_ids=[int(i) for i in new_ids])
    report("write", len(new_ids))
    return ImportReport(total, len(new_ids))


def _floors(value: Any, i: int, problems: _Problems) -> int | None:
    if value is None:
        return None
    number = _whole_number(value)
    if number is None or number < 1:
        problems.add(i, f"floors '{value}' is not a positive whole number (1, 2, 3 …).")
        return None
    return number


def _check_building_text(
    codes: list[str | None],
    names: list[str | None],
    addresses: list[str | None],
    problems: _Problems,
) -> None:
    for field_name, values in (("code", codes), ("name", names), ("address", addresses)):
        limit = _BUILDING_LIMITS[field_name]
        for i, value in enumerate(values):
            if value is not None and len(value) > limit:
                problems.add(
                    i, f"{field_name} is {len(value)} characters long; at most {limit} fit."
                )
    for i, code in enumerate(codes):
        if code is None:
            problems.add(i, "code is missing; every building needs a code.")


def _building_database_checks(session: Session, problems: _Problems) -> None:
    """Codes already stored, and the grid of every footprint (or the lack of one)."""
    for row_no, code in session.execute(
        text(
            f"""
            SELECT t.row_no, t.code FROM {_BUILDING_TABLE} t
            JOIN building b ON b.code = t.code
            ORDER BY t.row_no
            """
        )
    ):
        problems.add(
            row_no - 1,
            f"duplicate code: a building with code {code} already exists; give this one "
            "another code or delete the stored one first.",
        )
    # Points first, indexed, then joined from the grid side: each grid probes the points'
    # index once and PostGIS reuses its prepared polygon for all the points inside it,
    # several times faster than one grid-index probe per building.
    _create_temp(session, _POINT_TABLE, f"row_no int, point geometry(Point, {STORAGE_SRID})")
    session.execute(
        text(
            f"""
            INSERT INTO {_POINT_TABLE}
            SELECT row_no, ST_PointOnSurface(geom) FROM {_BUILDING_TABLE}
            WHERE geom IS NOT NULL
            """
        )
    )
    session.execute(text(f"CREATE INDEX ON {_POINT_TABLE} USING gist (point)"))
    session.execute(text(f"ANALYZE {_POINT_TABLE}"))
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_ASSIGNMENT_TABLE}"))
    session.execute(
        text(
            f"""
            CREATE TEMP TABLE {_ASSIGNMENT_TABLE} ON COMMIT DROP AS
            SELECT DISTINCT ON (p.row_no) p.row_no, g.code AS grid_code, g.district_code
            FROM {_POINT_TABLE} p JOIN grid g ON ST_Covers(g.geom, p.point)
            ORDER BY p.row_no, g.code  -- shared boundary: the lowest grid code wins
            """
        )
    )
    for row_no, lon, lat in session.execute(
        text(
            f"""
            SELECT p.row_no, ST_X(p.point), ST_Y(p.point) FROM {_POINT_TABLE} p
            WHERE NOT EXISTS (SELECT 1 FROM {_ASSIGNMENT_TABLE} a WHERE a.row_no = p.row_no)
            ORDER BY p.row_no
            """
        )
    ):
        problems.add(
            row_no - 1,
            f"lies outside every grid: its interior point ({lon:.6f}, {lat:.6f}) is in no "
            "grid; import the grid that covers it first, or correct the footprint.",
        )
