"""The people API tests' city: grids A and B with a building of two houses each, three
residents (张三 and 李四 in A, 王五 in B) and an account for every role."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from people import service
from people.schemas import ResidentCreate
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    add_house,
    add_staff,
    add_unit,
    admin_tree,
    bearer,
    id_number,
    square,
)

GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"


def build_people_city(session: Session) -> dict[str, Any]:
    """Grids A and B with a building of two houses each, three residents, and every role."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    for code, building_code, lon in ((GRID_A, "BA", 111.28), (GRID_B, "BB", 111.29)):
        add_grid(session, code, square(lon, 30.70, 0.01))
        building = add_building(session, building_code, square(lon + 0.001, 30.701, 0.0002), code)
        add_house(session, building, room="0101")
        add_house(session, building, room="0201", floor=2)
    actors = {
        "worker_a": add_staff(session, "worker_a", "grid_worker", grid_codes=[GRID_A]),
        "worker_b": add_staff(session, "worker_b", "grid_worker", grid_codes=[GRID_B]),
        "inspector": add_staff(session, "inspector", "inspector", area_code="420502000000"),
        "command": add_staff(session, "command", "command", area_code="420502000000"),
        "leader": add_staff(session, "leader", "leader", area_code="420502000000"),
        "dispatcher": add_staff(
            session,
            "dispatcher",
            "dispatcher",
            department_unit_id=add_unit(session, "PS-1", "police", location=(111.285, 30.705)).id,
        ),
        "admin": add_staff(session, "boss", "admin"),
    }
    residents = {}
    for key, sequence, name, house in (
        ("zhang", 11, "张三", "BA-1-0101"),
        ("li", 12, "李四", "BA-1-0201"),
        ("wang", 13, "王五", "BB-1-0101"),
    ):
        residents[key] = service.register_resident(
            session,
            actor=actors["admin"],
            data=ResidentCreate(
                doc_number=id_number(sequence),
                name=name,
                phone="13912345678",
                house_code=house,
                moved_in=date(2020, 1, 1),
            ),
        ).id
    return {"session": session, **actors, "residents": residents}


def as_(city: dict[str, Any], role: str) -> dict[str, str]:
    """Request headers that sign in as the city's account for `role`."""
    return bearer(city[role])
