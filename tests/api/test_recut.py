"""Re-cutting a community (网格调整) end to end: grids, buildings, houses, residents, open events,
visit plans and grid workers move together in one transaction, by the API and the CLI.

The community 111.28–111.30 E × 30.70–30.72 N has a west grid 001 and an east grid 002. The
new cut is three east-west bands 001 (south), 003 (middle) and 004 (north): code 001 is
reused, 002 is removed. The neighbour community to the east is not touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from shapely import MultiPolygon, box
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.recut import recut
from events.models import Event, EventCategory, EventSource, EventStatus
from events.reference import load_reference_data
from gis import local_pg
from grid.exceptions import RecutRejected
from grid.models import Grid
from grid.recut import recut_community
from people import service as people_service
from people import special_groups
from people.models import Resident, SpecialGroup, StaffGrid
from people.schemas import ResidentCreate
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_building,
    add_grid,
    add_house,
    add_staff,
    admin_tree,
    bearer,
    feature_collection,
    fresh_database,
    id_number,
    metre_box,
    square,
)

NEIGHBOUR = "420502001002"
G1, G2, G3, G4 = (COMMUNITY + s for s in ("001", "002", "003", "004"))
SOUTH = box(111.28, 30.70, 111.30, 30.7066)
MIDDLE = box(111.28, 30.7066, 111.30, 30.7133)
NORTH = box(111.28, 30.7133, 111.30, 30.72)
TODAY = date(2026, 2, 1)
GRIDGOV = str(Path(sys.executable).parent / "gridgov")


def new_cut() -> list[tuple[str, str, Any]]:
    return [(G1, "南片网格", SOUTH), (G3, "中片网格", MIDDLE), (G4, "北片网格", NORTH)]


def new_cut_geojson() -> dict[str, Any]:
    """The new cut as the GeoJSON FeatureCollection an admin sends."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": code, "name": name},
                "geometry": {"type": "Polygon", "coordinates": [list(geom.exterior.coords)]},
            }
            for code, name, geom in new_cut()
        ],
    }


def add_event(session: Session, code: str, lon: float, lat: float, grid: str, **fields: Any):
    category = session.scalars(select(EventCategory).order_by(EventCategory.code)).first()
    assert category is not None
    event = Event(
        code=code,
        category_id=category.id,
        category_code=category.code,
        priority=category.priority,
        status=fields.pop("status", EventStatus.DISPATCHED),
        source=EventSource.GRID_WORKER,
        description="楼道堆放杂物",
        geom=f"SRID=4490;POINT({lon} {lat})",
        locate_match="inside",
        grid_code=grid,
        community_code=grid[:12],
        street_code=grid[:9] + "000",
        district_code=DISTRICT,
        reported_at=datetime.now(UTC) - timedelta(days=2),
        **fields,
    )
    session.add(event)
    session.flush()
    return event


