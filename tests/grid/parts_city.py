"""The city parts tests' city: the workflow city (西陵区, grids WEST and EAST split at 111.29 E,
30.70–30.71 N) and 伍家岗区 east of 111.30 E, with a street-lamp office (路灯管理所, housing) that
owns 西陵's lamps, an urban-management squad (城管中队) whose area covers 西陵, 伍家岗's own lamp
office, and five parts whose grids, states and owners are written down here by hand."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from grid.models import CityPart, PartState
from tests.events.districts_city import add_second_district
from tests.events.workflow_city import build_city
from tests.factories import add_unit, square

LAMP = "4205020118000001"  # 路灯 in grid EAST, 10 m or so from the workflow city's SPOT
LAMP_WEST = "4205020118000002"  # 路灯 in grid WEST, damaged
COVER = "4205020101000001"  # 上水井盖 in grid EAST, missing, no owner on record
BIN = "4205020305000001"  # 垃圾箱 north of every grid (30.715 N), owned by the squad
WJG_LAMP = "4205030118000001"  # 伍家岗's lamp, just east of the district line (111.30 E)

POINTS = {
    LAMP: (111.2921, 30.7051),
    LAMP_WEST: (111.283, 30.705),
    COVER: (111.2935, 30.706),
    BIN: (111.2995, 30.715),
    WJG_LAMP: (111.3003, 30.705),
}


def add_part(
    session: Session,
    code: str,
    point: tuple[float, float],
    *,
    owner_unit_id: int | None = None,
    state: PartState = PartState.NORMAL,
    name: str | None = None,
) -> CityPart:
    """A part stored as it is (no import checks), its type and district from its code."""
    part = CityPart(
        code=code,
        district_code=code[:6],
        type_code=code[6:10],
        name=name,
        state=state,
        owner_unit_id=owner_unit_id,
        geom=f"SRID=4490;POINT({point[0]} {point[1]})",
    )
    session.add(part)
    session.flush()
    return part


def build_parts_city(session: Session) -> dict[str, Any]:
    """The workflow city and 伍家岗区 with the lamp offices, the squad and the five parts."""
    city = add_second_district(session, build_city(session))
    lamps = add_unit(session, "LD-1", "housing", location=(111.285, 30.71), name="西陵区路灯管理所")
    squad = add_unit(
        session,
        "CG-1",
        "urban_management",
        geom=square(111.27, 30.69, 0.03),
        location=(111.29, 30.712),
        name="西陵街道城管中队",
    )
    wjg_lamps = add_unit(
        session,
        "WJG-LD",
        "housing",
        location=(111.31, 30.71),
        name="伍家岗区路灯所",
        district="420503",
    )
    add_part(session, LAMP, POINTS[LAMP], owner_unit_id=lamps.id, name="夷陵大道路灯1号")
    add_part(session, LAMP_WEST, POINTS[LAMP_WEST], owner_unit_id=lamps.id, state=PartState.DAMAGED)
    add_part(session, COVER, POINTS[COVER], state=PartState.MISSING)
    add_part(session, BIN, POINTS[BIN], owner_unit_id=squad.id)
    add_part(session, WJG_LAMP, POINTS[WJG_LAMP], owner_unit_id=wjg_lamps.id)
    return {**city, "lamps": lamps, "squad": squad, "wjg_lamps": wjg_lamps}
