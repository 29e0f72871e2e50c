"""Property-based HTTP test of every operation in the OpenAPI document: no input gives a 5xx.

Schemathesis generates requests from the app's own schema (valid and invalid ones) and sends
them, signed in as an admin, to the real app on the test database. Each request runs in its
own savepoint, committed or rolled back as the real session dependency would, inside the
test's transaction, which is rolled back at the end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy.exc import ResourceClosedError
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.import_jobs import ImportRunner
from events.reference import load_reference_data
from tests.factories import (
    COMMUNITY,
    add_building,
    add_grid,
    add_staff,
    add_unit,
    admin_tree,
    bearer,
    square,
)

APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

# Generated requests per operation and phase: small enough for about a minute in all;
# GRIDGOV_FUZZ_EXAMPLES=200 explores further. CI runs derandomised, so a run is repeatable.
MAX_EXAMPLES = int(os.environ.get("GRIDGOV_FUZZ_EXAMPLES", "8"))


@pytest.fixture
def admin_headers(session: Session, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A small city on the test database, the app bound to it, and an admin's bearer header."""

    def per_request() -> Iterator[Session]:
        savepoint = session.begin_nested()
        try:
            yield session
        except BaseException:
            # Also after a failed flush (inactive). When a request resolves the dependency
            # twice, the first savepoint's rollback has already closed the second.
            with contextlib.suppress(ResourceClosedError):
                savepoint.rollback()
            raise
        if savepoint.is_active:
            savepoint.commit()

    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    add_grid(session, COMMUNITY + "002", square(111.29, 30.70, 0.01))
    add_building(session, "B001", square(111.285, 30.705, 0.0002), COMMUNITY + "001", floors=6)
    load_reference_data(session)
    add_unit(session, "PS01", "police", geom=square(111.28, 30.70, 0.02))
    headers = bearer(add_staff(session, "fuzz-admin", "admin"))
    APP.dependency_overrides[get_session] = per_request
    APP.state.import_runner = ImportRunner(inline=True, upload_dir=tmp_path / "imports")
    try:
        yield headers
    finally:
        APP.dependency_overrides.clear()
        del APP.state.import_runner


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(case: schemathesis.Case, admin_headers: dict[str, str]):
    response = case.call(headers=admin_headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: "
        f"{response.text[:500]}\nreproduce: {case.as_curl_command()}"
    )
