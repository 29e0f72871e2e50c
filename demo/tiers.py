"""Demo tier centres (分级流转) and their logins: a 综治工作站 for every community, a 综治中心
for every street, the district's 社会治理指挥中心 given its area, and the city's centre; the
accounts `community1` and `street1` (command staff of the first grid's community and street,
where worker1 reports), and a few cases of that grid waiting for their judgement (立案), one
escalated to the street and one refused. `city1` and the district accounts come with the
people.

Seeded after the demo events, whose generator routes to a district's centre by the unit list it
reads. Idempotent: centres and accounts that exist are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import shapely
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from demo.city.scales import SCALES
from demo.people.scales import CITY_AREA, DEMO_PASSWORD
from demo.units import polygonal
from events.actions import act
from events.catalog import DepartmentType
from events.models import Department, DepartmentUnit, Event, EventStatus
from events.schemas import ActionInput, EventReport
from events.service import report_event
from gis.bulk import ewkb_hex
from people.access import load_actor
from people.models import Staff, StaffRole
from people.staff import create_staff

__all__ = ["TIER_ACCOUNTS", "TierSeedSummary", "seed_demo_tiers"]

CITY_NAME: Final = "宜昌市"
# What the first grid's worker reports for the centres' judgement (立案) in the demo.
_CASES: Final = (
    ("0302", "楼上住户长期深夜噪声，楼下住户多次上门争吵"),
    ("0312", "小区物业停车收费上涨，业主与物业公司发生争执"),
    ("0402", "独居困难户冬季取暖无着，申请临时救助"),
    ("0302", "相邻两户因楼道堆物发生口角"),
)
# (username, full name, which area): the community and street of the first grid by code.
TIER_ACCOUNTS: Final = (
    ("community1", "社区综治工作站值班员", "community"),
    ("street1", "街道综治中心派遣员", "street"),
)


def _centre(
    session: Session,
    *,
    code: str,
    name: str,
    area_code: str,
    district_code: str,
    geom: shapely.Geometry,
) -> bool:
    """Add one centre unit unless its code exists; True when added."""
    if session.scalar(select(DepartmentUnit.id).where(DepartmentUnit.code == code)):
        return False
    department = session.scalar(
        select(Department)
        .where(
            Department.dept_type == DepartmentType.COMMAND_CENTRE,
            Department.district_code == district_code,
        )
        .order_by(Department.id)
        .limit(1)
    )
    if department is None:
        department = Department(
            name=name, dept_type=DepartmentType.COMMAND_CENTRE, district_code=district_code
        )
        session.add(department)
        session.flush()
    session.add(
        DepartmentUnit(
            code=code,
            name=name,
            department_id=department.id,
            dept_type=DepartmentType.COMMAND_CENTRE,
            district_code=district_code,
            area_code=area_code,
            geom=ewkb_hex(polygonal(geom)),
            location=ewkb_hex(shapely.point_on_surface(geom)),
        )
    )
    return True


@dataclass(frozen=True)
class TierSeedSummary:
    """What `seed_demo_tiers` added: centres and cases for the centres' judgement."""

    centres: int
    cases: int


def seed_demo_tiers(session: Session, *, scale: str = "demo") -> TierSeedSummary:
    """Centres at every tier for the districts of `scale`, the tier logins and a few cases for
    their judgement. Needs the demo city, units (district centres) and people."""
    codes = list(SCALES[scale].district_codes) if scale in SCALES else []
    rows = session.execute(
        text(
            "SELECT code, name, level::text, district_code, ST_AsBinary(geom) FROM admin_unit "
            "WHERE district_code = ANY(:codes) AND level IN ('district', 'street', 'community') "
            "ORDER BY code"
        ),
        {"codes": codes},
    ).all()
    added = 0
    city_parts = []
    for code, name, level, district, wkb in rows:
        geom = shapely.from_wkb(bytes(wkb))
        if level == "district":
            city_parts.append(geom)
            # the district centre the units module seeded serves its district (6 digits)
            session.execute(
                text(
                    "UPDATE department_unit SET area_code = :area WHERE code = :code "
                    "AND area_code IS NULL"
                ),
                {"area": district, "code": f"{district}-command_centre"},
            )
            continue
        area = code[:9] if level == "street" else code
        suffix = "综治中心" if level == "street" else "综治工作站"
        added += _centre(
            session,
            code=f"{area}-{level}_centre",
            name=f"{name}{suffix}",
            area_code=area,
            district_code=district,
            geom=geom,
        )
    if city_parts:
        added += _centre(
            session,
            code=f"{CITY_AREA}-city_centre",
            name=f"{CITY_NAME}社会治理指挥中心",
            area_code=CITY_AREA,
            district_code=codes[0],
            geom=shapely.union_all(city_parts),
        )
    session.flush()
    _tier_accounts(session, codes)
    return TierSeedSummary(centres=added, cases=_cases_to_judge(session, codes))


def _cases_to_judge(session: Session, codes: list[str]) -> int:
    """A few disputes and a request for help reported by the first grid's worker today: waiting
    for 立案 at the community, one escalated to the street, one refused with its reason; returns
    how many were filed (none when the districts have such cases already)."""
    exists = session.scalar(
        select(Event.id).where(
            Event.district_code.in_(codes),
            Event.status.in_([EventStatus.PENDING, EventStatus.REFUSED]),
        )
    )
    grid = session.execute(
        text(
            "SELECT g.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)), "
            "(SELECT sg.staff_id FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id "
            " WHERE sg.grid_code = g.code AND s.role = 'grid_worker' ORDER BY s.id LIMIT 1) "
            "FROM grid g WHERE g.district_code = ANY(:codes) ORDER BY g.code LIMIT 1"
        ),
        {"codes": codes},
    ).first()
    community = session.scalar(select(Staff.id).where(Staff.username == "community1"))
    if exists is not None or grid is None or grid[3] is None or community is None:
        return 0
    _, lon, lat, worker_id = grid
    worker = load_actor(session, staff_id=worker_id)
    judge = load_actor(session, staff_id=community)
    at = datetime.now(UTC)
    filed = [
        report_event(
            session,
            actor=worker,
            report=EventReport(category=category, lon=lon, lat=lat, description=words),
            now=at,
        ).code
        for category, words in _CASES
    ]
    act(
        session,
        actor=judge,
        code=filed[1],
        action="escalate",
        data=ActionInput(reason="涉及物业公司与业委会，超出社区调处能力"),
        now=at,
    )
    act(
        session,
        actor=judge,
        code=filed[3],
        action="refuse",
        data=ActionInput(reason="当事人已撤回，双方自行和解"),
        now=at,
    )
    return len(filed)


def _tier_accounts(session: Session, codes: list[str]) -> None:
    """community1 and street1: command staff of the first grid's community and street."""
    first = session.scalar(
        text("SELECT community_code FROM grid WHERE district_code = ANY(:codes) ORDER BY code"),
        {"codes": codes},
    )
    if first is None:
        return
    areas = {"community": first, "street": first[:9] + "000"}
    for username, full_name, level in TIER_ACCOUNTS:
        if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
            continue
        create_staff(
            session,
            username=username,
            password=DEMO_PASSWORD,
            full_name=full_name,
            role=StaffRole.COMMAND,
            area_code=areas[level],
        )
