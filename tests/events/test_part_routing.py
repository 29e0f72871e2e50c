"""An event may name the city part (城市部件) it concerns; the part's owner unit then takes the
case (a broken lamp goes to the lamp's owner), and the dispatch explanation says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pyproj import Geod
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events.exceptions import InvalidReport
from events.models import Event
from people.models import StaffRole
from tests.events.workflow_city import MONDAY_10, add_person, do, file
from tests.grid.parts_city import BIN, COVER, LAMP, POINTS, WJG_LAMP, build_parts_city

NEAR_LAMP = (111.2922, 30.7052)  # grid EAST, about 15 m from the lamp; the squad's area


@pytest.fixture
def parts_city(session: Session) -> dict[str, Any]:
    city = build_parts_city(session)
    city["disp_lamps"] = add_person(
        session, "disp.lamps", StaffRole.DISPATCHER, unit_id=city["lamps"].id
    )
    return city


def events_stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


def test_a_lamp_named_by_the_report_goes_to_the_lamps_owner(parts_city):
    event = file(parts_city, category="1002", lon=NEAR_LAMP[0], lat=NEAR_LAMP[1], part_code=LAMP)
    assert event.unit is not None and event.unit.code == "LD-1"
    assert event.part_code == LAMP
    assert event.dispatch is not None and event.dispatch["part_owner"] is True
    assert "names city part 4205020118000001 (路灯)" in event.dispatch["unit"]
    assert "西陵区路灯管理所" in event.dispatch["unit"]
    named = event.steps[0].data["part"]
    assert (named["code"], named["owner_unit_id"]) == (LAMP, parts_city["lamps"].id)
    assert 10 < named["distance_m"] < 20


def test_the_same_report_without_the_part_goes_by_category_and_area(parts_city):
    event = file(parts_city, category="1002", lon=NEAR_LAMP[0], lat=NEAR_LAMP[1])
    assert event.unit is not None and event.unit.code == "CG-1"  # the squad's jurisdiction
    assert event.part_code is None
    assert event.dispatch is not None and event.dispatch["part_owner"] is False


def test_a_report_with_only_the_part_code_is_placed_at_the_part(parts_city, session):
    from events.schemas import EventReport
    from events.service import report_event

    event = report_event(
        session,
        actor=parts_city["worker"],
        report=EventReport(category="1002", description="路灯不亮", part_code=BIN),
        now=MONDAY_10,
    )
    assert (round(event.lon, 6), round(event.lat, 6)) == POINTS[BIN]
    assert event.unit is not None and event.unit.code == "CG-1"
    assert event.dispatch is not None and event.dispatch["part_owner"] is True


def test_when_the_owner_returns_the_case_it_goes_on_by_area(parts_city):
    event = file(parts_city, category="1002", lon=NEAR_LAMP[0], lat=NEAR_LAMP[1], part_code=LAMP)
    do(parts_city, "disp_lamps", event, "return", MONDAY_10, reason="灯杆属供电公司")
    again = do(parts_city, "command_staff", event, "redispatch", MONDAY_10 + timedelta(minutes=5))
    assert again.unit is not None and again.unit.code == "CG-1"
    routing = again.steps[-1].data["dispatch"]
    assert "owner unit 西陵区路灯管理所 returned the case" in routing["unit"]
    assert routing["part_owner"] is False


def test_an_inactive_owner_is_passed_over_and_the_explanation_says_why(parts_city, session):
    parts_city["lamps"].active = False
    session.flush()
    event = file(parts_city, category="1002", lon=NEAR_LAMP[0], lat=NEAR_LAMP[1], part_code=LAMP)
    assert event.unit is not None and event.unit.code == "CG-1"
    assert event.dispatch is not None
    assert "whose owner unit 西陵区路灯管理所 is not active here" in event.dispatch["unit"]


def test_a_part_with_no_owner_on_record_leaves_routing_to_the_category(parts_city):
    lon, lat = POINTS[COVER]
    event = file(parts_city, category="1001", lon=lon, lat=lat + 0.0002, part_code=COVER)
    assert event.part_code == COVER
    assert event.unit is not None and event.unit.code == "CG-1"
    assert event.dispatch is not None
    assert "has no owner unit on record" in event.dispatch["unit"]


GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize(
    ("code", "place", "words"),
    [
        (LAMP, GEOD.fwd(*POINTS[LAMP], 90, 100.5)[:2], r"is 100\.5 m from the event's point"),
        (WJG_LAMP, (111.2995, 30.705), "in district 420503, not in the event's district 420502"),
        ("4205020118999999", NEAR_LAMP, "does not exist"),
        ("4205020118", NEAR_LAMP, "not a 16-digit"),
    ],
)
def test_a_part_too_far_in_another_district_or_unknown_is_refused_and_nothing_filed(
    parts_city, session, code, place, words
):
    before = events_stored(session)
    with pytest.raises(InvalidReport, match=words) as info:
        file(parts_city, category="1002", lon=place[0], lat=place[1], part_code=code)
    assert info.value.field == "part_code"
    assert events_stored(session) == before


def test_a_part_just_inside_100_m_is_accepted(parts_city):
    lon, lat = GEOD.fwd(*POINTS[LAMP], 90, 99.5)[:2]
    event = file(parts_city, category="1002", lon=lon, lat=lat, part_code=LAMP)
    assert event.part_code == LAMP and event.unit is not None and event.unit.code == "LD-1"
