"""Sensor rules (物联感知): thresholds held for a duration, hysteresis, one event per alarm,
recovery noted on the event, offline devices, and signed requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events import devices
from events.device_models import Device, Reading
from events.device_schemas import DeviceCreate, ReadingInput
from events.devices import BadSignature, Replayed, SignedRequest, register_device, sign
from events.exceptions import Forbidden, InvalidReport
from events.models import Event, EventSource, EventStatus, EventStep
from events.sensors import OFFLINE_CATEGORY, ingest_readings, mark_offline, parse_readings
from tests.events.workflow_city import MONDAY_10, SPOT

T0 = MONDAY_10


def add_device(city: dict[str, Any], kind: str = "smoke", unit: str = "fire") -> str:
    """Register a device of `kind` at SPOT owned by `unit`, at T0; its code."""
    issued = register_device(
        city["session"],
        actor=city["command_staff"],
        device=DeviceCreate(
            type=kind, name="3栋2单元楼道", lon=SPOT[0], lat=SPOT[1], unit_id=city[unit].id
        ),
        now=T0,
    )
    return issued.code


def post(city: dict[str, Any], code: str, *readings: tuple[float, float]) -> Any:
    """Post readings (seconds after T0, value), received at the last reading's time."""
    session: Session = city["session"]
    device = devices.get_device(session, code=code)
    batch = [ReadingInput(value=v, measured_at=T0 + timedelta(seconds=s)) for s, v in readings]
    return ingest_readings(
        session,
        device=device,
        readings=batch,
        now=T0 + timedelta(seconds=max(s for s, _ in readings)),
    )


def sensor_events(session: Session, code: str, category: str | None = None) -> list[Event]:
    # The description names the device (external_ref is left to the channels' ticket numbers).
    query = select(Event).where(
        Event.source == EventSource.SENSOR, Event.description.contains(f"设备 {code}）")
    )
    if category:
        query = query.where(Event.category_code == category)
    return list(session.scalars(query.order_by(Event.id)))


def steps(session: Session, event: Event, action: str) -> list[EventStep]:
    return list(
        session.scalars(
            select(EventStep).where(EventStep.event_id == event.id, EventStep.action == action)
        )
    )


def test_registered_device_is_located_and_its_secret_is_stored_encrypted(city):
    session = city["session"]
    issued = register_device(
        session,
        actor=city["command_staff"],
        device=DeviceCreate(
            type="smoke", name="楼道", lon=SPOT[0], lat=SPOT[1], unit_id=city["fire"].id
        ),
        now=T0,
    )
    assert issued.code == "420502-SMOKE-0001"
    assert issued.grid_code == "420502001001002"  # SPOT lies in the east grid
    assert issued.district_code == "420502" and issued.state == "normal"
    stored = session.scalar(select(Device.secret_enc).where(Device.code == issued.code))
    assert issued.secret.encode() not in stored
    assert len(issued.secret) >= 40


def test_another_districts_command_centre_may_not_register_here(two_districts):
    with pytest.raises(Forbidden, match="outside your area"):
        register_device(
            two_districts["session"],
            actor=two_districts["wjg_command"],
            device=DeviceCreate(
                type="smoke",
                name="楼道",
                lon=SPOT[0],
                lat=SPOT[1],
                unit_id=two_districts["fire"].id,
            ),
        )


def test_an_admin_of_another_district_is_refused_and_a_city_wide_admin_is_not(two_districts):
    from people.models import StaffRole
    from tests.events.districts_city import WJG
    from tests.events.workflow_city import add_person

    session = two_districts["session"]
    device = DeviceCreate(
        type="gas", name="表间", lon=SPOT[0], lat=SPOT[1], unit_id=two_districts["fire"].id
    )
    other = add_person(session, "wjg.admin", StaffRole.ADMIN, area=WJG + "000000")
    with pytest.raises(Forbidden, match="outside your area"):
        register_device(session, actor=other, device=device)
    assert register_device(session, actor=two_districts["admin"], device=device).code


def test_owning_unit_must_be_of_the_devices_district(two_districts):
    with pytest.raises(InvalidReport, match="belongs to district 420503"):
        register_device(
            two_districts["session"],
            actor=two_districts["command_staff"],
            device=DeviceCreate(
                type="smoke",
                name="楼道",
                lon=SPOT[0],
                lat=SPOT[1],
                unit_id=two_districts["wjg_fire"].id,
            ),
        )


