"""The demo city's devices (物联感知), and the readings `gridgov sensors simulate` sends.

Every district with grids gets `DEVICES_PER_DISTRICT` devices of the shipped types, placed in
grids drawn from the seed and owned by the unit that answers for that kind of device (smoke
detectors and hydrants by the fire brigade, lifts by market regulation …), nearest first.
Registered through `events.devices.register_device` by the district's 物联感知 account, so each
has its own secret like any other device.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events.catalog import DepartmentType as T
from events.device_models import Device, DeviceType
from events.device_schemas import DeviceCreate
from events.devices import register_device, sensor_account
from events.models import DepartmentUnit
from grid.models import Grid

DEVICES_PER_DISTRICT = 24
# type → (place names, the department type of the owning unit)
KINDS: dict[str, tuple[tuple[str, ...], T]] = {
    "smoke": (("老旧小区楼道", "群租房客厅", "社区养老服务站", "小餐饮店后厨"), T.FIRE),
    "gas": (("餐饮店燃气表间", "菜市场熟食区", "学校食堂"), T.FIRE),
    "water_level": (("下穿通道", "低洼路段", "地下车库入口"), T.URBAN_MANAGEMENT),
    "manhole": (("人行道雨水井", "主干道污水井", "小区供水井"), T.URBAN_MANAGEMENT),
    "elevator": (("住宅楼电梯", "商场观光梯", "医院病床梯"), T.MARKET_REGULATION),
    "hydrant": (("路边市政消火栓", "小区室外消火栓"), T.FIRE),
}


def _owner(session: Session, district: str, dept_type: T, lon: float, lat: float) -> int:
    """The active unit of `dept_type` nearest the point, else the district command centre."""
    for wanted in (dept_type, T.COMMAND_CENTRE):
        unit_id = session.scalar(
            select(DepartmentUnit.id)
            .where(
                DepartmentUnit.active,
                DepartmentUnit.district_code == district,
                DepartmentUnit.dept_type == wanted,
            )
            .order_by(
                func.ST_Distance(
                    DepartmentUnit.location, func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4490)
                ).nulls_last(),
                DepartmentUnit.id,
            )
            .limit(1)
        )
        if unit_id is not None:
            return unit_id
    raise LookupError(f"district {district} has no units; seed the demo events first")


def seed_demo_devices(session: Session, *, seed: int) -> int:
    """Register the demo devices of every district that has grids and none yet; how many."""
    added = 0
    districts = session.scalars(
        select(Grid.district_code).distinct().order_by(Grid.district_code)
    ).all()
    for district in districts:
        if session.scalar(select(Device.id).where(Device.district_code == district).limit(1)):
            continue
        if (
            session.scalar(
                select(DepartmentUnit.id).where(DepartmentUnit.district_code == district).limit(1)
            )
            is None
        ):
            continue  # no units (the events seed adds them): nobody would own the devices
        rng = random.Random(f"{seed}-devices-{district}")
        grids = session.execute(
            select(Grid.code, func.ST_PointOnSurface(Grid.geom))
            .where(Grid.district_code == district)
            .order_by(Grid.code)
        ).all()
        actor = sensor_account(session, district_code=district)
        kinds = list(KINDS)
        for n in range(DEVICES_PER_DISTRICT):
            kind = kinds[n % len(kinds)]
            places, dept_type = KINDS[kind]
            _, surface = rng.choice(grids)
            point = to_shape(surface)
            lon = point.x + rng.uniform(-0.0004, 0.0004)
            lat = point.y + rng.uniform(-0.0004, 0.0004)
            register_device(
                session,
                actor=actor,
                device=DeviceCreate(
                    type=kind,
                    name=f"{rng.choice(places)} {n // len(kinds) + 1}号",
                    lon=lon,
                    lat=lat,
                    crs="cgcs2000",
                    unit_id=_owner(session, district, dept_type, lon, lat),
                ),
            )
            added += 1
    return added


# --- simulated readings ----------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedPost:
    """One post a simulated device sends: its code and JSON body."""

    code: str
    body: bytes
    alarm: bool


def _normal(device_type: DeviceType, rng: random.Random) -> float:
    t, h = device_type.threshold, device_type.hysteresis
    if device_type.comparison == ">=":
        return round(max(0.0, t - h) * rng.uniform(0.0, 0.6), 3)
    return round((t + h) * rng.uniform(1.3, 2.0), 3)


def _breaking(device_type: DeviceType, rng: random.Random) -> float:
    t = device_type.threshold
    if device_type.comparison == ">=":
        return round(t * rng.uniform(1.2, 2.5) + (1 if t == 0 else 0), 3)
    return round(t * rng.uniform(0.2, 0.8), 3)


def simulated_posts(
    session: Session, *, now: datetime, alarms: int, seed: int | None = None
) -> list[SimulatedPost]:
    """One post per active device: a normal value, or for `alarms` devices drawn at random a
    run of breaking values as long as their type's duration (so the alarm is raised now).
    Devices in alarm that are not drawn send a normal value, so they recover."""
    rng = random.Random(seed)
    rows = session.execute(
        select(Device.code, DeviceType)
        .join(DeviceType, DeviceType.code == Device.type_code)
        .where(Device.active)
        .order_by(Device.code)
    ).all()
    chosen = {code for code, _ in rng.sample(rows, min(alarms, len(rows)))} if rows else set()
    posts = []
    for code, device_type in rows:
        if code in chosen:
            start = now - timedelta(seconds=device_type.hold_seconds)
            readings = [
                {"value": _breaking(device_type, rng), "measured_at": at.isoformat()}
                for at in sorted({start, start + (now - start) / 2, now})
            ]
        else:
            readings = [{"value": _normal(device_type, rng), "measured_at": now.isoformat()}]
        body = json.dumps({"readings": readings}).encode()
        posts.append(SimulatedPost(code=code, body=body, alarm=code in chosen))
    return posts
