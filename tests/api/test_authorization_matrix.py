"""Every route × every role: who passes the route's gate, stated here independently of the code.

Leaders get aggregates only (counts, heat maps, choropleths, KPIs): no event list, no event
detail, no photos, no resident rows, no single events on maps or in tiles, no action on a single
event (督办 is entered by the command centre) and no Open311 (integrations only).

Passing the gate is not the whole story (the services still scope rows to the caller's grids,
unit or area; other tests check that): this matrix pins which roles may call each route at all,
that the others get 403, that nobody gets in anonymously, and that no role can make a route 500.
"""

from __future__ import annotations

import re

import pytest

from api.app import create_app
from people.models import StaffRole
from tests.api.gates import declared_gates
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
# Who files events (events.sources.SOURCE_ROLES): grid workers, inspectors (巡查发现), leaders
# (领导批示), the command centre's operators (热线受理) and admins; never a unit's dispatcher.
REPORTERS = LEDGER | {R.LEADER}
ON_SITE = frozenset({R.GRID_WORKER, R.INSPECTOR})
UNIT = frozenset({R.DISPATCHER})
AGGREGATES = LEADERS | {R.GRID_WORKER, R.INSPECTOR}
# Single events (descriptions, reporters, photos): everyone who handles cases, never leaders.
EVENT_READERS = EVERYONE - {R.LEADER}