def build_community(session: Session) -> dict[str, Any]:
    """Grids, buildings with a house each, residents, workers, visit plans and events."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    admin_tree(session, community_geom=square(111.30, 30.70, 0.02), community=NEIGHBOUR)
    add_grid(session, G1, MultiPolygon([box(111.28, 30.70, 111.29, 30.72)]), "西网格")
    add_grid(session, G2, MultiPolygon([box(111.29, 30.70, 111.30, 30.72)]), "东网格")
    add_grid(session, NEIGHBOUR + "001", square(111.30, 30.70, 0.02), "邻居网格")
    # SW stays in 001; NW goes 001 → 004; SE 002 → 001; NE 002 → 004.
    for code, lon, lat, grid in (
        ("SW", 111.283, 30.702, G1),
        ("NW", 111.283, 30.717, G1),
        ("SE", 111.295, 30.702, G2),
        ("NE", 111.295, 30.717, G2),
        ("NB", 111.31, 30.71, NEIGHBOUR + "001"),
    ):
        add_house(session, add_building(session, code, metre_box(lon, lat, 20, 10), grid))
    load_reference_data(session)
    admin = add_staff(session, "recut.admin", "admin")
    west = add_staff(session, "west", "grid_worker", grid_codes=[G1])
    east = add_staff(session, "east", "grid_worker", grid_codes=[G2])
    both = add_staff(session, "both", "grid_worker", grid_codes=[G1, G2])
    ids: dict[str, int] = {}
    for n, (name, house) in enumerate(
        (("甲", "SW"), ("乙", "NE"), ("丙", "SE"), ("丁", "NB"), ("戊", "NE")), start=11
    ):
        data = ResidentCreate(
            doc_number=id_number(n, birth=date(1950, 3, 1)),
            name=name,
            house_code=f"{house}-1-0101",
            moved_in=date(2020, 1, 1),
        )
        read = people_service.register_resident(session, actor=admin, data=data, today=TODAY)
        ids[name] = read.id
    people_service.move_out(
        session, actor=admin, resident_id=ids["戊"], on=date(2025, 1, 1), reason="迁出"
    )
    elderly = {"children_contact": "儿子 王强", "children_phone": "13912345678", "health": "慢性病"}
    plans = {}
    for name, worker in (("甲", west), ("乙", east), ("丙", both)):
        plans[name] = special_groups.enrol(
            session,
            actor=admin,
            resident_id=ids[name],
            group_type="elderly_alone",
            details=elderly,
            started_on=date(2025, 6, 1),
            responsible_staff_id=worker.staff_id,
            today=TODAY,
        ).id
    add_event(session, "E-OPEN-NE", 111.296, 30.718, G2)
    add_event(session, "E-OPEN-SW", 111.284, 30.703, G1)
    add_event(session, "E-OPEN-NB", 111.31, 30.71, NEIGHBOUR + "001")
    add_event(
        session, "E-CLOSED-NW", 111.284, 30.718, G1, status=EventStatus.CLOSED, closed_at=None
    )
    add_event(session, "E-CLOSED-SE", 111.296, 30.703, G2, status=EventStatus.CLOSED)
    # in the neighbour, a few metres from the re-cut community: looked at, left alone
    add_event(session, "E-OPEN-NB-EDGE", 111.3002, 30.705, NEIGHBOUR + "001")
    add_event(
        session, "E-CLOSED-NB-EDGE", 111.3002, 30.706, NEIGHBOUR + "001", status=EventStatus.VOIDED
    )
    return {"admin": admin, "workers": (west, east, both), "residents": ids, "plans": plans}


@pytest.fixture
def community(session: Session) -> dict[str, Any]:
    return build_community(session)


def grid_of_residents(session: Session) -> dict[str, str | None]:
    return dict(session.execute(select(Resident.name, Resident.grid_code)).all())


def grid_of_events(session: Session) -> dict[str, str | None]:
    return dict(session.execute(select(Event.code, Event.grid_code)).all())


def committable(session: Session) -> None:
    """Run the deferred grid references' checks now, as the commit would."""
    session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    session.execute(text("SET CONSTRAINTS ALL DEFERRED"))


# --- the operation ---------------------------------------------------------------------------


def test_residents_follow_their_house_into_the_new_grid_and_others_stay(session, community):
    report = recut(session, community_code=COMMUNITY, new_grids=new_cut())
    committable(session)
    assert grid_of_residents(session) == {
        "甲": G1,  # SW: the south band kept code 001
        "乙": G4,  # NE moved into the north band
        "丙": G1,  # SE moved into the south band
        "丁": NEIGHBOUR + "001",  # the neighbour community is not touched
        "戊": G4,  # moved away from NE: the record follows the house last lived in
    }
    assert report.removed == [G1, G2] and report.added == [G1, G3, G4]
    assert report.former_residents_refiled == 1
    moves = {(m.from_grid, m.to_grid): m for m in report.moves}
    assert (moves[(G2, G4)].buildings, moves[(G2, G4)].houses, moves[(G2, G4)].residents) == (
        1,
        1,
        1,
    )
    assert (moves[(G1, G1)].buildings, moves[(G1, G1)].residents) == (1, 1)
    assert moves[(G2, G1)].residents == 1 and moves[(G1, G4)].residents == 0
    assert sum(m.residents for m in report.moves) == 3  # current residents of the community


def test_open_events_move_to_the_grid_now_covering_them_closed_ones_keep_history(
    session, community
):
    report = recut(session, community_code=COMMUNITY, new_grids=new_cut())
    committable(session)
    assert grid_of_events(session) == {
        "E-OPEN-NE": G4,
        "E-OPEN-SW": G1,
        "E-OPEN-NB": NEIGHBOUR + "001",
        "E-OPEN-NB-EDGE": NEIGHBOUR + "001",
        "E-CLOSED-NB-EDGE": NEIGHBOUR + "001",
        # closed in 001, which still exists: the past stays where it was filed
        "E-CLOSED-NW": G1,
        # closed in 002, which no longer exists: filed under the grid now covering it
        "E-CLOSED-SE": G1,
    }
    moves = {(m.from_grid, m.to_grid): m for m in report.moves}
    assert moves[(G2, G4)].open_events == 1 and moves[(G1, G1)].open_events == 1
    assert moves[(G2, G1)].closed_events_refiled == 1
    assert sum(m.closed_events_refiled for m in report.moves) == 1
    assert report.unplaced.open_events == []


