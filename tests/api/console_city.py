"""The page tests' city: a community of two grids, WEST and EAST, each 0.01° square, with the
event catalogue loaded; most add the building 夷陵路12号 (B-W1) in WEST. `build_console_city`
is the default `page_city` of tests/api/conftest.py: a police station over both grids, the
district's command centre, a grid worker, a dispatcher, a command operator, an admin and an
elderly resident living alone who is due a visit."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from shapely import box
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from events.reference import load_reference_data
from grid.models import Building
from people import service as people_service
from people import special_groups
from people.schemas import ResidentCreate
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_building,
    add_grid,
    add_house,
    add_staff,
    add_unit,
    admin_tree,
    china_today,
    id_number,
    square,
)

WEST, EAST = COMMUNITY + "001", COMMUNITY + "002"
HERE = {"longitude": 111.285, "latitude": 30.705}  # in grid WEST, in police station PS-W's area


def two_grids(session: Session) -> None:
    """The community with grids WEST and EAST, and the event catalogue."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, WEST, square(111.28, 30.70, 0.01))
    add_grid(session, EAST, square(111.29, 30.70, 0.01))
    load_reference_data(session)


def add_b_w1(session: Session, **fields: Any) -> Building:
    """The building 夷陵路12号 (B-W1) in grid WEST, at HERE."""
    return add_building(
        session, "B-W1", square(111.2849, 30.7049, 0.0003), WEST, name="夷陵路12号", **fields
    )


def build_console_city(engine: Engine) -> dict[str, Any]:
    """Two grids, a police station, a command centre, accounts and a resident due a visit."""
    with Session(engine) as session:
        two_grids(session)
        add_house(session, add_b_w1(session), room="0101")
        police = add_unit(
            session, "PS-W", "police", geom=box(111.27, 30.69, 111.31, 30.73), name="西陵派出所"
        )
        add_unit(session, "CC", "command_centre", location=(111.29, 30.71), name="西陵区指挥中心")
        add_staff(session, "worker1", "grid_worker", grid_codes=[WEST, EAST])
        add_staff(session, "police1", "dispatcher", department_unit_id=police.id)
        add_staff(session, "command1", "command", area_code=DISTRICT + "000000")
        admin = add_staff(session, "admin1", "admin")
        resident = people_service.register_resident(
            session,
            actor=admin,
            data=ResidentCreate(
                doc_number=id_number(7, birth=date(1940, 3, 1)),
                name="王秀英",
                house_code="B-W1-1-0101",
                moved_in=date(2000, 1, 1),
            ),
        )
        special_groups.enrol(
            session,
            actor=admin,
            resident_id=resident.id,
            group_type="elderly_alone",
            details={},
            started_on=china_today() - timedelta(days=60),
        )
        police_unit = police.id
        session.commit()
    return {"police_unit": police_unit}
