"""Generating the demo events (`generate_events`): pure, from the event frame and a seed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

import numpy as np
import shapely

from demo.arrays import Array, BoolArray, FloatArray, IntArray
from demo.city.scales import DEFAULT_SEED
from demo.events.frame import (
    DAY,
    EPOCH_ORDINAL,
    EVENTS_PER_DAY,
    HOUR,
    MINUTE,
    NONE,
    US,
    DemoEvents,
    DemoEventsError,
    EventFrame,
    VectorCalendar,
    text_where,
)
from events.calendar import LimitUnit, WorkCalendar
from events.catalog import DepartmentType
from events.models import EventSource, EventStatus, Stage

# Relative report volume by local hour: peaks 9–11 and 14–17, quiet at night.
HOUR_WEIGHTS: Final = np.array(
    [0.15, 0.10, 0.08, 0.08, 0.10, 0.20, 0.50, 1.00, 1.80, 2.60, 2.80, 2.20,
     1.00, 0.90, 1.90, 2.50, 2.60, 2.20, 1.20, 0.80, 0.60, 0.45, 0.30, 0.20]
)  # fmt: skip
_DAY_OFF_FACTOR: Final = 0.55  # grid workers patrol less on weekends and holidays
_GROWTH: Final = 0.10  # the last day has 10 % more events than the first
_NIGHT_CATEGORIES: Final = frozenset({"0802"})  # 夜间施工扰民 happens at night
# Police and fire areas cut across streets and grids: their units are found point by point;
# the other types' areas follow street lines, so a grid's unit is every point's in it.
_POINT_ROUTED: Final = frozenset({DepartmentType.POLICE.value, DepartmentType.FIRE.value})

SOURCES: Final = (
    EventSource.GRID_WORKER,
    EventSource.HOTLINE,
    EventSource.OPEN311,
    EventSource.SENSOR,
    EventSource.INSPECTION,
)
_SOURCE_P: Final = np.array([0.86, 0.08, 0.03, 0.015, 0.015])
INPUT_CRS: Final = ("gcj02", "wgs84", "gcj02", "wgs84", "gcj02")

# Background mix by major category (大类), and subcategories more common than their siblings.
_MAJOR_WEIGHTS: Final = {
    "01": 5.0, "02": 8.0, "03": 9.0, "04": 5.0, "05": 1.5, "06": 22.0,
    "07": 7.0, "08": 6.0, "09": 18.0, "10": 13.0, "11": 1.2, "12": 3.0,
}  # fmt: skip
_SUB_BOOST: Final = {
    "0601": 3.0, "0901": 2.0, "0904": 3.0, "0702": 3.0, "1002": 2.0, "0201": 3.0,
    "0203": 2.0, "0302": 4.0, "0312": 3.0, "0301": 2.0, "1003": 2.0, "0602": 2.0,
}  # fmt: skip

# Hot spots: what happens where. Weights over subcategory codes.
_HOT_KINDS: Final = ("market", "old_residential", "construction")
_HOT_MIX: Final[dict[str, dict[str, float]]] = {
    "market": {
        "0901": 6, "0902": 5, "0903": 4, "0601": 4, "1201": 2, "0314": 2, "0904": 2, "0603": 1,
    },
    "old_residential": {
        "0201": 5, "0203": 4, "0302": 4, "0601": 3, "0605": 2, "0401": 2, "1002": 2,
        "0804": 2, "0205": 1, "0312": 2, "1003": 1,
    },
    "construction": {
        "0802": 5, "0803": 4, "0805": 3, "0801": 2, "0604": 3, "0602": 3, "1003": 2, "0310": 1,
    },
}  # fmt: skip
_HOT_SHARE: Final = 0.30  # share of events at hot spots
_HOT_BUILDINGS: Final = 6  # buildings a hot spot's events cluster on
_GRIDS_PER_HOT_SPOT: Final = 70  # per kind: demo (200 grids) 3 of each, city ≈ 290

_DETAILS: Final = {
    "01": ("群众反映有可疑情况", "夜间有人员聚集", "存在治安隐患"),
    "02": ("存在消防安全隐患", "堵塞疏散通道", "居民担心引发火灾"),
    "03": ("双方争执不下", "当事人情绪激动，需调解", "多次协商未果"),
    "04": ("需要上门帮扶", "生活困难，申请救助", "家属联系不上"),
    "05": ("近期表现异常", "需要重点关注", "家属反映情况"),
    "06": ("影响市容环境", "周边居民反映强烈", "已拍照取证"),
    "07": ("影响市容", "张贴范围较大", "存在坠落风险"),
    "08": ("影响周边居民休息", "未设置围挡", "存在安全隐患"),
    "09": ("影响行人通行", "占用人行道", "多次劝导无效"),
    "10": ("存在安全隐患", "影响群众出行", "需尽快维修"),
    "11": ("情况紧急，请立即处置", "现场已疏散群众", "已拨打119/110"),
    "12": ("存在安全隐患", "经营者拒不整改", "群众举报"),
}

# Lifecycle probabilities.
_P_VOID_AT_CHECK: Final = 0.15  # a hotline/app report found untrue on site (核实不属实)
_P_SELF_RESOLVED: Final = 0.08  # of grid workers' non-urgent reports
_P_DUPLICATE: Final = 0.03  # voided as a duplicate after dispatch (scaled per grid worker)
_P_RETURNED: Final = 0.05  # sent back by the unit as wrongly routed
_P_SUSPENDED: Final = 0.015  # suspended (挂账) while being handled, still suspended
_P_REWORK: Final = 0.08  # verification failed (scaled by unit performance)
_P_STUCK: Final = 0.02  # the case stalls at some point (scaled by unit performance²)

# Slots: every step an event may take, in order. An event uses a subset of them.
(
    S_REPORT, S_CHECK, S_VOID_CHECK, S_SELF, S_DISPATCH, S_VOID_DUP, S_RETURN, S_REDISPATCH,
    S_SIGN, S_SUSPEND, S_HANDLE, S_REWORK, S_HANDLE2, S_VERIFY, S_CLOSE,
) = range(15)  # fmt: skip
N_SLOTS: Final = 15
SLOT_ACTIONS: Final = (
    "report", "check", "void", "self-resolve", "dispatch", "void", "return", "redispatch",
    "sign", "suspend", "handle", "rework", "handle", "verify", "close",
)  # fmt: skip
SLOT_STATUS: Final = (
    EventStatus.REGISTERED,  # or REPORTED when the report needs an on-site check
    EventStatus.REGISTERED,
    EventStatus.VOIDED,
    EventStatus.SELF_RESOLVED,
    EventStatus.DISPATCHED,
    EventStatus.VOIDED,
    EventStatus.RETURNED,
    EventStatus.DISPATCHED,
    EventStatus.SIGNED,
    EventStatus.SUSPENDED,
    EventStatus.HANDLED,
    EventStatus.SIGNED,
    EventStatus.HANDLED,
    EventStatus.VERIFIED,
    EventStatus.CLOSED,
)
SLOT_NOTES: Final = (
    None,
    "网格员现场核实属实",
    "现场核实不属实，作废",
    "网格员现场自行处置",
    None,
    "重复上报，作废",
    "不属本单位职责，申请退回",
    "退回后重新派遣",
    "已签收",
    "需协调多部门，暂时挂账",
    "已处置完毕",
    "现场核查未整改到位，退回重办",
    "已重新处置",
    "现场核查通过",
    "结案",
)
# Slots a stalled case can stop before: each follows a wait, so the case can hang there.
_STALL_SLOTS: Final = (
    S_CHECK,
    S_DISPATCH,
    S_REDISPATCH,
    S_SIGN,
    S_HANDLE,
    S_HANDLE2,
    S_VERIFY,
    S_CLOSE,
)

# Stage rows an event may have: (stage, slot that starts it), in order; the slot that ends
# each depends on the event's path (see generate_events).
_STAGES: Final = (
    (Stage.CHECK, S_REPORT),
    (Stage.SIGN, S_DISPATCH),
    (Stage.SIGN, S_REDISPATCH),
    (Stage.HANDLE, S_SIGN),
    (Stage.VERIFY, S_HANDLE),
    (Stage.HANDLE, S_REWORK),
    (Stage.VERIFY, S_HANDLE2),
    (Stage.CLOSE, S_VERIFY),  # the command centre's 结案 after the passed check
)
_LIMIT_OF: Final = {Stage.CHECK: 0, Stage.SIGN: 0, Stage.HANDLE: 1, Stage.VERIFY: 2, Stage.CLOSE: 3}
_STATUS_VALUES: Final = np.array([s.value for s in EventStatus] + [None], dtype=object)
_STATUS_CODE: Final = {s: i for i, s in enumerate(EventStatus)}

# --------------------------------------------------------------------------- generation


def _category_weights(frame: EventFrame, mix: dict[str, float] | None) -> FloatArray:
    """Weights over the frame's categories: the background mix, or a hot spot's."""
    codes = frame.category_code
    if mix is not None:
        weights = np.array([float(mix.get(str(c), 0.0)) for c in codes])
        if weights.sum() > 0:
            return weights / float(weights.sum())
    majors = np.array([str(c)[:2] for c in codes])
    sizes = {m: int((majors == m).sum()) for m in set(majors.tolist())}
    weights = np.array(
        [
            _MAJOR_WEIGHTS.get(m, 1.0) / sizes[m] * _SUB_BOOST.get(str(c), 1.0)
            for m, c in zip(majors, codes, strict=True)
        ]
    )
    return weights / float(weights.sum())


def _report_times(
    rng: np.random.Generator, n: int, *, now_us: int, days: int, calendar: WorkCalendar, offset: int
) -> IntArray:
    """`n` report instants over the `days` before `now`, with daily and hourly rhythms."""
    start = now_us - days * DAY
    local_start = start + offset
    first_hour = local_start // HOUR
    bins = np.arange(first_hour, (now_us + offset) // HOUR + 1)
    ordinals = bins * HOUR // DAY + EPOCH_ORDINAL
    working = {
        o: calendar.is_working_day(date.fromordinal(o)) for o in np.unique(ordinals).tolist()
    }
    day_factor = np.array([1.0 if working[o] else _DAY_OFF_FACTOR for o in ordinals.tolist()])
    age = (bins - first_hour) / max(len(bins) - 1, 1)
    weight = HOUR_WEIGHTS[(bins * HOUR % DAY) // HOUR] * day_factor * (1 + _GROWTH * age)
    # The first and last bins are cut by the window.
    weight[0] *= 1 - (local_start % HOUR) / HOUR
    weight[-1] *= ((now_us + offset) % HOUR) / HOUR
    chosen = rng.choice(len(bins), size=n, p=weight / weight.sum())
    low = np.maximum(bins[chosen] * HOUR, local_start)
    high = np.minimum((bins[chosen] + 1) * HOUR, now_us + offset)
    local = low + (rng.random(n) * np.maximum(high - low, 1)).astype(np.int64)
    return np.sort(_seconds(local - offset))


def _hot_spots(
    rng: np.random.Generator, frame: EventFrame
) -> list[tuple[str, int, IntArray, float]]:
    """(kind, grid, building indices, intensity) of each hot spot."""
    n_grids = len(frame.grid_code)
    per_kind = max(2, round(n_grids / _GRIDS_PER_HOT_SPOT))
    has_buildings = frame.grid_building_count > 0
    markets = np.flatnonzero((frame.grid_kind == "market") & has_buildings)
    basic = np.flatnonzero((frame.grid_kind == "basic") & has_buildings)
    old = basic[np.argsort(-frame.grid_old_residential[basic], kind="stable")]
    chosen = {
        "market": rng.permutation(markets)[:per_kind].tolist(),
        "old_residential": old[:per_kind].tolist(),
        "construction": [],
    }
    taken = set(chosen["market"]) | set(chosen["old_residential"])
    if len(chosen["market"]) < per_kind:  # too few market grids: busy streets stand in
        rest = [g for g in rng.permutation(basic).tolist() if g not in taken]
        chosen["market"] += rest[: per_kind - len(chosen["market"])]
        taken |= set(chosen["market"])
    chosen["construction"] = [g for g in rng.permutation(basic).tolist() if g not in taken][
        :per_kind
    ]
    spots = []
    for kind in _HOT_KINDS:
        for grid in chosen[kind]:
            first = int(frame.grid_first_building[grid])
            count = int(frame.grid_building_count[grid])
            members = np.arange(first, first + count)
            centre = first + int(rng.integers(count))
            distance = np.hypot(
                frame.building_x[members] - frame.building_x[centre],
                frame.building_y[members] - frame.building_y[centre],
            )
            near = members[np.argsort(distance, kind="stable")[:_HOT_BUILDINGS]]
            spots.append((kind, int(grid), near.astype(np.int64), float(rng.lognormal(0, 0.4))))
    return spots


def _points_units(
    frame: EventFrame, kind: str, x: FloatArray, y: FloatArray, district: Array
) -> IntArray:
    """Index of the unit of `kind` covering each point (lowest id first), else -1."""
    result = np.full(len(x), NONE, dtype=np.int64)
    for u in np.flatnonzero(frame.unit_type == kind).tolist():  # units are ordered by id
        geom = frame.unit_geom[u]
        if geom is None:
            continue
        todo = np.flatnonzero((result == NONE) & (district == frame.unit_district[u]))
        if todo.size == 0:
            continue
        inside = shapely.contains_xy(geom, x[todo], y[todo])
        result[todo[inside]] = u
    return result


def _nearest_units(
    frame: EventFrame, kind: str, x: FloatArray, y: FloatArray, district: Array
) -> IntArray:
    """Index of the nearest unit of `kind` in the point's district (by location), else -1."""
    result = np.full(len(x), NONE, dtype=np.int64)
    best = np.full(len(x), np.inf)
    kx = np.cos(np.radians(30.7))
    for u in np.flatnonzero((frame.unit_type == kind) & ~np.isnan(frame.unit_x)).tolist():
        mine = district == frame.unit_district[u]
        d2 = ((x - frame.unit_x[u]) * kx) ** 2 + (y - frame.unit_y[u]) ** 2
        better = mine & (d2 < best)
        best[better], result[better] = d2[better], u
    return result


