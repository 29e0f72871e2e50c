"""Every route × every role: who passes the route's gate, stated here independently of the code.

Passing the gate is not the whole story (the services still scope rows to the caller's grids,
unit or area; other tests check that): this matrix pins which roles may call each route at all,
that the others get 403, that nobody gets in anonymously, and that no role can make a route 500.
"""

from __future__ import annotations

import re

import pytest

from api.app import create_app
from people.models import StaffRole
from tests.api.test_auth import declared_gates
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_grid,
    add_staff,
    add_unit,
    admin_tree,
    bearer,
    square,
)

R = StaffRole
EVERYONE = frozenset(R)
ADMIN = frozenset({R.ADMIN})
COMMAND = frozenset({R.COMMAND, R.ADMIN})
LEADERS = COMMAND | {R.LEADER}
# Those who work with residents one by one (masked); leaders see aggregates, dispatchers events.
LEDGER = COMMAND | {R.GRID_WORKER, R.INSPECTOR}
REPORTERS = LEDGER
ON_SITE = frozenset({R.GRID_WORKER, R.INSPECTOR})
UNIT = frozenset({R.DISPATCHER})
AGGREGATES = LEADERS | {R.GRID_WORKER, R.INSPECTOR}

EXPECTED: dict[tuple[str, str], frozenset[StaffRole]] = {
    ("GET", "/api/me"): EVERYONE,
    # the spatial frame is not personal data: every account may read it
    ("GET", "/api/locate"): EVERYONE,
    ("GET", "/api/grids"): EVERYONE,
    ("GET", "/api/grids/{code}"): EVERYONE,
    ("GET", "/api/buildings"): EVERYONE,
    ("GET", "/api/buildings/{code}"): EVERYONE,
    ("GET", "/api/houses"): EVERYONE,
    ("GET", "/api/houses/{code}"): EVERYONE,
    # residents
    ("GET", "/api/residents"): LEDGER,
    ("POST", "/api/residents"): LEDGER,
    ("POST", "/api/residents/lookup"): LEDGER,
    ("GET", "/api/residents/{resident_id}"): LEDGER,
    ("PATCH", "/api/residents/{resident_id}"): LEDGER,
    ("POST", "/api/residents/{resident_id}/unmask"): COMMAND | {R.GRID_WORKER},
    ("GET", "/api/residents/{resident_id}/residences"): LEDGER,
    ("POST", "/api/residents/{resident_id}/move-in"): LEDGER,
    ("POST", "/api/residents/{resident_id}/move-out"): LEDGER,
    ("GET", "/api/households/{household_id}"): LEDGER,
    ("GET", "/api/special-groups"): LEDGER,
    ("POST", "/api/special-groups"): LEDGER,
    ("GET", "/api/special-groups/{special_group_id}"): LEDGER,
    ("GET", "/api/special-groups/{special_group_id}/visits"): LEDGER,
    ("POST", "/api/special-groups/{special_group_id}/visits"): LEDGER,
    ("GET", "/api/visits/due"): LEDGER,
    # events
    ("POST", "/api/events"): REPORTERS,
    ("GET", "/api/events"): EVERYONE,
    ("GET", "/api/events/{code}"): EVERYONE,
    ("GET", "/api/events/{code}/photos/{photo_id}"): EVERYONE,
    ("GET", "/api/events/{code}/photos/{photo_id}/thumbnail"): EVERYONE,
    ("POST", "/api/events/{code}/check"): ON_SITE,
    ("POST", "/api/events/{code}/dispatch"): COMMAND | {R.GRID_WORKER},
    ("POST", "/api/events/{code}/redispatch"): COMMAND,
    ("POST", "/api/events/{code}/sign"): UNIT,
    ("POST", "/api/events/{code}/return"): UNIT,
    ("POST", "/api/events/{code}/handle"): UNIT,
    ("POST", "/api/events/{code}/extend"): UNIT,
    ("POST", "/api/events/{code}/verify"): ON_SITE,
    ("POST", "/api/events/{code}/rework"): ON_SITE,
    ("POST", "/api/events/{code}/close"): COMMAND,
    ("POST", "/api/events/{code}/approve-extension"): COMMAND,
    ("POST", "/api/events/{code}/suspend"): COMMAND,
    ("POST", "/api/events/{code}/resume"): COMMAND,
    ("POST", "/api/events/{code}/void"): COMMAND,
    ("POST", "/api/events/{code}/self-resolve"): frozenset({R.GRID_WORKER}),
    ("POST", "/api/events/{code}/supervise"): LEADERS,
    ("POST", "/api/events/{code}/{action}"): EVERYONE,  # unknown actions: 404 for anyone
    # reference data: everyone reads, admins edit; rules are internal to the command centre
    ("GET", "/api/categories"): EVERYONE,
    ("PATCH", "/api/categories/{code}"): ADMIN,
    ("GET", "/api/departments"): EVERYONE,
    ("GET", "/api/units"): EVERYONE,
    ("GET", "/api/units/{unit_id}"): EVERYONE,
    ("PUT", "/api/units/{unit_id}/jurisdiction"): ADMIN,
    ("GET", "/api/dispatch-rules"): COMMAND,
    ("GET", "/api/dispatch-rules/{rule_id}"): COMMAND,
    ("POST", "/api/dispatch-rules"): ADMIN,
    ("PUT", "/api/dispatch-rules/{rule_id}"): ADMIN,
    ("DELETE", "/api/dispatch-rules/{rule_id}"): ADMIN,
    ("GET", "/api/calendar"): EVERYONE,
    ("PUT", "/api/calendar/{day}"): ADMIN,
    ("DELETE", "/api/calendar/{day}"): ADMIN,
    # statistics: aggregates, each scoped by the service
    ("GET", "/api/stats/kpis"): EVERYONE,
    ("GET", "/api/stats/population"): AGGREGATES,
    ("GET", "/api/stats/overdue-visits"): AGGREGATES,
    # imports and exports
    ("POST", "/api/imports"): ADMIN,
    ("GET", "/api/imports"): ADMIN,
    ("GET", "/api/imports/{job_id}"): ADMIN,
    ("GET", "/api/imports/{job_id}/errors"): ADMIN,
    ("GET", "/api/exports/residents"): LEDGER,
    ("GET", "/api/exports/grids"): EVERYONE,
    ("GET", "/api/exports/buildings"): EVERYONE,
    ("GET", "/api/templates/residents.{suffix}"): LEDGER,
    # integrations (Open311 keys)
    ("GET", "/api/integrations"): ADMIN,
    ("POST", "/api/integrations"): ADMIN,
    ("POST", "/api/integrations/{name}/revoke"): ADMIN,
    # pages and maps
    ("GET", "/worker"): ON_SITE,
    ("GET", "/worker/sw.js"): ON_SITE,
    ("GET", "/console"): COMMAND | UNIT,
    ("GET", "/maps/leader"): LEADERS,
    ("GET", "/maps/leader/panel"): LEADERS,
    ("GET", "/maps/unit"): COMMAND | UNIT,
    ("GET", "/maps/grid"): COMMAND | ON_SITE,
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): EVERYONE,
}
PAGES = {"/worker", "/console", "/maps/leader", "/maps/unit", "/maps/grid"}
# Open to anyone, or to integrations holding an API key (tested in test_open311.py).
NOT_STAFF = re.compile(r"^(/|/api/health|/api/auth/(token|logout)|/login|/logout|/open311/v2/.*)$")

