"""Filing an event: located, registered, dispatched with deadlines and notifications at once."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from sqlalchemy import func, select

from events.exceptions import InvalidReport
from events.models import AppealType, DispatchRule, Event, EventSource, EventStatus, Outbox, Stage
from gis.clock import CHINA_TZ
from tests.events.dispatch_city import file
from tests.events.workflow_city import EAST, MONDAY_10
from tests.factories import (
    METRE_LON,
)


def test_report_is_dispatched_to_the_police_station_whose_area_covers_it_across_grid_lines(
    dispatch_city,
):
    event = file(dispatch_city, lon=111.292)  # grid EAST, but police area WEST
    assert event.status is EventStatus.DISPATCHED
    assert event.grid_code == EAST
    assert event.unit is not None and event.unit.code == "PS-W"
    assert "jurisdiction covers" in event.dispatch["unit"]
    assert [s.action for s in event.steps] == ["report", "dispatch"]
    assert [(s.from_status, s.to_status) for s in event.steps] == [
        (None, EventStatus.REGISTERED),
        (EventStatus.REGISTERED, EventStatus.DISPATCHED),
    ]


def test_sign_for_deadline_is_counted_in_working_hours(dispatch_city):
    monday = file(dispatch_city, category="0102")  # 治安乱点: sign for within 2 working hours
    assert monday.stage is Stage.SIGN
    assert monday.stage_deadline == datetime(2026, 11, 23, 12, 0, tzinfo=CHINA_TZ)
    friday_evening = file(
        dispatch_city,
        category="0102",
        lon=111.283,
        now=datetime(2026, 11, 27, 21, 0, tzinfo=CHINA_TZ),
    )
    assert friday_evening.stage_deadline == datetime(2026, 11, 30, 10, 30, tzinfo=CHINA_TZ)


def test_urgent_events_run_on_the_clock_not_office_hours(dispatch_city):
    fire = file(
        dispatch_city, category="1101", now=datetime(2026, 11, 28, 22, 0, tzinfo=CHINA_TZ)
    )  # Sat
    assert fire.stage_deadline == datetime(2026, 11, 28, 22, 30, tzinfo=CHINA_TZ)


def test_dispatch_notifies_lead_and_assisting_units_through_the_outbox(dispatch_city):
    event = file(dispatch_city, category="0107")  # 出租房屋治安隐患: police lead, housing assists
    rows = dispatch_city["session"].scalars(select(Outbox).where(Outbox.event_id == event.id)).all()
    assert sorted(r.payload["unit"] for r in rows) == ["PS-W", "ZJ-1"]
    assert {r.payload["event_code"] for r in rows} == {event.code}
    assert all(r.status.value == "pending" for r in rows)


def test_no_unit_area_covers_the_point_so_the_nearest_unit_of_that_type_gets_it(dispatch_city):
    event = file(dispatch_city, category="0201")  # fire: the only fire unit has no area drawn
    assert event.unit is not None and event.unit.code == "FS-1"
    assert "nearest" in event.dispatch["unit"]


def test_no_unit_of_that_type_falls_back_to_the_district_command_centre(dispatch_city):
    event = file(dispatch_city, category="0601")  # urban management: no such unit in the district
    assert event.unit is not None and event.unit.code == "CC"
    assert "command centre" in event.dispatch["unit"]


def test_point_outside_every_grid_is_accepted_and_routed_to_the_command_centre(dispatch_city):
    event = file(dispatch_city, lon=111.30 + 300 * METRE_LON, lat=30.705)
    assert event.locate_match == "outside" and event.grid_code is None
    assert event.unit is not None and event.unit.code == "CC"
    assert "outside every grid" in event.dispatch["unit"]


def test_resubmitting_the_same_idempotency_key_returns_the_original_event(dispatch_city):
    first = file(dispatch_city, key="phone-42-0001")
    again = file(dispatch_city, key="phone-42-0001")
    assert (again.code, again.created, first.created) == (first.code, False, True)
    count = dispatch_city["session"].scalar(select(func.count()).select_from(Event))
    assert count == 1


def test_unknown_category_is_refused_with_a_hint(dispatch_city):
    with pytest.raises(InvalidReport, match="category '9999' is unknown"):
        file(dispatch_city, category="9999")


def test_swapped_coordinates_are_refused_before_anything_is_written(dispatch_city):
    with pytest.raises(InvalidReport, match="did you swap lat and lon"):
        file(dispatch_city, lon=30.705, lat=111.292)
    assert dispatch_city["session"].scalar(select(func.count()).select_from(Event)) == 0


def test_same_category_within_100m_and_24h_is_linked_as_a_duplicate_candidate(dispatch_city):
    original = file(dispatch_city, now=MONDAY_10)
    near = file(dispatch_city, lon=111.292 + 50 * METRE_LON, now=MONDAY_10.replace(hour=15))
    far = file(dispatch_city, lon=111.292 + 300 * METRE_LON, now=MONDAY_10.replace(hour=16))
    assert near.duplicate_candidates == [original.code]
    assert far.duplicate_candidates == []
    assert near.status is EventStatus.DISPATCHED  # linked, never silently dropped


def test_first_matching_rule_in_order_decides_and_time_windows_apply(dispatch_city):
    session = dispatch_city["session"]
    session.add_all(
        [
            DispatchRule(
                position=1,
                name="夜间治安转指挥中心",
                category_code="01",
                time_from=time(22, 0),
                time_to=time(6, 0),
                lead="command_centre",
            ),
            DispatchRule(
                position=2,
                name="治安乱点由住建协办",
                category_code="0102",
                lead="police",
                assisting=["housing"],
            ),
        ]
    )
    session.flush()
    by_day = file(dispatch_city, category="0102", now=MONDAY_10)
    at_night = file(dispatch_city, category="0102", lon=111.283, now=MONDAY_10.replace(hour=23))
    assert "rule 2" in by_day.dispatch["rule"] and by_day.unit.code == "PS-W"
    assert [u.code for u in by_day.assisting_units] == ["ZJ-1"]
    assert "rule 1" in at_night.dispatch["rule"] and at_night.unit.code == "CC"


def test_hotline_reports_wait_for_an_on_site_check_before_dispatch(dispatch_city):
    event = file(
        dispatch_city,
        by="operator",
        source=EventSource.HOTLINE,
        appeal_type=AppealType.HELP,
        contact="13912345678",
    )
    assert event.status is EventStatus.REPORTED and event.stage is Stage.CHECK
    assert event.unit is None
    row = dispatch_city["session"].get(Event, event.id)
    assert row.contact_masked == "139****5678" and b"13912345678" not in row.contact_enc
