"""Demo departments and units (部门与处置单位) for the demo city, and the demo dispatcher logins.

Every district of the scale gets one department of every `DepartmentType` and its units:

- police stations (派出所) and fire stations (消防救援站) whose jurisdictions are the Voronoi
  cells of the station points clipped to the district, so they cut across street boundaries
  as real police and fire areas do;
- one unit per street for the street-level services: civil-affairs office (民政办),
  urban-management squad (城管执法中队), justice office (司法所), community health centre
  (社区卫生服务中心), market-regulation office (市场监管所) and the street office (街道办事处)
  itself, each with the street as its jurisdiction;
- one district-wide unit of human resources, housing, emergency management and ecology, and
  the district command centre (指挥中心), each with the district as its jurisdiction.

Units are generated from the demo city as stored (streets and districts read back ordered by
code) and a seed, so the same city and seed give the same units, points and phones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from demo.city.scales import DEFAULT_SEED, SCALES
from demo.people.scales import DEMO_PASSWORD
from events.catalog import DepartmentType
from events.exceptions import EventError
from events.models import Department, DepartmentUnit
from gis.bulk import ewkb_hex
from people.models import Staff, StaffRole
from people.staff import create_staff

__all__ = [
    "DEMO_DISPATCHERS",
    "DemoUnitsError",
    "UnitSpec",
    "demo_unit_specs",
    "seed_demo_dispatchers",
    "seed_demo_units",
]

T = DepartmentType

# 西陵区's stations sit in the street they are named after; the district has more streets
# than police stations, so their areas straddle street lines by construction.
XILING: Final = "420502"
WUJIAGANG: Final = "420503"
_XILING_POLICE: Final = (
    ("西陵派出所", "001"),
    ("学院街派出所", "002"),
    ("云集派出所", "003"),
    ("西坝派出所", "004"),
    ("葛洲坝派出所", "005"),
)
_XILING_FIRE: Final = (("夷陵大道消防救援站", "002"), ("西坝消防救援站", "004"))

# The demo dispatcher logins (password "gridgov-demo") and the unit each works for.
DEMO_DISPATCHERS: Final[list[tuple[str, str]]] = [
    ("police1", f"{XILING}-police-01"),
    ("fire1", f"{XILING}-fire-01"),
    ("civil1", f"{XILING}001-civil_affairs"),
    ("urban1", f"{XILING}001-urban_management"),
    ("wjg.police1", f"{WUJIAGANG}-police-01"),
]
_DISPATCHER_NAMES: Final = {
    "police1": "西陵派出所值班民警",
    "fire1": "消防救援站值班员",
    "civil1": "西陵街道民政办专干",
    "urban1": "西陵街道城管中队队员",
    "wjg.police1": "伍家岗区派出所值班民警",
}

# Street-level services: unit name from the street's full name and its stem (西陵街道 → 西陵).
_PER_STREET: Final = (
    (T.CIVIL_AFFAIRS, "{street}民政办"),
    (T.URBAN_MANAGEMENT, "{street}城管执法中队"),
    (T.JUSTICE, "{stem}司法所"),
    (T.HEALTH, "{street}社区卫生服务中心"),
    (T.MARKET_REGULATION, "{stem}市场监管所"),
    (T.STREET_OFFICE, "{office}"),
)
_PER_DISTRICT: Final = (
    (T.HUMAN_RESOURCES, "{district}劳动保障监察大队"),
    (T.HOUSING, "{district}住建局城建监察大队"),
    (T.EMERGENCY, "{district}应急管理综合执法大队"),
    (T.ECOLOGY, "{district}生态环境保护综合执法大队"),
    (T.COMMAND_CENTRE, "{district}社会治理指挥中心"),
)
_DEPARTMENT_NAMES: Final = {
    T.POLICE: "宜昌市公安局{district}分局",
    T.FIRE: "{district}消防救援大队",
    T.CIVIL_AFFAIRS: "{district}民政局",
    T.URBAN_MANAGEMENT: "{district}城市管理执法局",
    T.HEALTH: "{district}卫生健康局",
    T.HUMAN_RESOURCES: "{district}人力资源和社会保障局",
    T.JUSTICE: "{district}司法局",
    T.MARKET_REGULATION: "{district}市场监督管理局",
    T.HOUSING: "{district}住房和城乡建设局",
    T.EMERGENCY: "{district}应急管理局",
    T.ECOLOGY: "宜昌市生态环境局{district}分局",
    T.STREET_OFFICE: "{district}街道（乡镇）",
    T.COMMAND_CENTRE: "{district}社会治理指挥中心",
}
# Share of a district's streets that have a police station elsewhere than 西陵区, and streets
# per fire station.
_POLICE_SHARE: Final = 0.7
_STREETS_PER_FIRE_STATION: Final = 3


class DemoUnitsError(EventError):
    """Demo units could not be seeded; the message says why and what to do."""


@dataclass(frozen=True)
class UnitSpec:
    """One demo unit: code, name, type, district, jurisdiction and location (lon/lat, 4490)."""

    code: str
    name: str
    dept_type: DepartmentType
    district_code: str
    geom: shapely.MultiPolygon
    location: shapely.Point
    phone: str


@dataclass(frozen=True)
class _Area:
    code: str  # 12-digit admin code
    name: str
    geom: BaseGeometry


def _stem(street: str) -> str:
    """A street's name without its 街道/镇/乡 suffix: 西陵街道 → 西陵, 樟村坪镇 → 樟村坪."""
    for suffix in ("街道", "镇", "乡"):
        if street.endswith(suffix) and len(street) > len(suffix) + 1:
            return street[: -len(suffix)]
    return street


