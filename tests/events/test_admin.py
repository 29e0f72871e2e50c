"""Admins edit categories (versioned), dispatch rules, the calendar and jurisdictions."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from shapely import Polygon

from events import admin
from events.exceptions import InvalidReport
from events.models import Event, EventCategory
from events.schemas import CategoryChange, RuleInput
from gis.clock import CHINA_TZ
from people.exceptions import Forbidden
from tests.events.dispatch_city import file
from tests.events.workflow_city import MONDAY_10
from tests.factories import add_staff


@pytest.fixture
def boss(dispatch_city):
    return add_staff(dispatch_city["session"], "boss", "admin")


def test_editing_a_category_adds_a_version_and_past_events_keep_theirs(dispatch_city, boss):
    session = dispatch_city["session"]
    before = file(dispatch_city, category="0102")
    admin.change_category(
        session,
        actor=boss,
        code="0102",
        change=CategoryChange(sign_limit="4h"),
        now=MONDAY_10,
    )
    after = file(dispatch_city, category="0102", lon=111.283)
    versions = {
        c.version: c.sign_limit
        for c in session.query(EventCategory).filter(EventCategory.code == "0102")
    }
    assert versions == {1: "2h", 2: "4h"}
    assert session.get(Event, before.id).category_id != session.get(Event, after.id).category_id
    # 10:00–12:00, lunch until 14:30, then two more working hours.
    assert after.stage_deadline == datetime(2026, 11, 23, 16, 30, tzinfo=CHINA_TZ)


def test_category_edits_need_an_admin_and_a_readable_limit(dispatch_city, boss):
    with pytest.raises(Forbidden):
        admin.change_category(
            dispatch_city["session"],
            actor=dispatch_city["worker"],
            code="0102",
            change=CategoryChange(name="x"),
        )
    with pytest.raises(InvalidReport, match="handle_limit"):
        admin.change_category(
            dispatch_city["session"],
            actor=boss,
            code="0102",
            change=CategoryChange(handle_limit="soon"),
        )


def test_a_new_rule_routes_the_next_event(dispatch_city, boss):
    admin.save_rule(
        dispatch_city["session"],
        actor=boss,
        data=RuleInput(position=1, name="治安乱点归住建", category_code="0102", lead="housing"),
    )
    event = file(dispatch_city, category="0102")
    assert event.unit is not None and event.unit.code == "ZJ-1"
    with pytest.raises(InvalidReport, match="no category has code 99"):
        admin.save_rule(
            dispatch_city["session"],
            actor=boss,
            data=RuleInput(position=2, name="x", category_code="99", lead="police"),
        )


def test_a_holiday_added_by_an_admin_moves_deadlines(dispatch_city, boss):
    admin.set_calendar_day(
        dispatch_city["session"], actor=boss, day=date(2026, 11, 24), kind="holiday", name="演练"
    )
    late = file(dispatch_city, category="0102", now=datetime(2026, 11, 23, 17, 0, tzinfo=CHINA_TZ))
    # 17:00–17:30 Monday, Tuesday off, then 1.5 h from Wednesday 08:30.
    assert late.stage_deadline == datetime(2026, 11, 25, 10, 0, tzinfo=CHINA_TZ)
    with pytest.raises(InvalidReport, match="is a weekday"):
        admin.set_calendar_day(
            dispatch_city["session"], actor=boss, day=date(2026, 11, 25), kind="workday"
        )


def test_an_invalid_jurisdiction_polygon_is_refused_with_its_reason(dispatch_city, boss):
    bow_tie = Polygon([(111.28, 30.70), (111.30, 30.72), (111.30, 30.70), (111.28, 30.72)])
    with pytest.raises(InvalidReport, match="self-intersection"):
        admin.set_unit_jurisdiction(
            dispatch_city["session"], actor=boss, unit_id=dispatch_city["fire"].id, geometry=bow_tie
        )