def _route(
    frame: EventFrame,
    kind: str,
    x: FloatArray,
    y: FloatArray,
    district: Array,
    per_grid: IntArray | None,
) -> IntArray:
    """Unit index for `kind` at each point: covering, else nearest, else the command centre.

    `per_grid` (the grid's unit, for types whose areas follow grid lines) saves testing points.
    """
    units = per_grid.copy() if per_grid is not None else _points_units(frame, kind, x, y, district)
    missing = units == NONE
    if missing.any():
        units[missing] = _nearest_units(frame, kind, x[missing], y[missing], district[missing])
    missing = units == NONE
    if missing.any():
        centres = _nearest_units(
            frame, DepartmentType.COMMAND_CENTRE.value, x[missing], y[missing], district[missing]
        )
        units[missing] = centres
    return units


def _stage_due(
    vc: VectorCalendar, frame: EventFrame, category: IntArray, stage: Stage, start: IntArray
) -> IntArray:
    """Deadline of `stage` started at `start` for each event: `events.deadlines.due_at`."""
    index = _LIMIT_OF[stage]
    urgent = frame.category_priority == "urgent"
    unit = np.array([limits[index].unit is LimitUnit.DAYS for limits in frame.category_limits])
    amount = np.array([limits[index].amount for limits in frame.category_limits])
    micros = np.array([round(a * HOUR) for a in amount], dtype=np.int64)
    wall = np.where(unit, np.round(amount * 24 * HOUR), micros).astype(np.int64)
    is_urgent, is_days = urgent[category], unit[category]
    result = np.empty(len(start), dtype=np.int64)
    on_clock = is_urgent
    result[on_clock] = start[on_clock] + wall[category[on_clock]]
    days = ~is_urgent & is_days
    result[days] = vc.add_days(start[days], amount[category[days]].astype(np.int64))
    hours = ~is_urgent & ~is_days
    result[hours] = vc.add_working(start[hours], micros[category[hours]])
    return result


