"""City parts (城市部件): the part-type catalogue, imports, reads, and the check of a part an
event names.

A part's code is the 16-digit identification code of GB/T 30428.2 (the legacy CJ/T 214
scheme): 6-digit county + 2-digit 大类 + 2-digit 小类 + 6-digit sequence, e.g. 4205020118000012
is 西陵区's street lamp (0118 路灯) number 12. The types come from the shipped catalogue
(grid/data/part_types.csv), which also gives each type's GB/T 47678.5 class. A part's grid is
not stored: it is the grid covering its point when read.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from sqlalchemy import ColumnElement, Select, column, func, select, table, text
from sqlalchemy.orm import Session

from gis.bulk import copy_rows
from gis.config import get_settings
from gis.crs import Crs
from gis.db import STORAGE_SRID
from grid.exceptions import ImportRejected, InvalidQuery, NotFound
from grid.importer import (
    ImportReport,
    ProgressCallback,
    _as_text,
    _create_temp,
    _feature_ids,
    _first_rows,
    _pick,
    _Problems,
)
from grid.io import FeatureFile, read_feature_file
from grid.models import AdminLevel, AdminUnit, CityPart, Grid, PartState
from grid.schemas import OwnerRef, PartNamed, PartPage, PartRead, PartTypeRead
from grid.service import MAX_PAGE_SIZE, parse_bbox, within_districts

__all__ = [
    "PART_REPORT_RADIUS_M",
    "PartType",
    "get_part",
    "import_parts",
    "list_parts",
    "load_parts",
    "part_named",
    "part_point",
    "part_type",
    "part_types",
]

# An event may name a part at most this far from the event's point (事件关联部件).
PART_REPORT_RADIUS_M: Final = 100.0
PART_CODE: Final = re.compile(r"^[0-9]{16}$")

# The unit table belongs to the events package, which grid never imports: the columns a part's
# owner needs are declared here as a lightweight table (the model's foreign key names the same).
_UNIT: Final = table(
    "department_unit",
    column("id"),
    column("code"),
    column("name"),
    column("district_code"),
    column("active"),
)

PART_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "code": ("code", "part_code", "部件编码", "部件标识码", "标识码", "objid", "编码"),
    "type": ("type", "type_code", "部件类型", "小类", "小类代码", "objname"),
    "name": ("name", "part_name", "部件名称", "名称"),
    "state": ("state", "status", "部件状态", "状态", "objstate"),
    "owner": ("owner", "owner_unit", "权属单位", "养护单位", "主管部门", "deptname"),
}


# --- the catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartType:
    """A part type (部件小类): legacy 4-digit class and the GB/T 47678.5 5-digit class."""

    code: str
    major_code: str
    major_name: str
    name: str
    gbt47678_code: str | None
    checked: bool

    def read(self) -> PartTypeRead:
        """The type as the API shows it."""
        return PartTypeRead(
            code=self.code,
            major_code=self.major_code,
            major_name=self.major_name,
            name=self.name,
            gbt47678_code=self.gbt47678_code,
            checked=self.checked,
        )


@functools.cache
def part_types() -> dict[str, PartType]:
    """The shipped part-type catalogue by legacy 4-digit code."""
    raw = resources.files("grid").joinpath("data/part_types.csv").read_text("utf-8")
    lines = [line for line in raw.splitlines() if line and not line.startswith("#")]
    types = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        code = row["code"].strip()
        if not re.fullmatch(r"[0-9]{4}", code) or code[:2] != row["major_code"].strip():
            raise ValueError(f"part type {code} in part_types.csv is not 大类 + 小类 (4 digits)")
        types[code] = PartType(
            code=code,
            major_code=row["major_code"].strip(),
            major_name=row["major_name"].strip(),
            name=row["name"].strip(),
            gbt47678_code=row["gbt47678_code"].strip() or None,
            checked=row["checked"].strip() == "yes",
        )
    return types


def part_type(text_value: str) -> PartType:
    """The type named by its legacy 4-digit code, its GB/T 47678.5 5-digit code or its name."""
    wanted = text_value.strip()
    for kind in part_types().values():
        if wanted in (kind.code, kind.gbt47678_code, kind.name):
            return kind
    known = ", ".join(f"{t.code} {t.name}" for t in part_types().values())
    raise InvalidQuery(
        f"part type '{text_value}' is not in the catalogue; use a 4-digit class "
        f"(大类+小类) or a name: {known}"
    )


# --- reads ------------------------------------------------------------------------------------


def _grid_of(point: Any) -> Any:
    """The lowest-coded grid covering `point` (a shared boundary goes to the lower code)."""
    return (
        select(Grid.code)
        .where(func.ST_Covers(Grid.geom, point))
        .order_by(Grid.code)
        .limit(1)
        .scalar_subquery()
    )


def _part_rows() -> Select[Any]:
    return select(
        CityPart,
        _grid_of(CityPart.geom),
        func.ST_X(CityPart.geom),
        func.ST_Y(CityPart.geom),
        _UNIT.c.code,
        _UNIT.c.name,
    ).outerjoin(_UNIT, _UNIT.c.id == CityPart.owner_unit_id)


def _part_read(row: Any) -> PartRead:
    part, grid_code, lon, lat, unit_code, unit_name = row
    kind = part_types().get(part.type_code)
    type_read = (
        kind.read()
        if kind
        else PartTypeRead(  # a type a deployment has since dropped from its catalogue
            code=part.type_code,
            major_code=part.type_code[:2],
            major_name="",
            name=part.type_code,
            gbt47678_code=None,
            checked=False,
        )
    )
    owner = (
        OwnerRef(id=part.owner_unit_id, code=unit_code, name=unit_name)
        if part.owner_unit_id is not None
        else None
    )
    return PartRead(
        code=part.code,
        type=type_read,
        name=part.name,
        state=part.state.value,
        state_label=part.state.label,
        owner=owner,
        district_code=part.district_code,
        grid_code=grid_code,
        lon=round(float(lon), 7),
        lat=round(float(lat), 7),
        geometry={"type": "Point", "coordinates": [round(float(lon), 7), round(float(lat), 7)]},
    )


def _type_filter(value: str) -> ColumnElement[bool]:
    """Parts of a 大类 (2 digits) or of one type (4-digit class, 5-digit class or name)."""
    cleaned = value.strip()
    if re.fullmatch(r"[0-9]{2}", cleaned):
        return CityPart.type_code.startswith(cleaned, autoescape=True)
    return CityPart.type_code == part_type(cleaned).code


def _parse_state(value: str) -> PartState:
    try:
        return PartState.parse(value)
    except ValueError as exc:
        raise InvalidQuery(str(exc)) from exc


def list_parts(
    session: Session,
    *,
    bbox: str | None = None,
    part_type_code: str | None = None,
    state: str | None = None,
    owner_unit_id: int | None = None,
    grid_code: str | None = None,
    page: int = 1,
    page_size: int = 100,
    districts: Sequence[str] | None = None,
) -> PartPage:
    """City parts in `districts` (None: all), filtered by bbox, type or 大类, state, owner and
    grid, by code."""
    if page < 1:
        raise InvalidQuery(f"page {page} is not valid; pages start at 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidQuery(f"page_size {page_size} is not valid; use 1..{MAX_PAGE_SIZE}")
    stmt = _part_rows().where(within_districts(CityPart.district_code, districts))
    if bbox:
        envelope = func.ST_MakeEnvelope(*parse_bbox(bbox), STORAGE_SRID)
        stmt = stmt.where(CityPart.geom.op("&&")(envelope))
    if part_type_code:
        stmt = stmt.where(_type_filter(part_type_code))
    if state:
        stmt = stmt.where(CityPart.state == _parse_state(state))
    if owner_unit_id is not None:
        stmt = stmt.where(CityPart.owner_unit_id == owner_unit_id)
    if grid_code:
        stmt = stmt.where(_grid_of(CityPart.geom) == grid_code.strip())
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(CityPart.code).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return PartPage(
        total=total, page=page, page_size=page_size, items=[_part_read(r) for r in rows]
    )


def _not_found(code: str) -> NotFound:
    return NotFound(
        f"city part {code} does not exist; a part code has 16 digits: county (6), 大类 (2), "
        "小类 (2) and sequence (6)"
    )


def get_part(session: Session, *, code: str, districts: Sequence[str] | None = None) -> PartRead:
    """One city part by its 16-digit code (in `districts`: another district's reads as missing)."""
    row = session.execute(
        _part_rows().where(
            CityPart.code == code.strip(), within_districts(CityPart.district_code, districts)
        )
    ).first()
    if row is None:
        raise _not_found(code)
    return _part_read(row)


def part_point(session: Session, *, code: str) -> tuple[float, float]:
    """CGCS2000 lon/lat of a part, to place a case by the part it names."""
    row = session.execute(
        select(func.ST_X(CityPart.geom), func.ST_Y(CityPart.geom)).where(
            CityPart.code == code.strip()
        )
    ).first()
    if row is None:
        raise InvalidQuery(
            f"city part {code.strip()} does not exist; check the code on the part's plate "
            "or find it with GET /api/parts?bbox=…"
        )
    return float(row[0]), float(row[1])


def part_named(
    session: Session, *, code: str, district_code: str, lon: float, lat: float
) -> PartNamed:
    """The part a report names, checked: it exists, lies in the event's district and within
    `PART_REPORT_RADIUS_M` of the event's point (CGCS2000 lon/lat). Raises InvalidQuery."""
    cleaned = code.strip()
    if not PART_CODE.match(cleaned):
        raise InvalidQuery(
            f"part code '{code}' is not a 16-digit city part code (county 6 + 大类 2 + 小类 2 "
            "+ sequence 6)"
        )
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), STORAGE_SRID)
    row = session.execute(
        select(
            CityPart,
            func.ST_Distance(func.Geography(CityPart.geom), func.Geography(point)),
            _UNIT.c.name,
        )
        .outerjoin(_UNIT, _UNIT.c.id == CityPart.owner_unit_id)
        .where(CityPart.code == cleaned)
    ).first()
    if row is None:
        raise InvalidQuery(
            f"city part {cleaned} does not exist; check the code on the part's plate "
            "or find it with GET /api/parts?bbox=…"
        )
    part, distance, owner_name = row
    if part.district_code != district_code:
        raise InvalidQuery(
            f"city part {cleaned} is in district {part.district_code}, not in the event's "
            f"district {district_code}; name a part at the event's place"
        )
    if distance > PART_REPORT_RADIUS_M:
        raise InvalidQuery(
            f"city part {cleaned} is {distance:.1f} m from the event's point; a part named by "
            f"an event must be within {PART_REPORT_RADIUS_M:.0f} m of it. Check the part "
            "code or the point"
        )
    kind = part_types().get(part.type_code)
    return PartNamed(
        code=part.code,
        type_name=kind.name if kind else part.type_code,
        owner_unit_id=part.owner_unit_id,
        owner_name=owner_name,
        distance_m=round(float(distance), 1),
    )


