"""The workflow tests' city: two grids split at 111.29 E, police areas split at 111.295 E, and
an account for everyone who acts; with helpers that file and act on events in it."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from events.actions import act
from events.attachments import PhotoInfo, inspect_photo
from events.models import AppealType
from events.reference import load_reference_data
from events.schemas import ActionInput, EventRead, EventReport
from events.service import report_event
from events.sources import OPERATOR_CITIZEN_SOURCES
from gis.clock import CHINA_TZ
from people.access import Actor, load_actor
from people.models import Staff, StaffGrid, StaffRole
from tests.factories import COMMUNITY, DISTRICT, add_grid, add_unit, admin_tree, square

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)
TUESDAY = datetime(2026, 11, 24, tzinfo=CHINA_TZ)
WEDNESDAY = datetime(2026, 11, 25, tzinfo=CHINA_TZ)
THURSDAY = datetime(2026, 11, 26, tzinfo=CHINA_TZ)
WEST, EAST = COMMUNITY + "001", COMMUNITY + "002"
SPOT = (111.292, 30.705)  # grid EAST, police area of PS-W


def add_person(
    session: Session,
    username: str,
    role: StaffRole,
    *,
    grids: list[str] | None = None,
    area: str | None = None,
    unit_id: int | None = None,
) -> Actor:
    """An account (no usable password: hashing would only slow the tests) and its actor."""
    staff = Staff(
        username=username,
        full_name=username,
        password_hash="!",
        role=role,
        area_code=area,
        department_unit_id=unit_id,
        phone="0717-1234567",
    )
    session.add(staff)
    session.flush()
    session.add_all(
        StaffGrid(staff_id=staff.id, grid_code=code, district_code=code[:6]) for code in grids or []
    )
    session.flush()
    return load_actor(session, staff_id=staff.id)


def build_city(session: Session) -> dict[str, Any]:
    """Two grids split at 111.29 E, police areas split at 111.295 E, and everyone who acts."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, WEST, square(111.28, 30.70, 0.01))
    add_grid(session, EAST, square(111.29, 30.70, 0.01))
    load_reference_data(session)
    police_w = add_unit(
        session, "PS-W", "police", geom=square(111.27, 30.69, 0.025), location=(111.285, 30.705)
    )
    police_e = add_unit(
        session, "PS-E", "police", geom=square(111.295, 30.69, 0.015), location=(111.298, 30.705)
    )
    fire = add_unit(session, "FS-1", "fire", location=(111.30, 30.71))
    command = add_unit(session, "CC", "command_centre", location=(111.29, 30.71))
    district_area = DISTRICT + "000000"
    people = {
        "worker": add_person(session, "worker1", StaffRole.GRID_WORKER, grids=[WEST, EAST]),
        "worker2": add_person(session, "worker2", StaffRole.GRID_WORKER, grids=[EAST]),
        "west_worker": add_person(session, "worker3", StaffRole.GRID_WORKER, grids=[WEST]),
        "inspector": add_person(session, "inspector1", StaffRole.INSPECTOR, area=COMMUNITY),
        "disp_w": add_person(session, "disp.w", StaffRole.DISPATCHER, unit_id=police_w.id),
        "disp_w2": add_person(session, "disp.w2", StaffRole.DISPATCHER, unit_id=police_w.id),
        "disp_e": add_person(session, "disp.e", StaffRole.DISPATCHER, unit_id=police_e.id),
        "disp_fire": add_person(session, "disp.fire", StaffRole.DISPATCHER, unit_id=fire.id),
        "command_staff": add_person(session, "cc.duty", StaffRole.COMMAND, area=district_area),
        "leader": add_person(session, "leader1", StaffRole.LEADER, area=district_area),
        "admin": add_person(session, "admin1", StaffRole.ADMIN),
        "chief_w": add_person(session, "chief.w", StaffRole.DISPATCHER, unit_id=police_w.id),
    }
    police_w.supervisor_staff_id = people["chief_w"].staff_id
    session.flush()
    return {
        "session": session,
        "police_w": police_w,
        "police_e": police_e,
        "fire": fire,
        "command": command,
        **people,
    }


def photo(colour: str = "green") -> PhotoInfo:
    """A small JPEG made in memory and accepted like an upload."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return inspect_photo(buffer.getvalue())


def file(
    city: dict[str, Any],
    category: str = "0101",
    lon: float = SPOT[0],
    lat: float = SPOT[1],
    now: datetime = MONDAY_10,
    by: str = "worker",
    **fields: Any,
) -> EventRead:
    """Report an event as a grid worker (or `by`) would; a citizen's call or letter is a
    complaint (投诉) unless `appeal_type` says otherwise."""
    if fields.get("source") in OPERATOR_CITIZEN_SOURCES:
        fields.setdefault("appeal_type", AppealType.COMPLAINT)
    report = EventReport(
        category=category, lon=lon, lat=lat, description="楼道里有可疑人员", **fields
    )
    return report_event(city["session"], actor=city[by], report=report, now=now)


def do(
    city: dict[str, Any],
    who: str,
    event: EventRead | str,
    action: str,
    now: datetime,
    photos: list[PhotoInfo] | None = None,
    photo_dir: Any = None,
    **fields: Any,
) -> EventRead:
    """`who` does `action` to `event` at `now` with the given input fields."""
    return act(
        city["session"],
        actor=city[who],
        code=event if isinstance(event, str) else event.code,
        action=action,
        data=ActionInput(**fields),
        photos=photos,
        photo_dir=photo_dir,
        now=now,
    )


def taken_up(city: dict[str, Any], event: EventRead | str, at: datetime) -> EventRead:
    """A pending case registered (立案) and dispatched by the district command centre at `at`."""
    do(city, "command_staff", event, "register", at)
    return do(city, "command_staff", event, "dispatch", at)


def unit_code(event: EventRead) -> str | None:
    """Code of the unit holding the event."""
    return event.unit.code if event.unit else None


def signed(city: dict[str, Any], **fields: Any) -> EventRead:
    """An event filed Monday 10:00 and signed for by PS-W at 10:30 (handle by Tuesday 17:30)."""
    event = file(city, **fields)
    return do(city, "disp_w", event, "sign", MONDAY_10 + timedelta(minutes=30))


def handled(city: dict[str, Any], tmp_path: Any, **fields: Any) -> EventRead:
    """An event signed Monday and handled Tuesday 10:00."""
    event = signed(city, **fields)
    return do(
        city,
        "disp_w",
        event,
        "handle",
        TUESDAY.replace(hour=10),
        photos=[photo("blue")],
        photo_dir=tmp_path,
        note="已盘查，人员系外卖员",
    )
