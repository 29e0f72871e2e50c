"""`gridgov analyse recurrences`, run as the daily timer runs it: a real process that commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyproj
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gis import local_pg
from tests.api.cli_run import run
from tests.events.workflow_city import MONDAY_10, SPOT, build_city, file
from tests.factories import fresh_database

GEOD = pyproj.Geod(ellps="GRS80")


@pytest.fixture(scope="module")
def city_url(database_url: str) -> Iterator[str]:
    """The workflow city with three 可疑人员 events 0, 60 and 95 m apart on 11-23, 24 and 25."""
    url = fresh_database(database_url, "_recurrence_cli")
    engine = create_engine(url)
    with Session(engine) as session:
        city = build_city(session)
        for day, north in enumerate((0, 60, 95)):
            lon, lat, _ = GEOD.fwd(SPOT[0], SPOT[1], 0, north)
            file(city, lon=lon, lat=lat, now=MONDAY_10 + timedelta(days=day))
        session.commit()
    engine.dispose()
    yield url
    local_pg.drop_database(url)


def _clusters(url: str) -> list[tuple[int, int]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, event_count FROM recurrence_cluster")).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def test_the_daily_run_raises_one_task_and_a_rerun_none(city_url):
    before = run("analyse", "recurrences", "--on", "2026-11-24", database_url=city_url, check=True)
    assert _clusters(city_url) == []  # two events by the end of 11-24
    assert "420502" in before.stdout
    first = run(
        "analyse", "recurrences", "--district", "420502", "--on", "2026-11-25",
        database_url=city_url, check=True,
    )  # fmt: skip
    assert _clusters(city_url) == [(1, 3)]
    assert "│ 1 " in first.stdout or "│ 1" in first.stdout
    run("analyse", "recurrences", "--on", "2026-11-26", database_url=city_url, check=True)
    assert _clusters(city_url) == [(1, 3)]


def test_a_bad_district_or_threshold_is_one_sentence(city_url):
    bad = run("analyse", "recurrences", "--district", "42", database_url=city_url)
    assert bad.returncode == 2 and "6-digit district code" in bad.stderr
    threshold = run(
        "analyse", "recurrence-threshold", "0601", "--min-events", "1", database_url=city_url
    )
    assert threshold.returncode == 2 and "min_events" in threshold.stderr
    unknown = run("analyse", "recurrence-threshold", "9999", database_url=city_url)
    assert unknown.returncode == 1 and "9999" in unknown.stderr
    assert "Traceback" not in bad.stderr + threshold.stderr + unknown.stderr
