"""Sensor readings and their rules (物联感知): alarms, recoveries and offline devices.

Each device type's rule (`DeviceType`): a reading breaks it when `value <comparison>
threshold`; once readings have kept breaking it for `hold_seconds` the device is in alarm and
ONE event is filed for it through `report_event` (source 物联感知, by the district's service
account; the on-site check as the type says). Later readings while in alarm belong to that event
(`reading.event_id`, one step per post), never a new event. A reading past the hysteresis band
on the normal side ends the alarm: a step on the event notes the recovery (the case goes on
through its workflow; only people close it). After that, a new breach raises a new event.

A device silent for longer than its heartbeat gets a 设备离线 task for its owning unit, one at
a time; it is closed by itself when the device reports again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from events import deadlines
from events.device_models import Device, DeviceType, Reading
from events.device_schemas import IngestResult, OfflineReport, ReadingBatch, ReadingInput
from events.devices import device_state, forget_signatures, sensor_account
from events.exceptions import InvalidReport
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventSource,
    EventStatus,
    Stage,
)
from events.outbox import notify
from events.schemas import EventReport
from events.service import report_event
from events.workflow import FINAL_STATES, add_step

OFFLINE_CATEGORY = "1090"  # 公共设施/物联设备离线
FUTURE_SLACK = timedelta(minutes=5)  # a device clock may run a little ahead
STEP_READINGS = 20  # readings listed in one step's data


def parse_readings(body: bytes) -> list[ReadingInput]:
    """The readings of a post: `{"value": …}` or `{"readings": [{"value": …}, …]}`."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidReport(
            'the body is not JSON; send {"value": 0.2} or {"readings": [{"value": 0.2, '
            '"measured_at": "2026-12-03T08:00:00+08:00"}]}'
        ) from None
    if isinstance(payload, dict) and "readings" not in payload:
        payload = {"readings": [payload]}
    try:
        return ReadingBatch.model_validate(payload).readings
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidReport(f"{where}: {first['msg']}") from None


def breaks(device_type: DeviceType, value: float) -> bool:
    """Whether `value` breaks the type's threshold."""
    if device_type.comparison == ">=":
        return value >= device_type.threshold
    return value <= device_type.threshold


def recovered(device_type: DeviceType, value: float) -> bool:
    """Whether `value` is past the hysteresis band on the normal side (the alarm ends)."""
    if device_type.comparison == ">=":
        return value < device_type.threshold - device_type.hysteresis
    return value > device_type.threshold + device_type.hysteresis


def _fmt(value: float, unit: str) -> str:
    return f"{value:g}{unit}"


def _raise_alarm(
    session: Session,
    *,
    device: Device,
    device_type: DeviceType,
    value: float,
    measured_at: datetime,
    at: datetime,
) -> Event:
    """File the device's alarm event (report_event, source 物联感知)."""
    from geoalchemy2.shape import to_shape

    point = to_shape(device.geom)
    held = int((measured_at - device.breach_since).total_seconds()) if device.breach_since else 0
    report = EventReport(
        category=device_type.category_code,
        lon=point.x,
        lat=point.y,
        description=(
            f"{device_type.name}报警：{device.name}（设备 {device.code}）读数 "
            f"{_fmt(value, device_type.unit)}，阈值 {device_type.comparison} "
            f"{_fmt(device_type.threshold, device_type.unit)}，已持续 {held} 秒"
        ),
        source=EventSource.SENSOR,
    )
    filed = report_event(
        session,
        actor=sensor_account(session, district_code=device.district_code),
        report=report,
        needs_check=device_type.needs_check,
        now=at,
    )
    event = session.get(Event, filed.id)
    assert event is not None
    return event


def _note_readings(
    session: Session,
    *,
    event: Event,
    device_type: DeviceType,
    rows: list[dict[str, Any]],
    at: datetime,
    actor_id: int,
) -> None:
    """One step listing the alarm readings a post brought to an open alarm event."""
    if not rows or event.status in FINAL_STATES:
        return
    peak = (
        max(r["value"] for r in rows)
        if device_type.comparison == ">="
        else min(r["value"] for r in rows)
    )
    add_step(
        session,
        event=event,
        action="sensor-readings",
        to_status=event.status,
        at=at,
        actor_id=actor_id,
        note=f"报警持续：{len(rows)} 条读数，峰值 {_fmt(peak, device_type.unit)}",
        data={
            "readings": [
                {"value": r["value"], "measured_at": r["measured_at"].isoformat()}
                for r in rows[-STEP_READINGS:]
            ]
        },
    )


