"""The device registry (物联设备台账): device types, registering devices, their secrets and the
signed requests they send.

A device signs each post with HMAC-SHA256 under its own secret, over the timestamp and the
body: `hex(HMAC(secret, X-Timestamp + "." + body))` in `X-Signature`. The secret is kept
encrypted like residents' ID numbers (people.pii): the server must read it back to check a
signature, so a hash would not do, and a copy of the database alone does not give it away.
A signature is accepted once: the ones seen within the window are kept in `reading_signature`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources

from geoalchemy2 import WKTElement
from geoalchemy2.shape import to_shape
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from events.device_models import Device, DeviceType, ReadingSignature
from events.device_schemas import DeviceCreate, DeviceIssued, DeviceRead, DeviceTypeRead
from events.exceptions import Conflict as EventConflict
from events.exceptions import EventError, Forbidden, InvalidReport, NotFound
from events.models import DepartmentUnit, Event, EventCategory
from gis.crs import STORAGE_SRID
from grid import exceptions as grid_errors
from grid import service as grid_service
from grid.service import area_prefix
from people.access import Actor, load_actor
from people.integrations import issue_key
from people.models import Integration, Staff, StaffRole
from people.pii import get_cipher

SECRET_CONTEXT = "device.secret"
SIGNATURE_WINDOW = timedelta(minutes=5)  # older or newer timestamps are stale
SERVICE_PREFIX = "iot-"  # per-district integration iot-420502 (物联感知)
REGISTRARS = frozenset({StaffRole.COMMAND, StaffRole.ADMIN})
CODE = re.compile(r"^[0-9]{6}-[A-Z0-9][A-Z0-9_-]{1,32}$")


class BadSignature(EventError):
    """A device request without a valid, fresh signature (answered 401)."""


class Replayed(EventConflict):
    """A signature that was accepted before (a replayed request)."""


# --- device types ----------------------------------------------------------------------------


def shipped_device_types() -> list[dict[str, str]]:
    """Rows of the shipped device type table (events/data/device_types.csv)."""
    text = resources.files("events").joinpath("data/device_types.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def load_device_types(session: Session) -> int:
    """Add shipped device types that are missing (an admin's edits survive); how many."""
    known = set(session.scalars(select(DeviceType.code)))
    rows = [row for row in shipped_device_types() if row["code"] not in known]
    for row in rows:
        if row["comparison"] not in (">=", "<="):
            raise ValueError(f"device type {row['code']}: comparison must be >= or <=")
        session.add(
            DeviceType(
                code=row["code"],
                name=row["name"],
                unit=row["unit"],
                comparison=row["comparison"],
                threshold=float(row["threshold"]),
                hold_seconds=int(row["hold_seconds"]),
                hysteresis=float(row["hysteresis"]),
                heartbeat_seconds=int(row["heartbeat_seconds"]),
                needs_check=row["needs_check"] == "yes",
                category_code=row["category_code"],
                description=row["description"] or None,
            )
        )
    session.flush()
    return len(rows)


def list_device_types(session: Session) -> list[DeviceTypeRead]:
    """Every device type with its rule and the category its alarms are filed as."""
    rows = session.execute(
        select(DeviceType, EventCategory.major_name, EventCategory.name)
        .outerjoin(
            EventCategory,
            (EventCategory.code == DeviceType.category_code) & EventCategory.valid_to.is_(None),
        )
        .order_by(DeviceType.code)
    ).all()
    return [
        DeviceTypeRead(
            code=t.code,
            name=t.name,
            unit=t.unit,
            comparison=t.comparison,
            threshold=t.threshold,
            hold_seconds=t.hold_seconds,
            hysteresis=t.hysteresis,
            heartbeat_seconds=t.heartbeat_seconds,
            needs_check=t.needs_check,
            category=t.category_code,
            category_name=f"{major}/{name}" if name else None,
            description=t.description,
        )
        for t, major, name in rows
    ]


def get_device_type(session: Session, code: str) -> DeviceType:
    """A device type by code."""
    device_type = session.get(DeviceType, code.strip())
    if device_type is None:
        known = ", ".join(session.scalars(select(DeviceType.code).order_by(DeviceType.code)))
        raise InvalidReport(f"device type '{code}' is unknown; use one of: {known}")
    return device_type


# --- the service account ---------------------------------------------------------------------


def sensor_account(session: Session, *, district_code: str) -> Actor:
    """The district's 物联感知 service account (role command), made on first use.

    It is an integration's account (`people.integrations`, named iot-<district>), so events
    from sensors are filed like those of every other outside system: by an account nobody
    signs in with, listed and revocable with `gridgov integration`. Its key is never shown.
    """
    cache: dict[str, Actor] = session.info.setdefault("sensor_accounts", {})
    if district_code in cache:
        return cache[district_code]
    name = f"{SERVICE_PREFIX}{district_code}"
    staff_id = session.scalar(select(Integration.staff_id).where(Integration.name == name))
    if staff_id is None:
        issued = issue_key(session, name=name, area_code=f"{district_code}000000")
        staff = session.scalar(select(Staff).where(Staff.username == issued.service_account))
        assert staff is not None
        staff.full_name = f"物联感知 {district_code}"
        staff_id = staff.id
    actor = load_actor(session, staff_id=staff_id)
    cache[district_code] = actor
    return actor


# --- registering -----------------------------------------------------------------------------


def _covers(actor: Actor, area: str) -> bool:
    """Whether the actor's area holds `area` (a grid code or a district code)."""
    if actor.role is StaffRole.ADMIN and not actor.area_code:
        return True
    return bool(actor.area_code) and area.startswith(area_prefix(actor.area_code or ""))


def _next_code(session: Session, district: str, device_type: DeviceType) -> str:
    prefix = f"{district}-{device_type.code.upper().replace('_', '')}-"
    taken = session.scalar(
        select(func.count()).select_from(Device).where(Device.code.like(f"{prefix}%"))
    )
    n = (taken or 0) + 1
    while session.scalar(select(Device.id).where(Device.code == f"{prefix}{n:04d}")) is not None:
        n += 1
    return f"{prefix}{n:04d}"


def register_device(
    session: Session,
    *,
    actor: Actor,
    device: DeviceCreate,
    now: datetime | None = None,
    secret: str | None = None,
) -> DeviceIssued:
    """Register a device where it stands (grid, community, district located like an event);
    returns it with its new secret, shown this once."""
    at = now or datetime.now(UTC)
    if actor.role not in REGISTRARS:
        raise Forbidden(f"a {actor.role.label} account may not register devices")
    device_type = get_device_type(session, device.type)
    try:
        located = grid_service.locate_point(session, lon=device.lon, lat=device.lat, crs=device.crs)
    except grid_errors.InvalidQuery as exc:
        raise InvalidReport(str(exc)) from exc
    district = (located.district.code[:6] if located.district else None) or actor.home_district
    if district is None:
        raise InvalidReport(
            "the device stands outside every district and your account has no area; "
            "check the coordinates and crs"
        )
    if not _covers(actor, located.grid.code if located.grid else district):
        raise Forbidden(
            f"the device stands in district {district}, outside your area "
            f"{actor.area_code}; the command centre of that district registers it"
        )
    unit = session.get(DepartmentUnit, device.unit_id)
    if unit is None or not unit.active:
        raise NotFound(f"department unit {device.unit_id} does not exist; see GET /api/units")
    if unit.district_code != district:
        raise InvalidReport(
            f"unit {unit.name} belongs to district {unit.district_code}, the device stands in "
            f"{district}; choose an owning unit of that district"
        )
    code = (
        device.code.strip().upper() if device.code else _next_code(session, district, device_type)
    )
    if not CODE.match(code) or not code.startswith(f"{district}-"):
        raise InvalidReport(
            f"device code '{code}' must start with the district code and a dash, then 2–33 "
            f"capital letters, digits, '_' or '-', e.g. {district}-SMOKE-0001"
        )
    if session.scalar(select(Device.id).where(Device.code == code)) is not None:
        raise EventConflict(f"a device with code {code} is registered already; choose another")
    secret = secret or secrets.token_urlsafe(32)
    row = Device(
        district_code=district,
        code=code,
        type_code=device_type.code,
        name=device.name.strip(),
        geom=WKTElement(f"POINT({located.lon} {located.lat})", srid=STORAGE_SRID),
        locate_match=located.match,
        grid_code=located.grid.code if located.grid else None,
        community_code=located.community.code if located.community else None,
        street_code=located.street.code if located.street else None,
        unit_id=unit.id,
        secret_enc=get_cipher().encrypt(secret, context=SECRET_CONTEXT),
        created_at=at,
        created_by=actor.staff_id,
    )
    session.add(row)
    session.flush()
    return DeviceIssued(**read_device(session, row).model_dump(), secret=secret)


def device_state(device: Device) -> str:
    """normal 正常, breaking 超阈值 (not held long enough yet), alarm 报警, offline 离线."""
    if device.offline_event_id is not None:
        return "offline"
    if device.alarm_event_id is not None:
        return "alarm"
    return "breaking" if device.breach_since is not None else "normal"


def read_device(session: Session, device: Device) -> DeviceRead:
    """A device as its registrars see it (never its secret)."""
    point = to_shape(device.geom)
    device_type = session.get(DeviceType, device.type_code)
    unit = session.get(DepartmentUnit, device.unit_id)
    codes = dict(
        session.execute(
            select(Event.id, Event.code).where(
                Event.id.in_([i for i in (device.alarm_event_id, device.offline_event_id) if i])
            )
        ).all()
    )
    return DeviceRead(
        code=device.code,
        type=device.type_code,
        type_name=device_type.name if device_type else device.type_code,
        name=device.name,
        lon=point.x,
        lat=point.y,
        district_code=device.district_code,
        grid_code=device.grid_code,
        community_code=device.community_code,
        street_code=device.street_code,
        locate_match=device.locate_match,
        unit_id=device.unit_id,
        unit_name=unit.name if unit else "",
        active=device.active,
        state=device_state(device),
        alarm_event=codes.get(device.alarm_event_id) if device.alarm_event_id else None,
        offline_event=codes.get(device.offline_event_id) if device.offline_event_id else None,
        last_value=device.last_value,
        last_measured_at=device.last_measured_at,
        last_seen_at=device.last_seen_at,
        created_at=device.created_at,
    )


def list_devices(
    session: Session,
    *,
    actor: Actor,
    type_code: str | None = None,
    state: str | None = None,
    limit: int = 1000,
) -> list[DeviceRead]:
    """Devices in the actor's area by code, optionally of one type or in one state."""
    if actor.role not in REGISTRARS:
        raise Forbidden(f"a {actor.role.label} account may not list devices")
    query = select(Device).order_by(Device.code).limit(limit)
    if not (actor.role is StaffRole.ADMIN and not actor.area_code):
        prefix = area_prefix(actor.area_code or "")
        if not prefix:
            return []
        query = query.where(
            Device.district_code == prefix[:6]
            if len(prefix) == 6
            else Device.grid_code.startswith(prefix)
            if len(prefix) > 6
            else Device.district_code.startswith(prefix)
        )
    if type_code:
        query = query.where(Device.type_code == get_device_type(session, type_code).code)
    if state == "alarm":
        query = query.where(Device.alarm_event_id.is_not(None))
    elif state == "offline":
        query = query.where(Device.offline_event_id.is_not(None))
    elif state is not None:
        raise InvalidReport(f"state '{state}' is unknown; use alarm or offline")
    return [read_device(session, d) for d in session.scalars(query)]


def unit_devices(session: Session, *, unit_id: int) -> list[tuple[DeviceRead, str]]:
    """The active devices a unit owns (for its map), each with its type's unit of measure."""
    rows = session.execute(
        select(Device, DeviceType.unit)
        .join(DeviceType, DeviceType.code == Device.type_code)
        .where(Device.unit_id == unit_id, Device.active)
        .order_by(Device.code)
    ).all()
    return [(read_device(session, device), unit) for device, unit in rows]


def get_device(session: Session, *, code: str, lock: bool = False) -> Device:
    """A device by code (the code starts with its district's, so one district is read);
    `lock` holds its row until commit, so a device's posts apply its rule one at a time."""
    query = select(Device).where(Device.district_code == code[:6], Device.code == code)
    device = session.scalar(query.with_for_update() if lock else query)
    if device is None:
        raise NotFound(f"device {code} is not registered; register it with POST /api/devices")
    return device


# --- signed requests -------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Signature of `body` sent at `timestamp` (unix seconds): hex HMAC-SHA256."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a device's post that the signature covers, as received."""

    timestamp: str | None
    signature: str | None
    body: bytes


def verify_request(
    session: Session, *, code: str, request: SignedRequest, now: datetime | None = None
) -> Device:
    """The device that signed `request`; BadSignature (stale, missing or wrong) or Replayed."""
    at = now or datetime.now(UTC)
    if not request.timestamp or not request.signature:
        raise BadSignature(
            "sign the request: send X-Timestamp (unix seconds) and X-Signature "
            "(hex HMAC-SHA256 of the timestamp, '.', and the body, under the device secret)"
        )
    try:
        sent = datetime.fromtimestamp(int(request.timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise BadSignature(
            f"X-Timestamp '{request.timestamp[:20]}' is not unix seconds, e.g. 1764720000"
        ) from None
    if abs(at - sent) > SIGNATURE_WINDOW:
        raise BadSignature(
            f"X-Timestamp {sent:%Y-%m-%d %H:%M:%S} UTC is more than 5 minutes from the server's "
            f"clock ({at:%H:%M:%S} UTC); set the device clock and sign again"
        )
    device = get_device(session, code=code, lock=True)
    if not device.active:
        raise Forbidden(f"device {code} is disabled; ask the command centre to enable it")
    secret = get_cipher().decrypt(device.secret_enc, context=SECRET_CONTEXT)
    expected = sign(secret, request.timestamp, request.body)
    if not hmac.compare_digest(expected, request.signature.strip().lower()):
        raise BadSignature(
            f"the X-Signature does not match the body for device {code}; sign exactly the "
            "bytes you send, with the secret given when the device was registered"
        )
    seen = session.execute(
        insert(ReadingSignature)
        .values(
            district_code=device.district_code, signature=expected, device_id=device.id, seen_at=at
        )
        .on_conflict_do_nothing()
        .returning(ReadingSignature.signature)
    ).first()
    if seen is None:
        raise Replayed(
            "this signed request was accepted before (a replay); sign each post with a new "
            "X-Timestamp"
        )
    return device


def forget_signatures(session: Session, *, now: datetime) -> int:
    """Delete signatures older than the window (a replay of those is stale anyway)."""
    result = session.execute(
        delete(ReadingSignature).where(ReadingSignature.seen_at < now - 2 * SIGNATURE_WINDOW)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def device_secret(session: Session, *, code: str) -> str:
    """A device's secret in clear, for the device's own side (the simulator, a field tool on
    the server); no route answers it after registration."""
    device = get_device(session, code=code)
    return get_cipher().decrypt(device.secret_enc, context=SECRET_CONTEXT)
