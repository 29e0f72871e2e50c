"""Patrols: start, batched points (idempotent, only within start..end), end, tracks, weekly
coverage measured in metres, stops and gaps, and the privacy prune.

Expected positions and lengths are made with pyproj's geodesic on GRS80 (Geod.fwd/inv), the
buildings' distances to the track are checked once more with independent PostGIS SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyproj
import pytest
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.clock import CHINA_TZ
from gis.config import get_settings
from gis.crs import wgs84_to_gcj02
from people import patrols
from people.access import Actor
from people.exceptions import AlreadyClosed, Forbidden, InvalidRecord, NotFound
from people.models import Patrol, PatrolPoint, StaffRole
from people.schemas import PatrolPointIn, PatrolPoints
from tests.factories import COMMUNITY, add_building, add_grid, add_staff, admin_tree, square

GEOD = pyproj.Geod(ellps="GRS80")
GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
# Wednesday 2 December 2026, 18:00 China time: the server's "now" in these tests.
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
START = NOW - timedelta(hours=4)
# The track runs east along 30.705 N from 111.282 E, 25 m per fix, a fix every 20 s.
ORIGIN = (111.282, 30.705)
STEP_M = 25.0


def east(metres: float, origin: tuple[float, float] = ORIGIN) -> tuple[float, float]:
    """The point `metres` east of origin along the geodesic (azimuth 90°)."""
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], 90.0, metres)
    return lon, lat


def north(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point `metres` north (azimuth 0° or 180° for negative metres) of `point`."""
    lon, lat, _ = GEOD.fwd(point[0], point[1], 0.0 if metres >= 0 else 180.0, abs(metres))
    return lon, lat


def footprint(south_middle: tuple[float, float], size_m: float = 10.0) -> MultiPolygon:
    """A size×size metre square whose south edge is centred on `south_middle`."""
    west = GEOD.fwd(*south_middle, 270.0, size_m / 2)[:2]
    east_ = GEOD.fwd(*south_middle, 90.0, size_m / 2)[:2]
    ne = north(east_, size_m)
    nw = north(west, size_m)
    return MultiPolygon([Polygon([west, east_, ne, nw, west])])


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patrols, "_now", lambda: NOW)