def _note_recovery(
    session: Session,
    *,
    event: Event,
    device_type: DeviceType,
    value: float,
    measured_at: datetime,
    at: datetime,
    actor_id: int,
) -> None:
    """A step on the alarm event: the readings are back to normal (not a close)."""
    if event.status in FINAL_STATES:
        return
    bound = (
        device_type.threshold - device_type.hysteresis
        if device_type.comparison == ">="
        else device_type.threshold + device_type.hysteresis
    )
    add_step(
        session,
        event=event,
        action="sensor-recovered",
        to_status=event.status,
        at=at,
        actor_id=actor_id,
        note=(
            f"读数恢复正常：{_fmt(value, device_type.unit)}（越过回差界限 "
            f"{_fmt(bound, device_type.unit)}），设备报警解除"
        ),
        data={"value": value, "measured_at": measured_at.isoformat()},
    )


def _back_online(session: Session, *, device: Device, at: datetime, actor_id: int) -> str | None:
    """Close the device's 设备离线 task because it reported again; its code."""
    event = session.get(Event, device.offline_event_id) if device.offline_event_id else None
    device.offline_event_id = None
    if event is None or event.status in FINAL_STATES:
        return None
    deadlines.end_stage(session, event=event, at=at)
    add_step(
        session,
        event=event,
        action="device-online",
        to_status=EventStatus.CLOSED,
        at=at,
        actor_id=actor_id,
        note=f"设备 {device.code} 恢复上报，离线任务自动办结",
    )
    event.closed_at = at
    return event.code


def ingest_readings(
    session: Session, *, device: Device, readings: list[ReadingInput], now: datetime | None = None
) -> IngestResult:
    """Store a device's readings and apply its type's rule to them, in time order."""
    at = now or datetime.now(UTC)
    device_type = session.get(DeviceType, device.type_code)
    assert device_type is not None

    def who() -> int:
        """The service account, looked up only when a step is written (not per reading)."""
        return sensor_account(session, district_code=device.district_code).staff_id

    values = sorted(((r.measured_at or at, r.value) for r in readings), key=lambda pair: pair[0])
    for measured_at, _ in values:
        if measured_at > at + FUTURE_SLACK:
            raise InvalidReport(
                f"measured_at {measured_at.isoformat()} is in the future; set the device clock"
            )
    back_online = (
        _back_online(session, device=device, at=at, actor_id=who())
        if device.offline_event_id
        else None
    )
    alarm = session.get(Event, device.alarm_event_id) if device.alarm_event_id else None
    if alarm is not None and alarm.status in FINAL_STATES:
        # People closed the case while the device still read high: the next breach is new.
        alarm, device.alarm_event_id, device.breach_since = None, None, None
    raised = recovered_code = None
    rows: list[dict[str, Any]] = []
    attached: list[dict[str, Any]] = []
    for measured_at, value in values:
        row: dict[str, Any] = {
            "district_code": device.district_code,
            "device_id": device.id,
            "value": value,
            "measured_at": measured_at,
            "received_at": at,
            "event_id": None,
        }
        rows.append(row)
        if device.last_measured_at is not None and measured_at < device.last_measured_at:
            continue  # a late reading is kept, but the rule only moves forward in time
        device.last_value, device.last_measured_at = value, measured_at
        if alarm is None:
            if not breaks(device_type, value):
                device.breach_since = None
                continue
            if device.breach_since is None:
                device.breach_since = measured_at
            if measured_at - device.breach_since >= timedelta(seconds=device_type.hold_seconds):
                alarm = _raise_alarm(
                    session,
                    device=device,
                    device_type=device_type,
                    value=value,
                    measured_at=measured_at,
                    at=at,
                )
                device.alarm_event_id = alarm.id
                raised = alarm.code
                row["event_id"] = alarm.id
        elif recovered(device_type, value):
            _note_readings(
                session,
                event=alarm,
                device_type=device_type,
                rows=attached,
                at=at,
                actor_id=who(),
            )
            attached = []
            _note_recovery(
                session,
                event=alarm,
                device_type=device_type,
                value=value,
                measured_at=measured_at,
                at=at,
                actor_id=who(),
            )
            recovered_code = alarm.code
            alarm, device.alarm_event_id, device.breach_since = None, None, None
        else:
            row["event_id"] = alarm.id
            if raised != alarm.code:
                attached.append(row)
    if alarm is not None and attached:
        _note_readings(
            session,
            event=alarm,
            device_type=device_type,
            rows=attached,
            at=at,
            actor_id=who(),
        )
    session.execute(insert(Reading), rows)
    device.last_seen_at = at
    session.flush()
    return IngestResult(
        device=device.code,
        accepted=len(rows),
        state=device_state(device),
        alarm_event=alarm.code if alarm is not None else None,
        raised=raised,
        recovered=recovered_code,
        back_online=back_online,
    )