def test_visit_plans_keep_a_worker_who_covers_the_new_grid_else_go_to_its_workers(
    session, community
):
    west, _east, both = community["workers"]
    plans = community["plans"]
    report = recut(session, community_code=COMMUNITY, new_grids=new_cut())
    responsible = dict(
        session.execute(select(SpecialGroup.id, SpecialGroup.responsible_staff_id)).all()
    )
    assert responsible[plans["甲"]] == west.staff_id  # did not move
    assert responsible[plans["丙"]] == both.staff_id  # moved to 001, which `both` covers
    assert responsible[plans["乙"]] is None  # moved to 004: falls to that grid's workers
    assert report.visit_plans_released == 1
    moves = {(m.from_grid, m.to_grid): m for m in report.moves}
    assert moves[(G2, G4)].visit_plans == 1 and moves[(G2, G1)].visit_plans == 1


def test_workers_keep_reused_grid_codes_and_those_of_removed_grids_are_reported(session, community):
    west, _east, both = community["workers"]
    report = recut(session, community_code=COMMUNITY, new_grids=new_cut())
    scopes = set(session.execute(select(StaffGrid.staff_id, StaffGrid.grid_code)).all())
    assert scopes == {(west.staff_id, G1), (both.staff_id, G1)}
    reported = {
        (w.username, w.removed_grid, tuple(w.remaining_grids)) for w in report.workers_to_reassign
    }
    assert reported == {("east", G2, ()), ("both", G2, (G1,))}


def test_residents_and_events_left_outside_every_new_grid_are_reported_not_placed(
    session, community
):
    report = recut(session, community_code=COMMUNITY, new_grids=new_cut()[:2])  # no north band
    committable(session)
    assert grid_of_residents(session)["乙"] is None
    assert report.unplaced.buildings == ["NE", "NW"]
    assert report.unplaced.residents == [community["residents"]["乙"]]
    assert report.unplaced.open_events == ["E-OPEN-NE"]
    assert report.warnings  # the north of the community is left bare


def test_re_cutting_only_the_grids_leaves_rows_pointing_at_removed_grids(session, community):
    """Why the operation exists: the grid re-cut alone cannot be committed."""
    recut_community(session, community_code=COMMUNITY, new_grids=new_cut())
    with pytest.raises(IntegrityError):
        committable(session)


def test_rejected_new_grids_change_nothing(session, community):
    before = (grid_of_residents(session), grid_of_events(session))
    reaching_east = box(111.28, 30.7133, 111.301, 30.72)  # ~96 m into the neighbour
    with pytest.raises(RecutRejected):
        recut(
            session,
            community_code=COMMUNITY,
            new_grids=[*new_cut()[:2], (G4, "北片网格", reaching_east)],
        )
    assert (grid_of_residents(session), grid_of_events(session)) == before
    assert session.scalars(select(Grid.code).order_by(Grid.code)).all() == [
        G1,
        G2,
        NEIGHBOUR + "001",
    ]


# --- HTTP ------------------------------------------------------------------------------------


