"""What the sensor routes take and answer (物联感知): device types, devices and readings."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from gis.crs import Crs
from gis.text import InputModel

MAX_READINGS_PER_POST = 500


class DeviceTypeRead(BaseModel):
    """A device type (设备类型) and its alarm rule."""

    code: str
    name: str
    unit: str
    comparison: str
    threshold: float
    hold_seconds: int
    hysteresis: float
    heartbeat_seconds: int
    needs_check: bool
    category: str
    category_name: str | None
    description: str | None


class DeviceCreate(InputModel):
    """A device to register: its type, place and owning unit (the code is made when not given)."""

    type: str = Field(description="device type code from GET /api/device-types, e.g. smoke")
    name: str = Field(min_length=2, max_length=100, description="where it is, e.g. 3栋2单元楼道")
    lon: float
    lat: float
    crs: Crs = Crs.WGS84
    unit_id: int = Field(ge=1, le=2_147_483_647, description="the department unit that owns it")
    code: str | None = Field(
        default=None,
        max_length=40,
        description="device code starting with the district code, e.g. 420502-SMOKE-0001",
    )


class DeviceRead(BaseModel):
    """A registered device, its place, owner and alarm state (never its secret)."""

    code: str
    type: str
    type_name: str
    name: str
    lon: float
    lat: float
    district_code: str
    grid_code: str | None
    community_code: str | None
    street_code: str | None
    locate_match: str
    unit_id: int
    unit_name: str
    active: bool
    state: str = Field(description="normal 正常, breaking 超阈值, alarm 报警 or offline 离线")
    alarm_event: str | None
    offline_event: str | None
    last_value: float | None
    last_measured_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime


class DeviceIssued(DeviceRead):
    """A device just registered, with its HMAC secret: shown this once, never again."""

    secret: str


class ReadingInput(InputModel):
    """One measured value; `measured_at` defaults to when the post arrives."""

    value: float
    measured_at: datetime | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("value must be a finite number")
        return value

    @field_validator("measured_at")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("measured_at must carry a time zone, e.g. 2026-12-03T08:00:00+08:00")
        return value


class ReadingBatch(InputModel):
    """A post of readings: one object, or `{"readings": [...]}` of up to 500."""

    readings: list[ReadingInput] = Field(min_length=1, max_length=MAX_READINGS_PER_POST)


class IngestResult(BaseModel):
    """What a post of readings did to the device."""

    device: str
    accepted: int
    state: str
    alarm_event: str | None = Field(description="the open alarm's event code, if in alarm")
    raised: str | None = Field(description="event code of an alarm this post raised")
    recovered: str | None = Field(description="event code of an alarm this post ended")
    back_online: str | None = Field(description="offline task closed because the device spoke")


class OfflineReport(BaseModel):
    """What one run of the offline check did."""

    checked: int
    tasks: list[str] = Field(description="codes of the 设备离线 tasks filed now")
    devices: list[str] = Field(description="codes of the devices that went offline")
    signatures_forgotten: int