def _office(street: str) -> str:
    """The street office's name: 西陵街道办事处, 樟村坪镇人民政府."""
    return f"{street}办事处" if street.endswith("街道") else f"{street}人民政府"


def polygonal(geom: BaseGeometry) -> shapely.MultiPolygon:
    """The polygon parts of `geom` (an intersection may add stray lines) as a MultiPolygon."""
    parts = [
        part
        for part in shapely.get_parts(geom)
        if isinstance(part, shapely.Polygon) and not part.is_empty
    ]
    flat: list[shapely.Polygon] = []
    for part in parts:
        flat.extend(shapely.get_parts(part))
    return shapely.MultiPolygon(flat)


def voronoi_areas(
    points: Sequence[shapely.Point], within: BaseGeometry
) -> list[shapely.MultiPolygon]:
    """The Voronoi cell of each point clipped to `within`, in the points' order (lon/lat).

    Cells are cut in a locally metric plane (longitudes scaled by cos(latitude)), so a cell
    boundary is the true perpendicular bisector between two stations, not a lon/lat one.
    """
    if len(points) == 1:
        return [polygonal(within)]
    lat0 = within.centroid.y
    kx = math.cos(math.radians(lat0))
    to_plane = np.array([kx, 1.0])

    def plane(geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: c * to_plane)

    def back(geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: c / to_plane)

    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            plane(shapely.MultiPoint(points)), extend_to=plane(within).buffer(0.1)
        )
    )
    areas = []
    for point in points:
        mine = [cell for cell in cells if cell.contains(plane(point))]
        if len(mine) != 1:
            raise AssertionError(f"station {point.wkt} lies in {len(mine)} Voronoi cells")
        areas.append(polygonal(shapely.intersection(back(mine[0]), within)))
    return areas


def _inside(rng: np.random.Generator, area: BaseGeometry, near: shapely.Point) -> shapely.Point:
    """A point of `area` within about 400 m of `near` (or `near` itself if none is found)."""
    for _ in range(50):
        dx, dy = rng.normal(0, 0.004, 2)
        candidate = shapely.Point(near.x + dx, near.y + dy)
        if area.contains(candidate):
            return candidate
    return near


def _phone(rng: np.random.Generator) -> str:
    """A Yichang landline (area code 0717)."""
    return f"0717-{rng.integers(6_000_000, 6_999_999)}"


def _load_areas(session: Session, district_codes: Sequence[str]) -> dict[str, list[_Area]]:
    """District (first) and streets of each district, ordered by code."""
    rows = session.execute(
        text(
            "SELECT code, name, level::text, ST_AsBinary(geom) FROM admin_unit "
            "WHERE district_code = ANY(:codes) AND level IN ('district', 'street') "
            "ORDER BY district_code, level = 'street', code"
        ),
        {"codes": list(district_codes)},
    ).all()
    areas: dict[str, list[_Area]] = {}
    for code, name, _level, wkb in rows:
        areas.setdefault(code[:6], []).append(_Area(code, name, shapely.from_wkb(bytes(wkb))))
    return areas


