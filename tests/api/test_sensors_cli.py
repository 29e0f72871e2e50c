"""`gridgov sensors simulate` and the offline check, run as a user runs them on the demo city."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from gis import local_pg
from tests.api.cli_run import run
from tests.factories import fresh_database


@pytest.fixture(scope="module")
def demo_city(database_url: str) -> Iterator[str]:
    """The seeded demo city in a database of its own (the commands commit)."""
    url = fresh_database(database_url, "_sensors_cli")
    run("seed", "demo", database_url=url, check=True)
    yield url
    local_pg.drop_database(url)


def scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_seed_registers_a_couple_of_dozen_devices_per_district(demo_city):
    per_district = scalar(
        demo_city,
        "SELECT min(n) FROM (SELECT count(*) n FROM device GROUP BY district_code) s",
    )
    assert per_district == 24


def test_simulate_raises_alarms_then_recovers_them(demo_city):
    first = run("sensors", "simulate", "--alarms", "3", "--seed", "7", database_url=demo_city)
    assert first.returncode == 0, first.stderr
    raised = re.findall(r"\d{6}-\d{8}-\d{6}", first.stdout.split("recovered")[0])
    assert len(raised) == 3, first.stdout
    alarms = (
        "SELECT count(*) FROM event e WHERE e.source = 'sensor' AND EXISTS "
        "(SELECT 1 FROM device d WHERE e.description LIKE '%设备 ' || d.code || '）%')"
    )
    assert scalar(demo_city, alarms) == 3
    assert scalar(demo_city, "SELECT count(*) FROM device WHERE alarm_event_id IS NOT NULL") == 3
    calm = run("sensors", "simulate", "--alarms", "0", database_url=demo_city, check=True)
    recovered = re.findall(r"\d{6}-\d{8}-\d{6}", calm.stdout.split("recovered")[1])
    assert sorted(recovered) == sorted(raised), calm.stdout
    assert scalar(demo_city, "SELECT count(*) FROM device WHERE alarm_event_id IS NOT NULL") == 0
    steps = "SELECT count(*) FROM event_step WHERE action = 'sensor-recovered'"
    assert scalar(demo_city, steps) == 3


def test_escalation_job_files_one_offline_task_per_silent_device(demo_city):
    scalar(
        demo_city,
        "UPDATE device SET last_seen_at = now() - interval '1 day' "
        "WHERE code IN ('420502-SMOKE-0001', '420503-GAS-0001') RETURNING 1",
    )
    first = run("escalate", database_url=demo_city, check=True)
    assert "2 went offline" in first.stdout, first.stdout
    again = run("sensors", "offline", database_url=demo_city, check=True)
    assert "0 went offline" in again.stdout
    tasks = "SELECT count(*) FROM event WHERE category_code = '1090' AND status = 'dispatched'"
    assert scalar(demo_city, tasks) == 2


def test_simulate_over_http_posts_signed_readings_the_server_accepts(demo_city):
    from bench.common import uvicorn_server

    before = scalar(demo_city, "SELECT count(*) FROM reading")
    with uvicorn_server("api.app:app", {"DATABASE_URL": demo_city}, "/api/health") as base:
        result = run(
            "sensors",
            "simulate",
            "--url",
            base,
            "--alarms",
            "1",
            "--seed",
            "3",
            database_url=demo_city,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refused" not in result.stdout and "48 devices posted" in result.stdout
    # one reading from each of 47 devices and a run of readings from the one in alarm
    assert scalar(demo_city, "SELECT count(*) FROM reading") - before > 48
