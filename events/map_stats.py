"""Event figures for the map dashboards (一张图): per-grid measures, heat cells, overdue and
open events with their lights, duplicates, a daily trend and the KPI panel, scoped.

Everything here is an aggregate or an event's code, place, category and unit: no description,
no reporter, no caller — what a leader may see. Area filters are grid-code ranges so the
(grid_code, reported_at) index serves them. Lights and "overdue" follow `events.kpis`: an
open event whose clock runs (not suspended) and whose running stage's deadline has passed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from events.catalog import DepartmentType
from events.deadlines import clock
from events.exceptions import Forbidden, InvalidReport, NotFound
from events.kpis import CLOSED_STATES, kpis
from events.models import (
    CITIZEN_SOURCES,
    Department,
    DepartmentUnit,
    Event,
    EventCategory,
    EventStage,
    EventStatus,
    EventStep,
)
from events.query import visible_to
from events.schemas import KpiRow
from events.workflow import OPEN_STATES
from gis.clock import CHINA_TZ
from grid.exceptions import InvalidQuery
from grid.generalised import Outline
from grid.models import Grid
from grid.service import area_prefix
from people.access import Actor, grid_scope
from people.models import StaffRole

MAP_ROLES: Final = frozenset({StaffRole.LEADER, StaffRole.COMMAND, StaffRole.ADMIN})
MAX_MARKERS: Final = 1_000
# Rows of the worst-10 lists need this many registered events to be ranked at all.
MIN_REGISTERED_TO_RANK: Final = 3


@dataclass(frozen=True)
class GridEventCounts:
    """Open and overdue events of one grid now."""

    open: int
    overdue: int


@dataclass(frozen=True)
class GridPeriodCounts:
    """Events of one grid reported in a period, by their state now (as in `events.kpis`)."""

    reported: int
    voided: int
    closed: int  # closed or self-resolved
    closed_on_time: int  # closed with no stage ended late
    citizen: int  # citizens' cases (12345 热线 …) not voided: the 诉求热点 measure


@dataclass(frozen=True)
class HeatCell:
    """Events reported in one heat cell: their mean position (CGCS2000) and count."""

    lon: float
    lat: float
    count: int


@dataclass(frozen=True)
class EventMarker:
    """One event on a map: code, place (CGCS2000), category, unit, stage and light."""

    code: str
    lon: float
    lat: float
    category: str  # 大类/小类 names
    unit: str | None
    status: str  # label
    stage: str | None  # label of the running stage
    deadline: datetime | None
    light: str | None  # green / yellow / red, None when no clock runs
    hours_overdue: float | None
    time_left: str | None = None  # 剩余 3小时 / 超期 2天 / 挂账 剩余 6小时 (events.deadlines.clock)


@dataclass(frozen=True)
class DuplicateLink:
    """An event and an earlier one it may duplicate (or was voided as a duplicate of)."""

    code: str
    lon: float
    lat: float
    other_code: str
    other_lon: float
    other_lat: float
    voided: bool  # True: voided as a duplicate; False: an open candidate pair


@dataclass(frozen=True)
class DayCount:
    """Events reported and closed on one day (China time)."""

    day: date
    reported: int
    closed: int


@dataclass(frozen=True)
class PanelKpis:
    """The side panel of the leader map: totals, overdue by department, worst grids/units."""

    total: KpiRow
    by_department: list[KpiRow]
    worst_grids: list[KpiRow]
    worst_units: list[KpiRow]


@dataclass(frozen=True)
class Jurisdiction:
    """A department unit's area (辖区) outline."""

    outline: Outline
    dept_type: str


def _range(column: SQLColumnExpression[str | None], prefix: str) -> ColumnElement[bool]:
    """`column` starts with the digit string `prefix` ('' matches everything)."""
    if not prefix:
        return true()
    if set(prefix) == {"9"}:
        return column >= prefix
    return and_(column >= prefix, column < str(int(prefix) + 1).zfill(len(prefix)))


