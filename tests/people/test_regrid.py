"""After a re-cut (网格调整), households and organisations follow their house, building or point
into the new grids (people/regrid.py); rows nothing places any more lose their grid and are
listed. The re-cut itself is grid's; api/recut.py runs both in one transaction."""

from __future__ import annotations

from shapely import MultiPolygon, box
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from grid.recut import recut_community
from people.models import Household, Organisation, OrganisationType
from people.regrid import grid_workers, reassign_grids, restore_worker_scopes
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_building,
    add_grid,
    add_house,
    add_staff,
    admin_tree,
    metre_box,
    square,
)

NEIGHBOUR = "420502001002"
G1, G2, G3 = (COMMUNITY + s for s in ("001", "002", "003"))
# West grid 001 and east grid 002 become a south band 001 and a north band 003.
NEW_CUT = [
    (G1, "南片网格", box(111.28, 30.70, 111.30, 30.71)),
    (G3, "北片网格", box(111.28, 30.71, 111.30, 30.72)),
]


def organisation(session: Session, code: str, grid: str, **place: object) -> None:
    session.add(
        Organisation(
            credit_code=code,
            name=code,
            org_type=OrganisationType.ENTERPRISE,
            grid_code=grid,
            district_code=DISTRICT,
            **place,
        )
    )


def build(session: Session) -> None:
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    admin_tree(session, community_geom=square(111.30, 30.70, 0.02), community=NEIGHBOUR)
    add_grid(session, G1, MultiPolygon([box(111.28, 30.70, 111.29, 30.72)]))
    add_grid(session, G2, MultiPolygon([box(111.29, 30.70, 111.30, 30.72)]))
    add_grid(session, NEIGHBOUR + "001", square(111.30, 30.70, 0.02))
    north_east = add_building(session, "NE", metre_box(111.295, 30.717, 20, 10), G2)
    neighbour = add_building(session, "NB", metre_box(111.31, 30.71, 20, 10), NEIGHBOUR + "001")
    for code, house, grid in (
        ("HH-NE", add_house(session, north_east).id, G2),
        ("HH-NB", add_house(session, neighbour).id, NEIGHBOUR + "001"),
        ("HH-NOHOUSE-001", None, G1),
        ("HH-NOHOUSE-002", None, G2),
    ):
        session.add(Household(code=code, house_id=house, grid_code=grid, district_code=DISTRICT))
    organisation(session, "ORG-IN-NE", G2, building_id=north_east.id)
    organisation(session, "ORG-AT-POINT", G2, geom="SRID=4490;POINT(111.296 30.703)")
    organisation(session, "ORG-NEIGHBOUR", NEIGHBOUR + "001", building_id=neighbour.id)
    session.flush()


def test_households_and_organisations_follow_their_house_building_or_point(session):
    build(session)
    recut_community(session, community_code=COMMUNITY, new_grids=NEW_CUT)
    moved = reassign_grids(session, grid_codes={G1, G2, G3})
    session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # committable

    households = dict(session.execute(select(Household.code, Household.grid_code)).all())
    assert households == {
        "HH-NE": G3,  # its house's building went north
        "HH-NB": NEIGHBOUR + "001",  # the neighbour is not touched
        "HH-NOHOUSE-001": G1,  # no house, code reused: kept
        "HH-NOHOUSE-002": None,  # no house, code removed: nothing places it
    }
    assert moved.unplaced_households == ["HH-NOHOUSE-002"]
    organisations = dict(
        session.execute(select(Organisation.credit_code, Organisation.grid_code)).all()
    )
    assert organisations == {
        "ORG-IN-NE": G3,
        "ORG-AT-POINT": G1,  # placed by its point, in the south band now
        "ORG-NEIGHBOUR": NEIGHBOUR + "001",
    }
    assert moved.organisations[(G2, G3)] == 1 and moved.organisations[(G2, G1)] == 1


def test_a_worker_keeps_a_reused_grid_and_is_listed_for_a_removed_one(session):
    build(session)
    kept = add_staff(session, "worker1", "grid_worker", grid_codes=[G1])
    lost = add_staff(session, "worker2", "grid_worker", grid_codes=[G2, NEIGHBOUR + "001"])
    before = grid_workers(session, community_code=COMMUNITY)
    assert before == {G1: [kept.staff_id], G2: [lost.staff_id]}

    recut_community(session, community_code=COMMUNITY, new_grids=NEW_CUT)
    listed = restore_worker_scopes(session, before=before)

    assert [(w.username, w.removed_grid, w.remaining_grids) for w in listed] == [
        ("worker2", G2, [NEIGHBOUR + "001"])
    ]
    rows = session.execute(text("SELECT staff_id, grid_code FROM staff_grid")).all()
    assert set(rows) == {(kept.staff_id, G1), (lost.staff_id, NEIGHBOUR + "001")}