EXPECTED: dict[tuple[str, str], frozenset[StaffRole]] = {
    ("GET", "/api/me"): EVERYONE,
    # the spatial frame is not personal data: every account may read it
    ("GET", "/api/locate"): EVERYONE,
    ("GET", "/api/grids"): EVERYONE,
    ("GET", "/api/grids/{code}"): EVERYONE,
    ("GET", "/api/buildings"): EVERYONE,
    ("GET", "/api/buildings/{code}"): EVERYONE,
    # the 楼盘表 counts residents and special groups room by room: those who work with residents
    ("GET", "/api/buildings/{code}/households"): LEDGER,
    ("GET", "/api/houses"): EVERYONE,
    ("GET", "/api/houses/{code}"): EVERYONE,
    ("GET", "/api/addresses/search"): EVERYONE,  # 地址匹配: the frame again, in one's own area
    # standard addresses (标准地址): the frame, in one's own district
    ("GET", "/api/addresses/{code}"): EVERYONE,
    ("GET", "/api/addresses/{code}/children"): EVERYONE,
    # city parts (城市部件) are public facilities on the base map, in one's own district
    ("GET", "/api/parts"): EVERYONE,
    ("GET", "/api/parts/{code}"): EVERYONE,
    ("GET", "/api/part-types"): EVERYONE,
    # re-cutting a community's grids (网格调整) moves people and events: admins only
    ("POST", "/api/communities/{code}/recut"): ADMIN,
    # residents
    ("GET", "/api/residents"): LEDGER,
    ("POST", "/api/residents"): LEDGER,
    ("POST", "/api/residents/lookup"): LEDGER,
    ("GET", "/api/residents/{resident_id}"): LEDGER,
    ("PATCH", "/api/residents/{resident_id}"): LEDGER,
    ("POST", "/api/residents/{resident_id}/unmask"): COMMAND | {R.GRID_WORKER},
    ("GET", "/api/residents/{resident_id}/residences"): LEDGER,
    ("GET", "/api/residents/{resident_id}/history"): LEDGER,  # 变更记录 of a resident
    ("GET", "/api/houses/{code}/residences"): LEDGER,  # a room's history in the 楼盘表
    ("POST", "/api/residents/{resident_id}/move-in"): LEDGER,
    ("POST", "/api/residents/{resident_id}/move-out"): LEDGER,
    ("GET", "/api/households/{household_id}"): LEDGER,
    ("GET", "/api/special-groups"): LEDGER,
    ("POST", "/api/special-groups"): LEDGER,
    ("GET", "/api/special-groups/{special_group_id}"): LEDGER,
    ("GET", "/api/special-groups/{special_group_id}/visits"): LEDGER,
    ("POST", "/api/special-groups/{special_group_id}/visits"): LEDGER,
    ("GET", "/api/visits/due"): LEDGER,
    # the house and organisation ledgers (实有房屋, 实有单位): grid workers keep houses (admins
    # too); organisations are kept like residents; each record's history read like the record
    ("POST", "/api/houses"): frozenset({R.GRID_WORKER, R.ADMIN}),
    ("PATCH", "/api/houses/{code}"): frozenset({R.GRID_WORKER, R.ADMIN}),
    ("GET", "/api/houses/{code}/history"): LEDGER,
    ("GET", "/api/organisations"): LEDGER,
    ("POST", "/api/organisations"): LEDGER,
    ("GET", "/api/organisations/{organisation_id}"): LEDGER,
    ("PATCH", "/api/organisations/{organisation_id}"): LEDGER,
    ("POST", "/api/organisations/{organisation_id}/unmask"): COMMAND | {R.GRID_WORKER},
    ("GET", "/api/organisations/{organisation_id}/history"): LEDGER,
    # grid workers' tasks (出租屋无人登记, 居住证到期, 比对核查 …): those who keep the ledger
    ("GET", "/api/tasks"): LEDGER,
    ("POST", "/api/tasks/{task_id}/close"): LEDGER,
    # patrols (巡查轨迹): grid workers record their own; tracks (where a person walked) for them and
    # the command centre; coverage figures for those who read aggregates, never dispatchers
    ("POST", "/api/patrols"): frozenset({R.GRID_WORKER}),
    ("POST", "/api/patrols/{key}/points"): frozenset({R.GRID_WORKER}),
    ("POST", "/api/patrols/{key}/end"): frozenset({R.GRID_WORKER}),
    ("GET", "/api/patrols"): frozenset({R.GRID_WORKER}),
    ("GET", "/api/patrols/{key}/track"): COMMAND | {R.GRID_WORKER},
    ("GET", "/api/patrols/coverage"): AGGREGATES,
    # rentals (出租屋) read like residents, kept by grid workers like houses; floating
    # residents' deadline lists (流动人口) read like residents
    ("GET", "/api/rentals"): LEDGER,
    ("POST", "/api/rentals"): frozenset({R.GRID_WORKER, R.ADMIN}),
    ("GET", "/api/rentals/{rental_id}"): LEDGER,
    ("PATCH", "/api/rentals/{rental_id}"): frozenset({R.GRID_WORKER, R.ADMIN}),
    ("GET", "/api/floating/overdue"): LEDGER,
    ("GET", "/api/floating/expiring"): LEDGER,
    # events
    ("POST", "/api/events"): REPORTERS,
    ("GET", "/api/events"): EVENT_READERS,
    ("GET", "/api/events/{code}"): EVENT_READERS,
    ("GET", "/api/events/{code}/photos/{photo_id}"): EVENT_READERS,
    ("GET", "/api/events/{code}/photos/{photo_id}/thumbnail"): EVENT_READERS,
    ("POST", "/api/events/{code}/check"): ON_SITE,
    ("POST", "/api/events/{code}/locate"): COMMAND,
    ("POST", "/api/events/{code}/direct-reply"): COMMAND,
    # the one route that shows a caller's phone and name (logged): the command centre
    ("POST", "/api/events/{code}/contact/unmask"): COMMAND,
    ("POST", "/api/events/{code}/dispatch"): COMMAND | {R.GRID_WORKER},
    ("POST", "/api/events/{code}/redispatch"): COMMAND,
    ("POST", "/api/events/{code}/sign"): UNIT,
    ("POST", "/api/events/{code}/return"): UNIT,
    ("POST", "/api/events/{code}/handle"): UNIT,
    ("POST", "/api/events/{code}/extend"): UNIT,
    ("POST", "/api/events/{code}/verify"): ON_SITE,
    ("POST", "/api/events/{code}/rework"): ON_SITE,
    ("POST", "/api/events/{code}/close"): COMMAND,
    # answering and calling back callers (答复, 回访) is the command centre's
    ("POST", "/api/events/{code}/reply"): COMMAND,
    ("POST", "/api/events/{code}/reopen"): COMMAND,
    ("POST", "/api/events/{code}/callbacks"): COMMAND,
    ("GET", "/api/callbacks"): COMMAND,
    ("GET", "/api/callbacks/reviews"): COMMAND,
    ("POST", "/api/callbacks/{callback_id}/review"): COMMAND,
    ("POST", "/api/events/{code}/approve-extension"): COMMAND,
    ("POST", "/api/events/{code}/suspend"): COMMAND,
    ("POST", "/api/events/{code}/resume"): COMMAND,
    ("POST", "/api/events/{code}/void"): COMMAND,
    ("POST", "/api/events/{code}/self-resolve"): frozenset({R.GRID_WORKER}),
    ("POST", "/api/events/{code}/supervise"): COMMAND,
    ("POST", "/api/events/{code}/transfer"): COMMAND,
    # TIERS: 立案 by judgement and the tiers (分级流转): command staff of the holding tier or
    # above (their tier is checked past the gate, tests/events/test_tiers.py), and admins
    ("GET", "/api/events/{code}/dispatch-proposal"): COMMAND,
    ("POST", "/api/events/{code}/register"): COMMAND,
    ("POST", "/api/events/{code}/refuse"): COMMAND,
    ("POST", "/api/events/{code}/escalate"): COMMAND,
    ("POST", "/api/events/{code}/delegate"): COMMAND,
    ("POST", "/api/events/{code}/resolve"): COMMAND,
    # return review and disputes (退回审核, 争议裁定) are the command centre's; a unit only returns
    ("POST", "/api/events/{code}/accept-return"): COMMAND,
    ("POST", "/api/events/{code}/reject-return"): COMMAND,
    ("POST", "/api/events/{code}/rule"): COMMAND,
    ("GET", "/api/returns"): COMMAND,
    ("GET", "/api/rulings"): COMMAND,
    ("POST", "/api/rulings/{ruling_id}/dispatch-rule"): COMMAND,
    ("POST", "/api/events/{code}/{action}"): EVERYONE,  # unknown actions: 404 for anyone
    # joint cases (主办/协办): the command centre adds, removes and waives assisting units'
    # sub-tasks; the assisting unit's dispatchers sign for and report theirs
    ("GET", "/api/events/{code}/subtasks"): EVENT_READERS,
    ("POST", "/api/events/{code}/subtasks"): COMMAND,
    ("POST", "/api/events/{code}/subtasks/{subtask_id}/sign"): UNIT,
    ("POST", "/api/events/{code}/subtasks/{subtask_id}/report"): UNIT,
    ("POST", "/api/events/{code}/subtasks/{subtask_id}/waive"): COMMAND,
    ("POST", "/api/events/{code}/subtasks/{subtask_id}/cancel"): COMMAND,
    ("GET", "/api/subtasks"): COMMAND | UNIT,
    # supervision orders (督办单): units read and reply to their own, the command centre issues,
    # lifts and records 约谈/通报, leaders read their area's (an order carries no personal data)
    ("GET", "/api/supervision"): COMMAND | UNIT | {R.LEADER},
    ("POST", "/api/supervision"): COMMAND,
    ("GET", "/api/supervision/{order_id}"): COMMAND | UNIT | {R.LEADER},
    ("POST", "/api/supervision/{order_id}/reply"): COMMAND | UNIT,
    ("POST", "/api/supervision/{order_id}/lift"): COMMAND,
    ("GET", "/api/supervision/sanctions"): COMMAND | UNIT | {R.LEADER},
    ("POST", "/api/supervision/sanctions"): COMMAND,
    ("GET", "/api/supervision/kpis"): COMMAND | UNIT | {R.LEADER},
    # recurrence clusters → 源头治理 tasks: the lead unit's dispatchers accept and close their
    # own, the command centre and leaders watch their area's (leaders without single events),
    # the command centre runs detection; grid workers and inspectors have none
    ("GET", "/api/recurrences"): COMMAND | UNIT | {R.LEADER},
    ("GET", "/api/recurrences/{cluster_id}"): COMMAND | UNIT | {R.LEADER},
    ("POST", "/api/recurrences/detect"): COMMAND,
    ("POST", "/api/recurrences/{cluster_id}/accept"): COMMAND | UNIT,
    ("POST", "/api/recurrences/{cluster_id}/close"): COMMAND | UNIT,
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
    # sensors (物联感知): the command centre registers and watches its district's devices;
    # a device's readings come signed with its own secret, no account (test_devices_api.py)
    ("GET", "/api/device-types"): EVERYONE,
    ("GET", "/api/devices"): COMMAND,
    ("POST", "/api/devices"): COMMAND,
    ("GET", "/api/calendar"): EVERYONE,
    ("PUT", "/api/calendar/{day}"): ADMIN,
    ("DELETE", "/api/calendar/{day}"): ADMIN,
    # statistics: aggregates, each scoped by the service
    ("GET", "/api/stats/kpis"): EVERYONE,
    ("GET", "/api/stats/review-kpis"): EVERYONE,
    ("GET", "/api/stats/subtasks"): EVERYONE,  # a dispatcher: their own unit's sub-tasks
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
    # 共享交换: admins grant departments datasets; a unit's dispatchers read their grants
    ("GET", "/api/shared/catalogue"): ADMIN | UNIT,
    ("POST", "/api/shared/grants"): ADMIN,
    ("GET", "/api/shared/grants"): ADMIN,
    ("POST", "/api/shared/grants/{grant_id}/revoke"): ADMIN,
    ("GET", "/api/shared/{dataset}"): UNIT,
    ("GET", "/api/shared/{dataset}/changes"): UNIT,
    ("POST", "/api/shared/grants/{grant_id}/subscriptions"): ADMIN,  # webhooks of a grant
    ("GET", "/api/shared/subscriptions"): ADMIN,
    ("POST", "/api/shared/subscriptions/{subscription_id}/replay"): ADMIN,
    ("POST", "/api/shared/crosschecks"): UNIT,  # 比对: a department sends its list
    ("GET", "/api/shared/crosschecks"): ADMIN | UNIT,
    ("GET", "/api/shared/access-log"): ADMIN,  # who read which shared data, for the grantor
    ("GET", "/admin/sharing"): ADMIN,  # 共享授权: the catalogue's grants page
    # pages and maps
    ("GET", "/worker"): ON_SITE,
    ("GET", "/worker/sw.js"): ON_SITE,
    ("GET", "/console"): COMMAND | UNIT,
    ("GET", "/maps/leader"): LEADERS,
    ("GET", "/maps/leader/panel"): LEADERS,
    ("GET", "/maps/unit"): COMMAND | UNIT,
    ("GET", "/maps/grid"): COMMAND | ON_SITE,
    ("GET", "/maps/building/{code}"): COMMAND | ON_SITE,  # 楼盘表, from the grid map
    # every account for the frame (buildings, grids); the events layer refuses leaders, below
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): EVERYONE,
    # OGC API: the frame and event counts (aggregates) of one's own area, for QGIS and GDAL
    ("GET", "/ogc"): EVERYONE,
    ("GET", "/ogc/conformance"): EVERYONE,
    ("GET", "/ogc/collections"): EVERYONE,
    ("GET", "/ogc/collections/{collection_id}"): EVERYONE,
    ("GET", "/ogc/collections/{collection_id}/queryables"): EVERYONE,
    ("GET", "/ogc/collections/{collection_id}/items"): EVERYONE,
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): EVERYONE,
    ("GET", "/ogc/tileMatrixSets"): EVERYONE,
    ("GET", "/ogc/tileMatrixSets/{tms}"): EVERYONE,
    ("GET", "/ogc/collections/{collection_id}/tiles"): EVERYONE,
    ("GET", "/ogc/collections/{collection_id}/tiles/{tms}"): EVERYONE,
    ("GET", "/ogc/collections/{collection_id}/tiles/{tms}/{tile_matrix}/{tile_row}/{tile_col}"): (
        EVERYONE
    ),
    # 考核通报 (evaluation bulletin): leaders and the command centre of the area, never a unit
    ("GET", "/api/bulletins/{month}"): LEADERS,
    ("GET", "/api/bulletins/{month}.xlsx"): LEADERS,
    ("GET", "/reports/bulletin"): LEADERS,
    # 研判: Gi* hot spots and the weekly report, leaders and the command centre of the district
    ("GET", "/api/analysis/hotspots"): LEADERS,
    ("GET", "/api/analysis/weekly"): LEADERS,
    ("GET", "/api/analysis/weekly.xlsx"): LEADERS,
    ("GET", "/reports/weekly"): LEADERS,
}
PAGES = {
    "/worker",
    "/console",
    "/maps/leader",
    "/maps/unit",
    "/maps/grid",
    "/maps/building/{code}",
    "/reports/bulletin",
    "/admin/sharing",
    "/reports/weekly",
}
# Open to anyone, or to integrations holding an API key (tested in test_open311.py), or to
# devices signing with their secret (tested in test_devices_api.py).
NOT_STAFF = re.compile(
    r"^(/|/api/health|/api/auth/(token|logout)|/login|/logout|/open311/v2/.*"
    r"|/api/devices/\{code\}/readings)$"
)

