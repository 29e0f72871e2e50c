"""What the map pages are drawn from: plain data handed over by the caller (no database here).

Geometry is WKB in CGCS2000 (SRID 4490) lon/lat, already generalised for the view; rates are
percentages or per-1,000 figures, None when their denominator is zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["served", "export"]
BasemapKind = Literal["none", "osm", "tianditu", "xyz"]
Bbox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat (CGCS2000)


@dataclass(frozen=True)
class View:
    """How a page is delivered: served by the app or exported as one file, and its basemap.

    `shift_gcj02`: the basemap's tiles are GCJ-02 (Gaode/Tencent), so overlays are moved
    onto them. `tiles_url` is the vector-tile template (`…/{layer}/{z}/{x}/{y}.mvt`), None
    when there is no tile server (an exported file).
    """

    mode: Mode = "served"
    basemap: BasemapKind = "none"
    basemap_url: str | None = None
    tianditu_key: str | None = None
    shift_gcj02: bool = False
    vendor_url: str = "/static/vendor"
    tiles_url: str | None = "/tiles/{layer}/{z}/{x}/{y}.mvt"
    event_link: str | None = "/console?event={code}"


@dataclass(frozen=True)
class Shape:
    """An outline to draw: code, name, WKB geometry."""

    code: str
    name: str
    wkb: bytes


@dataclass(frozen=True)
class GridFigure:
    """One grid of the choropleth with every measure the selector offers."""

    code: str
    name: str
    wkb: bytes
    open: int  # 在办事件 now
    overdue: int  # 超期事件 now
    on_time_rate: float | None  # 按期结案率 %, events reported in the period
    events_per_1000: float | None  # valid reports in the period per 1,000 residents
    special_density: float | None  # special-group members per 1,000 residents
    appeals: int = 0  # 诉求热点: citizens' cases (12345 热线 …) reported in the period


@dataclass(frozen=True)
class Marker:
    """An event on the map (code, place, category, unit, state): never who reported it."""

    code: str
    lon: float
    lat: float
    category: str
    unit: str | None
    status: str
    stage: str | None
    deadline: str | None  # local time, as shown
    light: str | None  # green / yellow / red
    hours_overdue: float | None
    time_left: str | None = None  # in working time, as the API words it: 超期 2天


@dataclass(frozen=True)
class ListedMarker:
    """A case under 挂牌督办 (listed supervision) not yet lifted: place, category, unit, the
    demand and its dates; never who reported it."""

    code: str
    lon: float
    lat: float
    category: str
    unit: str
    demand: str
    issued: str  # local date, as shown
    reply_deadline: str  # local time, as shown
    replied: bool
    status: str


@dataclass(frozen=True)
class DeviceMarker:
    """A sensor (物联设备) on the map: what it is, its state and last value, its open alarm."""

    code: str
    name: str
    type_name: str
    lon: float
    lat: float
    state: str  # normal / breaking / alarm / offline
    last_value: str | None  # with its unit, as shown
    alarm_event: str | None


@dataclass(frozen=True)
class DuplicatePair:
    """Two events that may be (or were voided as) the same case."""

    code: str
    lon: float
    lat: float
    other_code: str
    other_lon: float
    other_lat: float
    voided: bool


@dataclass(frozen=True)
class HeatPoint:
    """A heat-map cell: mean position of its events and how many there are."""

    lon: float
    lat: float
    count: int


@dataclass(frozen=True)
class KpiLine:
    """One row of a KPI table (an area, a grid, a department or a unit)."""

    key: str | None
    name: str
    reported: int
    registered: int
    closed: int
    open: int
    overdue: int
    closure_rate: float | None  # 结案率, 0..1
    on_time_closure_rate: float | None  # 按期结案率, 0..1
    on_time_sign_rate: float | None  # 按时签收率, 0..1
    score: float | None  # 指标得分 0–100 (the indicators' composite, events.kpis)


@dataclass(frozen=True)
class TrendDay:
    """Events reported and closed on one day."""

    day: str  # YYYY-MM-DD
    reported: int
    closed: int


@dataclass(frozen=True)
class ChildArea:
    """A street, community or grid inside the shown area, with its event counts now."""

    code: str
    name: str
    open: int
    overdue: int


@dataclass(frozen=True)
class Area:
    """The area a page shows: code (None: the whole city), name, level, extent, parents."""

    code: str | None
    name: str
    level: str
    bbox: Bbox
    trail: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CitizenLine:
    """The citizen-service figures (12345 热线 and the other citizen channels) of the period."""

    accepted_by_source: list[tuple[str, int]]  # (source label, 受理量), largest first
    citizen_accepted: int
    direct_reply_rate: float | None  # 直办率, 0..1
    on_time_reply_rate: float | None  # 按时答复率, 0..1
    callback_rate: float | None  # 回访率, 0..1
    satisfaction_rate: float | None  # 满意率, 0..1
    reopen_rate: float | None  # 重办率, 0..1
    callbacks_reached: int
    replies: int


@dataclass(frozen=True)
class LeaderPanel:
    """The KPI part of the leader map's side panel (the slow part: loaded after the map)."""

    area_name: str
    days: int
    total: KpiLine
    by_department: list[KpiLine]
    worst_grids: list[KpiLine]
    worst_units: list[KpiLine]
    trend: list[TrendDay]
    citizen: CitizenLine | None = None