def area_actor(actor: Actor, area_code: str | None) -> Actor:
    """The actor's scope narrowed to `area_code`; Forbidden when the area is outside it.

    The result is only for reading figures: an admin looking at one street reads as command
    staff of that street would.
    """
    if not area_code:
        return actor
    try:
        wanted = area_prefix(area_code)
    except InvalidQuery as exc:
        raise InvalidReport(str(exc)) from exc
    if actor.role is StaffRole.ADMIN:
        return dataclasses.replace(actor, role=StaffRole.COMMAND, area_code=area_code)
    if actor.role is StaffRole.GRID_WORKER:
        if wanted not in actor.grid_codes:
            raise Forbidden(f"grid {area_code} is not one of your grids")
        return dataclasses.replace(actor, grid_codes=frozenset({wanted}))
    own = area_prefix(actor.area_code) if actor.area_code else None
    if own is None or not wanted.startswith(own):
        raise Forbidden(
            f"area {area_code} is outside your area ({actor.area_code or 'none'}); "
            "open an area inside it"
        )
    return dataclasses.replace(actor, area_code=area_code)


def _require(actor: Actor, roles: frozenset[StaffRole], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"a {actor.role.label} ({actor.role.value}) account may not see {what}")


def _where(actor: Actor, prefix: str) -> list[ColumnElement[bool]]:
    return [grid_scope(actor, Event.grid_code), _range(Event.grid_code, prefix)]


