"""The OGC API tests' city, committed in the module's own database for a real server: two grids
of 西陵区 with five buildings, two city parts and events of two categories over two months,
伍家岗区 next door with a grid and a building, and the accounts and API keys that read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from events.models import Event, EventCategory, EventSource, EventStatus
from events.reference import load_reference_data
from gis.clock import CHINA_TZ
from grid.models import AdminLevel, AdminUnit, BuildingUse, CityPart, PartState
from people.integrations import issue_key, revoke_key
from people.models import StaffRole
from tests.events.workflow_city import add_person
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_building,
    add_grid,
    admin_tree,
    bearer,
    ewkb,
    square,
)

WEST, EAST = COMMUNITY + "001", COMMUNITY + "002"
OTHER = "420503"  # 伍家岗区
OTHER_GRID = OTHER + "001001001"
# (code, south-west corner, floors, use, grid): 0.0005° squares.
BUILDINGS = (
    ("B-W1", (111.281, 30.701), 6, BuildingUse.RESIDENTIAL, WEST),
    ("B-W2", (111.283, 30.701), 6, BuildingUse.RESIDENTIAL, WEST),
    ("B-W3", (111.285, 30.701), 18, BuildingUse.COMMERCIAL, WEST),
    ("B-E1", (111.291, 30.701), 6, BuildingUse.RESIDENTIAL, EAST),
    ("B-E2", (111.293, 30.701), 30, BuildingUse.OFFICE, EAST),
)
OTHER_BUILDING = "B-X1"
PARTS = (
    ("4205020101000001", (111.282, 30.702), PartState.NORMAL, datetime(2026, 11, 10, 10, 0)),
    ("4205020101000002", (111.292, 30.702), PartState.DAMAGED, datetime(2026, 11, 20, 10, 0)),
)
# (category, reported at in China time, grid, status)
EVENTS = (
    ("0101", datetime(2026, 10, 15, 10, 0), WEST, EventStatus.DISPATCHED),
    ("0102", datetime(2026, 10, 20, 10, 0), WEST, EventStatus.CLOSED),
    # 00:30 on 1 November in China is still 31 October in UTC: counted in November.
    ("0201", datetime(2026, 11, 1, 0, 30), WEST, EventStatus.DISPATCHED),
    ("0101", datetime(2026, 11, 5, 10, 0), WEST, EventStatus.VOIDED),
    ("0101", datetime(2026, 11, 10, 9, 0), EAST, EventStatus.DISPATCHED),
    ("0101", datetime(2026, 11, 12, 9, 0), None, EventStatus.DISPATCHED),
)
# What a caller must never read back from any collection.
PERSONAL = ("李四", "13800000000", "138****0000", "李*", "私人备注")


def _other_district(session: Session) -> None:
    geom = square(111.34, 30.70, 0.01)
    for code, name, level, parent in (
        (OTHER + "000000", "伍家岗区", AdminLevel.DISTRICT, None),
        (OTHER + "001000", "大公桥街道", AdminLevel.STREET, OTHER + "000000"),
        (OTHER + "001001", "桔城路社区", AdminLevel.COMMUNITY, OTHER + "001000"),
    ):
        session.add(
            AdminUnit(
                code=code,
                name=name,
                level=level,
                parent_code=parent,
                district_code=OTHER,
                geom=ewkb(geom),
            )
        )
        session.flush()
    add_grid(session, OTHER_GRID, geom)
    add_building(session, OTHER_BUILDING, square(111.341, 30.701, 0.0005), OTHER_GRID)


def _events(session: Session) -> None:
    categories = {
        c.code: c
        for c in session.scalars(select(EventCategory).where(EventCategory.valid_to.is_(None)))
    }
    for i, (code, at, grid, status) in enumerate(EVENTS):
        category = categories[code]
        session.add(
            Event(
                code=f"{DISTRICT}-OGC-{i:04d}",
                category_id=category.id,
                category_code=category.code,
                priority=category.priority,
                status=status,
                source=EventSource.HOTLINE,
                description="住户李四电话13800000000 私人备注",
                caller_name_masked="李*",
                contact_masked="138****0000",
                geom="SRID=4490;POINT(111.2815 30.7015)",
                locate_match="inside" if grid else "outside",
                grid_code=grid,
                district_code=DISTRICT,
                reported_at=at.replace(tzinfo=CHINA_TZ),
            )
        )
    session.flush()


def build_ogc_city(engine: Engine) -> dict[str, Any]:
    """Build and commit the city; returns keys, bearer headers and the codes."""
    with Session(engine) as session, session.begin():
        admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
        add_grid(session, WEST, square(111.28, 30.70, 0.01))
        add_grid(session, EAST, square(111.29, 30.70, 0.01))
        for code, (lon, lat), floors, use, grid in BUILDINGS:
            add_building(session, code, square(lon, lat, 0.0005), grid, floors=floors, use=use)
        for code, (lon, lat), state, updated in PARTS:
            session.add(
                CityPart(
                    code=code,
                    district_code=DISTRICT,
                    type_code=code[6:10],
                    state=state,
                    geom=f"SRID=4490;POINT({lon} {lat})",
                    updated_at=updated.replace(tzinfo=CHINA_TZ),
                )
            )
        _other_district(session)
        load_reference_data(session)
        _events(session)
        key = issue_key(session, name="qgis-desk", area_code=DISTRICT + "000000").key
        revoked = issue_key(session, name="old-desk", area_code=DISTRICT + "000000").key
        revoke_key(session, name="old-desk")
        admin = add_person(session, "ogc.admin", StaffRole.ADMIN)
        leader = add_person(session, "ogc.leader", StaffRole.LEADER, area=DISTRICT + "000000")
        east_worker = add_person(session, "ogc.east", StaffRole.GRID_WORKER, grids=[EAST])
        return {
            "key": key,
            "revoked": revoked,
            "admin": bearer(admin),
            "leader": bearer(leader),
            "east_worker": bearer(east_worker),
        }
