"""Working time, and the stored city, units and categories as columns (`EventFrame`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from demo.arrays import Array, BoolArray, FloatArray, IntArray
from events.calendar import Limit, WorkCalendar
from events.deadlines import setting_limit
from events.exceptions import EventError
from events.models import Stage
from events.reference import work_calendar
from gis.bulk import read_frame

EVENTS_PER_DAY: Final = {"demo": 5_000 / 60, "city": 1_000_000 / 60}

US: Final = 1_000_000
MINUTE: Final = 60 * US
HOUR: Final = 3_600 * US
DAY: Final = 24 * HOUR
EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
BATCH: Final = 100_000
NONE: Final = -1  # "no id" in integer columns


def text_where(mask: BoolArray, values: Array) -> Array:
    """`values` (as objects) where `mask` holds, None (NULL) elsewhere."""
    result = np.asarray(values, dtype=object).copy()
    result[~mask] = None
    return result


class DemoEventsError(EventError):
    """Demo events could not be seeded; the message says why and what to do."""


# --------------------------------------------------------------------------- working time


class VectorCalendar:
    """`WorkCalendar` arithmetic on numpy arrays of UTC instants in integer microseconds.

    Gives exactly what `WorkCalendar.add` gives for the days from `first` to `last`, but for a
    million instants at once. Time zones with a fixed offset only (China has no summer time).
    """

    def __init__(self, calendar: WorkCalendar, first: date, last: date) -> None:
        offset = calendar.tz.utcoffset(datetime(first.year, 1, 1))
        if offset is None or offset != calendar.tz.utcoffset(datetime(first.year, 7, 1)):
            raise ValueError(f"{calendar.tz} changes its UTC offset; cannot count in arrays")
        self.offset = int(offset.total_seconds()) * US
        self.first = first.toordinal()
        ordinals = range(self.first, last.toordinal() + 1)
        self.working = np.array([calendar.is_working_day(date.fromordinal(o)) for o in ordinals])
        self.before = np.concatenate([[0], np.cumsum(self.working)[:-1]]).astype(np.int64)
        self.working_index = np.flatnonzero(self.working).astype(np.int64)
        hours = calendar.hours
        (m_open, m_close), (a_open, a_close) = (
            (_micros(opens), _micros(closes)) for opens, closes in (hours.morning, hours.afternoon)
        )
        self.m_open, self.m_len = m_open, m_close - m_open
        self.a_open, self.a_len = a_open, a_close - a_open
        self.day = self.m_len + self.a_len

    def _day_index(self, local: IntArray) -> IntArray:
        index = local // DAY + EPOCH_ORDINAL - self.first
        if index.size and (index.min() < 0 or index.max() >= len(self.working)):
            raise ValueError("an instant lies outside the calendar's range of days")
        return index

    def clock(self, instants: IntArray) -> IntArray:
        """Working microseconds from the first day of the range to each instant."""
        local = instants + self.offset
        index = self._day_index(local)
        tod = local % DAY
        worked = np.clip(tod - self.m_open, 0, self.m_len) + np.clip(
            tod - self.a_open, 0, self.a_len
        )
        return self.before[index] * self.day + np.where(self.working[index], worked, 0)

    def instant(self, clock: IntArray) -> IntArray:
        """The earliest instant at which the working-time clock reads `clock`."""
        index, worked = np.divmod(clock, self.day)
        whole = worked == 0  # the close of the previous working day, not the next opening
        index = np.where(whole, index - 1, index)
        worked = np.where(whole, self.day, worked)
        if index.size and index.max() >= len(self.working_index):
            raise ValueError("a deadline lies beyond the calendar's range of days")
        ordinal = self.working_index[index] + self.first
        tod = np.where(
            worked <= self.m_len, self.m_open + worked, self.a_open + worked - self.m_len
        )
        return (ordinal - EPOCH_ORDINAL) * DAY + tod - self.offset

    def add_working(self, instants: IntArray, micros: IntArray) -> IntArray:
        """`WorkCalendar.add` of a working-hours limit of `micros` to each instant."""
        return self.instant(self.clock(instants) + micros)

    def add_days(self, instants: IntArray, days: IntArray) -> IntArray:
        """`WorkCalendar.add` of a working-days limit: close of the N-th working day after."""
        return self.instant((self.clock(instants) // self.day + days + 1) * self.day)


def _micros(moment: time) -> int:
    return (((moment.hour * 60 + moment.minute) * 60 + moment.second) * US) + moment.microsecond


# --------------------------------------------------------------------------- the frame


@dataclass(frozen=True, eq=False)
class EventFrame:
    """What events are generated from: the stored city, units, staff, categories, calendar.

    Grids are ordered by code; buildings by grid code then id (`grid_first_building`,
    `grid_building_count` index them); units by id.
    """

    district_codes: tuple[str, ...]
    grid_code: Array
    grid_kind: Array  # "market", "basic", "dedicated"
    grid_x: FloatArray
    grid_y: FloatArray
    grid_first_building: IntArray
    grid_building_count: IntArray
    grid_old_residential: IntArray  # residential buildings of at most 7 floors
    grid_workers: list[list[int]]  # staff ids of each grid's grid workers
    building_id: IntArray
    building_x: FloatArray
    building_y: FloatArray
    building_address: Array
    unit_id: IntArray
    unit_code: Array
    unit_name: Array
    unit_type: Array  # DepartmentType values
    unit_district: Array
    unit_geom: Array  # shapely MultiPolygons or None
    unit_x: FloatArray
    unit_y: FloatArray
    dispatcher_of_unit: dict[int, int]
    command_staff_id: int | None
    category_id: IntArray
    category_code: Array
    category_name: Array
    category_lead: Array
    category_assisting: list[list[str]]
    category_priority: Array
    category_limits: list[tuple[Limit, Limit, Limit, Limit]]  # sign, handle, verify, close
    category_needs_check: BoolArray
    calendar: WorkCalendar


def _read_frame(session: Session, query: str, params: dict[str, Any]) -> pd.DataFrame:
    """Rows of `query` read with COPY (fast for hundreds of thousands of rows), as text."""
    return read_frame(session, query=query, params=params, dtype=str)


def load_event_frame(session: Session, *, district_codes: Sequence[str]) -> EventFrame:
    """Read what event generation needs from the database (nothing is written)."""
    codes = {"codes": list(district_codes)}
    grids = _read_frame(
        session,
        "SELECT g.code, g.name, g.grid_type::text AS grid_type, ST_X(p) AS x, ST_Y(p) AS y "
        "FROM grid g CROSS JOIN LATERAL ST_PointOnSurface(g.geom) p "
        "WHERE g.district_code = ANY(%(codes)s) ORDER BY g.code",
        codes,
    )
    buildings = _read_frame(
        session,
        "SELECT b.id, b.grid_code, ST_X(c) AS x, ST_Y(c) AS y, b.address, b.use::text AS use, "
        "b.floors FROM building b CROSS JOIN LATERAL ST_Centroid(b.geom) c "
        "WHERE b.district_code = ANY(%(codes)s) AND b.grid_code IS NOT NULL "
        "ORDER BY b.grid_code, b.id",
        codes,
    )
    grid_code = grids["code"].to_numpy(dtype=str)
    b_grid = np.searchsorted(grid_code, buildings["grid_code"].to_numpy(dtype=str))
    counts = np.bincount(b_grid, minlength=len(grid_code)).astype(np.int64)
    floors = pd.to_numeric(buildings["floors"], errors="coerce").fillna(1).to_numpy()
    old = (buildings["use"].to_numpy() == "residential") & (floors <= 7)
    names = grids["name"].to_numpy(dtype=str)
    kind = np.where(
        np.char.find(names, "农贸市场") >= 0,
        "market",
        np.where(
            np.char.find(names, "商圈") >= 0, "market", grids["grid_type"].to_numpy(dtype=str)
        ),
    )

    workers: list[list[int]] = [[] for _ in grid_code]
    for grid, staff_id in session.execute(
        text(
            "SELECT sg.grid_code, sg.staff_id FROM staff_grid sg "
            "JOIN staff s ON s.id = sg.staff_id WHERE s.active AND s.role = 'grid_worker' "
            "AND sg.grid_code LIKE ANY(:patterns) "
            "ORDER BY sg.grid_code, sg.staff_id"
        ),
        {"patterns": [f"{c}%" for c in district_codes]},
    ).all():
        index = int(np.searchsorted(grid_code, grid))
        if index < len(grid_code) and grid_code[index] == grid:
            workers[index].append(int(staff_id))

    units = session.execute(
        text(
            "SELECT id, name, dept_type::text, district_code, ST_AsBinary(geom), "
            "ST_X(location), ST_Y(location), code FROM department_unit "
            "WHERE active AND district_code = ANY(:codes) ORDER BY id"
        ),
        codes,
    ).all()
    dispatchers: dict[int, int] = dict(
        session.execute(
            text(
                "SELECT department_unit_id, min(id) FROM staff WHERE active AND role = "
                "'dispatcher' AND department_unit_id IS NOT NULL GROUP BY department_unit_id"
            )
        ).all()
    )
    command = session.scalar(
        text(
            "SELECT id FROM staff WHERE active AND role = 'command' "
            "ORDER BY username <> 'command', id LIMIT 1"
        )
    )
    categories = session.execute(
        text(
            "SELECT id, code, name, lead::text, assisting, priority::text, sign_limit, "
            "handle_limit, verify_limit, needs_check FROM event_category "
            "WHERE valid_to IS NULL ORDER BY code"
        )
    ).all()
    close = setting_limit(Stage.CLOSE)  # the same 结案 limit for every category
    return EventFrame(
        district_codes=tuple(district_codes),
        grid_code=grid_code,
        grid_kind=kind,
        grid_x=grids["x"].to_numpy(dtype=float),
        grid_y=grids["y"].to_numpy(dtype=float),
        grid_first_building=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
        grid_building_count=counts,
        grid_old_residential=np.bincount(b_grid[old], minlength=len(grid_code)).astype(np.int64),
        grid_workers=workers,
        building_id=buildings["id"].to_numpy(dtype=np.int64),
        building_x=buildings["x"].to_numpy(dtype=float),
        building_y=buildings["y"].to_numpy(dtype=float),
        building_address=buildings["address"].to_numpy(dtype=object),
        unit_id=np.array([u[0] for u in units], dtype=np.int64),
        unit_code=np.array([u[7] for u in units], dtype=object),
        unit_name=np.array([u[1] for u in units], dtype=object),
        unit_type=np.array([u[2] for u in units], dtype=object),
        unit_district=np.array([u[3] for u in units], dtype=object),
        unit_geom=np.array(
            [shapely.from_wkb(bytes(u[4])) if u[4] is not None else None for u in units],
            dtype=object,
        ),
        unit_x=np.array([u[5] if u[5] is not None else np.nan for u in units], dtype=float),
        unit_y=np.array([u[6] if u[6] is not None else np.nan for u in units], dtype=float),
        dispatcher_of_unit={int(k): int(v) for k, v in dispatchers.items()},
        command_staff_id=int(command) if command is not None else None,
        category_id=np.array([c[0] for c in categories], dtype=np.int64),
        category_code=np.array([c[1] for c in categories], dtype=str),
        category_name=np.array([c[2] for c in categories], dtype=object),
        category_lead=np.array([c[3] for c in categories], dtype=object),
        category_assisting=[list(c[4] or []) for c in categories],
        category_priority=np.array([c[5] for c in categories], dtype=object),
        category_limits=[
            (Limit.parse(c[6]), Limit.parse(c[7]), Limit.parse(c[8]), close) for c in categories
        ],
        category_needs_check=np.array([bool(c[9]) for c in categories]),
        calendar=work_calendar(session),
    )


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class DemoEvents:
    """Generated events, steps and stages as columns; `event` indexes the event columns.

    Instants are UTC microseconds since 1970 (int64); -1 is "none" in id and time columns.
    """

    # events, ordered by reported_at
    reported_at: IntArray
    grid: IntArray  # index into EventFrame grids
    building: IntArray  # index into EventFrame buildings, -1 for none
    lon: FloatArray
    lat: FloatArray
    category: IntArray  # index into EventFrame categories
    source: Array  # EventSource values
    reporter_id: IntArray
    unit_id: IntArray
    assisting: list[list[int]]
    status: Array  # EventStatus values
    closed_at: IntArray
    stage: Array  # Stage values or None
    stage_started_at: IntArray
    stage_deadline: IntArray
    suspended_at: IntArray
    rework_count: IntArray
    returned_by: IntArray  # unit that returned the event, -1 for none
    void_reason: Array
    description: Array
    updated_at: IntArray
    # steps, ordered by event then time
    step_event: IntArray
    step_slot: IntArray
    step_from: Array
    step_to: Array
    step_actor: IntArray
    step_unit: IntArray
    step_at: IntArray
    # stages, ordered by event then start
    stage_event: IntArray
    stage_kind: Array
    stage_unit: IntArray
    stage_started: IntArray
    stage_due: IntArray
    stage_ended: IntArray  # -1 while running

    def __len__(self) -> int:
        return len(self.reported_at)
