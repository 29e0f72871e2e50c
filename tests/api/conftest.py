"""Fixtures of the API tests: the people API tests' city, shared by the residents, statistics and
import tests; and for the page tests, Chromium, a photo, the city (the console city unless a
module defines its own `page_city`) and the real server on the module's own database."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from gis import local_pg
from gis.db import session_scope
from people import special_groups as sg
from tests.api.browser import CHROMIUM, CHROMIUM_ARGS, serving
from tests.api.console_city import build_console_city
from tests.api.people_city import GRID_A, build_people_city
from tests.factories import (
    add_building,
    add_grid,
    add_house,
    add_staff,
    admin_tree,
    china_today,
    fresh_database,
    square,
)

TODAY = china_today()


# -- the page tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the Debian package (no browser is downloaded)."""
    assert CHROMIUM.exists(), "Chromium is missing: `make test` installs the chromium package"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small JPEG as a phone camera would give."""
    path = tmp_path_factory.mktemp("photos") / "site.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (180, 90, 40)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, Any]:
    """The page tests' city in the module's own database: the console city of
    tests/api/console_city.py, unless the module defines a `page_city` of its own."""
    return build_console_city(own_engine)


@pytest.fixture(scope="module")
def server(
    own_database: str, page_city: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`uvicorn api.app:app` as a user runs it, on a free loopback port and the module's own
    database once its city is built."""
    with serving(own_database, tmp_path_factory.mktemp("server")) as base:
        yield base


@pytest.fixture
def people_city(session: Session) -> dict[str, Any]:
    """Grids A and B with a building of two houses each, three residents, and every role."""
    return build_people_city(session)


@pytest.fixture
def groups(people_city: dict[str, Any]) -> dict[str, int]:
    """Zhang (grid A) lives alone, overdue; Wang (grid B) is a released prisoner, not yet due."""
    session = people_city["session"]
    alone = sg.enrol(
        session,
        actor=people_city["admin"],
        resident_id=people_city["residents"]["zhang"],
        group_type="elderly_alone",
        details={"children_phone": "13912345678", "health": "慢性病"},
        started_on=TODAY - timedelta(days=30),
    )
    released = sg.enrol(
        session,
        actor=people_city["admin"],
        resident_id=people_city["residents"]["wang"],
        group_type="released_prisoner",
        details={"crime": "盗窃罪", "sentence": "有期徒刑3年", "release_date": "2020-01-01"},
        started_on=TODAY,
    )
    return {"alone": alone.id, "released": released.id}


@pytest.fixture(scope="module")
def committed_engine(database_url: str) -> Iterator[Engine]:
    """A throwaway database whose data is committed (a grid, a house and an admin), for jobs
    running on their own sessions."""
    text = fresh_database(database_url, "_jobs")
    engine = create_engine(text)
    with session_scope(engine) as session:
        admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
        add_grid(session, GRID_A, square(111.28, 30.70, 0.01))
        building = add_building(session, "BA", square(111.281, 30.701, 0.0002), GRID_A)
        add_house(session, building, room="0101")
        add_staff(session, "boss", "admin")
    yield engine
    engine.dispose()
    local_pg.drop_database(text)
