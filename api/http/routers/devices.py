"""Sensors (物联感知): device types, the device registry and the devices' signed readings.

The command centre (and admins) of a district register and list its devices; every signed-in
account reads the device types. A device posts its readings with no account: the request is
signed with the device's secret (`events.devices`), so the route's gate is public and the
signature is the check.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, status

from api.http.auth import ALL_STAFF, COMMAND, PUBLIC, allow
from api.http.deps import SessionDep
from api.http.errors import ApiError
from events import devices, sensors
from events.device_schemas import (
    DeviceCreate,
    DeviceIssued,
    DeviceRead,
    DeviceTypeRead,
    IngestResult,
)
from people.access import Actor

router = APIRouter(prefix="/api", tags=["sensors 物联感知"])

Staff = Annotated[Actor, allow(ALL_STAFF)]
Command = Annotated[Actor, allow(COMMAND)]
Code = Annotated[str, Path(max_length=40, description="device code, e.g. 420502-SMOKE-0001")]


async def _raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature covers these bytes (size-limited upstream)."""
    return await request.body()


@router.get("/device-types", response_model=list[DeviceTypeRead])
def list_device_types(session: SessionDep, actor: Staff) -> list[DeviceTypeRead]:
    """Device types (烟感, 水位, 井盖位移 …) with their alarm rules and heartbeat."""
    return devices.list_device_types(session)


@router.get("/devices", response_model=list[DeviceRead])
def list_devices(
    session: SessionDep,
    actor: Command,
    type: Annotated[str | None, Query(max_length=20, description="device type code")] = None,
    state: Annotated[str | None, Query(description="alarm or offline")] = None,
) -> list[DeviceRead]:
    """Devices of the caller's area with their alarm state (never their secrets)."""
    return devices.list_devices(session, actor=actor, type_code=type, state=state)


@router.post("/devices", response_model=DeviceIssued, status_code=status.HTTP_201_CREATED)
def register_device(session: SessionDep, actor: Command, device: DeviceCreate) -> DeviceIssued:
    """Register a device; the answer carries its HMAC secret, shown this once."""
    return devices.register_device(session, actor=actor, device=device)


@router.post("/devices/{code}/readings", response_model=IngestResult, dependencies=[PUBLIC])
def post_readings(
    session: SessionDep,
    code: Code,
    body: Annotated[bytes, Depends(_raw_body)],
    x_timestamp: Annotated[str | None, Header(max_length=20)] = None,
    x_signature: Annotated[str | None, Header(max_length=128)] = None,
) -> IngestResult:
    """A device's readings, signed: X-Timestamp (unix seconds) and X-Signature (hex
    HMAC-SHA256 of timestamp + "." + body under the device secret). One reading
    `{"value": 0.2}` or a batch `{"readings": [{"value": 0.2, "measured_at": "…+08:00"}]}`."""
    signed = devices.SignedRequest(timestamp=x_timestamp, signature=x_signature, body=body)
    try:
        device = devices.verify_request(session, code=code, request=signed)
    except devices.BadSignature as exc:
        raise ApiError(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    readings = sensors.parse_readings(body)
    return sensors.ingest_readings(session, device=device, readings=readings)
