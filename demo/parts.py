"""The demo city's city parts (城市部件): a few per grid, owned by the unit that keeps that kind.

Every district with grids and units gets `PARTS_PER_GRID` parts in each grid, at points drawn
inside the grid from the seed, of the kinds a grid worker meets on a street (lamps, manhole
covers, bins, hydrants, cameras, toilets, street trees), each owned by the nearest unit of
the department type that keeps that kind (lamps and water covers by housing 住建, sewers, bins,
toilets and trees by the street's urban-management squad, hydrants by the fire brigade, cameras
by the police), else the district command centre. Codes follow GB/T 30428.2: district + class
+ a sequence per class. A few parts are damaged, missing or occupied.
"""

from __future__ import annotations

import random
from typing import Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from demo.devices import _owner
from events.catalog import DepartmentType as T
from events.models import DepartmentUnit
from grid.models import CityPart, Grid, PartState
from grid.parts import part_types

PARTS_PER_GRID: Final = 2
# class → (weight, the department type of the owning unit)
KINDS: Final[dict[str, tuple[int, T]]] = {
    "0118": (6, T.HOUSING),  # 路灯
    "0101": (2, T.HOUSING),  # 上水井盖
    "0102": (2, T.URBAN_MANAGEMENT),  # 污水井盖
    "0103": (2, T.URBAN_MANAGEMENT),  # 雨水井盖
    "0305": (3, T.URBAN_MANAGEMENT),  # 垃圾箱
    "0115": (2, T.FIRE),  # 消火栓
    "0121": (2, T.POLICE),  # 监控电子眼
    "0301": (1, T.URBAN_MANAGEMENT),  # 公共厕所
    "0402": (2, T.URBAN_MANAGEMENT),  # 行道树
}
STATES: Final = (
    (PartState.NORMAL, 91),
    (PartState.DAMAGED, 5),
    (PartState.MISSING, 2),
    (PartState.OCCUPIED, 2),
)


def seed_demo_parts(session: Session, *, seed: int) -> int:
    """Add the demo parts of every district that has grids and units and no parts yet."""
    added = 0
    districts = session.scalars(
        select(Grid.district_code).distinct().order_by(Grid.district_code)
    ).all()
    kinds = list(KINDS)
    weights = [KINDS[k][0] for k in kinds]
    states = [s for s, _ in STATES]
    state_weights = [w for _, w in STATES]
    for district in districts:
        if session.scalar(select(CityPart.code).where(CityPart.district_code == district).limit(1)):
            continue
        if not session.scalar(
            select(DepartmentUnit.id).where(DepartmentUnit.district_code == district).limit(1)
        ):
            continue  # no units yet (the events seed adds them): nobody would own the parts
        rng = random.Random(f"{seed}-parts-{district}")
        sequence: dict[str, int] = {}
        grids = session.execute(
            select(Grid.code, Grid.name).where(Grid.district_code == district).order_by(Grid.code)
        ).all()
        for n, (grid_code, grid_name) in enumerate(grids):
            # Points inside the grid, drawn by PostGIS from a seed: the same city gives the same.
            drawn = session.execute(
                text(
                    "SELECT ST_X(d.geom), ST_Y(d.geom) FROM grid g, "
                    "ST_Dump(ST_GeneratePoints(g.geom, :n, :seed)) d "
                    "WHERE g.code = :code ORDER BY d.path"
                ),
                {"n": PARTS_PER_GRID, "seed": seed * 100_003 + n + 1, "code": grid_code},
            ).all()
            for lon, lat in drawn:
                kind = rng.choices(kinds, weights)[0]
                sequence[kind] = sequence.get(kind, 0) + 1
                number = sequence[kind]
                session.add(
                    CityPart(
                        code=f"{district}{kind}{number:06d}",
                        district_code=district,
                        type_code=kind,
                        name=f"{grid_name}{part_types()[kind].name}{number}号",
                        state=rng.choices(states, state_weights)[0],
                        owner_unit_id=_owner(session, district, KINDS[kind][1], lon, lat),
                        geom=f"SRID=4490;POINT({lon} {lat})",
                    )
                )
                added += 1
        session.flush()
    return added
