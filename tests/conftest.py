"""Test database: a real PostGIS database created, migrated and dropped once per run.

Each test runs inside a transaction that is rolled back, so tests never see each other's rows.
The small cities that tests in several packages build on are fixtures here; a city only one
package uses lives in that package's conftest, and one only one module uses stays there under
a name of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Before any settings are read: the test profile (cheap password hashing, see people.staff).
os.environ.setdefault("ENVIRONMENT", "test")

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.app import create_app
from api.http.deps import get_read_session, get_session
from api.import_jobs import ImportRunner
from gis import local_pg
from gis.config import get_settings
from gis.migrate import upgrade
from people.integrations import issue_key
from tests.events.dispatch_city import build_dispatch_city
from tests.events.districts_city import add_second_district
from tests.events.workflow_city import build_city
from tests.factories import DISTRICT, fresh_database
from tests.gis.tile_city import build_tile_city
from tests.people.residents_city import build_residents_city


def _test_database_url() -> str:
    settings = get_settings()
    base = make_url(settings.sqlalchemy_url)
    # xdist workers (if ever used) each get their own database.
    suffix = os.environ.get("PYTEST_XDIST_WORKER", "")
    return base.set(database=f"{base.database}_test{suffix}").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a freshly created and migrated test database."""
    settings = get_settings()
    if settings.uses_local_cluster:
        local_pg.up(settings)  # reused when `make test` already started it
    url = _test_database_url()
    local_pg.drop_database(url)
    local_pg.ensure_database(url)
    upgrade(url)
    yield url
    local_pg.drop_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Engine on the test database."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def own_database(database_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database of the test module's own, named after it, dropped after it: for code
    under test that commits (a server, a CLI subprocess, a background job), which must not
    share the rolled-back test database."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    url = fresh_database(database_url, f"_{name}")
    yield url
    local_pg.drop_database(url)


@pytest.fixture(scope="module")
def own_engine(own_database: str) -> Iterator[Engine]:
    """Engine on the module's own database."""
    engine = create_engine(own_database)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, commits included."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def client(session: Session, tmp_path: Path) -> Iterator[TestClient]:
    """An HTTP client of the real app whose requests share the test's rolled-back session.

    Import jobs run inline on that session (a background thread's own session would not see
    the test's uncommitted rows), with their files under the test's tmp_path.
    """
    app = create_app()
    for dependency in (get_session, get_read_session):  # the dashboards' reads too
        app.dependency_overrides[dependency] = lambda: session
    app.state.import_runner = ImportRunner(inline=True, upload_dir=tmp_path / "imports")
    with TestClient(app) as test_client:
        yield test_client


# --- cities -----------------------------------------------------------------------------------


@pytest.fixture
def city(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The workflow tests' two-grid city (tests/events/workflow_city.py) with an Open311 key;
    photos are stored under tmp_path."""
    monkeypatch.setattr(get_settings(), "upload_dir", tmp_path / "photos")
    built = build_city(session)
    built["open311"] = issue_key(session, name="workflow-app", area_code=DISTRICT + "000000").key
    return built


@pytest.fixture
def dispatch_city(session: Session) -> dict[str, Any]:
    """The dispatch tests' city (tests/events/dispatch_city.py): police areas across grid lines."""
    return build_dispatch_city(session)


@pytest.fixture
def residents_city(session: Session) -> dict[str, Any]:
    """The residents and ledger tests' city (tests/people/residents_city.py): two grids, two
    houses in each, a worker per grid, an admin, a leader and an inspector."""
    return build_residents_city(session)


@pytest.fixture
def tile_city(session: Session) -> Session:
    """The tile tests' city (tests/gis/tile_city.py): two grids and buildings in and around
    the tile Z/TX/TY; the session it was built in."""
    return build_tile_city(session)


@pytest.fixture
def two_districts(city: dict[str, Any]) -> dict[str, Any]:
    """The workflow city (西陵区) and 伍家岗区 beside it, with city-level (宜昌市 4205) command
    and leader accounts (tests/events/districts_city.py)."""
    return add_second_district(city["session"], city)
