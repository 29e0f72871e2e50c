"""Two districts of one city: the workflow city (西陵区 420502, tests/events/workflow_city.py)
and beside it, east of 111.30 E, 伍家岗区 420503 with one grid, its own police station (no
jurisdiction polygon, so 西陵's PS-E, whose area reaches 111.31 E, covers the border strip),
command centre and staff; and city-level (宜昌市 4205) command and leader accounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from events.models import Event
from grid.models import AdminLevel, AdminUnit
from people.models import StaffRole
from tests.events.workflow_city import add_person
from tests.factories import add_grid, add_unit, ewkb, square

WJG = "420503"
WJG_STREET = "420503001000"
WJG_COMMUNITY = "420503001001"
WJG_GRID = WJG_COMMUNITY + "001"
CITY = "4205"
WJG_SPOT = (111.305, 30.702)  # in 伍家岗's grid, inside 西陵 PS-E's jurisdiction polygon


def add_second_district(session: Session, city: dict[str, Any]) -> dict[str, Any]:
    """Add 伍家岗区 and the city-level accounts to the workflow `city` (returned, extended)."""
    geom = square(111.30, 30.70, 0.02)
    for code, name, level, parent in (
        (WJG + "000000", "伍家岗区", AdminLevel.DISTRICT, None),
        (WJG_STREET, "大公桥街道", AdminLevel.STREET, WJG + "000000"),
        (WJG_COMMUNITY, "桔城路社区", AdminLevel.COMMUNITY, WJG_STREET),
    ):
        session.add(
            AdminUnit(
                code=code,
                name=name,
                level=level,
                parent_code=parent,
                district_code=WJG,
                geom=ewkb(geom),
            )
        )
        session.flush()
    add_grid(session, WJG_GRID, geom)
    police = add_unit(session, "WJG-PS", "police", location=(111.315, 30.71), district=WJG)
    fire = add_unit(session, "WJG-FS", "fire", location=(111.315, 30.715), district=WJG)
    command = add_unit(session, "WJG-CC", "command_centre", location=(111.31, 30.71), district=WJG)
    area = WJG + "000000"
    people = {
        "wjg_worker": add_person(session, "wjg.worker", StaffRole.GRID_WORKER, grids=[WJG_GRID]),
        "wjg_disp": add_person(session, "wjg.disp", StaffRole.DISPATCHER, unit_id=police.id),
        "wjg_command": add_person(session, "wjg.command", StaffRole.COMMAND, area=area),
        "wjg_leader": add_person(session, "wjg.leader", StaffRole.LEADER, area=area),
        "city_command": add_person(session, "city1", StaffRole.COMMAND, area=CITY),
        "city_leader": add_person(session, "city.leader", StaffRole.LEADER, area=CITY),
        "street_command": add_person(
            session, "street.command", StaffRole.COMMAND, area="420502001000"
        ),
    }
    city.update({"wjg_police": police, "wjg_fire": fire, "wjg_command_centre": command, **people})
    return city


def event_row(city: dict[str, Any], code: str) -> Event:
    """The stored event `code`."""
    session: Session = city["session"]
    row = session.query(Event).filter(Event.code == code).one()
    return row
