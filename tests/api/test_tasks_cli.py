"""`gridgov tasks generate`, run as the daily timer runs it: a real process that commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gis import local_pg
from people import service
from people.schemas import ResidentCreate
from tests.api.cli_run import run
from tests.api.people_city import GRID_A, build_people_city
from tests.factories import fresh_database, id_number


@pytest.fixture(scope="module")
def city_url(database_url: str) -> Iterator[str]:
    """The people city with one floating resident who arrived on 2026-03-01 (due 03-31)."""
    url = fresh_database(database_url, "_tasks_cli")
    engine = create_engine(url)
    with Session(engine) as session:
        city = build_people_city(session)
        service.register_resident(
            session,
            actor=city["admin"],
            data=ResidentCreate(
                doc_number=id_number(81),
                name="流动81",
                house_code="BA-1-0201",
                residence_type="floating",
                origin="河南省信阳市",
                arrival_date=date(2026, 3, 1),
                moved_in=date(2026, 3, 1),
            ),
        )
        session.commit()
    engine.dispose()
    yield url
    local_pg.drop_database(url)


def _tasks(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT kind::text, grid_code FROM worker_task")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def _counts(stdout: str, kind: str) -> tuple[int, int]:
    """(matched, new tasks) from the printed table's row of `kind`."""
    line = next(line for line in stdout.splitlines() if kind in line)
    cells = [cell.strip() for cell in line.split("│") if cell.strip()]
    return int(cells[-2]), int(cells[-1])


def test_the_daily_run_raises_a_task_once_and_says_how_many_are_new(city_url):
    on_deadline = run("tasks", "generate", "--on", "2026-03-31", database_url=city_url, check=True)
    assert _counts(on_deadline.stdout, "registration_overdue") == (0, 0)
    assert _tasks(city_url) == []
    first = run("tasks", "generate", "--on", "2026-04-01", database_url=city_url, check=True)
    assert _tasks(city_url) == [("registration_overdue", GRID_A)]
    assert _counts(first.stdout, "registration_overdue") == (1, 1)
    again = run("tasks", "generate", "--on", "2026-04-02", database_url=city_url, check=True)
    assert _tasks(city_url) == [("registration_overdue", GRID_A)]
    assert _counts(again.stdout, "registration_overdue") == (1, 0)


def test_a_bad_district_is_one_sentence(city_url):
    result = run("tasks", "generate", "--district", "42", database_url=city_url)
    assert result.returncode == 2
    assert "6-digit district code" in result.stderr and "Traceback" not in result.stderr