@pytest.fixture
def town(session: Session) -> dict[str, Any]:
    """Grids A and B; in A buildings 29 m and 31 m north of the track and one 100 m south."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, GRID_A, square(111.28, 30.70, 0.01))
    add_grid(session, GRID_B, square(111.29, 30.70, 0.01))
    # Fix 8 lies 200 m east of the origin, fix 16 400 m: each building faces a fix.
    add_building(session, "NEAR29", footprint(north(east(200), 29.0)), GRID_A)
    add_building(session, "FAR31", footprint(north(east(400), 31.0)), GRID_A)
    add_building(session, "SOUTH100", footprint(north(east(300), -110.0)), GRID_A)
    return {
        "worker": add_staff(session, "patrol_a", "grid_worker", grid_codes=[GRID_A]),
        "other": add_staff(session, "patrol_a2", "grid_worker", grid_codes=[GRID_A]),
        "worker_b": add_staff(session, "patrol_b", "grid_worker", grid_codes=[GRID_B]),
        "command": add_staff(session, "patrol_cc", "command", area_code="420502000000"),
        "leader": add_staff(session, "patrol_leader", "leader", area_code="420502000000"),
        "inspector": add_staff(session, "patrol_insp", "inspector", area_code="420502000000"),
    }


def walk(n: int, *, start: datetime, every_s: float = 20.0, first_m: float = 0.0) -> PatrolPoints:
    """n fixes 25 m apart eastwards from `first_m` east of the origin, `every_s` seconds apart."""
    return PatrolPoints(
        crs="wgs84",
        points=[
            PatrolPointIn(
                t=start + timedelta(seconds=every_s * i),
                lon=east(first_m + STEP_M * i)[0],
                lat=east(first_m + STEP_M * i)[1],
            )
            for i in range(n)
        ],
    )


def test_a_batch_sent_twice_adds_nothing_and_the_track_keeps_every_fix_once(session, town):
    worker = town["worker"]
    patrols.start_patrol(session, actor=worker, key="patrol-0001", started_at=START)
    batch = walk(10, start=START + timedelta(minutes=1))
    first = patrols.append_points(session, actor=worker, key="patrol-0001", batch=batch)
    again = patrols.append_points(session, actor=worker, key="patrol-0001", batch=batch)
    assert (first.added, first.already_stored) == (10, 0)
    assert (again.added, again.already_stored) == (0, 10)
    stored = session.scalar(select(func.count()).select_from(PatrolPoint))
    assert stored == 10
    read = patrols.end_patrol(
        session, actor=worker, key="patrol-0001", ended_at=START + timedelta(hours=1)
    )
    assert read.points == 10
    assert read.distance_m == pytest.approx(9 * STEP_M, abs=0.01)
    assert read.duration_s == 3600


def test_the_same_start_key_returns_the_patrol_and_a_second_running_patrol_is_refused(
    session, town
):
    worker = town["worker"]
    first, created = patrols.start_patrol(
        session, actor=worker, key="patrol-0002", started_at=START
    )
    repeat, created_again = patrols.start_patrol(session, actor=worker, key="patrol-0002")
    assert created and not created_again
    assert repeat.started_at == first.started_at == START
    with pytest.raises(AlreadyClosed, match="still running"):
        patrols.start_patrol(session, actor=worker, key="patrol-0003")


def test_points_outside_the_patrol_are_refused_whole_and_at_the_limits_accepted(session, town):
    worker = town["worker"]
    end = START + timedelta(hours=1)
    patrols.start_patrol(session, actor=worker, key="patrol-0004", started_at=START)
    patrols.end_patrol(session, actor=worker, key="patrol-0004", ended_at=end)
    # A batch arriving after the end is fine when its fixes lie within start..end.
    at_limits = PatrolPoints(
        points=[
            PatrolPointIn(t=START, lon=111.283, lat=30.705),
            PatrolPointIn(t=end, lon=111.284, lat=30.705),
        ]
    )
    assert (
        patrols.append_points(session, actor=worker, key="patrol-0004", batch=at_limits).added == 2
    )
    for outside in (START - timedelta(seconds=1), end + timedelta(seconds=1)):
        batch = PatrolPoints(
            points=[
                PatrolPointIn(t=START + timedelta(minutes=5), lon=111.285, lat=30.705),
                PatrolPointIn(t=outside, lon=111.286, lat=30.705),
            ]
        )
        with pytest.raises(InvalidRecord, match=r"point 2 .* is outside the patrol"):
            patrols.append_points(session, actor=worker, key="patrol-0004", batch=batch)
    assert (
        session.scalar(select(func.count()).select_from(PatrolPoint)) == 2
    )  # nothing half-written


def test_a_running_patrol_refuses_points_from_the_future_beyond_the_clock_skew(session, town):
    worker = town["worker"]
    patrols.start_patrol(session, actor=worker, key="patrol-0005", started_at=START)
    ok = PatrolPoints(points=[PatrolPointIn(t=NOW + timedelta(minutes=2), lon=111.283, lat=30.705)])
    late = PatrolPoints(
        points=[PatrolPointIn(t=NOW + timedelta(minutes=3), lon=111.283, lat=30.705)]
    )
    assert patrols.append_points(session, actor=worker, key="patrol-0005", batch=ok).added == 1
    with pytest.raises(InvalidRecord, match="outside the patrol"):
        patrols.append_points(session, actor=worker, key="patrol-0005", batch=late)


def test_another_workers_patrol_is_not_found_and_other_roles_may_not_patrol(session, town):
    patrols.start_patrol(session, actor=town["worker"], key="patrol-0006", started_at=START)
    batch = walk(2, start=START + timedelta(minutes=1))
    with pytest.raises(NotFound, match="does not exist or is not yours"):
        patrols.append_points(session, actor=town["other"], key="patrol-0006", batch=batch)
    with pytest.raises(NotFound):
        patrols.end_patrol(session, actor=town["other"], key="patrol-0006")
    with pytest.raises(Forbidden, match="not one of your grids"):
        patrols.start_patrol(session, actor=town["worker"], key="patrol-0007", grid_code=GRID_B)
    with pytest.raises(Forbidden, match="may not start a patrol"):
        patrols.start_patrol(session, actor=town["inspector"], key="patrol-0008")


def test_gcj02_fixes_are_stored_in_cgcs2000(session, town):
    worker = town["worker"]
    patrols.start_patrol(session, actor=worker, key="patrol-0009", started_at=START)
    true_lon, true_lat = 111.285, 30.705
    shown = wgs84_to_gcj02(true_lon, true_lat)  # what a Gaode-based phone reports
    batch = PatrolPoints(crs="gcj02", points=[PatrolPointIn(t=START, lon=shown[0], lat=shown[1])])
    patrols.append_points(session, actor=worker, key="patrol-0009", batch=batch)
    lon, lat = session.execute(
        select(func.ST_X(PatrolPoint.geom), func.ST_Y(PatrolPoint.geom))
    ).one()
    assert GEOD.inv(lon, lat, true_lon, true_lat)[2] < 0.01


def test_coverage_counts_a_building_29_m_from_the_track_and_not_one_31_m_away(session, town):
    worker = town["worker"]
    patrols.start_patrol(session, actor=worker, key="patrol-0010", started_at=START)
    batch = walk(21, start=START + timedelta(minutes=1))  # 0 .. 500 m east
    patrols.append_points(session, actor=worker, key="patrol-0010", batch=batch)
    patrols.end_patrol(
        session, actor=worker, key="patrol-0010", ended_at=START + timedelta(hours=2)
    )
    # Independently: the buildings' geodesic distances to the track as PostGIS measures them.
    track = "LINESTRING(" + ", ".join(f"{p.lon} {p.lat}" for p in batch.points) + ")"
    distances = dict(
        session.execute(
            text(
                "SELECT code, ST_Distance(geom::geography, ST_GeomFromText(:t, 4490)::geography) "
                "FROM building ORDER BY code"
            ),
            {"t": track},
        ).all()
    )
    assert distances["NEAR29"] == pytest.approx(29.0, abs=0.05)
    assert distances["FAR31"] == pytest.approx(31.0, abs=0.05)
    day = START.astimezone(CHINA_TZ).date()
    rows = patrols.coverage(session, actor=worker, day=day)
    assert [(r.staff_id, r.grid_code) for r in rows] == [(worker.staff_id, GRID_A)]
    row = rows[0]
    assert (row.buildings, row.buildings_passed, row.building_share) == (3, 1, 0.3333)
    assert row.patrols == 1
    assert row.patrol_s == 7200
    assert row.distance_m == pytest.approx(20 * STEP_M, abs=0.1)


def test_a_gap_is_flagged_left_out_of_the_distance_and_passes_no_building(session, town):
    worker = town["worker"]
    limit = get_settings().patrol_gap_minutes
    patrols.start_patrol(session, actor=worker, key="patrol-0011", started_at=START)
    # 0..150 m, then the phone is off until 300 m: the straight line past NEAR29 (200 m) is no
    # evidence anyone walked there. One gap just over the limit, one exactly at it.
    before = walk(7, start=START)
    resume = before.points[-1].t + timedelta(minutes=limit, seconds=30)
    after = walk(5, start=resume, first_m=300)
    at_limit = walk(2, start=after.points[-1].t + timedelta(minutes=limit), first_m=425)
    for batch in (before, after, at_limit):
        patrols.append_points(session, actor=worker, key="patrol-0011", batch=batch)
    patrols.end_patrol(session, actor=worker, key="patrol-0011", ended_at=at_limit.points[-1].t)
    row = patrols.coverage(session, actor=worker, day=START.astimezone(CHINA_TZ).date())[0]
    assert [(g.start, g.end) for g in row.gaps] == [(before.points[-1].t, resume)]
    assert row.gaps[0].minutes == limit + 0.5
    # 6 + 4 steps walked, plus the 25 m after the gap that was exactly at the limit.
    assert row.distance_m == pytest.approx(6 * STEP_M + 4 * STEP_M + (425 - 400) + STEP_M, abs=0.1)
    assert row.buildings_passed == 0  # NEAR29 faces 200 m, inside the gap


def test_a_stop_longer_than_the_limit_is_flagged_and_a_shorter_one_is_not(session, town):
    worker = town["worker"]
    limit = get_settings().patrol_stop_minutes
    patrols.start_patrol(session, actor=worker, key="patrol-0012", started_at=START)
    spot = east(100)
    standing = [
        PatrolPointIn(t=START + timedelta(seconds=30 * i), lon=spot[0], lat=spot[1])
        for i in range(int(limit * 2) + 2)  # limit + 30 s at one spot
    ]
    later = START + timedelta(hours=1)
    short = [
        PatrolPointIn(t=later + timedelta(seconds=30 * i), lon=east(300)[0], lat=east(300)[1])
        for i in range(int(limit * 2) + 1)  # exactly the limit
    ]
    patrols.append_points(
        session, actor=worker, key="patrol-0012", batch=PatrolPoints(points=standing + short)
    )
    row = patrols.coverage(session, actor=worker, day=START.astimezone(CHINA_TZ).date())[0]
    assert [(s.start, s.minutes) for s in row.stops] == [(START, limit + 0.5)]


def test_tracks_are_read_by_their_worker_and_the_area_command_but_not_by_leaders(session, town):
    worker = town["worker"]
    patrols.start_patrol(session, actor=worker, key="patrol-0013", started_at=START)
    patrols.append_points(session, actor=worker, key="patrol-0013", batch=walk(3, start=START))
    track = patrols.patrol_track(session, actor=worker, key="patrol-0013")
    assert track["geometry"]["type"] == "MultiLineString"
    assert track["geometry"]["coordinates"][0][1] == pytest.approx(east(25), abs=1e-9)
    assert len(track["properties"]["times"][0]) == 3
    assert (
        patrols.patrol_track(session, actor=town["command"], key="patrol-0013")["id"]
        == "patrol-0013"
    )
    with pytest.raises(NotFound):
        patrols.patrol_track(session, actor=town["other"], key="patrol-0013")
    with pytest.raises(Forbidden):
        patrols.patrol_track(session, actor=town["leader"], key="patrol-0013")


def test_coverage_scope_worker_sees_own_rows_leaders_get_no_names(session, town):
    day = START.astimezone(CHINA_TZ).date()
    own = patrols.coverage(session, actor=town["worker"], day=day)
    assert {r.staff_id for r in own} == {town["worker"].staff_id}
    led = patrols.coverage(session, actor=town["leader"], day=day)
    assert {r.staff_id for r in led} == {town[k].staff_id for k in ("worker", "other", "worker_b")}
    assert {r.worker_name for r in led} == {None}
    commanded = patrols.coverage(session, actor=town["command"], day=day)
    assert {r.worker_name for r in commanded} == {"patrol_a", "patrol_a2", "patrol_b"}


def test_prune_thins_old_tracks_once_and_deletes_the_oldest(session, town):
    worker = town["worker"]
    settings = get_settings()
    for key, days in (
        ("patrol-old1", settings.patrol_thin_after_days + 1),
        ("patrol-old2", settings.patrol_delete_after_days + 1),
        ("patrol-new1", 1),
    ):
        ended = NOW - timedelta(days=days)
        patrol = Patrol(
            key=key,
            staff_id=worker.staff_id,
            grid_code=GRID_A,
            district_code=GRID_A[:6],
            started_at=ended - timedelta(hours=1),
            ended_at=ended,
        )
        session.add(patrol)
        session.flush()
        session.add_all(
            PatrolPoint(
                patrol_id=patrol.id,
                district_code=patrol.district_code,
                recorded_at=patrol.started_at + timedelta(seconds=20 * i),
                geom=f"SRID=4490;POINT({111.282 + i * 1e-4} 30.705)",
            )
            for i in range(12)
        )
    session.flush()
    every = settings.patrol_thin_keep_every
    result = patrols.prune_tracks(session, now=NOW)
    counts = dict(
        session.execute(
            select(Patrol.key, func.count(PatrolPoint.recorded_at))
            .outerjoin(PatrolPoint, PatrolPoint.patrol_id == Patrol.id)
            .group_by(Patrol.key)
        ).all()
    )
    kept = len({*range(0, 12, every), 11})  # every Nth from the first, and the last
    assert counts == {"patrol-old1": kept, "patrol-old2": 0, "patrol-new1": 12}
    assert (
        result.thinned_patrols,
        result.thinned_points,
        result.purged_patrols,
        result.purged_points,
    ) == (1, 12 - kept, 1, 12)
    again = patrols.prune_tracks(session, now=NOW)
    assert (again.thinned_patrols, again.purged_patrols) == (0, 0)


def test_command_of_another_area_gets_404_for_a_track_and_no_coverage_rows(session, town):
    worker = town["worker"]
    patrols.start_patrol(session, actor=worker, key="patrol-0014", started_at=START)
    elsewhere = Actor(
        staff_id=town["command"].staff_id,
        username="patrol_cc",
        role=StaffRole.COMMAND,
        area_code="420503000000",  # 伍家岗区, not 西陵区
    )
    with pytest.raises(NotFound, match="does not exist or is not yours"):
        patrols.patrol_track(session, actor=elsewhere, key="patrol-0014")
    assert patrols.coverage(session, actor=elsewhere, day=START.astimezone(CHINA_TZ).date()) == []
