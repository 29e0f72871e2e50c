"""Property-based HTTP test of every operation in the OpenAPI document: no input gives a 5xx.

Schemathesis generates requests from the app's own schema (valid and invalid ones) and sends
them to the real app on the test database, each signed in as one of every role (grid worker,
inspector, dispatcher, command centre, leader, admin) or carrying an Open311 integration key,
drawn per example so that every operation meets several callers. Each request runs in its
own savepoint, committed or rolled back as the real session dependency would, inside the
test's transaction, which is rolled back at the end.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy.exc import ResourceClosedError
from sqlalchemy.orm import Session

from api.app import create_app
from api.http.deps import get_read_session, get_session
from api.import_jobs import ImportRunner
from events.reference import load_reference_data
from people.integrations import issue_key
from tests.factories import (
    COMMUNITY,
    DISTRICT,
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
# Who sends a generated request: every staff role, and an Open311 integration.
CALLERS = (
    "grid_worker",
    "inspector",
    "dispatcher",
    "command",
    "leader",
    "admin",
    "open311",
)


@dataclass(frozen=True)
class Caller:
    """How one caller signs a request: a bearer header, or an api_key in the query."""

    headers: dict[str, str]
    query: dict[str, str]


@pytest.fixture
def callers(session: Session, tmp_path: Path) -> Iterator[dict[str, Caller]]:
    """A small city on the test database, the app bound to it, and one caller per role."""

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
    police = add_unit(session, "PS01", "police", geom=square(111.28, 30.70, 0.02))
    area = DISTRICT + "000000"
    scopes: dict[str, dict[str, object]] = {
        "grid_worker": {"grid_codes": [COMMUNITY + "001"]},
        "inspector": {"area_code": COMMUNITY},
        "dispatcher": {"department_unit_id": police.id},
        "command": {"area_code": area},
        "leader": {"area_code": area},
        "admin": {},
    }
    signed = {
        role: Caller(bearer(add_staff(session, f"fuzz-{role}", role, **scope)), {})
        for role, scope in scopes.items()
    }
    signed["open311"] = Caller({}, {"api_key": issue_key(session, name="fuzz", area_code=area).key})
    for dependency in (get_session, get_read_session):  # the dashboards' reads too
        APP.dependency_overrides[dependency] = per_request
    APP.state.import_runner = ImportRunner(inline=True, upload_dir=tmp_path / "imports")
    try:
        yield signed
    finally:
        APP.dependency_overrides.clear()
        del APP.state.import_runner


@schema.parametrize()
@schema.given(caller=st.sampled_from(CALLERS))
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_a_server_error(
    case: schemathesis.Case, caller: str, callers: dict[str, Caller]
) -> None:
    signing = callers[caller]
    if signing.query:
        case.query = {**(case.query or {}), **signing.query}
    response = case.call(headers=signing.headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} as {caller} answered {response.status_code}: "
        f"{response.text[:500]}\nreproduce: {case.as_curl_command()}"
    )
