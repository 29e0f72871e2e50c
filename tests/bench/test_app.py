"""The benchmark's own app: the product's app plus the insert-only baseline endpoint, which the
product never serves."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.http.deps import get_read_session, get_session
from bench.app import create_bench_app
from events.models import Event, EventStep
from tests.api.event_requests import assert_error, report
from tests.factories import bearer


def test_the_insert_only_endpoint_is_served_by_the_bench_app_only(client, city, session):
    absent = client.post("/api/bench/insert-event", json=report(), headers=bearer(city["worker"]))
    assert_error(absent, 404)
    app = create_bench_app()
    for dependency in (get_session, get_read_session):  # the dashboards' reads too
        app.dependency_overrides[dependency] = lambda: session
    with TestClient(app) as bench:
        response = bench.post(
            "/api/bench/insert-event", json=report(), headers=bearer(city["worker"])
        )
    assert response.status_code == 201, response.text
    row = session.scalar(select(Event).where(Event.code == response.json()["code"]))
    assert row is not None and row.grid_code is None and row.unit_id is None
    steps = session.scalar(select(func.count()).where(EventStep.event_id == row.id))
    assert steps == 0  # the row only: no locating, routing or history