def _aware(moment: datetime, label: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidReport(f"{label} must carry a time zone (e.g. +08:00)")
    return moment


def open_by_grid(
    session: Session, *, actor: Actor, prefix: str, now: datetime
) -> dict[str, GridEventCounts]:
    """Open and overdue events per grid inside `prefix` now (grids with none are absent)."""
    _require(actor, MAP_ROLES | {StaffRole.GRID_WORKER}, "event counts")
    _aware(now, "now")
    overdue = and_(Event.suspended_at.is_(None), Event.stage_deadline < now)
    rows = session.execute(
        select(Event.grid_code, func.count(), func.count().filter(overdue))
        .where(Event.status.in_(OPEN_STATES), *_where(actor, prefix))
        .group_by(Event.grid_code)
    )
    return {code: GridEventCounts(int(o), int(d)) for code, o, d in rows if code}


def period_by_grid(
    session: Session, *, actor: Actor, prefix: str, start: datetime, end: datetime
) -> dict[str, GridPeriodCounts]:
    """Per grid inside `prefix`, events reported in [start, end): reported, voided, closed and
    closed on time, and citizens' cases — the counts behind 按期结案率, events per 1,000
    residents and 诉求热点, in one pass
    (`events.kpis` computes these and much more; the choropleth needs only these)."""
    _require(actor, MAP_ROLES, "event counts")
    closed = Event.status.in_(CLOSED_STATES)
    late = (
        select(EventStage.id)
        .where(EventStage.event_id == Event.id, EventStage.on_time.is_(False))
        .exists()
    )
    rows = session.execute(
        select(
            Event.grid_code,
            func.count(),
            func.count().filter(Event.status == EventStatus.VOIDED),
            func.count().filter(closed),
            func.count().filter(closed, ~late),
            func.count().filter(
                Event.source.in_(sorted(CITIZEN_SOURCES)), Event.status != EventStatus.VOIDED
            ),
        )
        .where(
            Event.reported_at >= _aware(start, "start"),
            Event.reported_at < _aware(end, "end"),
            *_where(actor, prefix),
        )
        .group_by(Event.grid_code)
    )
    return {code: GridPeriodCounts(*map(int, counts)) for code, *counts in rows if code}


def heat_cells(
    session: Session,
    *,
    actor: Actor,
    prefix: str,
    start: datetime,
    end: datetime,
    cell_deg: float,
    category: str | None = None,
) -> list[HeatCell]:
    """Events reported in [start, end) inside `prefix`, counted per square cell of
    `cell_deg` degrees (CGCS2000) at their mean position: a heat map that never sends
    the events themselves. `category` is a major (2-digit) or subcategory (4-digit) code."""
    _require(actor, MAP_ROLES, "the event heat map")
    if cell_deg <= 0:
        raise InvalidReport("the heat-map cell size must be positive")
    x, y = func.ST_X(Event.geom), func.ST_Y(Event.geom)
    gx, gy = func.floor(x / cell_deg), func.floor(y / cell_deg)
    where = [
        Event.reported_at >= _aware(start, "start"),
        Event.reported_at < _aware(end, "end"),
        Event.status != EventStatus.VOIDED,
        Event.geom.is_not(None),  # a case waiting to be located has no place on the map yet
        *_where(actor, prefix),
    ]
    if category:
        if not category.isdigit() or len(category) not in (2, 4):
            raise InvalidReport(f"category '{category}' is not a 2- or 4-digit category code")
        where.append(_range(Event.category_code, category))
    rows = session.execute(
        select(func.avg(x), func.avg(y), func.count()).where(*where).group_by(gx, gy)
    )
    return [HeatCell(float(lon), float(lat), int(n)) for lon, lat, n in rows]


def _markers(
    session: Session, where: Sequence[ColumnElement[bool]], now: datetime, limit: int
) -> list[EventMarker]:
    """Events matching `where` as markers, most overdue first, with their lights."""
    rows = session.execute(
        select(
            Event,
            func.ST_X(Event.geom),
            func.ST_Y(Event.geom),
            EventCategory.major_name,
            EventCategory.name,
            DepartmentUnit.name,
        )
        .join(EventCategory, EventCategory.id == Event.category_id)
        .outerjoin(DepartmentUnit, DepartmentUnit.id == Event.unit_id)
        .where(*where, Event.geom.is_not(None))  # unlocated cases: the queue, not the map
        .order_by(Event.stage_deadline.asc().nulls_last(), Event.code)
        .limit(limit)
    ).all()
    markers = []
    for event, lon, lat, major_name, name, unit in rows:
        running = clock(session, event=event, now=now)
        shown = running.light if running else None
        late = (
            (now - event.stage_deadline).total_seconds() / 3600
            if event.stage_deadline is not None
            and event.suspended_at is None
            and event.stage_deadline < now
            else None
        )
        markers.append(
            EventMarker(
                code=event.code,
                lon=float(lon),
                lat=float(lat),
                category=f"{major_name}/{name}",
                unit=unit,
                status=event.status.label,
                stage=event.stage.label if event.stage else None,
                deadline=event.stage_deadline,
                light=shown.value if shown else None,
                hours_overdue=round(late, 1) if late is not None else None,
                time_left=running.text if running else None,
            )
        )
    return markers


def _overdue_clause(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Event.status.in_(OPEN_STATES),
        Event.suspended_at.is_(None),
        Event.stage_deadline < now,
    ]


def overdue_events(
    session: Session, *, actor: Actor, prefix: str, now: datetime, limit: int = MAX_MARKERS
) -> tuple[int, list[EventMarker]]:
    """How many events inside `prefix` are overdue now, and the `limit` most overdue."""
    _require(actor, MAP_ROLES, "overdue events")
    where = [*_overdue_clause(_aware(now, "now")), *_where(actor, prefix)]
    total = session.scalar(select(func.count()).select_from(Event).where(*where)) or 0
    return int(total), _markers(session, where, now, limit)


def grid_open_events(
    session: Session, *, actor: Actor, grid_code: str, now: datetime, limit: int = MAX_MARKERS
) -> list[EventMarker]:
    """The open events of one grid with their lights (a grid worker's own grids only)."""
    if not actor.can_see_grid(grid_code):
        raise Forbidden(f"grid {grid_code} is outside your scope")
    where = [Event.status.in_(OPEN_STATES), Event.grid_code == grid_code]
    return _markers(session, where, _aware(now, "now"), limit)


def building_open_events(
    session: Session,
    *,
    actor: Actor,
    building_id: int,
    district_code: str,
    grid_code: str | None,
    now: datetime,
    limit: int = MAX_MARKERS,
) -> list[EventMarker]:
    """The open events placed at one building, with their lights (its grid in the scope)."""
    if not actor.can_see_grid(grid_code):
        raise Forbidden(f"grid {grid_code} is outside your scope")
    where = [
        Event.status.in_(OPEN_STATES),
        Event.building_id == building_id,
        Event.district_code == district_code,
    ]
    return _markers(session, where, _aware(now, "now"), limit)


def _unit_of(session: Session, actor: Actor, unit_id: int | None) -> DepartmentUnit:
    """The unit a dispatcher works in, or the one command staff asked for."""
    if actor.role is StaffRole.DISPATCHER:
        if actor.department_unit_id is None:
            raise Forbidden("this dispatcher account belongs to no department unit")
        if unit_id not in (None, actor.department_unit_id):
            raise Forbidden("a dispatcher sees only the map of their own unit")
        unit_id = actor.department_unit_id
    elif actor.role not in (StaffRole.COMMAND, StaffRole.ADMIN):
        raise Forbidden(f"a {actor.role.label} ({actor.role.value}) account has no unit map")
    if unit_id is None:
        raise InvalidReport("name the department unit: ?unit=<id>")
    unit = session.get(DepartmentUnit, unit_id)
    if unit is None:
        raise NotFound(f"department unit {unit_id} does not exist")
    if actor.role is StaffRole.COMMAND and not _serves_area(session, unit, actor.area_code):
        # Refused like an event of another area in the API (403), naming only the unit the
        # caller asked for: its map would show cases that belong to another command centre.
        raise Forbidden(
            f"department unit {unit_id} serves no part of your area ({actor.area_code or 'none'}); "
            "open the map of a unit working in your area (该单位不在您的管辖范围内)"
        )
    return unit


def _serves_area(session: Session, unit: DepartmentUnit, area_code: str | None) -> bool:
    """Whether `unit` works in the area: its jurisdiction meets one of the area's grids, or,
    without a jurisdiction, it belongs to the area's district."""
    if not area_code:
        return False
    try:
        prefix = area_prefix(area_code)
    except InvalidQuery:
        return False
    # A unit works in its own district only, whatever its jurisdiction polygon overlaps.
    if not unit.district_code.startswith(prefix[:6]):
        return False
    if unit.geom is None:
        return True
    jurisdiction = select(DepartmentUnit.geom).where(DepartmentUnit.id == unit.id)
    meets = (
        select(Grid.code)
        .where(
            Grid.code.startswith(prefix, autoescape=True),
            func.ST_Intersects(Grid.geom, jurisdiction.scalar_subquery()),
        )
        .exists()
    )
    return bool(session.scalar(select(meets)))


def unit_outline(
    session: Session, *, actor: Actor, unit_id: int | None, tolerance: float
) -> tuple[int, str, str, Outline | None, tuple[float, float, float, float] | None]:
    """A unit's id, name, department type, jurisdiction outline and the extent to open on
    (its area, else its open events, else None)."""
    unit = _unit_of(session, actor, unit_id)
    row = session.execute(
        select(
            func.ST_AsBinary(func.ST_SimplifyPreserveTopology(DepartmentUnit.geom, tolerance)),
            func.ST_XMin(DepartmentUnit.geom),
            func.ST_YMin(DepartmentUnit.geom),
            func.ST_XMax(DepartmentUnit.geom),
            func.ST_YMax(DepartmentUnit.geom),
        ).where(DepartmentUnit.id == unit.id)
    ).one()
    outline = Outline(unit.code, unit.name, bytes(row[0])) if row[0] is not None else None
    bbox: tuple[float, float, float, float] | None = None
    if row[1] is not None:
        bbox = (float(row[1]), float(row[2]), float(row[3]), float(row[4]))
    else:
        extent = session.execute(
            select(
                func.ST_XMin(func.ST_Extent(Event.geom)),
                func.ST_YMin(func.ST_Extent(Event.geom)),
                func.ST_XMax(func.ST_Extent(Event.geom)),
                func.ST_YMax(func.ST_Extent(Event.geom)),
            ).where(Event.unit_id == unit.id, Event.status.in_(OPEN_STATES))
        ).one()
        if extent[0] is not None:
            bbox = (float(extent[0]), float(extent[1]), float(extent[2]), float(extent[3]))
    return unit.id, unit.name, unit.dept_type.label, outline, bbox


def unit_open_events(
    session: Session, *, actor: Actor, unit_id: int | None, now: datetime
) -> list[EventMarker]:
    """The open events a unit holds, with their lights (red first)."""
    unit = _unit_of(session, actor, unit_id)
    # Only the cases the caller may read in the API too (a unit can span several areas).
    where = [Event.status.in_(OPEN_STATES), Event.unit_id == unit.id, visible_to(actor)]
    return _markers(session, where, _aware(now, "now"), MAX_MARKERS)


def unit_duplicates(
    session: Session, *, actor: Actor, unit_id: int | None, now: datetime, days: int = 30
) -> list[DuplicateLink]:
    """Duplicates around a unit's events: open events filed with duplicate candidates, and
    events voided as duplicates in the last `days` days, each linked to the other event."""
    unit = _unit_of(session, actor, unit_id)
    other = aliased(Event)
    seen = select(Event.id).where(visible_to(actor))
    x, y = func.ST_X(Event.geom), func.ST_Y(Event.geom)
    ox, oy = func.ST_X(other.geom), func.ST_Y(other.geom)
    links: list[DuplicateLink] = []
    voided = session.execute(
        select(Event.code, x, y, other.code, ox, oy)
        .join(other, other.id == Event.duplicate_of_id)
        .where(
            or_(Event.unit_id == unit.id, other.unit_id == unit.id),
            Event.reported_at >= _aware(now, "now") - timedelta(days=days),
            Event.id.in_(seen),
            other.id.in_(seen),
            Event.geom.is_not(None),
            other.geom.is_not(None),
        )
        .order_by(Event.code)
    )
    links += [DuplicateLink(c, a, b, oc, oa, ob, True) for c, a, b, oc, oa, ob in voided]
    candidates = (
        select(
            EventStep.event_id,
            func.jsonb_array_elements_text(EventStep.data["duplicate_candidates"]).label("code"),
        )
        .join(Event, Event.id == EventStep.event_id)
        .where(
            EventStep.action == "report",
            Event.unit_id == unit.id,
            Event.status.in_(OPEN_STATES),
            func.jsonb_typeof(EventStep.data["duplicate_candidates"]) == "array",
        )
        .subquery()
    )
    pairs = session.execute(
        select(Event.code, x, y, other.code, ox, oy)
        .join(candidates, candidates.c.event_id == Event.id)
        .join(other, other.code == candidates.c.code)
        .where(
            Event.id.in_(seen),
            other.id.in_(seen),
            Event.geom.is_not(None),
            other.geom.is_not(None),
        )
        .order_by(Event.code, other.code)
    )
    links += [DuplicateLink(c, a, b, oc, oa, ob, False) for c, a, b, oc, oa, ob in pairs]
    return links


def daily_trend(
    session: Session, *, actor: Actor, prefix: str, today: date, days: int = 30
) -> list[DayCount]:
    """Events reported and closed per day (China time) over the `days` days up to `today`."""
    _require(actor, MAP_ROLES, "the event trend")
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), CHINA_TZ)
    counts: dict[date, list[int]] = {first + timedelta(days=i): [0, 0] for i in range(days)}
    for column, slot, extra in (
        (Event.reported_at, 0, Event.status != EventStatus.VOIDED),
        (Event.closed_at, 1, Event.status.in_([EventStatus.CLOSED, EventStatus.SELF_RESOLVED])),
    ):
        day = func.date(func.timezone("Asia/Shanghai", column))
        rows = session.execute(
            select(day, func.count())
            .where(column >= since, extra, *_where(actor, prefix))
            .group_by(day)
        )
        for when, n in rows:
            if when in counts:
                counts[when][slot] = int(n)
    return [DayCount(d, r, c) for d, (r, c) in sorted(counts.items())]


