"""Text and times that reach the database come back out of every output: tabs, line breaks
and emoji round-trip through JSON, Open311 JSON and XML, and the ledger's CSV and xlsx; what no
output can carry (control characters, year 1) is refused at input, and a row stored before that
rule cannot break the Open311 feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select, update

from events.models import Event
from events.schemas import EventFiling
from gis.text import check_occurrence
from people.integrations import issue_key
from people.ledger import export_residents
from people.models import Resident
from tests.events.workflow_city import SPOT
from tests.factories import DISTRICT, bearer
from tests.people.residents_city import person, read_back, run, write_rows

BASE = "/open311/v2"
TRICKY = "井盖\t丢失\r\n第二行 🚧 <b>&amp;</b> \"引号\" 'x'"


@pytest.fixture
def app_key(city: dict[str, Any]) -> str:
    return issue_key(city["session"], name="round-trip", area_code=DISTRICT + "000000").key


def test_tabs_line_breaks_and_emoji_round_trip_through_json_and_open311(
    client: Any,
    city: dict[str, Any],
    app_key: str,
) -> None:
    filed = client.post(
        f"{BASE}/requests.json",
        params={"api_key": app_key},
        data={
            "service_code": "0101",
            "lat": str(SPOT[1]),
            "long": str(SPOT[0]),
            "description": TRICKY,
        },
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()[0]["service_request_id"]

    [as_json] = client.get(f"{BASE}/requests/{request_id}.json", params={"api_key": app_key}).json()
    assert as_json["description"] == TRICKY
    xml = client.get(f"{BASE}/requests.xml", params={"api_key": app_key})
    root = ET.fromstring(xml.content)
    [element] = root.findall("request")
    # XML normalises a bare \r in text to \n on parsing; the rest comes back as sent.
    assert element.findtext("description") == TRICKY.replace("\r\n", "\n")
    detail = client.get(f"/api/events/{request_id}", headers=bearer(city["admin"]))
    assert detail.json()["description"] == TRICKY


def test_a_stored_control_character_does_not_break_the_xml_feed(
    client: Any,
    city: dict[str, Any],
    app_key: str,
) -> None:
    filed = client.post(
        f"{BASE}/requests.json",
        params={"api_key": app_key},
        data={
            "service_code": "0101",
            "lat": str(SPOT[1]),
            "long": str(SPOT[0]),
            "description": "新数据",
        },
    )
    request_id = filed.json()[0]["service_request_id"]
    # A row stored before input refused control characters.
    city["session"].execute(
        update(Event).where(Event.code == request_id).values(description="旧数据\x01\x0b\x1f尾")
    )

    xml = client.get(f"{BASE}/requests.xml", params={"api_key": app_key})
    assert xml.status_code == 200
    [element] = ET.fromstring(xml.content).findall("request")  # parses: the feed is whole
    assert element.findtext("description") == "旧数据\ufffd\ufffd\ufffd尾"
    # JSON carries the characters escaped, as it can.
    [as_json] = client.get(f"{BASE}/requests.json", params={"api_key": app_key}).json()
    assert as_json["description"] == "旧数据\x01\x0b\x1f尾"


def test_occurred_at_is_taken_from_2000_to_a_day_ahead_and_refused_outside() -> None:
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    china = timedelta(hours=8)
    for accepted in (
        datetime(2000, 1, 1, 0, 0),  # no zone: China time
        datetime(2026, 11, 24, 1, 0, tzinfo=UTC),  # 23 hours ahead (a phone's clock)
        datetime(2026, 11, 23, 10, 0),
    ):
        assert check_occurrence(accepted, now=now) == accepted
    for refused in (
        datetime(1999, 12, 31, 23, 59, 59),
        datetime(2026, 11, 24, 2, 1, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0) + china,
        datetime(9999, 12, 31, 23, 0),
    ):
        with pytest.raises(ValueError, match="not when the event can have happened"):
            check_occurrence(refused, now=now)


def test_a_report_of_now_is_accepted_and_reads_back(
    client: Any,
    city: dict[str, Any],
) -> None:
    occurred = datetime.now(UTC).replace(microsecond=0)
    filing = EventFiling(
        category="0101",
        lon=SPOT[0],
        lat=SPOT[1],
        description="刚刚发生",
        occurred_at=occurred,
    )
    response = client.post(
        "/api/events",
        json=filing.model_dump(mode="json", exclude_none=True),
        headers=bearer(city["worker"]),
    )
    assert response.status_code == 201, response.text
    event = city["session"].scalar(select(Event).where(Event.code == response.json()["code"]))
    assert event is not None and event.occurred_at == occurred


def test_ledger_cells_with_control_characters_are_rejected_and_the_rest_export(
    residents_city: dict[str, Any],
    tmp_path: Any,
) -> None:
    path = write_rows(
        tmp_path / "台账.csv",
        [
            person(11, name="张\x0b三"),
            person(12, name="李四", employer="某公司\x01"),
            person(13, name="王五", employer="一部\t二部"),
        ],
    )

    report = run(residents_city, path)

    assert report.inserted == 1
    reasons = {(error.row, error.column): error.reason for error in report.rejected}
    assert set(reasons) == {(2, "姓名"), (3, "工作单位")}
    assert "U+000B" in reasons[(2, "姓名")] and "U+0001" in reasons[(3, "工作单位")]
    names = set(residents_city["session"].scalars(select(Resident.name)))
    assert names == {"王五"}
    for suffix in (".csv", ".xlsx"):
        out = tmp_path / f"out{suffix}"
        assert (
            export_residents(residents_city["session"], actor=residents_city["admin"], path=out)
            == 1
        )
        assert any("一部\t二部" in row for row in read_back(out))
