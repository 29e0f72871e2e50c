"""HTTP: patrols (巡查轨迹). A grid worker starts, sends batches (twice: counted once), ends
(JSON or form) and reads their own track; the role next to them may not; another worker's patrol
is a 404; the command centre reads its area's tracks, leaders the coverage figures without
names, dispatchers nothing. Bad bodies are 4xx sentences and write nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from events.models import DepartmentUnit
from tests.api.people_city import GRID_A, as_
from tests.factories import ewkb, square

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(minutes=30)


def points(n: int, *, start: datetime = START + timedelta(minutes=1), crs: str = "wgs84") -> dict:
    return {
        "crs": crs,
        "points": [
            {
                "t": (start + timedelta(seconds=20 * i)).isoformat(),
                "lon": 111.282 + 0.0002 * i,
                "lat": 30.705,
                "accuracy": 8,
            }
            for i in range(n)
        ],
    }


def stored(session) -> int:
    return session.execute(text("SELECT count(*) FROM patrol_point")).scalar_one()


@pytest.fixture
def started(client, people_city):
    answer = client.post(
        "/api/patrols",
        json={"key": "patrol-http-1", "grid_code": GRID_A, "started_at": START.isoformat()},
        headers=as_(people_city, "worker_a"),
    )
    assert answer.status_code == 201, answer.text
    return "patrol-http-1"


def test_worker_starts_sends_a_batch_twice_ends_by_form_and_reads_the_track(
    client, people_city, started
):
    worker = as_(people_city, "worker_a")
    again = client.post("/api/patrols", json={"key": started, "grid_code": GRID_A}, headers=worker)
    assert again.status_code == 200
    assert datetime.fromisoformat(again.json()["started_at"]) == START
    first = client.post(f"/api/patrols/{started}/points", json=points(5), headers=worker)
    resend = client.post(f"/api/patrols/{started}/points", json=points(5), headers=worker)
    assert first.json() == {"added": 5, "already_stored": 0}
    assert resend.json() == {"added": 0, "already_stored": 5}
    assert stored(people_city["session"]) == 5
    ended = client.post(
        f"/api/patrols/{started}/end", data={"ended_at": NOW.isoformat()}, headers=worker
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["duration_s"] == 1800
    mine = client.get("/api/patrols", headers=worker).json()
    assert [p["key"] for p in mine["items"]] == [started]
    track = client.get(f"/api/patrols/{started}/track", headers=worker).json()
    assert track["type"] == "Feature"
    assert len(track["geometry"]["coordinates"][0]) == 5


def test_the_role_next_to_grid_workers_may_not_patrol(client, people_city):
    answer = client.post(
        "/api/patrols", json={"key": "patrol-http-2"}, headers=as_(people_city, "inspector")
    )
    assert answer.status_code == 403
    assert "grid_worker" in answer.text or "网格员" in answer.text


def test_another_workers_patrol_is_404_for_points_end_and_track(client, people_city, started):
    other = as_(people_city, "worker_b")
    for method, path, body in (
        ("post", f"/api/patrols/{started}/points", points(2)),
        ("post", f"/api/patrols/{started}/end", {}),
        ("get", f"/api/patrols/{started}/track", None),
    ):
        answer = client.request(method.upper(), path, json=body, headers=other)
        assert answer.status_code == 404, path
        assert "不在您的范围内" in answer.text
    assert stored(people_city["session"]) == 0


def test_tracks_for_the_area_command_but_not_leaders_or_dispatchers(client, people_city, started):
    worker = as_(people_city, "worker_a")
    client.post(f"/api/patrols/{started}/points", json=points(3), headers=worker)
    assert (
        client.get(f"/api/patrols/{started}/track", headers=as_(people_city, "command")).status_code
        == 200
    )
    assert (
        client.get(f"/api/patrols/{started}/track", headers=as_(people_city, "leader")).status_code
        == 403
    )
    assert (
        client.get(
            f"/api/patrols/{started}/track", headers=as_(people_city, "dispatcher")
        ).status_code
        == 403
    )


def test_coverage_leaders_get_figures_without_names_dispatchers_nothing(
    client, people_city, started
):
    leader = client.get("/api/patrols/coverage", headers=as_(people_city, "leader"))
    assert leader.status_code == 200
    rows = leader.json()
    assert {r["grid_code"] for r in rows} == {GRID_A, GRID_A[:-1] + "2"}
    assert {r["worker_name"] for r in rows} == {None}
    assert [r["patrols"] for r in rows if r["grid_code"] == GRID_A] == [1]
    command = client.get("/api/patrols/coverage", headers=as_(people_city, "command")).json()
    assert {r["worker_name"] for r in command} == {"worker_a", "worker_b"}
    mine = client.get("/api/patrols/coverage", headers=as_(people_city, "worker_b")).json()
    assert {r["staff_id"] for r in mine} == {people_city["worker_b"].staff_id}
    assert (
        client.get("/api/patrols/coverage", headers=as_(people_city, "dispatcher")).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (points(1, start=START - timedelta(minutes=1)), "outside the patrol"),
        ({"points": [{"t": NOW.isoformat(), "lon": 30.7, "lat": 130.2}]}, "swap lat and lon"),
        ({"points": [{"t": "2026-12-03T09:00:00", "lon": 111.28, "lat": 30.7}]}, "时区"),
        ({**points(1), "crs": "mars"}, "Unknown coordinate system"),
        (points(501), "at most 500"),
        ({"points": []}, "at least 1"),
    ],
)
def test_bad_batches_are_4xx_sentences_and_store_nothing(client, people_city, started, body, says):
    answer = client.post(
        f"/api/patrols/{started}/points", json=body, headers=as_(people_city, "worker_a")
    )
    assert 400 <= answer.status_code < 500
    assert says in answer.text
    assert stored(people_city["session"]) == 0


def test_a_form_batch_or_a_non_json_body_is_refused_saying_what_to_send(
    client, people_city, started
):
    worker = as_(people_city, "worker_a")
    form = client.post(f"/api/patrols/{started}/points", data={"points": "1,2"}, headers=worker)
    assert form.status_code == 422
    assert "points" in form.text
    plain = client.post(
        f"/api/patrols/{started}/points",
        content=b"111.28,30.7",
        headers={**worker, "Content-Type": "text/plain"},
    )
    assert plain.status_code == 415
    bad_key = client.post("/api/patrols/a%20b/points", json=points(1), headers=worker)
    assert bad_key.status_code == 422


def test_starting_a_second_patrol_while_one_runs_is_409(client, people_city, started):
    answer = client.post(
        "/api/patrols", json={"key": "patrol-http-9"}, headers=as_(people_city, "worker_a")
    )
    assert answer.status_code == 409
    assert "请先结束" in answer.text


def test_grid_map_shows_this_weeks_patrol_figures_and_corridor_to_those_who_may_see_it(
    client, people_city, started
):
    worker = as_(people_city, "worker_a")
    # Fixes across building BA (111.281..111.2812 E, 30.701..30.7012 N) of grid A.
    batch = {
        "points": [
            {
                "t": (START + timedelta(minutes=1 + i)).isoformat(),
                "lon": 111.2805 + 0.0002 * i,
                "lat": 30.7011,
            }
            for i in range(5)
        ]
    }
    assert (
        client.post(f"/api/patrols/{started}/points", json=batch, headers=worker).status_code == 200
    )
    own = client.get(f"/maps/grid?grid={GRID_A}", headers=worker)
    assert own.status_code == 200
    assert "本周巡查" in own.text and "worker_a" in own.text
    assert "100% (1/1)" in own.text  # BA, the grid's one building, was passed
    layer = json.dumps("本周巡查覆盖带 (1)")  # folium's layer control escapes the name
    assert layer in own.text and '{"id":"patrols"' in own.text
    # The inspector sees the figures (aggregates of the area) but no corridor of a person.
    inspector = client.get(f"/maps/grid?grid={GRID_A}", headers=as_(people_city, "inspector"))
    assert "本周巡查" in inspector.text and '{"id":"patrols"' not in inspector.text


@pytest.mark.parametrize("week", ["9999-12-31", "0001-01-01"])
def test_a_week_far_outside_the_calendar_is_a_422_sentence(client, people_city, week):
    answer = client.get(f"/api/patrols/coverage?week={week}", headers=as_(people_city, "command"))
    assert answer.status_code == 422
    assert "outside 2000..2100" in answer.text


def test_unit_map_sums_the_patrols_of_its_grids_for_command_but_not_its_dispatchers(
    client, people_city, started
):
    session = people_city["session"]
    unit = session.get(DepartmentUnit, people_city["dispatcher"].department_unit_id)
    unit.geom = ewkb(square(111.28, 30.70, 0.009))  # grid A only
    session.flush()
    command = client.get(f"/maps/unit?unit={unit.id}", headers=as_(people_city, "command"))
    assert command.status_code == 200
    assert "本周巡查（辖区网格）" in command.text
    # 1 grid, 1 worker, 1 patrol (running: 0 h so far, no fixes), no building passed yet.
    assert "<td>1</td><td>1</td><td>1</td><td>0.0 h</td><td>0.0 km</td><td>0%</td>" in command.text
    own = client.get("/maps/unit", headers=as_(people_city, "dispatcher"))
    assert own.status_code == 200
    assert "本周巡查" not in own.text