def _total(rows: list[KpiRow], name: str) -> KpiRow:
    """One row adding up `rows` (every event is in exactly one of them)."""
    handled = sum(r.handled for r in rows)
    hours = sum((r.mean_handling_hours or 0.0) * r.handled for r in rows)
    # Every count of a row adds up; the derived rates are recomputed from the sums.
    fields = [f for f, info in KpiRow.model_fields.items() if info.annotation is int]
    sums = {f: sum(getattr(r, f) for r in rows) for f in fields}
    return KpiRow(
        key=None, name=name, **sums, mean_handling_hours=hours / handled if handled else None
    )


def _worst(rows: list[KpiRow], n: int = 10) -> list[KpiRow]:
    ranked = [
        r
        for r in rows
        if r.key is not None and r.score is not None and r.registered >= MIN_REGISTERED_TO_RANK
    ]
    return sorted(ranked, key=lambda r: (r.score, -r.overdue, r.key))[:n]


def _by_department(session: Session, by_unit: list[KpiRow]) -> list[KpiRow]:
    """Unit rows added up per department (every event has one unit, so nothing counts twice)."""
    ids = [int(r.key) for r in by_unit if r.key]
    departments = dict(
        session.execute(
            select(DepartmentUnit.id, Department.id)
            .join(Department, Department.id == DepartmentUnit.department_id)
            .where(DepartmentUnit.id.in_(ids))
        ).all()
    )
    names = dict(session.execute(select(Department.id, Department.name)).all())
    groups: dict[int | None, list[KpiRow]] = {}
    for row in by_unit:
        groups.setdefault(departments.get(int(row.key)) if row.key else None, []).append(row)
    return [
        _total(rows, names.get(dept, "（未派遣）") if dept else "（未派遣）").model_copy(
            update={"key": str(dept) if dept else None}
        )
        for dept, rows in groups.items()
    ]