def _seconds(instants: IntArray) -> IntArray:
    """Instants truncated to whole seconds (stored times need no microseconds)."""
    return instants // US * US


def _spend(
    vc: VectorCalendar, start: IntArray, due: IntArray, share: FloatArray, urgent: BoolArray
) -> IntArray:
    """The instant when `share` of the time from `start` to `due` is used (working time,
    or wall time for urgent events); never earlier than a minute after `start`."""
    wall = start + (share * (due - start)).astype(np.int64)
    c0 = vc.clock(start)
    worked = vc.instant(c0 + np.maximum((share * (vc.clock(due) - c0)).astype(np.int64), 1))
    return np.maximum(_seconds(np.where(urgent, wall, worked)), start + MINUTE)


def _after(vc: VectorCalendar, start: IntArray, hours: FloatArray) -> IntArray:
    """`hours` of working time after `start` (at least a minute later)."""
    moved = vc.instant(vc.clock(start) + np.maximum((hours * HOUR).astype(np.int64), 1))
    return np.maximum(_seconds(moved), start + MINUTE)


def _share(rng: np.random.Generator, median: float, sigma: float, scale: FloatArray) -> FloatArray:
    """Shares of a stage's limit used: log-normal around `median`, times the unit's factor."""
    return np.clip(rng.lognormal(np.log(median), sigma, len(scale)) * scale, 0.02, 6.0)