PARAMETERS = {
    "code": "420502001001001",
    "resident_id": "1",
    "household_id": "1",
    "special_group_id": "1",
    "photo_id": "1",
    "unit_id": "1",
    "rule_id": "1",
    "job_id": "1",
    "day": "2026-10-01",
    "suffix": "csv",
    "name": "nobody",
    "action": "no-such-action",
    "layer": "buildings",
    "z": "14",
    "x": "13255",
    "y": "6813",
}


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMETERS[m.group(1)], path)


def _routes():
    for context, gates in declared_gates(create_app()):
        for method in sorted(context.methods - {"HEAD"}):
            yield method, context.path, gates


@pytest.fixture
def accounts(session):
    admin_tree(session)
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    unit = add_unit(session, "PS01", "police", location=(111.285, 30.705))
    scopes = {
        R.GRID_WORKER: {"grid_codes": [COMMUNITY + "001"]},
        R.INSPECTOR: {"area_code": DISTRICT + "000000"},
        R.DISPATCHER: {"department_unit_id": unit.id},
        R.COMMAND: {"area_code": DISTRICT + "000000"},
        R.LEADER: {"area_code": DISTRICT + "000000"},
        R.ADMIN: {},
    }
    return {
        role: bearer(add_staff(session, f"matrix.{role.value}", role.value, **scope))
        for role, scope in scopes.items()
    }


def _passed_gate(response) -> bool:
    if response.status_code == 403:
        if "text/html" in response.headers.get("content-type", ""):
            return False  # a page's refusal
        return "may not use" not in response.json()["error"]["message"]
    return response.status_code != 401


def test_the_table_names_every_staff_route_and_nothing_else():
    staff_routes = {(m, p) for m, p, _ in _routes() if not NOT_STAFF.match(p)}
    assert staff_routes == set(EXPECTED)


def test_each_role_passes_exactly_the_gates_the_table_gives_it(client, accounts):
    wrong, errors = [], []
    for method, path, _ in _routes():
        if NOT_STAFF.match(path):
            continue
        for role, headers in accounts.items():
            response = client.request(method, _url(path), headers=headers, follow_redirects=False)
            if response.status_code >= 500:
                errors.append(f"{role.value} {method} {path}: {response.status_code}")
            expected = role in EXPECTED[(method, path)]
            if _passed_gate(response) != expected:
                verb = "was refused" if expected else "got through"
                wrong.append(f"{role.value} {verb} {method} {path} ({response.status_code})")
    assert wrong == []
    assert errors == []


def test_nobody_gets_in_without_signing_in(client, accounts):
    let_in = []
    for method, path, _ in _routes():
        if NOT_STAFF.match(path):
            continue
        response = client.request(method, _url(path), follow_redirects=False)
        refused = (
            response.status_code == 303 and response.headers["location"].startswith("/login")
            if path in PAGES
            else response.status_code == 401
        )
        if not refused:
            let_in.append(f"{method} {path} ({response.status_code})")
    assert let_in == []