def test_breach_held_just_under_the_duration_raises_no_alarm(city):
    code = add_device(city)  # smoke: >= 0.15 held 10 s
    result = post(city, code, (0, 0.2), (9, 0.25))
    assert result.raised is None and result.state == "breaking"
    assert sensor_events(city["session"], code) == []


def test_breach_held_for_the_duration_raises_one_alarm_that_waits_for_the_check(city):
    code = add_device(city)
    result = post(city, code, (0, 0.2), (10, 0.25))
    [event] = sensor_events(city["session"], code)
    assert result.raised == event.code and result.state == "alarm"
    assert event.category_code == "1101"
    # 烟感 needs the grid worker's check although 火灾 filed by others skips it
    assert event.status is EventStatus.REPORTED
    assert "0.25dB/m" in event.description


def test_a_dip_below_the_threshold_restarts_the_duration(city):
    code = add_device(city)
    post(city, code, (0, 0.2), (5, 0.14), (6, 0.2), (15, 0.2))
    assert sensor_events(city["session"], code) == []
    assert post(city, code, (16, 0.2)).raised is not None


def test_gas_alarm_skips_the_check_and_is_dispatched_at_once(city):
    code = add_device(city, "gas")  # >= 20 %LEL, no duration, no check
    post(city, code, (0, 25))
    [event] = sensor_events(city["session"], code)
    assert event.status is EventStatus.DISPATCHED and event.category_code == "1102"


def test_later_alarm_readings_join_the_open_alarm_instead_of_new_events(city):
    session = city["session"]
    code = add_device(city, "gas")
    post(city, code, (0, 25))
    post(city, code, (60, 30), (120, 40))
    result = post(city, code, (180, 35))
    [event] = sensor_events(session, code)
    assert result.alarm_event == event.code and result.raised is None
    attached = session.scalars(select(Reading.value).where(Reading.event_id == event.id))
    assert sorted(attached) == [25, 30, 35, 40]
    [first, second] = steps(session, event, "sensor-readings")
    assert "峰值 40%LEL" in (first.note or "") + (second.note or "")


def test_inside_the_hysteresis_band_stays_in_alarm(city):
    code = add_device(city, "gas")  # alarm at >= 20, ends below 20 - 5
    post(city, code, (0, 25))
    result = post(city, code, (60, 15))
    assert result.state == "alarm" and result.recovered is None


def test_past_the_hysteresis_band_recovers_and_notes_it_without_closing(city):
    session = city["session"]
    code = add_device(city, "gas")
    post(city, code, (0, 25))
    result = post(city, code, (60, 14.9))
    [event] = sensor_events(session, code)
    assert result.recovered == event.code and result.state == "normal"
    [step] = steps(session, event, "sensor-recovered")
    assert "恢复正常" in (step.note or "") and "14.9%LEL" in (step.note or "")
    assert event.status is EventStatus.DISPATCHED  # a step, not a close


def test_a_new_breach_after_recovery_raises_a_new_event(city):
    code = add_device(city, "gas")
    post(city, code, (0, 25))
    post(city, code, (60, 10))
    post(city, code, (120, 22))
    first, second = sensor_events(city["session"], code)
    assert first.id != second.id


def test_at_or_below_rule_and_its_band(city):
    code = add_device(city, "hydrant", unit="command")  # <= 0.14 MPa held 600 s, band 0.04
    post(city, code, (0, 0.1), (599, 0.1))
    assert sensor_events(city["session"], code) == []
    assert post(city, code, (600, 0.12)).raised is not None
    assert post(city, code, (700, 0.17)).state == "alarm"
    assert post(city, code, (800, 0.19)).recovered is not None


def test_device_goes_offline_one_second_past_its_heartbeat_only(city):
    session = city["session"]
    code = add_device(city)  # heartbeat 3600 s, registered at T0
    assert mark_offline(session, now=T0 + timedelta(seconds=3600)).tasks == []
    report = mark_offline(session, now=T0 + timedelta(seconds=3601))
    [event] = sensor_events(session, code, OFFLINE_CATEGORY)
    assert report.tasks == [event.code] and report.devices == [code]
    assert event.unit_id == city["fire"].id  # the owner, not the category's command centre
    assert event.status is EventStatus.DISPATCHED
    # one open task per device
    assert mark_offline(session, now=T0 + timedelta(hours=5)).tasks == []


