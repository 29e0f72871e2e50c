"""What the map pages show, gathered from the domain services into `maps.model` data.

Shared by the pages (`api.pages.maps`) and the export command (`api.cli.maps`), so a
briefing file shows exactly what the page did. Only service calls here: the queries live in
`grid.generalised`, `events.map_stats`, `events.kpis` and `people.stats`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from api.hotspot_map import leader_hotspots
from events.catalog import DepartmentType
from events.devices import unit_devices
from events.exceptions import Forbidden, InvalidReport
from events.kpis import citizen_kpis
from events.map_stats import (
    MAP_ROLES,
    MAX_MARKERS,
    EventMarker,
    area_actor,
    daily_trend,
    grid_open_events,
    heat_cells,
    jurisdictions,
    major_categories,
    open_by_grid,
    overdue_events,
    panel_kpis,
    period_by_grid,
    unit_duplicates,
    unit_open_events,
    unit_outline,
)
from events.models import EventSource
from events.patrol_kpis import patrol_kpis, unit_patrol_summary
from events.recurrence import ClusterRead, unfinished_in_area
from events.schemas import CitizenKpis, KpiRow
from events.supervision import ListedCase, escalated_count, listed_cases
from gis.clock import CHINA_TZ
from grid.generalised import (
    Outline,
    admin_outlines,
    area_view,
    generalised_grids,
    grid_buildings,
    grid_names,
    tolerance_for,
)
from grid.models import AdminLevel
from maps.layers import MEASURE_KEYS
from maps.model import (
    Area,
    BuildingFigure,
    ChildArea,
    CitizenLine,
    DeviceMarker,
    DuplicatePair,
    GridFigure,
    GridMap,
    HeatPoint,
    KpiLine,
    LeaderMap,
    LeaderPanel,
    ListedMarker,
    Marker,
    PatrolFigure,
    RecurrenceMark,
    Shape,
    TrendDay,
    UnitMap,
    UnitPatrol,
)
from people.access import Actor
from people.models import StaffRole
from people.patrols import COVERAGE_READERS, week_corridors
from people.stats import population_stats, residents_by_grid, visits_due_by_building

TREND_DAYS: Final = 30
# A heat cell is about this many screen pixels wide at the zoom the page opens at.
HEAT_CELL_PIXELS: Final = 8
_CHILD_DIGITS: Final = {"city": 6, "district": 9, "street": 12, "community": 15}


def _shape(outline: Outline) -> Shape:
    return Shape(outline.code, outline.name, outline.wkb)


def _local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str | None:
    return None if moment is None else moment.astimezone(CHINA_TZ).strftime(fmt)


def _marker(e: EventMarker) -> Marker:
    return Marker(
        code=e.code,
        lon=e.lon,
        lat=e.lat,
        category=e.category,
        unit=e.unit,
        status=e.status,
        stage=e.stage,
        deadline=_local(e.deadline, "%m-%d %H:%M"),
        light=e.light,
        hours_overdue=e.hours_overdue,
        time_left=e.time_left,
    )


def _listed(case: ListedCase) -> ListedMarker:
    return ListedMarker(
        code=case.code,
        lon=case.lon,
        lat=case.lat,
        category=case.category,
        unit=case.unit,
        demand=case.demand,
        issued=_local(case.issued_at, "%Y-%m-%d") or "",
        reply_deadline=_local(case.reply_deadline, "%m-%d %H:%M") or "",
        replied=case.replied,
        status=case.status,
    )


def _recurrence(cluster: ClusterRead) -> RecurrenceMark:
    return RecurrenceMark(
        lon=cluster.lon,
        lat=cluster.lat,
        spread_m=cluster.spread_m,
        count=cluster.event_count,
        category=cluster.category_name,
        status=cluster.task_status_label,
        deadline=_local(cluster.task_deadline, "%Y-%m-%d %H:%M") or "",
        overdue=cluster.overdue,
        unit=cluster.lead_unit_name or "待指定",
    )


def _kpi_line(row: KpiRow) -> KpiLine:
    return KpiLine(
        key=row.key,
        name=row.name,
        reported=row.reported,
        registered=row.registered,
        closed=row.closed,
        open=row.open,
        overdue=row.overdue,
        closure_rate=row.closure_rate,
        on_time_closure_rate=row.on_time_closure_rate,
        on_time_sign_rate=row.on_time_sign_rate,
        score=row.score,
    )


def _citizen_line(figures: CitizenKpis) -> CitizenLine:
    counts = sorted(figures.accepted_by_source.items(), key=lambda item: (-item[1], item[0]))
    return CitizenLine(
        accepted_by_source=[(EventSource(source).label, n) for source, n in counts],
        citizen_accepted=figures.citizen_accepted,
        direct_reply_rate=figures.direct_reply_rate,
        on_time_reply_rate=figures.on_time_reply_rate,
        callback_rate=figures.callback_rate,
        satisfaction_rate=figures.satisfaction_rate,
        reopen_rate=figures.reopen_rate,
        callbacks_reached=figures.callbacks_reached,
        replies=figures.replies,
    )


def _per(part: int, whole: int, scale: float) -> float | None:
    return round(scale * part / whole, 1) if whole else None


def period_start(now: datetime, days: int) -> datetime:
    """Midnight (China time) `days - 1` days before today: the period is whole days."""
    if not 1 <= days <= 366:
        raise InvalidReport(f"days must be 1..366, got {days}")
    first: date = now.astimezone(CHINA_TZ).date() - timedelta(days=days - 1)
    return datetime.combine(first, datetime.min.time(), CHINA_TZ)


def _leader_scope(actor: Actor, area: str | None) -> tuple[str | None, Actor]:
    """The area a leader map shows (default: the actor's own) and the actor narrowed to it."""
    if actor.role not in MAP_ROLES:
        raise Forbidden(f"a {actor.role.label} ({actor.role.value}) account has no leader map")
    area = area or (actor.area_code if actor.role is not StaffRole.ADMIN else None)
    return area, area_actor(actor, area)


def leader_panel(
    session: Session, *, actor: Actor, area: str | None, days: int, now: datetime
) -> LeaderPanel:
    """The KPI part of the leader panel: indicators of the period, trend, worst 10 lists."""
    area, scoped = _leader_scope(actor, area)
    view = area_view(session, area_code=area)
    start = period_start(now, days)
    kpis = panel_kpis(session, actor=scoped, name=view.name, start=start, end=now, now=now)
    citizen = citizen_kpis(session, actor=scoped, start=start, end=now, now=now)
    trend = daily_trend(
        session,
        actor=scoped,
        prefix=view.prefix,
        today=now.astimezone(CHINA_TZ).date(),
        days=TREND_DAYS,
    )
    return LeaderPanel(
        area_name=view.name,
        days=days,
        total=_kpi_line(kpis.total),
        by_department=[_kpi_line(r) for r in kpis.by_department],
        worst_grids=[_kpi_line(r) for r in kpis.worst_grids],
        worst_units=[_kpi_line(r) for r in kpis.worst_units],
        trend=[TrendDay(d.day.isoformat(), d.reported, d.closed) for d in trend],
        citizen=_citizen_line(citizen),
    )


def _children(
    level: str,
    grids: list[GridFigure],
    names_of: Callable[[int], dict[str, str]],
) -> list[ChildArea]:
    """The areas one level down with their open and overdue events, summed from the grids."""
    digits = _CHILD_DIGITS.get(level)
    if not digits:
        return []
    names = names_of(digits)
    sums: dict[str, list[int]] = {}
    for g in grids:
        total = sums.setdefault(g.code[:digits], [0, 0])
        total[0] += g.open
        total[1] += g.overdue
    children = []
    for key, (n_open, n_overdue) in sorted(sums.items()):
        code = key if digits == 15 else key.ljust(12, "0")
        children.append(ChildArea(code, names.get(key, code), n_open, n_overdue))
    return children


def leader_data(
    session: Session,
    *,
    actor: Actor,
    area: str | None,
    days: int,
    category: str | None,
    measure: str,
    now: datetime,
    panel_url: str | None = None,
) -> tuple[LeaderMap, float]:
    """The overview of `area` (default: the actor's own) and its simplification tolerance.

    With `panel_url` the KPI panel is left for the page to fetch from there; without it the
    KPIs are computed here and inlined (an export).
    """
    area, scoped = _leader_scope(actor, area)
    view = area_view(session, area_code=area)
    tolerance = tolerance_for(view.bbox)
    prefix = view.prefix
    start = period_start(now, days)

    outlines = generalised_grids(session, prefix=prefix, tolerance=tolerance)
    counts = open_by_grid(session, actor=scoped, prefix=prefix, now=now)
    period = period_by_grid(session, actor=scoped, prefix=prefix, start=start, end=now)
    people = residents_by_grid(session, actor=actor, area_code=area)
    grids = []
    for o in outlines:
        c, k = counts.get(o.code), period.get(o.code)
        p = people.get(o.code)
        residents = p.residents if p else 0
        valid_reports = k.reported - k.voided if k else 0
        grids.append(
            GridFigure(
                code=o.code,
                name=o.name,
                wkb=o.wkb,
                open=c.open if c else 0,
                overdue=c.overdue if c else 0,
                on_time_rate=_per(k.closed_on_time, k.closed, 100) if k else None,
                events_per_1000=_per(valid_reports, residents, 1000),
                special_density=_per(p.special_groups if p else 0, residents, 1000),
                appeals=k.citizen if k else 0,
            )
        )

    streets = admin_outlines(session, level=AdminLevel.STREET, prefix=prefix, tolerance=tolerance)
    communities = admin_outlines(
        session, level=AdminLevel.COMMUNITY, prefix=prefix, tolerance=tolerance
    )
    cell = tolerance * HEAT_CELL_PIXELS
    heat = heat_cells(
        session, actor=scoped, prefix=prefix, start=start, end=now, cell_deg=cell, category=category
    )
    # Leaders get aggregates only: how many cases are overdue, not which (no markers).
    single_events = actor.role is not StaffRole.LEADER
    overdue_total, overdue = overdue_events(
        session, actor=scoped, prefix=prefix, now=now, limit=MAX_MARKERS if single_events else 0
    )
    units = {
        t: [
            _shape(j.outline)
            for j in jurisdictions(
                session, dept_types=[t], bbox=view.bbox, tolerance=tolerance, prefix=prefix
            )
        ]
        for t in (DepartmentType.POLICE, DepartmentType.FIRE)
    }

    def names_of(digits: int) -> dict[str, str]:
        if digits == 15:
            return {o.code: o.name for o in outlines}
        if digits == 6:
            districts = admin_outlines(
                session, level=AdminLevel.DISTRICT, prefix=prefix, tolerance=tolerance
            )
            return {o.code[:6]: o.name for o in districts}
        return {o.code[:digits]: o.name for o in (streets if digits == 9 else communities)}

    data = LeaderMap(
        area=Area(view.code, view.name, view.level, view.bbox, view.trail),
        generated_at=_local(now) or "",
        now=now.isoformat(),
        days=days,
        category=category or None,
        categories=major_categories(session),
        measure=measure if measure in MEASURE_KEYS else MEASURE_KEYS[0],
        grids=grids,
        streets=[_shape(o) for o in streets],
        communities=[_shape(o) for o in communities],
        police=units[DepartmentType.POLICE],
        fire=units[DepartmentType.FIRE],
        heat=[HeatPoint(c.lon, c.lat, c.count) for c in heat],
        heat_cell_deg=cell,
        overdue_total=overdue_total,
        overdue=[_marker(e) for e in overdue],
        children=_children(view.level, grids, names_of),
        residents=sum(p.residents for p in people.values()),
        special_groups=sum(p.special_groups for p in people.values()),
        panel=None
        if panel_url
        else leader_panel(session, actor=actor, area=area, days=days, now=now),
        panel_url=panel_url,
        single_events=single_events,
        listed=[_listed(c) for c in listed_cases(session, actor=scoped, prefix=prefix)],
        unanswered_orders=escalated_count(session, actor=scoped, prefix=prefix),
        hotspots=leader_hotspots(
            session,
            prefix=prefix,
            outlines=outlines,
            start=start,
            end=now,
            days=days,
            category=category,
        ),
        recurrences=[
            _recurrence(c)
            for c in unfinished_in_area(session, actor=scoped, prefix=prefix, now=now)
        ],
    )
    return data, tolerance


def unit_data(
    session: Session, *, actor: Actor, unit_id: int | None, now: datetime
) -> tuple[UnitMap, float]:
    """A department unit's map (a dispatcher's own unit, or any unit for command staff)."""
    probe = unit_outline(session, actor=actor, unit_id=unit_id, tolerance=1e-5)
    bbox = probe[4]
    tolerance = tolerance_for(bbox) if bbox else 1e-5
    uid, name, dept_label, outline, bbox = unit_outline(
        session, actor=actor, unit_id=unit_id, tolerance=tolerance
    )
    events = unit_open_events(session, actor=actor, unit_id=uid, now=now)
    pairs = unit_duplicates(session, actor=actor, unit_id=uid, now=now)
    if bbox is None:  # no area and no open events: somewhere to look at all the same
        view = area_view(session, area_code=None)
        bbox = view.bbox
    data = UnitMap(
        unit_id=uid,
        unit_name=name,
        dept_label=dept_label,
        bbox=bbox,
        generated_at=_local(now) or "",
        jurisdiction=_shape(outline) if outline else None,
        events=[_marker(e) for e in events],
        duplicates=[
            DuplicatePair(p.code, p.lon, p.lat, p.other_code, p.other_lon, p.other_lat, p.voided)
            for p in pairs
        ],
        devices=[
            DeviceMarker(
                code=d.code,
                name=d.name,
                type_name=d.type_name,
                lon=d.lon,
                lat=d.lat,
                state=d.state,
                last_value=f"{d.last_value:g}{measure}" if d.last_value is not None else None,
                alarm_event=d.alarm_event,
            )
            for d, measure in unit_devices(session, unit_id=uid)
        ],
        patrol=_unit_patrol(
            session, actor=actor, unit_id=uid, today=now.astimezone(CHINA_TZ).date()
        ),
    )
    return data, tolerance


def _unit_patrol(session: Session, *, actor: Actor, unit_id: int, today: date) -> UnitPatrol | None:
    summary = unit_patrol_summary(session, actor=actor, unit_id=unit_id, day=today)
    if summary is None:
        return None
    return UnitPatrol(**summary.model_dump(exclude={"week"}))


def grid_data(session: Session, *, actor: Actor, grid_code: str | None, now: datetime) -> GridMap:
    """One grid's map for its grid worker (or for command staff and admins)."""
    if grid_code is None:
        if actor.role is not StaffRole.GRID_WORKER or not actor.grid_codes:
            raise InvalidReport("name the grid: ?grid=<15-digit grid code>")
        grid_code = sorted(actor.grid_codes)[0]
    if not actor.can_see_grid(grid_code):
        raise Forbidden(f"grid {grid_code} is not one of your grids")
    view = area_view(session, area_code=grid_code)
    tolerance = tolerance_for(view.bbox)
    outline = generalised_grids(session, prefix=grid_code, tolerance=tolerance)[0]
    today = now.astimezone(CHINA_TZ).date()
    due = {
        d.building_id: d
        for d in visits_due_by_building(session, actor=actor, grid_code=grid_code, today=today)
    }
    buildings = []
    for b in grid_buildings(session, grid_code=grid_code):
        d = due.get(b.id)
        buildings.append(
            BuildingFigure(
                code=b.code,
                name=b.name,
                use=b.use_label,
                floors=b.floors,
                houses=b.houses,
                visits_overdue=d.overdue if d else 0,
                visits_due_soon=d.due_soon if d else 0,
                wkb=b.wkb,
            )
        )
    population = population_stats(session, actor=actor, level="grid", area_code=grid_code)
    mine = grid_names(session, codes=actor.grid_codes) if actor.grid_codes else []
    community = view.trail[-2][1] if len(view.trail) >= 2 else ""
    return GridMap(
        grid=_shape(outline),
        community=community,
        bbox=view.bbox,
        generated_at=_local(now) or "",
        buildings=buildings,
        events=[
            _marker(e) for e in grid_open_events(session, actor=actor, grid_code=grid_code, now=now)
        ],
        residents=sum(p.residents for p in population),
        my_grids=mine,
        patrols=_patrol_figures(session, actor=actor, grid_code=grid_code, today=today),
        corridors=[
            Shape(key, label, wkb)
            for key, label, wkb in week_corridors(
                session, actor=actor, grid_code=grid_code, day=today
            )
        ],
    )


def _patrol_figures(
    session: Session, *, actor: Actor, grid_code: str, today: date
) -> list[PatrolFigure]:
    """This week's patrol coverage of the grid per worker (none for roles without figures)."""
    if actor.role not in COVERAGE_READERS:
        return []
    return [
        PatrolFigure(
            worker=r.worker_name,
            buildings_passed=r.buildings_passed,
            buildings=r.buildings,
            share=r.building_share,
            hours=round(r.patrol_s / 3600, 1),
            km=round(r.distance_m / 1000, 2),
            stops=len(r.stops),
            gaps=len(r.gaps),
            events_per_hour=r.events_per_patrol_hour,
            proactive_rate=r.proactive_rate,
        )
        for r in patrol_kpis(session, actor=actor, day=today, grid_code=grid_code)
    ]


__all__ = ["grid_data", "leader_data", "leader_panel", "period_start", "unit_data"]