def _hand_to_owner(
    session: Session, *, event: Event, unit: DepartmentUnit, at: datetime, actor_id: int
) -> None:
    """Send the offline task on from where the category routed it (公共设施 → 城管) to the
    device's owner, who answers for the device."""
    if event.unit_id == unit.id or event.status is not EventStatus.DISPATCHED:
        return
    category = session.get(EventCategory, event.category_id)
    assert category is not None
    deadlines.start_stage(
        session, event=event, category=category, stage=Stage.SIGN, at=at, unit_id=unit.id
    )
    event.unit_id, event.assisting_unit_ids = unit.id, []
    step = add_step(
        session,
        event=event,
        action="redispatch",
        to_status=EventStatus.DISPATCHED,
        at=at,
        actor_id=actor_id,
        unit_id=unit.id,
        note=f"设备离线任务交设备产权单位 {unit.name}",
        data={"dispatch": {"unit_id": unit.id, "unit": "the device's owning unit"}},
    )
    notify(session, event=event, step=step, unit_ids=[unit.id], kind="redispatch", at=at)


def mark_offline(session: Session, *, now: datetime | None = None) -> OfflineReport:
    """File a 设备离线 task for each device silent longer than its heartbeat (one per device).

    Silence is counted from the last post (or the registration); exactly one heartbeat of
    silence is still online.
    """
    at = now or datetime.now(UTC)
    heard = func.coalesce(Device.last_seen_at, Device.created_at)
    silent = list(
        session.execute(
            select(Device, DeviceType)
            .join(DeviceType, DeviceType.code == Device.type_code)
            .where(
                Device.active,
                Device.offline_event_id.is_(None),
                heard + DeviceType.heartbeat_seconds * timedelta(seconds=1) < at,
            )
            .order_by(Device.district_code, Device.code)
            .with_for_update(of=Device, skip_locked=True)
        ).all()
    )
    checked = session.scalar(select(func.count()).select_from(Device).where(Device.active))
    tasks, devices = [], []
    for device, device_type in silent:
        from geoalchemy2.shape import to_shape

        point = to_shape(device.geom)
        last = device.last_seen_at or device.created_at
        minutes = int((at - last).total_seconds() // 60)
        actor = sensor_account(session, district_code=device.district_code)
        filed = report_event(
            session,
            actor=actor,
            report=EventReport(
                category=OFFLINE_CATEGORY,
                lon=point.x,
                lat=point.y,
                description=(
                    f"设备离线：{device_type.name} {device.name}（设备 {device.code}）已 "
                    f"{minutes} 分钟未上报，心跳周期 {device_type.heartbeat_seconds // 60} 分钟"
                ),
                source=EventSource.SENSOR,
            ),
            needs_check=False,
            now=at,
        )
        event = session.get(Event, filed.id)
        owner = session.get(DepartmentUnit, device.unit_id)
        assert event is not None and owner is not None
        _hand_to_owner(session, event=event, unit=owner, at=at, actor_id=actor.staff_id)
        device.offline_event_id = event.id
        tasks.append(event.code)
        devices.append(device.code)
    forgotten = forget_signatures(session, now=at)
    session.flush()
    return OfflineReport(
        checked=checked or 0, tasks=tasks, devices=devices, signatures_forgotten=forgotten
    )