def test_admin_recuts_over_http_and_gets_the_summary(client, session, community):
    response = client.post(
        f"/api/communities/{COMMUNITY}/recut",
        json=new_cut_geojson(),
        headers=bearer(community["admin"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["removed"] == [G1, G2] and body["added"] == [G1, G3, G4]
    move = next(m for m in body["moves"] if (m["from_grid"], m["to_grid"]) == (G2, G4))
    assert (move["buildings"], move["residents"], move["open_events"]) == (1, 1, 1)
    assert [w["username"] for w in body["workers_to_reassign"]] == ["both", "east"]
    assert grid_of_residents(session)["乙"] == G4


def test_command_centre_may_not_recut_and_nothing_changes(client, session, community):
    command = add_staff(session, "recut.command", "command", area_code=DISTRICT + "000000")
    before = (grid_of_residents(session), grid_of_events(session))
    response = client.post(
        f"/api/communities/{COMMUNITY}/recut", json=new_cut_geojson(), headers=bearer(command)
    )
    assert response.status_code == 403
    assert (grid_of_residents(session), grid_of_events(session)) == before
    assert session.get(Grid, G2) is not None


def test_overlapping_grids_over_http_get_400_saying_why_and_nothing_changes(
    client, session, community
):
    collection = new_cut_geojson()
    collection["features"][2]["geometry"]["coordinates"] = [
        list(box(111.28, 30.7133, 111.301, 30.72).exterior.coords)
    ]
    before = (grid_of_residents(session), grid_of_events(session))
    response = client.post(
        f"/api/communities/{COMMUNITY}/recut", json=collection, headers=bearer(community["admin"])
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert f"overlaps existing grid {NEIGHBOUR}001" in message
    assert f"the grids of community {COMMUNITY} were not changed" in message
    assert (grid_of_residents(session), grid_of_events(session)) == before
    assert session.get(Grid, G3) is None


def test_an_unknown_community_gets_404(client, community):
    response = client.post(
        f"/api/communities/{DISTRICT}009009/recut",
        json=new_cut_geojson(),
        headers=bearer(community["admin"]),
    )
    assert response.status_code == 404
    assert "does not exist" in response.json()["error"]["message"]


# --- CLI: a real process that commits on a database of its own -------------------------------


@pytest.fixture
def cli_database(database_url: str) -> Iterator[str]:
    url = fresh_database(database_url, "_recut_cli")
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            build_community(session)
            session.commit()
        yield url
    finally:
        engine.dispose()
        local_pg.drop_database(url)


def run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [GRIDGOV, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def committed_grids(url: str) -> tuple[dict[str, str | None], dict[str, str | None], list[str]]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return (
                grid_of_residents(session),
                grid_of_events(session),
                list(session.scalars(select(Grid.code).order_by(Grid.code))),
            )
    finally:
        engine.dispose()


def test_cli_recut_commits_grids_residents_and_events_together(cli_database, tmp_path):
    path = feature_collection(
        tmp_path / "new.geojson",
        [({"code": code, "name": name}, geom) for code, name, geom in new_cut()],
    )
    result = run("recut", COMMUNITY, str(path), database_url=cli_database)
    assert result.returncode == 0, result.stderr
    assert f"removed 2 grid(s) {G1}, {G2}" in result.stdout
    assert "east" in result.stdout and "需重新分配网格" in result.stdout
    residents, events, grids = committed_grids(cli_database)
    assert residents["乙"] == G4 and residents["丁"] == NEIGHBOUR + "001"
    assert events["E-OPEN-NE"] == G4 and events["E-CLOSED-NW"] == G1
    assert grids == [G1, G3, G4, NEIGHBOUR + "001"]


def test_cli_refuses_a_bad_polygon_and_writes_nothing(cli_database, tmp_path):
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[111.28, 30.70], [111.30, 30.72], [111.30, 30.70], [111.28, 30.72], [111.28, 30.70]]
        ],
    }
    path = feature_collection(
        tmp_path / "bad.geojson",
        [({"code": G1, "name": "南片网格"}, SOUTH), ({"code": G3, "name": "坏网格"}, bow_tie)],
    )
    before = committed_grids(cli_database)
    result = run("recut", COMMUNITY, str(path), database_url=cli_database)
    assert result.returncode == 1
    assert "were not changed" in result.stderr and "Traceback" not in result.stderr
    assert committed_grids(cli_database) == before


@pytest.mark.parametrize(
    ("features", "says"),
    [
        ([], "no new grids were given"),
        (
            [{"type": "Feature", "properties": {"code": G1}, "geometry": {"type": "Polygon"}}],
            "feature(s) were rejected",
        ),
        (
            [
                {
                    "type": "Feature",
                    "properties": {"code": 42, "name": ["x"], "households": "many"},
                    "geometry": {"type": "Point", "coordinates": [111.29, 30.71]},
                }
            ],
            "feature(s) were rejected",
        ),
        (
            [{"type": "Feature", "properties": None, "geometry": None}],
            "feature(s) were rejected",
        ),
        (
            [
                {
                    "type": "Feature",
                    "properties": {
                        "code": {"a": 1},
                        "name": {},
                        "grid_type": 7,
                        "households": 1e30,
                    },
                    "geometry": {"type": "Polygon", "coordinates": "abc"},
                }
            ],
            "feature(s) were rejected",
        ),
    ],
)
def test_malformed_new_grids_get_400_with_a_sentence_and_nothing_changes(
    client, session, community, features, says
):
    before = (grid_of_residents(session), grid_of_events(session))
    response = client.post(
        f"/api/communities/{COMMUNITY}/recut",
        json={"type": "FeatureCollection", "features": features},
        headers=bearer(community["admin"]),
    )
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert (grid_of_residents(session), grid_of_events(session)) == before
    assert session.get(Grid, G2) is not None
