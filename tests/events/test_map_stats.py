"""Event figures for the maps: per-grid counts, heat cells, overdue markers, scope."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

import pytest

from events.exceptions import Forbidden
from events.map_stats import (
    area_actor,
    heat_cells,
    open_by_grid,
    overdue_events,
    period_by_grid,
)
from events.reference import load_reference_data
from events.schemas import EventReport
from events.service import report_event
from gis.clock import CHINA_TZ
from people.models import StaffRole
from tests.factories import COMMUNITY, add_grid, add_staff, add_unit, admin_tree, square

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)
WEST, EAST = COMMUNITY + "001", COMMUNITY + "002"


@pytest.fixture
def map_stats_city(session):
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, WEST, square(111.28, 30.70, 0.01))
    add_grid(session, EAST, square(111.29, 30.70, 0.01))
    load_reference_data(session)
    add_unit(session, "PS", "police", geom=square(111.27, 30.69, 0.05), location=(111.29, 30.7))
    add_unit(session, "CC", "command_centre", location=(111.29, 30.71))
    worker = add_staff(session, "worker1", "grid_worker", grid_codes=[WEST, EAST])
    for i, (lon, category) in enumerate(
        ((111.2831, "0101"), (111.2832, "0101"), (111.2951, "0201"))
    ):
        report_event(
            session,
            actor=worker,
            report=EventReport(category=category, lon=lon, lat=30.705, description="测试"),
            idempotency_key=f"k{i}",
            now=MONDAY_10 + timedelta(minutes=i),
        )
    return {
        "session": session,
        "admin": add_staff(session, "boss", "admin"),
        "leader": add_staff(session, "leader1", "leader", area_code="420502001000"),
    }


def test_open_and_overdue_events_are_counted_per_grid(map_stats_city):
    session, admin = map_stats_city["session"], map_stats_city["admin"]
    before = open_by_grid(session, actor=admin, prefix="", now=MONDAY_10 + timedelta(hours=1))
    assert {k: (v.open, v.overdue) for k, v in before.items()} == {WEST: (2, 0), EAST: (1, 0)}
    later = open_by_grid(session, actor=admin, prefix=WEST, now=MONDAY_10 + timedelta(days=30))
    assert {k: (v.open, v.overdue) for k, v in later.items()} == {WEST: (2, 2)}


def test_period_counts_take_events_reported_in_the_period(map_stats_city):
    session, admin = map_stats_city["session"], map_stats_city["admin"]
    start = MONDAY_10 - timedelta(days=1)
    counts = period_by_grid(
        session, actor=admin, prefix="", start=start, end=MONDAY_10 + timedelta(minutes=1)
    )
    assert {k: (v.reported, v.voided, v.closed) for k, v in counts.items()} == {WEST: (1, 0, 0)}


def test_heat_cells_count_events_at_their_mean_position_and_filter_by_category(map_stats_city):
    session, admin = map_stats_city["session"], map_stats_city["admin"]
    window = {"start": MONDAY_10, "end": MONDAY_10 + timedelta(hours=1), "prefix": ""}
    cells = heat_cells(session, actor=admin, cell_deg=0.005, **window)
    assert sorted(c.count for c in cells) == [1, 2]
    pair = next(c for c in cells if c.count == 2)
    assert pair.lon == pytest.approx(111.28315) and pair.lat == pytest.approx(30.705)
    fire = heat_cells(session, actor=admin, cell_deg=0.005, category="02", **window)
    assert [c.count for c in fire] == [1]


def test_overdue_markers_carry_no_description_or_reporter(map_stats_city):
    session, admin = map_stats_city["session"], map_stats_city["admin"]
    total, markers = overdue_events(
        session, actor=admin, prefix="", now=MONDAY_10 + timedelta(days=30)
    )
    assert total == 3 == len(markers)
    assert all(m.light == "red" and m.hours_overdue and m.hours_overdue > 0 for m in markers)
    # The words are those of the event reads: overdue in working days (6.5 h each).
    assert all(re.fullmatch(r"超期 \d+天(\d+小时)?", m.time_left or "") for m in markers)
    fields = {f.name for f in dataclasses.fields(markers[0])}
    assert not fields & {"description", "reporter", "reporter_id", "contact", "address"}


def test_a_leader_may_narrow_to_their_area_but_not_beyond(map_stats_city):
    leader, admin = map_stats_city["leader"], map_stats_city["admin"]
    assert area_actor(leader, WEST).area_code == WEST
    with pytest.raises(Forbidden, match="outside your area"):
        area_actor(leader, "420502002")
    narrowed = area_actor(admin, "420502001")
    assert narrowed.role is StaffRole.COMMAND and narrowed.area_code == "420502001"
