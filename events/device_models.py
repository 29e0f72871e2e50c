"""Tables of the sensors (物联感知): device types and their threshold rules, devices, readings and
the request signatures seen lately (replays are refused).

Imported at the end of `events.models`, so every table registers with the event tables.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis.db import STORAGE_SRID, Base
from gis.distribution import DistrictKeyed, Placement, district_fk, placed

# reading is partitioned by month of its id, like event (gis.partitions).
_BY_MONTH = {"postgresql_partition_by": "RANGE (id)"}


class DeviceType(Base):
    """A kind of device (烟感 smoke detector, 水位 water level …) and its alarm rule.

    A reading breaks the rule when `value <comparison> threshold`; the alarm is raised once the
    readings have broken it for `hold_seconds`, and it ends when a reading is past the
    hysteresis band (`threshold ∓ hysteresis`, on the normal side).
    """

    __tablename__ = "device_type"
    __table_args__ = (
        CheckConstraint("comparison IN ('>=', '<=')", name="comparison"),
        CheckConstraint("hysteresis >= 0 AND hold_seconds >= 0", name="non_negative"),
        CheckConstraint("heartbeat_seconds > 0", name="heartbeat"),
        placed(Placement.REFERENCE),
    )

    code: Mapped[str] = mapped_column(String(20), primary_key=True)  # smoke, water_level …
    name: Mapped[str] = mapped_column(String(30))  # 烟感
    unit: Mapped[str] = mapped_column(String(20))  # unit of measure of the value, e.g. dB/m
    comparison: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    hold_seconds: Mapped[int]
    hysteresis: Mapped[float] = mapped_column(Float)
    heartbeat_seconds: Mapped[int]
    needs_check: Mapped[bool]  # the alarm waits for the grid worker's on-site check (核实)
    category_code: Mapped[str] = mapped_column(String(8))  # the subcategory an alarm is filed as
    description: Mapped[str | None] = mapped_column(Text, default=None)


class Device(DistrictKeyed, Base):
    """A registered device (物联设备): where it is, who owns it, its secret and alarm state."""

    __tablename__ = "device"
    __table_args__ = (
        Index("uq_device_code", "code", "district_code", unique=True),
        Index("ix_device_last_seen", "last_seen_at"),
        placed(Placement.DISTRIBUTED),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    code: Mapped[str] = mapped_column(String(40))  # 420502-SMOKE-0001: starts with the district
    type_code: Mapped[str] = mapped_column(ForeignKey("device_type.code"))
    name: Mapped[str] = mapped_column(String(100))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=True, nullable=False)
    )
    locate_match: Mapped[str] = mapped_column(String(10))
    grid_code: Mapped[str | None] = mapped_column(String(15), default=None)
    community_code: Mapped[str | None] = mapped_column(String(12), default=None)
    street_code: Mapped[str | None] = mapped_column(String(12), default=None)
    unit_id: Mapped[int] = mapped_column(ForeignKey("department_unit.id"))  # the owner
    # The HMAC key, encrypted like residents' ID numbers (people.pii), never stored in clear.
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(default=True)
    # Rule state: when the current run of breaking readings began, the open alarm's event.
    breach_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    alarm_event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    offline_event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_value: Mapped[float | None] = mapped_column(Float, default=None)
    last_measured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)


class Reading(DistrictKeyed, Base):
    """One value a device measured (读数), and the alarm event it belongs to, if any."""

    __tablename__ = "reading"
    __table_args__ = (
        Index("ix_reading_device_measured", "device_id", "measured_at"),
        district_fk("device_id", "device.id", ondelete="CASCADE"),
        placed(Placement.DISTRIBUTED) | _BY_MONTH,
    )

    id: Mapped[int] = mapped_column(
        BigInteger,
        primary_key=True,
        autoincrement=False,
        server_default=text("month_stamped_id('reading_id_seq')"),
    )
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    device_id: Mapped[int]
    value: Mapped[float] = mapped_column(Float)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ReadingSignature(Base):
    """A request signature accepted lately: the same signature again is a replay."""

    __tablename__ = "reading_signature"
    __table_args__ = (
        Index("ix_reading_signature_seen", "seen_at"),
        placed(Placement.DISTRIBUTED),
    )

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[int]
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