def demo_unit_specs(
    session: Session, *, scale: str = "demo", seed: int = DEFAULT_SEED
) -> list[UnitSpec]:
    """The demo units of every district of `scale`, from the stored city (no writes)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose demo or city")
    areas = _load_areas(session, SCALES[scale].district_codes)
    specs: list[UnitSpec] = []
    for district_code in SCALES[scale].district_codes:
        if district_code not in areas or len(areas[district_code]) < 2:
            raise DemoUnitsError(
                f"district {district_code} and its streets are not in the database; seed the "
                f"demo city first (`gridgov seed demo --scale {scale}`)"
            )
        specs.extend(_district_units(areas[district_code], seed=seed))
    return specs


def _stations(
    rng: np.random.Generator, district: _Area, streets: list[_Area], kind: DepartmentType
) -> list[tuple[str, _Area]]:
    """(station name, street it sits in) for the police or fire stations of a district."""
    by_suffix = {s.code[6:9]: s for s in streets}
    if district.code[:6] == XILING:
        named = _XILING_POLICE if kind is T.POLICE else _XILING_FIRE
        return [(name, by_suffix[suffix]) for name, suffix in named if suffix in by_suffix]
    if kind is T.POLICE:
        count = max(2, round(_POLICE_SHARE * len(streets)))
        suffix = "派出所"
    else:
        count = max(1, round(len(streets) / _STREETS_PER_FIRE_STATION))
        suffix = "消防救援站"
    chosen = sorted(rng.permutation(len(streets))[: min(count, len(streets))].tolist())
    return [(f"{_stem(streets[i].name)}{suffix}", streets[i]) for i in chosen]


def _district_units(areas: list[_Area], *, seed: int) -> list[UnitSpec]:
    district, streets = areas[0], areas[1:]
    code6 = district.code[:6]
    rng = np.random.default_rng([seed, 9_300, int(code6)])
    specs: list[UnitSpec] = []
    for kind in (T.POLICE, T.FIRE):
        stations = _stations(rng, district, streets, kind)
        # The station stands at a point of its street, a little off the street's centre.
        points = [
            _inside(rng, street.geom, shapely.point_on_surface(street.geom))
            for _, street in stations
        ]
        cells = voronoi_areas(points, district.geom)
        for n, ((name, _), point, cell) in enumerate(zip(stations, points, cells, strict=True), 1):
            specs.append(
                UnitSpec(
                    code=f"{code6}-{kind.value}-{n:02d}",
                    name=name,
                    dept_type=kind,
                    district_code=code6,
                    geom=cell,
                    location=point,
                    phone=_phone(rng),
                )
            )
    for street in streets:
        office_point = shapely.point_on_surface(street.geom)
        names = {"street": street.name, "stem": _stem(street.name), "office": _office(street.name)}
        for kind, pattern in _PER_STREET:
            # 民政办 and 司法所 share the street office's building; the others have their own.
            shared = kind in (T.CIVIL_AFFAIRS, T.JUSTICE, T.STREET_OFFICE)
            specs.append(
                UnitSpec(
                    code=f"{street.code[:9]}-{kind.value}",
                    name=pattern.format(**names),
                    dept_type=kind,
                    district_code=code6,
                    geom=polygonal(street.geom),
                    location=office_point if shared else _inside(rng, street.geom, office_point),
                    phone=_phone(rng),
                )
            )
    centre = shapely.point_on_surface(district.geom)
    for kind, pattern in _PER_DISTRICT:
        specs.append(
            UnitSpec(
                code=f"{code6}-{kind.value}",
                name=pattern.format(district=district.name),
                dept_type=kind,
                district_code=code6,
                geom=polygonal(district.geom),
                location=_inside(rng, district.geom, centre),
                phone=_phone(rng),
            )
        )
    return specs


def _department(
    session: Session, district_code: str, district_name: str, kind: DepartmentType
) -> Department:
    department = session.scalar(
        select(Department)
        .where(Department.district_code == district_code, Department.dept_type == kind)
        .order_by(Department.id)
        .limit(1)
    )
    if department is None:
        department = Department(
            name=_DEPARTMENT_NAMES[kind].format(district=district_name),
            dept_type=kind,
            district_code=district_code,
        )
        session.add(department)
        session.flush()
    return department


def seed_demo_units(session: Session, *, scale: str = "demo", seed: int = DEFAULT_SEED) -> int:
    """Write the demo departments and units of `scale`; returns how many units were added.

    A district that already has units is left alone, so seeding twice adds nothing. Needs the
    demo city (demo.city.seed.seed_demo_city). Runs in the session's transaction, never commits.
    """
    codes = SCALES[scale].district_codes if scale in SCALES else ()
    session.flush()
    present = set(
        session.scalars(
            select(DepartmentUnit.district_code)
            .where(DepartmentUnit.district_code.in_(codes))
            .distinct()
        )
    )
    if present >= set(codes) and codes:
        return 0
    names: dict[str, str] = dict(
        session.execute(
            text(
                "SELECT district_code, name FROM admin_unit "
                "WHERE district_code = ANY(:codes) AND level = 'district'"
            ),
            {"codes": list(codes)},
        ).all()
    )
    added = 0
    for spec in demo_unit_specs(session, scale=scale, seed=seed):
        if spec.district_code in present:
            continue
        department = _department(
            session, spec.district_code, names[spec.district_code], spec.dept_type
        )
        session.add(
            DepartmentUnit(
                code=spec.code,
                name=spec.name,
                department_id=department.id,
                dept_type=spec.dept_type,
                district_code=spec.district_code,
                geom=ewkb_hex(spec.geom),
                location=ewkb_hex(spec.location),
                phone=spec.phone,
                webhook_url=None,
            )
        )
        added += 1
    session.flush()
    session.execute(text("ANALYZE department_unit"))
    return added


def seed_demo_dispatchers(session: Session) -> int:
    """Create the demo dispatcher logins of DEMO_DISPATCHERS; returns how many were added.

    Accounts that exist are left alone. Needs the demo units (seed_demo_units).
    """
    added = 0
    for username, unit_code in DEMO_DISPATCHERS:
        if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
            continue
        unit_id = session.scalar(select(DepartmentUnit.id).where(DepartmentUnit.code == unit_code))
        if unit_id is None:
            raise DemoUnitsError(
                f"unit {unit_code} for the demo account {username} does not exist; "
                "seed the demo units first (demo.units.seed_demo_units)"
            )
        create_staff(
            session,
            username=username,
            password=DEMO_PASSWORD,
            full_name=_DISPATCHER_NAMES[username],
            role=StaffRole.DISPATCHER,
            department_unit_id=unit_id,
        )
        added += 1
    return added