@dataclass(frozen=True)
class RecurrenceMark:
    """An unfinished 源头治理 task of a recurrence cluster (maps.recurrence): centroid
    (CGCS2000), how far its events spread (metres), count, category, task status and deadline
    as shown, the lead unit's name; never who reported what."""

    lon: float
    lat: float
    spread_m: float
    count: int
    category: str
    status: str
    deadline: str
    overdue: bool
    unit: str


@dataclass(frozen=True)
class LeaderMap:
    """Everything the leader overview (领导驾驶舱) draws."""

    area: Area
    generated_at: str  # local time the figures were read, as shown
    now: str  # the same instant, ISO 8601
    days: int  # the period: the last `days` days
    category: str | None
    categories: list[tuple[str, str]]
    measure: str
    grids: list[GridFigure]
    streets: list[Shape]
    communities: list[Shape]
    police: list[Shape]
    fire: list[Shape]
    heat: list[HeatPoint]
    heat_cell_deg: float
    overdue_total: int
    overdue: list[Marker]
    children: list[ChildArea]
    residents: int
    special_groups: int
    # The KPIs inline (an export), or None and `panel_url` for the page to fetch them.
    panel: LeaderPanel | None = None
    panel_url: str | None = None
    # Single events (overdue markers, the open-events tile layer) for command staff and admins;
    # a leader's map has aggregates only, and `overdue` is then empty.
    single_events: bool = True
    # Cases under 挂牌督办 until lifted: shown to leaders too (the listing is addressed to them).
    listed: list[ListedMarker] = field(default_factory=list)
    # Supervision orders still unanswered after being escalated to the leader (a count).
    unanswered_orders: int = 0
    # Gi* hot spots of the area's district (maps/hotspots.py); None above a district.
    hotspots: HotspotLayer | None = None
    # Unfinished 源头治理 tasks of recurrence clusters (maps.recurrence): counts, no persons.
    recurrences: list[RecurrenceMark] = field(default_factory=list)


@dataclass(frozen=True)
class UnitPatrol:
    """This week's patrol figures over the grids of a unit's jurisdiction."""

    grids: int
    workers: int
    patrols: int
    hours: float
    km: float
    mean_building_share: float | None
    proactive_rate: float | None


@dataclass(frozen=True)
class UnitMap:
    """A department unit's map: its jurisdiction, open events by light, duplicates."""

    unit_id: int
    unit_name: str
    dept_label: str
    bbox: Bbox
    generated_at: str
    jurisdiction: Shape | None
    events: list[Marker]
    duplicates: list[DuplicatePair]
    devices: list[DeviceMarker] = field(default_factory=list)  # the sensors the unit owns
    # The week's patrols (巡查) of the grids in its area, for command staff (not dispatchers).
    patrol: UnitPatrol | None = None


@dataclass(frozen=True)
class BuildingFigure:
    """A building of a grid map with counts only (houses, visits due)."""

    code: str
    name: str | None
    use: str
    floors: int | None
    houses: int
    visits_overdue: int
    visits_due_soon: int
    wkb: bytes


@dataclass(frozen=True)
class PatrolFigure:
    """One grid worker's patrols of the grid this week (name None for leaders)."""

    worker: str | None
    buildings_passed: int
    buildings: int
    share: float | None
    hours: float
    km: float
    stops: int
    gaps: int
    events_per_hour: float | None
    proactive_rate: float | None


@dataclass(frozen=True)
class GridMap:
    """A grid worker's map: the grid, its buildings and houses, open events, visits due."""

    grid: Shape
    community: str
    bbox: Bbox
    generated_at: str
    buildings: list[BuildingFigure]
    events: list[Marker]
    residents: int
    my_grids: list[tuple[str, str]]
    # This week's patrols (巡查): per worker figures, and the corridors the tracks passed.
    patrols: list[PatrolFigure] = field(default_factory=list)
    corridors: list[Shape] = field(default_factory=list)


@dataclass(frozen=True)
class HotspotCell:
    """One grid of the hot-spot layer: its Gi* class, z-score, event count and trend."""

    code: str
    name: str
    wkb: bytes
    hot_class: str  # 热点99/热点95/热点90/冷点99/冷点95/冷点90/不显著
    z: float
    count: int
    trend: str | None  # 新出现/持续/消退


@dataclass(frozen=True)
class HotspotLayer:
    """The hot-spot layer of the leader map: the grids in view and what the classes mean."""

    title: str
    cells: list[HotspotCell]
    meanings: dict[str, str]  # class → the legend's sentence (Chinese)