PARAMETERS = {
    "code": "420502001001001",
    "resident_id": "1",
    "household_id": "1",
    "organisation_id": "1",
    "special_group_id": "1",
    "photo_id": "1",
    "unit_id": "1",
    "rule_id": "1",
    "job_id": "1",
    "callback_id": "1",
    "ruling_id": "1",
    "subtask_id": "1",
    "task_id": "1",
    "key": "no-such-patrol",
    "grant_id": "1",
    "subscription_id": "1",
    "dataset": "special_groups",
    "rental_id": "1",
    "order_id": "1",
    "cluster_id": "1",
    "day": "2026-10-01",
    "month": "2026-11",
    "suffix": "csv",
    "name": "nobody",
    "action": "no-such-action",
    "layer": "buildings",
    "z": "14",
    "x": "13255",
    "y": "6813",
    "collection_id": "buildings",
    "feature_id": "nobody",
    "tms": "WebMercatorQuad",
    "tile_matrix": "14",
    "tile_row": "6813",
    "tile_col": "13255",
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


# --- leaders: aggregates only, everywhere ----------------------------------------------------


@pytest.fixture
def an_overdue_event(session, accounts):
    """One overdue event with a description naming a person, in the leader's area."""
    from datetime import UTC, datetime, timedelta

    from events.reference import load_reference_data
    from tests.gis.tile_city import TX, TY, Z, add_event

    load_reference_data(session)  # the tile Z/TX/TY lies inside the accounts' grid
    event = add_event(
        session,
        "E-LEADER-1",
        0.25,
        0.25,
        COMMUNITY + "001",
        stage_deadline=datetime.now(UTC) - timedelta(hours=3),
    )
    session.refresh(event)  # the geometry as read back, not the EWKT text it was given
    return {"event": event, "tile": f"{Z}/{TX}/{TY}"}


def test_leaders_get_counts_and_maps_but_never_a_single_event(client, accounts, an_overdue_event):
    leader, command = accounts[R.LEADER], accounts[R.COMMAND]
    code, tile = an_overdue_event["event"].code, an_overdue_event["tile"]
    description = an_overdue_event["event"].description

    # The rule's other side: command staff read the same event, list and tile.
    assert client.get(f"/api/events/{code}", headers=command).status_code == 200
    assert client.get(f"/tiles/events/{tile}.mvt", headers=command).content
    command_map = client.get("/maps/leader", headers=command)
    assert command_map.status_code == 200 and code in command_map.text

    for path in ("/api/events", f"/api/events/{code}", f"/api/events/{code}/photos/1"):
        refused = client.get(path, headers=leader)
        assert refused.status_code == 403, path
        assert description not in refused.text
    supervised = client.post(f"/api/events/{code}/supervise", headers=leader, json={})
    assert supervised.status_code == 403
    tile_refused = client.get(f"/tiles/events/{tile}.mvt", headers=leader)
    assert tile_refused.status_code == 403 and "leaders see events as counts" in tile_refused.text
    assert client.get(f"/tiles/grids/{tile}.mvt", headers=leader).status_code == 200

    page = client.get("/maps/leader", headers=leader)
    assert page.status_code == 200
    assert code not in page.text and description not in page.text
    # The layer of single events (markers with a popup linking to the case) is not drawn.
    assert "gridgov.events(" in command_map.text and "gridgov.events(" not in page.text
    assert "共 1 件超期" in page.text  # the overdue count is there, as an aggregate
    kpis = client.get("/api/stats/kpis", headers=leader)
    assert kpis.status_code == 200 and code not in kpis.text
    panel = client.get("/maps/leader/panel", headers=leader)
    assert panel.status_code == 200 and code not in panel.text
    # Open311 serves integrations holding an API key, never a staff sign-in.
    open311 = client.get("/open311/v2/requests.json", headers=leader)
    assert open311.status_code in (400, 401, 403) and code not in open311.text