def generate_events(
    frame: EventFrame,
    *,
    scale: str = "demo",
    seed: int = DEFAULT_SEED,
    days: int = 60,
    now: datetime,
) -> DemoEvents:
    """Generate the demo events of `scale` for the `days` before `now` (no database)."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone, e.g. datetime.now(UTC)")
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if len(frame.grid_code) == 0 or len(frame.category_code) == 0:
        raise DemoEventsError("the frame has no grids or no categories to make events from")
    streams = [np.random.default_rng([seed, 8_800, i]) for i in range(8)]
    now_us = int(now.timestamp() * US)
    first = (now - timedelta(days=days + 2)).astimezone(frame.calendar.tz).date()
    vc = VectorCalendar(frame.calendar, first, first + timedelta(days=days + 2 + 800))
    n = round(EVENTS_PER_DAY.get(scale, EVENTS_PER_DAY["demo"]) * days)

    # When: daily and hourly rhythms.
    rng = streams[0]
    reported = _report_times(
        rng, n, now_us=now_us, days=days, calendar=frame.calendar, offset=vc.offset
    )

    # Where and what: hot spots with their own mixes, the rest spread by building count.
    rng = streams[1]
    spots = _hot_spots(rng, frame)
    hot = rng.random(n) < (_HOT_SHARE if spots else 0.0)
    n_hot = int(hot.sum())
    building = np.full(n, NONE, dtype=np.int64)
    grid = np.empty(n, dtype=np.int64)
    category = np.empty(n, dtype=np.int64)
    if n_hot:
        intensity = np.array([s[3] for s in spots])
        spot = rng.choice(len(spots), size=n_hot, p=intensity / intensity.sum())
        which = rng.geometric(0.45, n_hot) - 1  # the centre building most, its neighbours less
        hot_index = np.flatnonzero(hot)
        for k, (_, g, members, _) in enumerate(spots):
            mine = hot_index[spot == k]
            grid[mine] = g
            building[mine] = members[np.minimum(which[spot == k], len(members) - 1)]
        for kind in _HOT_KINDS:
            mine = hot_index[np.array([spots[s][0] == kind for s in spot.tolist()], dtype=bool)]
            weights = _category_weights(frame, _HOT_MIX[kind])
            category[mine] = rng.choice(len(weights), size=len(mine), p=weights)
    cold = np.flatnonzero(~hot)
    grid_weight = frame.grid_building_count + 5.0
    grid[cold] = rng.choice(len(grid_weight), size=len(cold), p=grid_weight / grid_weight.sum())
    count = frame.grid_building_count[grid[cold]]
    pick = (rng.random(len(cold)) * count).astype(np.int64)
    building[cold] = np.where(count > 0, frame.grid_first_building[grid[cold]] + pick, NONE)
    weights = _category_weights(frame, None)
    category[cold] = rng.choice(len(weights), size=len(cold), p=weights)

    # Night-time categories move to the evening of the same day.
    night = np.isin(frame.category_code[category], list(_NIGHT_CATEGORIES))
    if night.any():
        local = reported[night] + vc.offset
        evening = (20 * HOUR + rng.random(int(night.sum())) * 4 * HOUR).astype(np.int64)
        moved = local - local % DAY + evening - vc.offset
        reported[night] = _seconds(np.minimum(moved, now_us - MINUTE))
    order = np.argsort(reported, kind="stable")
    reported, grid, building, category = (
        reported[order],
        grid[order],
        building[order],
        category[order],
    )

    # A point a couple of metres off the building's centre (buildings keep 3 m from grid edges).
    jitter = rng.uniform(-1.5e-5, 1.5e-5, (n, 2))
    has_building = building != NONE
    bx = np.where(has_building, frame.building_x[np.maximum(building, 0)], frame.grid_x[grid])
    by = np.where(has_building, frame.building_y[np.maximum(building, 0)], frame.grid_y[grid])
    lon = np.where(has_building, bx + jitter[:, 0], bx)
    lat = np.where(has_building, by + jitter[:, 1], by)

    # Who reports: the grid's worker, or the command centre taking a hotline call.
    rng = streams[2]
    source_index = rng.choice(len(SOURCES), size=n, p=_SOURCE_P)
    source = np.array([s.value for s in SOURCES], dtype=object)[source_index]
    from_worker = source_index == 0
    worker_of_grid = np.array(
        [
            ws[int(h) % len(ws)] if ws else NONE
            for ws, h in zip(
                frame.grid_workers, rng.integers(0, 1 << 30, len(frame.grid_code)), strict=True
            )
        ],
        dtype=np.int64,
    )
    worker = worker_of_grid[grid]
    command = frame.command_staff_id if frame.command_staff_id is not None else NONE
    reporter = np.where(from_worker, worker, command)
    # Some grid workers file duplicates more often than others.
    sloppiness = rng.lognormal(0, 0.5, len(frame.grid_code))[grid]

    # Routing: the lead department's unit covering the point.
    district = np.array([c[:6] for c in frame.grid_code], dtype=object)[grid]
    grid_district = np.array([c[:6] for c in frame.grid_code], dtype=object)
    per_grid: dict[str, IntArray] = {}

    def route(kind: str, rows: IntArray) -> IntArray:
        """Unit index of `kind` for the events `rows` (police and fire areas point by point)."""
        if kind in _POINT_ROUTED:
            return _route(frame, kind, lon[rows], lat[rows], district[rows], None)
        if kind not in per_grid:
            per_grid[kind] = _points_units(frame, kind, frame.grid_x, frame.grid_y, grid_district)
        return _route(frame, kind, lon[rows], lat[rows], district[rows], per_grid[kind][grid[rows]])

    unit_ids = np.append(frame.unit_id, NONE)  # index -1 → no unit
    unit_index = np.full(n, NONE, dtype=np.int64)
    lead = frame.category_lead[category]
    for kind in sorted(set(lead.tolist())):
        rows = np.flatnonzero(lead == kind)
        unit_index[rows] = route(kind, rows)
    unit1 = unit_ids[unit_index]
    assisting: list[list[int]] = [[] for _ in range(n)]
    for kind in sorted({k for a in frame.category_assisting for k in a}):
        cats = [i for i, a in enumerate(frame.category_assisting) if kind in a]
        rows = np.flatnonzero(np.isin(category, cats))
        if rows.size == 0:
            continue
        found = route(kind, rows)
        kinds = np.append(frame.unit_type, "")[found]
        for row, unit, unit_kind in zip(
            rows.tolist(), unit_ids[found].tolist(), kinds.tolist(), strict=True
        ):
            # Like dispatch_event: only a unit of that very type, and never the lead unit.
            if unit != NONE and unit_kind == kind and unit != unit1[row]:
                assisting[row].append(int(unit))
    # Re-dispatch after a return goes to the street office (or the command centre).
    street_office = unit_ids[route(DepartmentType.STREET_OFFICE.value, np.arange(n))]
    centre = unit_ids[
        _nearest_units(frame, DepartmentType.COMMAND_CENTRE.value, lon, lat, district)
    ]
    unit2 = np.where((street_office != unit1) & (street_office != NONE), street_office, centre)

    # Unit performance: slow units are late, stall and fail verification more often.
    rng = streams[3]
    perf_of_unit = rng.lognormal(0, 0.3, len(frame.unit_id))
    perf = np.append(perf_of_unit, 1.0)[unit_index]

    # Branches of the loop.
    rng = streams[4]
    draw = rng.random((n, 8))
    urgent = frame.category_priority[category] == "urgent"
    needs_check = ~from_worker & frame.category_needs_check[category]
    void_check = needs_check & (draw[:, 0] < _P_VOID_AT_CHECK)
    self_resolved = from_worker & ~urgent & (draw[:, 1] < _P_SELF_RESOLVED)
    routed = unit1 != NONE
    dispatched = ~void_check & ~self_resolved & routed
    duplicate = dispatched & (draw[:, 2] < _P_DUPLICATE * sloppiness)
    returned = dispatched & ~duplicate & (draw[:, 3] < _P_RETURNED) & (unit2 != NONE)
    signed = dispatched & ~duplicate
    suspended = signed & (draw[:, 4] < _P_SUSPENDED)
    handled = signed & ~suspended
    rework = handled & (draw[:, 5] < np.minimum(_P_REWORK * perf, 0.5))
    stalls = draw[:, 6] < _P_STUCK * perf**2

    # Times, stage by stage.
    rng = streams[5]
    t = np.full((n, N_SLOTS), np.iinfo(np.int64).max, dtype=np.int64)
    active = np.zeros((n, N_SLOTS), dtype=bool)
    due = np.full((n, len(_STAGES)), NONE, dtype=np.int64)
    t[:, S_REPORT] = reported
    active[:, S_REPORT] = True
    due[:, 0] = _stage_due(vc, frame, category, Stage.CHECK, reported)
    checked_at = _spend(vc, reported, due[:, 0], _share(rng, 0.35, 0.7, np.ones(n)), urgent)
    t[:, S_CHECK] = t[:, S_VOID_CHECK] = checked_at
    active[:, S_CHECK] = needs_check & ~void_check
    active[:, S_VOID_CHECK] = void_check
    t[:, S_SELF] = reported
    active[:, S_SELF] = self_resolved
    registered = np.where(needs_check, checked_at, reported)
    dispatch_at = np.where(needs_check, _after(vc, registered, rng.exponential(1.0, n)), registered)
    t[:, S_DISPATCH] = dispatch_at
    active[:, S_DISPATCH] = dispatched
    due[:, 1] = _stage_due(vc, frame, category, Stage.SIGN, dispatch_at)
    t[:, S_VOID_DUP] = _after(vc, dispatch_at, rng.exponential(0.8, n))
    active[:, S_VOID_DUP] = duplicate
    t[:, S_RETURN] = _spend(vc, dispatch_at, due[:, 1], _share(rng, 0.5, 0.5, perf), urgent)
    t[:, S_REDISPATCH] = _after(vc, t[:, S_RETURN], rng.exponential(3.0, n))
    active[:, S_RETURN] = active[:, S_REDISPATCH] = returned
    due[:, 2] = _stage_due(vc, frame, category, Stage.SIGN, t[:, S_REDISPATCH])
    sign_from = np.where(returned, t[:, S_REDISPATCH], dispatch_at)
    sign_due = np.where(returned, due[:, 2], due[:, 1])
    unit_final = np.where(returned, unit2, unit1)
    perf_final = np.where(returned, 1.0, perf)
    t[:, S_SIGN] = _spend(vc, sign_from, sign_due, _share(rng, 0.3, 0.6, perf_final), urgent)
    active[:, S_SIGN] = signed
    due[:, 3] = _stage_due(vc, frame, category, Stage.HANDLE, t[:, S_SIGN])
    t[:, S_SUSPEND] = _spend(vc, t[:, S_SIGN], due[:, 3], rng.uniform(0.1, 0.6, n), urgent)
    active[:, S_SUSPEND] = suspended
    t[:, S_HANDLE] = _spend(vc, t[:, S_SIGN], due[:, 3], _share(rng, 0.5, 0.55, perf_final), urgent)
    active[:, S_HANDLE] = handled
    due[:, 4] = _stage_due(vc, frame, category, Stage.VERIFY, t[:, S_HANDLE])
    first_verdict = _spend(vc, t[:, S_HANDLE], due[:, 4], _share(rng, 0.3, 0.6, np.ones(n)), urgent)
    t[:, S_REWORK] = first_verdict
    active[:, S_REWORK] = active[:, S_HANDLE2] = rework
    due[:, 5] = _stage_due(vc, frame, category, Stage.HANDLE, first_verdict)
    t[:, S_HANDLE2] = _spend(
        vc, first_verdict, due[:, 5], _share(rng, 0.4, 0.5, perf_final), urgent
    )
    due[:, 6] = _stage_due(vc, frame, category, Stage.VERIFY, t[:, S_HANDLE2])
    second_verdict = _spend(
        vc, t[:, S_HANDLE2], due[:, 6], _share(rng, 0.3, 0.6, np.ones(n)), urgent
    )
    t[:, S_VERIFY] = np.where(rework, second_verdict, first_verdict)
    active[:, S_VERIFY] = handled
    due[:, 7] = _stage_due(vc, frame, category, Stage.CLOSE, t[:, S_VERIFY])
    t[:, S_CLOSE] = _after(vc, t[:, S_VERIFY], rng.exponential(1.5, n))
    active[:, S_CLOSE] = handled

    # Cut at `now` and where a case stalls: the steps left are those before the cut.
    rng = streams[6]
    slot = np.arange(N_SLOTS)
    stall_candidate = active & np.isin(slot, _STALL_SLOTS)[None, :]
    stall_candidate[:, S_DISPATCH] &= needs_check  # an instant dispatch cannot stall
    n_candidates = stall_candidate.sum(axis=1)
    nth = (rng.random(n) * n_candidates).astype(np.int64)
    rank = np.cumsum(stall_candidate, axis=1) - 1
    stall_slot = np.where(
        stalls & (n_candidates > 0),
        np.argmax(stall_candidate & (rank == nth[:, None]), axis=1),
        N_SLOTS,
    )
    late = active & (t > now_us)
    first_late = np.where(late.any(axis=1), np.argmax(late, axis=1), N_SLOTS)
    cut = np.minimum(first_late, stall_slot)
    done = active & (slot[None, :] < cut[:, None])

    # The event's state after its last step (statuses as indexes into _STATUS_VALUES).
    last = N_SLOTS - 1 - np.argmax(done[:, ::-1], axis=1)
    slot_status = np.tile(np.array([_STATUS_CODE[s] for s in SLOT_STATUS]), (n, 1))
    slot_status[:, S_REPORT] = np.where(
        needs_check, _STATUS_CODE[EventStatus.REPORTED], _STATUS_CODE[EventStatus.REGISTERED]
    )
    status = _STATUS_VALUES[slot_status[np.arange(n), last]]
    closed_at = np.where(
        done[:, S_CLOSE], t[:, S_CLOSE], np.where(done[:, S_SELF], t[:, S_SELF], NONE)
    )
    updated_at = t[np.arange(n), last]

    # Stages: started by one slot, ended by the slot that follows in the event's path.
    end_slot = np.stack(
        [
            np.where(void_check, S_VOID_CHECK, S_CHECK),
            np.where(duplicate, S_VOID_DUP, np.where(returned, S_RETURN, S_SIGN)),
            np.full(n, S_SIGN),
            np.full(n, S_HANDLE),
            np.where(rework, S_REWORK, S_VERIFY),
            np.full(n, S_HANDLE2),
            np.full(n, S_VERIFY),
            np.full(n, S_CLOSE),
        ],
        axis=1,
    )
    starts = np.array([start for _, start in _STAGES])
    exists = done[:, starts]
    exists[:, 0] &= needs_check
    rows = np.arange(n)[:, None]
    ended = exists & done[rows, end_slot]
    ended_at = np.where(ended, t[rows, end_slot], NONE)
    stage_unit = np.stack(
        [
            np.full(n, NONE),
            unit1,
            unit2,
            unit_final,
            np.full(n, NONE),
            unit_final,
            np.full(n, NONE),
            np.full(n, NONE),
        ],
        axis=1,
    )
    running = exists & ~ended
    has_running = running.any(axis=1)
    which = np.argmax(running, axis=1)
    stage_names = np.array([s.value for s, _ in _STAGES], dtype=object)
    stage = text_where(has_running, stage_names[which])
    stage_started = np.where(has_running, t[np.arange(n), starts[which]], NONE)
    stage_deadline = np.where(has_running, due[np.arange(n), which], NONE)
    suspended_at = np.where(done[:, S_SUSPEND], t[:, S_SUSPEND], NONE)

    # The unit holding the case: the last dispatch's.
    unit_id = np.where(done[:, S_REDISPATCH], unit2, np.where(done[:, S_DISPATCH], unit1, NONE))
    assisting = [a if done[i, S_DISPATCH] else [] for i, a in enumerate(assisting)]

    # Steps, in event then slot order.
    event_of_step, slot_of_step = np.nonzero(done)
    previous = np.where(done, slot[None, :], -1)
    previous = np.maximum.accumulate(previous, axis=1)  # last done slot at or before each
    prior_slot = np.full((n, N_SLOTS), -1, dtype=np.int64)
    prior_slot[:, 1:] = previous[:, :-1]
    prior = prior_slot[event_of_step, slot_of_step]
    # The first step comes "from nothing": index -1 of _STATUS_VALUES is None.
    step_from = _STATUS_VALUES[
        np.where(prior >= 0, slot_status[event_of_step, np.maximum(prior, 0)], -1)
    ]
    step_to = _STATUS_VALUES[slot_status[event_of_step, slot_of_step]]
    dispatcher = np.full(int(unit_ids.max()) + 2, NONE, dtype=np.int64)
    for unit, staff in frame.dispatcher_of_unit.items():
        if unit < len(dispatcher) - 1:
            dispatcher[unit] = staff

    def dispatcher_of(units: IntArray) -> IntArray:
        return dispatcher[units]  # index -1 is the padding slot: no dispatcher

    actor_matrix = np.stack(
        [
            reporter,  # report
            worker,  # check
            np.full(n, command),  # void
            reporter,  # self-resolve
            np.where(needs_check, command, reporter),  # dispatch
            np.full(n, command),  # void duplicate
            dispatcher_of(unit1),  # return
            np.full(n, command),  # redispatch
            dispatcher_of(unit_final),  # sign
            np.full(n, command),  # suspend
            dispatcher_of(unit_final),  # handle
            worker,  # rework
            dispatcher_of(unit_final),  # handle again
            worker,  # verify
            np.full(n, command),  # close
        ],
        axis=1,
    )
    none = np.full(n, NONE)
    unit_matrix = np.stack(
        [none, none, none, none, unit1, none, unit1, unit2, unit_final, unit_final,
         unit_final, none, unit_final, none, none],
        axis=1,
    )  # fmt: skip

    stage_event, stage_row = np.nonzero(exists)

    # What was reported.
    rng = streams[7]
    names = frame.category_name[category]
    majors = np.array([str(c)[:2] for c in frame.category_code], dtype=object)[category]
    detail_pick = rng.integers(0, 3, n)
    addresses = text_where(has_building, frame.building_address[np.maximum(building, 0)])
    description = np.array(
        [
            f"{name}：{address or '网格内'}，{_DETAILS.get(major, ('请核实处理',) * 3)[k]}"
            for name, address, major, k in zip(
                names.tolist(),
                addresses.tolist(),
                majors.tolist(),
                detail_pick.tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    void_reason = text_where(
        done[:, S_VOID_CHECK] | done[:, S_VOID_DUP],
        np.where(done[:, S_VOID_CHECK], "现场核实不属实", "重复上报"),
    )
    return DemoEvents(
        reported_at=reported,
        grid=grid,
        building=building,
        lon=lon,
        lat=lat,
        category=category,
        source=source,
        reporter_id=reporter,
        unit_id=unit_id,
        assisting=assisting,
        status=status,
        closed_at=closed_at,
        stage=stage,
        stage_started_at=stage_started,
        stage_deadline=stage_deadline,
        suspended_at=suspended_at,
        rework_count=done[:, S_REWORK].astype(np.int64),
        returned_by=np.where(done[:, S_RETURN], unit1, NONE),
        void_reason=void_reason,
        description=description,
        updated_at=updated_at,
        step_event=event_of_step.astype(np.int64),
        step_slot=slot_of_step.astype(np.int64),
        step_from=step_from,
        step_to=step_to,
        step_actor=actor_matrix[event_of_step, slot_of_step],
        step_unit=unit_matrix[event_of_step, slot_of_step],
        step_at=t[event_of_step, slot_of_step],
        stage_event=stage_event.astype(np.int64),
        stage_kind=stage_names[stage_row],
        stage_unit=stage_unit[stage_event, stage_row],
        stage_started=t[stage_event, starts[stage_row]],
        stage_due=due[stage_event, stage_row],
        stage_ended=ended_at[stage_event, stage_row],
    )