# --- imports ----------------------------------------------------------------------------------

_PART_STAGING: Final = "_part_import"
_NAME_MAX: Final = 200


def import_parts(
    session: Session,
    *,
    path: str | Path,
    crs: Crs | str = Crs.CGCS2000,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import city parts from GeoJSON, GeoPackage, Shapefile or CSV (lon and lat columns, or
    WKT); all or nothing. A code already stored is updated (type, point, and the name, state
    and owner the file gives). Raises ImportRejected listing every bad row."""
    features = read_feature_file(path, crs=crs)
    if on_progress:
        on_progress("read", len(features), len(features))
    return load_parts(session, features=features)


def _units_by_key(session: Session) -> dict[str, list[tuple[int, str, bool]]]:
    """Units by code and by name: (id, district, active) of each."""
    found: dict[str, list[tuple[int, str, bool]]] = {}
    for unit_id, code, name, district, active in session.execute(
        select(_UNIT.c.id, _UNIT.c.code, _UNIT.c.name, _UNIT.c.district_code, _UNIT.c.active)
    ):
        entry = (int(unit_id), str(district), bool(active))
        found.setdefault(str(code), []).append(entry)
        if name != code:
            found.setdefault(str(name), []).append(entry)
    return found


def _owner(
    value: str | None,
    district: str | None,
    units: dict[str, list[tuple[int, str, bool]]],
    i: int,
    problems: _Problems,
) -> int | None:
    if value is None:
        return None
    matches = units.get(value, [])
    if not matches:
        problems.add(
            i,
            f"owner '{value}' is not a department unit; give the unit's code or its exact "
            "name (GET /api/units).",
        )
        return None
    if len(matches) > 1:
        problems.add(i, f"owner '{value}' names {len(matches)} units; give the unit's code.")
        return None
    unit_id, unit_district, active = matches[0]
    if district is not None and unit_district != district:
        problems.add(
            i,
            f"owner '{value}' is a unit of district {unit_district}, not of the part's "
            f"district {district}; a part is kept by a unit of its own district.",
        )
        return None
    if not active:
        problems.add(i, f"owner '{value}' is no longer active; give the unit that keeps it now.")
        return None
    return unit_id


def _check_code_and_type(
    code: str | None, given_type: str | None, districts: set[str], i: int, problems: _Problems
) -> str | None:
    """The part's 4-digit type from its code, checked against the catalogue and the file's type
    column; None (with a problem) when the code or type is wrong."""
    if code is None:
        problems.add(i, "code is missing; every part needs its 16-digit code.")
        return None
    if not PART_CODE.match(code):
        problems.add(
            i,
            f"code '{code}' is not 16 digits (county 6 + 大类 2 + 小类 2 + sequence 6, "
            "GB/T 30428.2).",
        )
        return None
    if code[:6] not in districts:
        problems.add(
            i,
            f"code {code} starts with county {code[:6]}, which is not a district of the "
            "administrative tree; import the district first or correct the code.",
        )
    kind = part_types().get(code[6:10])
    if kind is None:
        problems.add(
            i,
            f"code {code} has class {code[6:10]} (大类 {code[6:8]}, 小类 {code[8:10]}), "
            "which is not in the part-type catalogue.",
        )
        return None
    if given_type is not None and given_type not in (kind.code, kind.gbt47678_code, kind.name):
        problems.add(
            i,
            f"type '{given_type}' does not agree with the code, whose class {kind.code} is "
            f"{kind.name}; correct the type or the code.",
        )
    return kind.code


def _state(value: str | None, i: int, problems: _Problems) -> str | None:
    if value is None:
        return None
    try:
        return PartState.parse(value).value
    except ValueError as exc:
        problems.add(i, f"{exc}.")
        return None


def load_parts(session: Session, *, features: FeatureFile) -> ImportReport:
    """Validate and write part features already read; raise ImportRejected if any row fails."""
    session.flush()
    total = len(features)
    columns = _pick(features.attributes, PART_ALIASES)
    codes = _as_text(columns["code"])
    problems = _Problems(_feature_ids(codes))
    problems.add_all(features.problems)
    geometries = features.geometries
    is_point = shapely.get_type_id(geometries) == 0
    for index in np.flatnonzero(~is_point):
        i = int(index)
        if i in features.problems:
            continue
        geom = geometries[i]
        problems.add(
            i,
            "has no point; a city part is a Point (lon, lat)."
            if geom is None
            else f"is a {geom.geom_type}; a city part is a Point (lon, lat).",
        )
    districts = set(
        session.scalars(select(AdminUnit.code).where(AdminUnit.level == AdminLevel.DISTRICT))
    )
    districts = {code[:6] for code in districts}
    types = [
        _check_code_and_type(code, given, districts, i, problems)
        for i, (code, given) in enumerate(zip(codes, _as_text(columns["type"]), strict=True))
    ]
    for i, first in _first_rows(codes).items():
        problems.add(i, f"duplicate code: {codes[i]} is also used by row {first + 1} of the file.")
    names = _as_text(columns["name"])
    for i, name in enumerate(names):
        if name is not None and len(name) > _NAME_MAX:
            problems.add(i, f"name is {len(name)} characters long; at most {_NAME_MAX} fit.")
    states = [_state(v, i, problems) for i, v in enumerate(_as_text(columns["state"]))]
    units = _units_by_key(session)
    owners = [
        _owner(value, code[:6] if code and PART_CODE.match(code) else None, units, i, problems)
        for i, (value, code) in enumerate(zip(_as_text(columns["owner"]), codes, strict=True))
    ]
    usable = [
        is_point[i] and types[i] is not None and i not in features.problems for i in range(total)
    ]
    _create_temp(
        session,
        _PART_STAGING,
        "row_no int, code text, type_code text, name text, state text, owner_unit_id int, "
        f"geom geometry(Point, {STORAGE_SRID})",
    )
    copy_rows(
        session,
        table=_PART_STAGING,
        columns=("row_no", "code", "type_code", "name", "state", "owner_unit_id", "geom"),
        rows=(
            (
                i + 1,
                codes[i],
                types[i],
                names[i],
                states[i],
                owners[i],
                shapely.to_wkb(geometries[i]).hex(),
            )
            for i in range(total)
            if usable[i]
        ),
    )
    _district_checks(session, problems)
    if problems:
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_PART_STAGING}"))
        raise ImportRejected(ImportReport(total, 0, problems.rejections()))
    written = _write_staged(session)
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_PART_STAGING}"))
    return ImportReport(total, written)


def _district_checks(session: Session, problems: _Problems) -> None:
    """Each point must lie in its code's district: the grid covering it (if any) is of that
    district, and a point in no grid is within the locate tolerance of the district's area."""
    tolerance = get_settings().locate_tolerance_m
    for row_no, code, grid_code, lon, lat in session.execute(
        text(
            f"""
            SELECT t.row_no, t.code, g.code, ST_X(t.geom), ST_Y(t.geom)
            FROM {_PART_STAGING} t
            LEFT JOIN LATERAL (
                SELECT code, district_code FROM grid WHERE ST_Covers(grid.geom, t.geom)
                ORDER BY code LIMIT 1
            ) g ON true
            LEFT JOIN admin_unit d ON d.code = substr(t.code, 1, 6) || '000000'
            WHERE (g.code IS NOT NULL AND g.district_code <> substr(t.code, 1, 6))
               OR (g.code IS NULL AND d.geom IS NOT NULL
                   AND NOT ST_DWithin(d.geom::geography, t.geom::geography, :tolerance))
            ORDER BY t.row_no
            """
        ),
        {"tolerance": tolerance},
    ):
        where = f"in grid {grid_code}" if grid_code else "outside the district's area"
        problems.add(
            row_no - 1,
            f"lies {where} ({lon:.6f}, {lat:.6f}), not in district {code[:6]} that its code "
            "names; correct the point or the code.",
        )


def _write_staged(session: Session) -> int:
    """Update the parts already stored (keeping name, state and owner the file leaves blank),
    insert the new ones; how many rows were written."""
    updated = session.execute(  # type: ignore[attr-defined]  # a CursorResult
        text(
            f"""
            UPDATE city_part p
            SET type_code = t.type_code, name = COALESCE(t.name, p.name),
                state = COALESCE(CAST(t.state AS part_state), p.state),
                owner_unit_id = COALESCE(t.owner_unit_id, p.owner_unit_id),
                geom = t.geom, updated_at = now()
            FROM {_PART_STAGING} t
            WHERE p.code = t.code AND p.district_code = substr(t.code, 1, 6)
            """
        )
    ).rowcount
    inserted = session.execute(  # type: ignore[attr-defined]  # a CursorResult
        text(
            f"""
            INSERT INTO city_part (code, district_code, type_code, name, state, owner_unit_id,
                                   geom)
            SELECT t.code, substr(t.code, 1, 6), t.type_code, t.name,
                   CAST(COALESCE(t.state, 'normal') AS part_state), t.owner_unit_id, t.geom
            FROM {_PART_STAGING} t
            WHERE NOT EXISTS (
                SELECT 1 FROM city_part p
                WHERE p.code = t.code AND p.district_code = substr(t.code, 1, 6)
            )
            """
        )
    ).rowcount
    session.expire_all()
    return int(updated) + int(inserted)
