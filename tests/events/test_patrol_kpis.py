"""Patrol figures that need the events: events a worker found per patrol hour (their own
reports within their patrols) and a grid's 主动发现率 (its own workers' finds / all its events
that week, hotline cases included). Expected values are counted by hand from the filings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from events.models import EventSource
from events.patrol_kpis import patrol_kpis
from gis.clock import CHINA_TZ
from people import patrols
from people.exceptions import Forbidden
from people.schemas import PatrolPointIn, PatrolPoints
from tests.events.workflow_city import EAST, WEST, file

NINE = datetime(2026, 11, 23, 9, 0, tzinfo=CHINA_TZ)  # Monday
IN_WEST = (111.285, 30.705)


@pytest.fixture
def patrolled(city, monkeypatch):
    monkeypatch.setattr(patrols, "_now", lambda: NINE + timedelta(hours=5))
    session, worker = city["session"], city["worker"]
    patrols.start_patrol(session, actor=worker, key="kpi-patrol-1", grid_code=WEST, started_at=NINE)
    batch = PatrolPoints(
        points=[
            PatrolPointIn(t=NINE + timedelta(minutes=m), lon=111.282 + m * 1e-4, lat=30.705)
            for m in range(0, 120, 5)
        ]
    )
    patrols.append_points(session, actor=worker, key="kpi-patrol-1", batch=batch)
    patrols.end_patrol(
        session, actor=worker, key="kpi-patrol-1", ended_at=NINE + timedelta(hours=2)
    )
    at = NINE.replace
    file(city, now=at(minute=30))  # worker, grid EAST, during the patrol
    file(city, now=at(hour=11, minute=30))  # worker, EAST, after it
    file(
        city,
        lon=IN_WEST[0],
        lat=IN_WEST[1],
        now=at(hour=10),
        by="command_staff",
        source=EventSource.HOTLINE,
    )
    file(city, lon=IN_WEST[0], lat=IN_WEST[1], now=at(hour=10, minute=15))  # worker, WEST
    file(city, lon=IN_WEST[0], lat=IN_WEST[1], now=at(hour=10, minute=20), by="west_worker")
    return city


def test_events_found_per_patrol_hour_and_each_grids_proactive_rate(patrolled):
    city = patrolled
    rows = {
        (r.staff_id, r.grid_code): r
        for r in patrol_kpis(city["session"], actor=city["command_staff"], day=NINE.date())
    }
    mine = rows[(city["worker"].staff_id, WEST)]
    assert mine.patrol_s == 7200
    assert mine.events_found == 2  # 09:30 and 10:15; not 11:30, after the end
    assert mine.events_per_patrol_hour == 1.0
    # WEST: the hotline case, the worker's and west_worker's finds.
    assert (mine.grid_events, mine.grid_events_found_by_workers) == (3, 2)
    assert mine.proactive_rate == pytest.approx(0.6667)
    east = rows[(city["worker"].staff_id, EAST)]
    assert (east.patrols, east.events_found, east.events_per_patrol_hour) == (0, 0, None)
    assert (east.grid_events, east.proactive_rate) == (2, 1.0)


def test_the_week_after_has_no_patrol_time_and_no_events(patrolled):
    city = patrolled
    rows = patrol_kpis(
        city["session"], actor=city["command_staff"], day=NINE.date() + timedelta(days=7)
    )
    assert {(r.patrols, r.grid_events, r.proactive_rate) for r in rows} == {(0, 0, None)}


def test_a_dispatcher_gets_no_patrol_figures(patrolled):
    with pytest.raises(Forbidden):
        patrol_kpis(patrolled["session"], actor=patrolled["disp_w"], day=NINE.date())
