"""HTTP: event KPIs by period, population and overdue-visit counts, each in the caller's scope."""

from __future__ import annotations

from datetime import datetime

import pytest

from events.reference import load_reference_data
from events.schemas import EventReport
from events.service import report_event
from gis.clock import CHINA_TZ
from tests.api.people_city import GRID_A, GRID_B, as_
from tests.factories import COMMUNITY, add_unit

NOVEMBER_23 = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)


@pytest.fixture
def events(people_city):
    """Two events in grid A and one in grid B, all for the police station PS-1, in Nov 2026."""
    session = people_city["session"]
    load_reference_data(session)
    add_unit(session, "CC", "command_centre", location=(111.29, 30.71))
    filed = []
    for worker, lon, hour in (
        ("worker_a", 111.283, 10),
        ("worker_a", 111.284, 11),
        ("worker_b", 111.293, 12),
    ):
        report = EventReport(category="0102", lon=lon, lat=30.705, description="治安乱点")
        filed.append(
            report_event(
                session,
                actor=people_city[worker],
                report=report,
                now=NOVEMBER_23.replace(hour=hour),
            )
        )
    return filed


def kpis(client, people_city, role, **params):
    return client.get("/api/stats/kpis", headers=as_(people_city, role), params=params)


def test_kpis_by_grid_for_a_month_a_quarter_a_year_or_dates(client, people_city, events):
    for params in (
        {"period": "2026-11"},
        {"period": "2026-Q4"},
        {"period": "2026"},
        {"from": "2026-11-23", "to": "2026-11-23"},
    ):
        response = kpis(client, people_city, "command", by="grid", **params)
        assert response.status_code == 200, params
        rows = {r["key"]: r for r in response.json()["rows"]}
        assert {k: r["reported"] for k, r in rows.items()} == {GRID_A: 2, GRID_B: 1}, params
    body = kpis(client, people_city, "command", by="grid", period="2026-11").json()
    assert body["start"] == "2026-11-01T00:00:00+08:00"
    assert body["end"] == "2026-12-01T00:00:00+08:00"
    row = body["rows"][0]
    assert {"closure_rate", "on_time_sign_rate", "score", "name"} <= set(row)
    assert row["registered"] == 2 and row["open"] == 2
    october = kpis(client, people_city, "command", by="grid", period="2026-10").json()
    assert october["rows"] == []


def test_kpis_are_limited_to_my_grids_or_my_unit(client, people_city, events):
    mine = kpis(client, people_city, "worker_a", by="grid", period="2026-11").json()["rows"]
    assert [(r["key"], r["reported"]) for r in mine] == [(GRID_A, 2)]
    unit = kpis(client, people_city, "dispatcher", by="unit", period="2026-11").json()["rows"]
    assert [(r["name"], r["reported"]) for r in unit] == [("公安PS-1", 3)]
    admin = kpis(client, people_city, "admin", by="department", period="2026-11").json()["rows"]
    assert sum(r["reported"] for r in admin) == 3


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"period": "2026-13"}, "period '2026-13'"),
        ({"period": "last month"}, "is not a year"),
        ({"period": "2026-11", "from": "2026-11-01", "to": "2026-11-30"}, "not both"),
        ({"from": "2026-11-01"}, "both from and to"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "swap them"),
        ({"by": "planet"}, "by"),
        ({"from": "yesterday", "to": "2026-11-01"}, "from"),
    ],
)
def test_bad_periods_get_422_sentences(client, people_city, params, words):
    response = kpis(client, people_city, "command", **params)
    assert response.status_code == 422
    assert words in response.json()["error"]["message"]


def test_statistics_need_a_signed_in_account(client, people_city):
    for path in ("/api/stats/kpis", "/api/stats/population", "/api/stats/overdue-visits"):
        assert client.get(path).status_code == 401, path


def test_population_per_grid_and_community_in_my_scope(client, people_city):
    response = client.get("/api/stats/population", headers=as_(people_city, "leader"))
    assert response.status_code == 200
    rows = {r["code"]: r for r in response.json()}
    assert {c: r["residents"] for c, r in rows.items()} == {GRID_A: 2, GRID_B: 1}
    assert "name" in rows[GRID_A] and "张三" not in str(rows)
    communities = client.get(
        "/api/stats/population", headers=as_(people_city, "leader"), params={"by": "community"}
    ).json()
    assert [(r["code"], r["residents"]) for r in communities] == [(COMMUNITY, 3)]
    mine = client.get("/api/stats/population", headers=as_(people_city, "worker_b")).json()
    assert [(r["code"], r["residents"]) for r in mine] == [(GRID_B, 1)]


def test_population_refuses_dispatchers_other_areas_and_unknown_levels(client, people_city):
    assert (
        client.get("/api/stats/population", headers=as_(people_city, "dispatcher")).status_code
        == 403
    )
    elsewhere = client.get(
        "/api/stats/population", headers=as_(people_city, "leader"), params={"area": "420503000000"}
    )
    assert elsewhere.status_code == 403
    level = client.get(
        "/api/stats/population", headers=as_(people_city, "leader"), params={"by": "planet"}
    )
    assert level.status_code == 422 and level.json()["error"]["field"] == "by"


def test_overdue_visits_are_counted_per_grid_and_per_worker(client, people_city, groups):
    by_grid = client.get("/api/stats/overdue-visits", headers=as_(people_city, "leader"))
    assert by_grid.status_code == 200
    assert [(r["grid_code"], r["overdue"]) for r in by_grid.json()] == [(GRID_A, 1)]
    by_worker = client.get(
        "/api/stats/overdue-visits", headers=as_(people_city, "command"), params={"by": "worker"}
    ).json()
    assert [(r["staff_id"], r["overdue"]) for r in by_worker] == [
        (people_city["worker_a"].staff_id, 1)
    ]
    theirs = client.get("/api/stats/overdue-visits", headers=as_(people_city, "worker_b")).json()
    assert theirs == []
    refused = client.get("/api/stats/overdue-visits", headers=as_(people_city, "dispatcher"))
    assert refused.status_code == 403
