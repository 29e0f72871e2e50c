"""Map pages are scoped like the API: street command staff see their street's unit maps and
cases, and are refused another street's exactly as the API refuses its events (403)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from shapely import MultiPolygon, box

from events.models import Event, EventCategory, EventSource, EventStatus
from events.reference import load_reference_data
from grid.models import AdminLevel, AdminUnit
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    STREET,
    add_grid,
    add_staff,
    add_unit,
    admin_tree,
    bearer,
    ewkb,
    square,
)

OTHER_STREET, OTHER_COMMUNITY = DISTRICT + "002000", DISTRICT + "002001"
GRID_A, GRID_B = COMMUNITY + "001", OTHER_COMMUNITY + "001"


def add_event(session, code: str, lon: float, lat: float, grid: str, unit_id: int) -> Event:
    category = session.query(EventCategory).order_by(EventCategory.code).first()
    event = Event(
        code=code,
        category_id=category.id,
        category_code=category.code,
        priority=category.priority,
        status=EventStatus.DISPATCHED,
        source=EventSource.GRID_WORKER,
        description=f"{code} 楼道堆放杂物",
        geom=f"SRID=4490;POINT({lon} {lat})",
        locate_match="inside",
        grid_code=grid,
        community_code=grid[:12],
        street_code=grid[:9] + "000",
        district_code=DISTRICT,
        unit_id=unit_id,
        stage_deadline=datetime.now(UTC) + timedelta(days=1),
        reported_at=datetime.now(UTC) - timedelta(hours=2),
    )
    session.add(event)
    session.flush()
    return event


@pytest.fixture
def two_street_city(session) -> dict[str, Any]:
    """Street A (grid A, unit PS-A) and street B (grid B, unit PS-B) side by side, a unit
    PS-AB covering both, one open case per unit and street, and street A's command staff."""
    load_reference_data(session)
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    for code, level, parent in (
        (OTHER_STREET, AdminLevel.STREET, DISTRICT + "000000"),
        (OTHER_COMMUNITY, AdminLevel.COMMUNITY, OTHER_STREET),
    ):
        session.add(
            AdminUnit(
                code=code,
                name=code,
                level=level,
                parent_code=parent,
                district_code=DISTRICT,
                geom=ewkb(square(111.32, 30.70, 0.02)),
            )
        )
    session.flush()
    add_grid(session, GRID_A, square(111.28, 30.70, 0.01))
    add_grid(session, GRID_B, square(111.32, 30.70, 0.01))
    units = {
        "A": add_unit(session, "PS-A", "police", geom=square(111.279, 30.699, 0.012)),
        "B": add_unit(session, "PS-B", "police", geom=square(111.319, 30.699, 0.012)),
        "AB": add_unit(
            session,
            "PS-AB",
            "fire",
            geom=MultiPolygon([box(111.279, 30.699, 111.331, 30.711)]),
        ),
    }
    add_event(session, "E-A", 111.285, 30.705, GRID_A, units["A"].id)
    add_event(session, "E-B", 111.325, 30.705, GRID_B, units["B"].id)
    add_event(session, "E-AB-A", 111.286, 30.706, GRID_A, units["AB"].id)
    add_event(session, "E-AB-B", 111.326, 30.706, GRID_B, units["AB"].id)
    session.expire_all()
    return {
        "session": session,
        "units": {k: u.id for k, u in units.items()},
        "command_a": bearer(add_staff(session, "command.a", "command", area_code=STREET)),
        "command_b": bearer(add_staff(session, "command.b", "command", area_code=OTHER_STREET)),
        "admin": bearer(add_staff(session, "map.admin", "admin")),
    }


def test_street_command_opens_its_own_streets_unit_map_with_its_cases(client, two_street_city):
    page = client.get(
        f"/maps/unit?unit={two_street_city['units']['A']}", headers=two_street_city["command_a"]
    )
    assert page.status_code == 200
    assert "E-A" in page.text and "E-B" not in page.text
    # The other street's staff see theirs the same way.
    other = client.get(
        f"/maps/unit?unit={two_street_city['units']['B']}", headers=two_street_city["command_b"]
    )
    assert other.status_code == 200 and "E-B" in other.text


def test_another_streets_unit_map_is_refused_as_the_api_refuses_its_cases(client, two_street_city):
    page = client.get(
        f"/maps/unit?unit={two_street_city['units']['B']}", headers=two_street_city["command_a"]
    )
    api = client.get("/api/events/E-B", headers=two_street_city["command_a"])
    assert page.status_code == api.status_code == 403
    assert page.json()["error"]["code"] == "forbidden"
    assert "E-B" not in page.text and "楼道" not in page.text
    # An admin sees every unit's map.
    assert (
        client.get(
            f"/maps/unit?unit={two_street_city['units']['B']}", headers=two_street_city["admin"]
        ).status_code
        == 200
    )


def test_a_unit_spanning_two_streets_shows_each_street_only_its_own_cases(client, two_street_city):
    unit = two_street_city["units"]["AB"]
    mine = client.get(f"/maps/unit?unit={unit}", headers=two_street_city["command_a"])
    assert mine.status_code == 200
    assert "E-AB-A" in mine.text and "E-AB-B" not in mine.text
    theirs = client.get(f"/maps/unit?unit={unit}", headers=two_street_city["command_b"])
    assert "E-AB-B" in theirs.text and "E-AB-A" not in theirs.text
    everything = client.get(f"/maps/unit?unit={unit}", headers=two_street_city["admin"])
    assert "E-AB-A" in everything.text and "E-AB-B" in everything.text


def test_grid_and_leader_maps_of_another_street_are_refused(client, two_street_city):
    assert (
        client.get(f"/maps/grid?grid={GRID_A}", headers=two_street_city["command_a"]).status_code
        == 200
    )
    grid = client.get(f"/maps/grid?grid={GRID_B}", headers=two_street_city["command_a"])
    assert grid.status_code == 403 and "E-B" not in grid.text
    own = client.get(f"/maps/leader?area={STREET}", headers=two_street_city["command_a"])
    assert own.status_code == 200
    other = client.get(f"/maps/leader?area={OTHER_STREET}", headers=two_street_city["command_a"])
    assert other.status_code == 403 and "E-B" not in other.text
