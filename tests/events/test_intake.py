"""Intake in the service: event codes carry the day in China, and a ticket number filed twice
on one channel is refused even when the first filing is in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from events.exceptions import Conflict, Forbidden, InvalidReport
from events.models import AppealType, Event, EventSource, EventStatus, Stage
from events.service import event_code
from gis.clock import CHINA_TZ
from tests.events.districts_city import WJG, WJG_GRID
from tests.events.workflow_city import MONDAY_10, do, file

LAST_SECOND = datetime(2026, 11, 23, 23, 59, 59, tzinfo=CHINA_TZ)  # Monday, 15:59:59 UTC
MIDNIGHT = datetime(2026, 11, 24, 0, 0, 0, tzinfo=CHINA_TZ)  # Tuesday, Monday 16:00 UTC


def test_the_code_is_the_beijing_day_not_the_utc_day():
    assert event_code("420502", LAST_SECOND, 202611_0000000042) == "420502-20261123-000042"
    assert event_code("420502", MIDNIGHT, 202611_0000000043) == "420502-20261124-000043"
    # 07:00 Beijing is 23:00 UTC the day before: the code carries the Beijing day
    morning = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert event_code("420502", morning, 202611_0000000044).split("-")[1] == "20261125"


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (LAST_SECOND, "20261123"),
        (MIDNIGHT, "20261124"),
        (MIDNIGHT - timedelta(seconds=1), "20261123"),
        (MIDNIGHT.astimezone(UTC), "20261124"),
    ],
    ids=["23:59:59", "00:00:00", "one-second-before", "midnight-given-in-utc"],
)
def test_filed_events_carry_the_beijing_day_at_the_turn_of_the_day(city, at, day):
    event = file(city, now=at)
    assert event.code.split("-")[1] == day


def test_a_ticket_filed_twice_in_one_transaction_is_a_conflict_naming_the_first(city):
    first = file(
        city,
        by="command_staff",
        source=EventSource.HOTLINE,
        appeal_type=AppealType.TIP_OFF,
        ticket="GD-2026-1",
    )
    with pytest.raises(Conflict, match=first.code):
        file(
            city,
            by="command_staff",
            source=EventSource.HOTLINE,
            appeal_type=AppealType.TIP_OFF,
            ticket="GD-2026-1",
        )


def test_the_service_itself_refuses_a_source_the_role_does_not_file(city):
    with pytest.raises(Forbidden, match="指挥中心"):
        file(city, by="worker", source=EventSource.MAILBOX, appeal_type=AppealType.HELP)
    with pytest.raises(Forbidden, match="integration"):
        file(city, by="admin", source=EventSource.OPEN311)


def unlocated_call(city):
    return file(
        city,
        by="command_staff",
        lon=None,
        lat=None,
        address="伍家岗区某路口",
        source=EventSource.HOTLINE,
        appeal_type=AppealType.COMPLAINT,
        contact="13912345678",
        caller_name="王五",
    )


def test_an_unlocated_case_placed_in_another_district_is_transferred_not_located(
    two_districts,
):
    event = unlocated_call(two_districts)
    assert event.lon is None and event.district_code == "420502"
    with pytest.raises(InvalidReport, match="transfer"):
        do(two_districts, "command_staff", event, "locate", MONDAY_10, lon=111.31, lat=30.71)
    old = do(
        two_districts,
        "command_staff",
        event,
        "transfer",
        MONDAY_10,
        to_district=WJG,
        reason="事发地属伍家岗区",
    )
    new_code = old.steps[-1].data["transferred_to"]
    session = two_districts["session"]
    new = session.scalars(select(Event).where(Event.code == new_code)).one()
    assert new.district_code == WJG and new.geom is None and new.status is EventStatus.REPORTED
    assert new.contact_masked == "139****5678" and new.caller_name_masked == "王*"
    located = do(two_districts, "wjg_command", new_code, "locate", MONDAY_10, lon=111.31, lat=30.71)
    assert located.grid_code == WJG_GRID and located.stage is Stage.CHECK