def test_offline_counts_from_the_last_post(city):
    session = city["session"]
    code = add_device(city)
    post(city, code, (1000, 0.01))
    assert mark_offline(session, now=T0 + timedelta(seconds=4600)).tasks == []
    assert len(mark_offline(session, now=T0 + timedelta(seconds=4601)).tasks) == 1


def test_reporting_again_closes_the_offline_task(city):
    session = city["session"]
    code = add_device(city)
    mark_offline(session, now=T0 + timedelta(hours=2))
    result = post(city, code, (7300, 0.01))
    [event] = sensor_events(session, code, OFFLINE_CATEGORY)
    assert result.back_online == event.code and result.state == "normal"
    assert event.status is EventStatus.CLOSED and event.closed_at is not None
    assert steps(session, event, "device-online")


# --- signed requests -------------------------------------------------------------------------


@pytest.fixture
def signed(city):
    issued = register_device(
        city["session"],
        actor=city["command_staff"],
        device=DeviceCreate(
            type="smoke", name="楼道", lon=SPOT[0], lat=SPOT[1], unit_id=city["fire"].id
        ),
    )
    return issued


def request(secret: str, at: Any, body: bytes = b'{"value": 0.01}') -> SignedRequest:
    stamp = str(int(at.timestamp()))
    return SignedRequest(timestamp=stamp, signature=sign(secret, stamp, body), body=body)


def test_signature_under_the_devices_secret_is_accepted_once(city, signed):
    session = city["session"]
    good = request(signed.secret, T0)
    device = devices.verify_request(session, code=signed.code, request=good, now=T0)
    assert device.code == signed.code
    with pytest.raises(Replayed, match="replay"):
        devices.verify_request(session, code=signed.code, request=good, now=T0)


def test_wrong_secret_or_changed_body_is_refused(city, signed):
    session = city["session"]
    with pytest.raises(BadSignature, match="does not match"):
        devices.verify_request(
            session, code=signed.code, request=request("not-the-secret", T0), now=T0
        )
    good = request(signed.secret, T0)
    tampered = SignedRequest(good.timestamp, good.signature, b'{"value": 9.99}')
    with pytest.raises(BadSignature, match="does not match"):
        devices.verify_request(session, code=signed.code, request=tampered, now=T0)


def test_timestamp_five_minutes_old_passes_and_one_second_more_is_stale(city, signed):
    session = city["session"]
    at_limit = request(signed.secret, T0 - timedelta(seconds=300))
    devices.verify_request(session, code=signed.code, request=at_limit, now=T0)
    stale = request(signed.secret, T0 - timedelta(seconds=301), b'{"value": 0.02}')
    with pytest.raises(BadSignature, match="more than 5 minutes"):
        devices.verify_request(session, code=signed.code, request=stale, now=T0)


def test_old_signatures_are_forgotten_by_the_offline_job(city, signed):
    session = city["session"]
    devices.verify_request(session, code=signed.code, request=request(signed.secret, T0), now=T0)
    report = mark_offline(session, now=T0 + timedelta(minutes=11))
    assert report.signatures_forgotten == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"value=1", "not JSON"),
        (b'{"value": "high"}', "readings.0.value"),
        (b'{"value": 1, "colour": "red"}', "colour"),
        (b'{"readings": []}', "at least 1"),
        (b'{"value": 1, "measured_at": "2026-11-23T10:00:00"}', "time zone"),
    ],
)
def test_malformed_readings_are_refused_with_a_sentence(body, says):
    with pytest.raises(InvalidReport, match=says):
        parse_readings(body)


def test_batch_of_501_readings_is_refused():
    body = ('{"readings": [' + ",".join(['{"value": 1}'] * 501) + "]}").encode()
    with pytest.raises(InvalidReport, match="at most 500"):
        parse_readings(body)


def test_sensor_events_are_filed_by_the_districts_service_account(city):
    session = city["session"]
    code = add_device(city, "gas")
    post(city, code, (0, 25))
    [event] = sensor_events(session, code)
    from people.models import Staff, StaffRole

    reporter = session.get(Staff, event.reporter_id)
    assert reporter.username == "api.iot-420502" and reporter.role is StaffRole.COMMAND
    assert session.scalar(select(func.count()).select_from(Reading)) == 1