def panel_kpis(
    session: Session,
    *,
    actor: Actor,
    name: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> PanelKpis:
    """KPIs of the actor's (narrowed) scope for the events reported in [start, end):
    the total, overdue by department, and the 10 lowest-scoring grids and units."""
    _require(actor, MAP_ROLES, "the KPI panel")
    by_grid = kpis(session, actor=actor, start=start, end=end, by="grid", now=now)
    by_unit = kpis(session, actor=actor, start=start, end=end, by="unit", now=now)
    by_department = _by_department(session, by_unit)
    return PanelKpis(
        total=_total(by_grid, name),
        by_department=sorted(by_department, key=lambda r: (-r.overdue, -r.reported, r.name)),
        worst_grids=_worst(by_grid),
        worst_units=_worst(by_unit),
    )


def jurisdictions(
    session: Session,
    *,
    dept_types: Sequence[DepartmentType],
    bbox: tuple[float, float, float, float],
    tolerance: float,
    prefix: str = "",
) -> list[Jurisdiction]:
    """Areas of the units of `dept_types` that overlap `bbox` (CGCS2000), simplified; only the
    units of the district (or city) the area `prefix` lies in, when given."""
    envelope = func.ST_MakeEnvelope(*bbox, 4490)
    rows = session.execute(
        select(
            DepartmentUnit.code,
            DepartmentUnit.name,
            DepartmentUnit.dept_type,
            func.ST_AsBinary(func.ST_SimplifyPreserveTopology(DepartmentUnit.geom, tolerance)),
        )
        .where(
            DepartmentUnit.dept_type.in_(list(dept_types)),
            DepartmentUnit.active,
            DepartmentUnit.geom.is_not(None),
            DepartmentUnit.geom.op("&&")(envelope),
            DepartmentUnit.district_code.startswith(prefix[:6], autoescape=True),
        )
        .order_by(DepartmentUnit.code)
    )
    return [Jurisdiction(Outline(c, n, bytes(w)), t.value) for c, n, t, w in rows]


def major_categories(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the current major categories (大类), by code."""
    rows = session.execute(
        select(EventCategory.major_code, EventCategory.major_name)
        .where(EventCategory.valid_to.is_(None))
        .distinct()
        .order_by(EventCategory.major_code)
    )
    return [(code, name) for code, name in rows]


__all__ = [
    "MAP_ROLES",
    "DayCount",
    "DuplicateLink",
    "EventMarker",
    "GridEventCounts",
    "GridPeriodCounts",
    "HeatCell",
    "Jurisdiction",
    "PanelKpis",
    "area_actor",
    "building_open_events",
    "daily_trend",
    "grid_open_events",
    "heat_cells",
    "jurisdictions",
    "major_categories",
    "open_by_grid",
    "overdue_events",
    "panel_kpis",
    "period_by_grid",
    "unit_duplicates",
    "unit_open_events",
    "unit_outline",
]
