"""Patrols (巡查): a grid worker starts a patrol of one of their grids on the phone, the phone
sends its GPS fixes in batches (kept offline and sent later), and the worker ends it.

Points are rows of `patrol_point`, one per patrol and instant, inserted with ON CONFLICT DO
NOTHING: a batch sent twice (its answer was lost) adds nothing, and a batch that commits is
kept whole, so a crash loses no acknowledged point. The track's LineString is made from the
points when it is read, split where no point came for longer than the gap limit: across a
gap (phone off) nobody knows where the worker went, so the straight line there neither counts
as distance nor passes buildings.

Distances are geodesic metres (pyproj on GRS80, PostGIS geography for "within 30 m of a
building"): storage is CGCS2000 degrees, never measured as they are.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pyproj
import shapely
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.clock import CHINA_TZ
from gis.config import get_settings
from gis.crs import STORAGE_SRID, CoordinateError, from_storage_geometry, to_storage_many
from grid.models import Building
from people.access import READ_AGGREGATES, Actor, grid_scope, require_role
from people.exceptions import AlreadyClosed, Forbidden, InvalidRecord, NotFound
from people.models import Patrol, PatrolPoint, Staff, StaffGrid, StaffRole
from people.schemas import (
    PatrolCoverage,
    PatrolPage,
    PatrolPoints,
    PatrolRead,
    PointsAdded,
    TrackGap,
    TrackStop,
)

PATROLLERS = frozenset({StaffRole.GRID_WORKER})
# Tracks show where a person walked: their own worker, and the command centre of the area.
# Leaders see aggregates only (coverage figures), dispatchers nothing.
TRACK_READERS = frozenset({StaffRole.GRID_WORKER, StaffRole.COMMAND, StaffRole.ADMIN})
COVERAGE_READERS = READ_AGGREGATES
# A phone's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=2)
# A patrol started offline is sent when the phone is back online: at most this late.
MAX_OFFLINE = timedelta(days=2)
MAX_PATROL = timedelta(hours=16)

_GEOD = pyproj.Geod(ellps="GRS80")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidRecord(
            f"{name} {value.isoformat()} has no time zone; send it with one, e.g. "
            "2026-12-03T09:30:00+08:00 (时间须带时区)"
        )
    return value


def patrol_not_visible(key: str) -> NotFound:
    """The one answer for a patrol that does not exist or is outside the caller's scope."""
    return NotFound(f"patrol {key} does not exist or is not yours (该巡查不存在或不在您的范围内)")


def _own_patrol(session: Session, actor: Actor, key: str, *, lock: bool) -> Patrol:
    require_role(actor, PATROLLERS, "record patrols (巡查)")
    query = select(Patrol).where(Patrol.key == key, Patrol.staff_id == actor.staff_id)
    if lock:
        query = query.with_for_update()
    patrol = session.scalars(query).one_or_none()
    if patrol is None:
        raise patrol_not_visible(key)
    return patrol


def _read(patrol: Patrol, points: Sequence[_Fix]) -> PatrolRead:
    pieces = _pieces(points, timedelta(minutes=get_settings().patrol_gap_minutes))
    end = patrol.ended_at or (points[-1].t if points else patrol.started_at)
    return PatrolRead(
        key=patrol.key,
        staff_id=patrol.staff_id,
        grid_code=patrol.grid_code,
        started_at=patrol.started_at,
        ended_at=patrol.ended_at,
        points=len(points),
        distance_m=round(sum(_length_m(p) for p in pieces), 1),
        duration_s=max((end - patrol.started_at).total_seconds(), 0.0),
    )


def start_patrol(
    session: Session,
    *,
    actor: Actor,
    key: str,
    grid_code: str | None = None,
    started_at: datetime | None = None,
) -> tuple[PatrolRead, bool]:
    """Start a patrol of one of my grids; the same key again returns it. (patrol, created)"""
    require_role(actor, PATROLLERS, "start a patrol (开始巡查)")
    existing = session.scalars(
        select(Patrol).where(Patrol.key == key, Patrol.staff_id == actor.staff_id)
    ).one_or_none()
    if existing is not None:
        return _read(existing, _fixes(session, existing)), False
    if session.scalar(select(Patrol.id).where(Patrol.key == key)) is not None:
        raise InvalidRecord(f"patrol key {key} is taken; make a new UUID for a new patrol")
    grid = grid_code or min(actor.grid_codes, default=None)
    if grid is None or grid not in actor.grid_codes:
        mine = ", ".join(sorted(actor.grid_codes)) or "none"
        raise Forbidden(
            f"grid {grid_code} is not one of your grids ({mine}); patrol your own grids"
        )
    now = _now()
    started = _aware(started_at, "started_at") if started_at else now
    if started > now + CLOCK_SKEW:
        raise InvalidRecord(
            f"started_at {started.isoformat()} is in the future; check the phone's clock "
            "(开始时间不能晚于现在)"
        )
    if started < now - MAX_OFFLINE:
        raise InvalidRecord(
            f"started_at {started.isoformat()} is more than {MAX_OFFLINE.days} days ago; "
            "a patrol is sent within two days of its start (开始时间过早)"
        )
    running = session.scalar(
        select(Patrol.key).where(Patrol.staff_id == actor.staff_id, Patrol.ended_at.is_(None))
    )
    if running is not None:
        raise AlreadyClosed(
            f"patrol {running} is still running; end it before starting another "
            "(请先结束正在进行的巡查)"
        )
    # A resend racing the first request (both found no patrol above) inserts nothing here and
    # answers with the patrol the first one made.
    made = session.scalar(
        insert(Patrol)
        .values(
            key=key,
            staff_id=actor.staff_id,
            grid_code=grid,
            district_code=grid[:6],
            started_at=started,
        )
        .on_conflict_do_nothing(index_elements=["key", "district_code"])
        .returning(Patrol.id)
    )
    patrol = session.scalars(
        select(Patrol).where(Patrol.key == key, Patrol.staff_id == actor.staff_id)
    ).one_or_none()
    if patrol is None:
        raise InvalidRecord(f"patrol key {key} is taken; make a new UUID for a new patrol")
    return _read(patrol, _fixes(session, patrol)), made is not None


_INSERT_POINTS = text(
    """
    INSERT INTO patrol_point (patrol_id, district_code, recorded_at, geom, accuracy_m)
    SELECT :patrol_id, :district_code, u.t, ST_SetSRID(ST_MakePoint(u.x, u.y), :srid), u.a
    FROM unnest(CAST(:ts AS timestamptz[]), CAST(:xs AS float8[]), CAST(:ys AS float8[]),
                CAST(:acc AS float8[])) AS u(t, x, y, a)
    ON CONFLICT DO NOTHING
    """
)


def append_points(session: Session, *, actor: Actor, key: str, batch: PatrolPoints) -> PointsAdded:
    """Store a batch of my patrol's GPS fixes, converted to CGCS2000; fixes the patrol already
    has are skipped. Every fix must lie within the patrol's start..end (or now, while it runs):
    otherwise the whole batch is refused and nothing is stored."""
    patrol = _own_patrol(session, actor, key, lock=False)
    if patrol.purged_at is not None:
        raise AlreadyClosed(f"patrol {key}'s track was deleted (privacy period); nothing to add")
    now = _now()
    until = patrol.ended_at or min(now + CLOCK_SKEW, patrol.started_at + MAX_PATROL)
    times = [_aware(p.t, "t") for p in batch.points]
    for i, t in enumerate(times):
        if not patrol.started_at <= t <= until:
            raise InvalidRecord(
                f"point {i + 1} at {t.isoformat()} is outside the patrol "
                f"({patrol.started_at.isoformat()} .. {until.isoformat()}); only points "
                "recorded between the start and the end are kept (轨迹点须在巡查起止时间内)"
            )
    try:
        lons, lats = to_storage_many(
            [p.lon for p in batch.points], [p.lat for p in batch.points], batch.crs
        )
    except CoordinateError as exc:
        raise InvalidRecord(f"{exc} (坐标有误)") from None
    result = session.execute(
        _INSERT_POINTS,
        {
            "patrol_id": patrol.id,
            "district_code": patrol.district_code,
            "srid": STORAGE_SRID,
            "ts": times,
            "xs": lons.tolist(),
            "ys": lats.tolist(),
            "acc": [p.accuracy for p in batch.points],
        },
    )
    added = int(result.rowcount)  # type: ignore[attr-defined]
    return PointsAdded(added=added, already_stored=len(times) - added)


def end_patrol(
    session: Session, *, actor: Actor, key: str, ended_at: datetime | None = None
) -> PatrolRead:
    """End my patrol (default: now); ending it again at the same time returns it unchanged."""
    patrol = _own_patrol(session, actor, key, lock=True)
    now = _now()
    ended = _aware(ended_at, "ended_at") if ended_at else now
    if patrol.ended_at is not None:
        if ended_at is None or ended == patrol.ended_at:
            return _read(patrol, _fixes(session, patrol))
        raise AlreadyClosed(
            f"patrol {key} ended at {patrol.ended_at.isoformat()} already (该巡查已结束)"
        )
    if ended > now + CLOCK_SKEW:
        raise InvalidRecord(f"ended_at {ended.isoformat()} is in the future; check the clock")
    if ended < patrol.started_at:
        raise InvalidRecord(
            f"ended_at {ended.isoformat()} is before the start {patrol.started_at.isoformat()} "
            "(结束时间早于开始时间)"
        )
    fixes = _fixes(session, patrol)
    if fixes and fixes[-1].t > ended:
        raise InvalidRecord(
            f"ended_at {ended.isoformat()} is before the last point kept "
            f"({fixes[-1].t.isoformat()}); send the end time the phone recorded"
        )
    patrol.ended_at = min(ended, patrol.started_at + MAX_PATROL)
    session.flush()
    return _read(patrol, fixes)


def list_my_patrols(session: Session, *, actor: Actor, page: int, page_size: int) -> PatrolPage:
    """My patrols, newest first."""
    require_role(actor, PATROLLERS, "list their patrols")
    where = Patrol.staff_id == actor.staff_id
    total = session.scalar(select(func.count()).select_from(Patrol).where(where)) or 0
    patrols = session.scalars(
        select(Patrol)
        .where(where)
        .order_by(Patrol.started_at.desc(), Patrol.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    fixes = _fixes_of(session, [p.id for p in patrols])
    return PatrolPage(
        total=total,
        page=page,
        page_size=page_size,
        items=[_read(p, fixes.get(p.id, [])) for p in patrols],
    )


def patrol_track(
    session: Session, *, actor: Actor, key: str, crs: str = "cgcs2000"
) -> dict[str, Any]:
    """A patrol's track as a GeoJSON Feature: a MultiLineString of the pieces between gaps
    (lon/lat in `crs`), each vertex's time in `properties.times`, and its stops and gaps.

    Grid workers read their own patrols; command and admin those of their area's grids.
    """
    require_role(actor, TRACK_READERS, "see patrol tracks (巡查轨迹)")
    query = select(Patrol).where(Patrol.key == key)
    if actor.role is StaffRole.GRID_WORKER:
        query = query.where(Patrol.staff_id == actor.staff_id)
    else:
        query = query.where(grid_scope(actor, Patrol.grid_code))
    patrol = session.scalars(query).one_or_none()
    if patrol is None:
        raise patrol_not_visible(key)
    settings = get_settings()
    fixes = _fixes(session, patrol)
    pieces = _pieces(fixes, timedelta(minutes=settings.patrol_gap_minutes))
    lines = [p for p in pieces if len(p) > 1]
    geometry: dict[str, Any] | None = None
    if lines:
        shape = shapely.MultiLineString([[(f.lon, f.lat) for f in p] for p in lines])
        try:
            shape = from_storage_geometry(shape, crs)
        except CoordinateError as exc:
            raise InvalidRecord(str(exc)) from None
        geometry = shapely.geometry.mapping(shape)
    read = _read(patrol, fixes)
    return {
        "type": "Feature",
        "id": patrol.key,
        "geometry": geometry,
        "properties": {
            **read.model_dump(mode="json"),
            "crs": crs,
            "times": [[f.t.isoformat() for f in p] for p in lines],
            "stops": [s.model_dump(mode="json") for s in _stops(patrol.key, fixes)],
            "gaps": [g.model_dump(mode="json") for g in _gaps(patrol, fixes)],
        },
    }


# --- geometry of a track ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Fix:
    t: datetime
    lon: float
    lat: float


def _fixes_of(
    session: Session,
    patrol_ids: Sequence[int],
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, list[_Fix]]:
    """Each patrol's fixes in time order (CGCS2000 lon/lat), optionally within [since, until)."""
    if not patrol_ids:
        return {}
    query = select(
        PatrolPoint.patrol_id,
        PatrolPoint.recorded_at,
        func.ST_X(PatrolPoint.geom),
        func.ST_Y(PatrolPoint.geom),
    ).where(PatrolPoint.patrol_id.in_(patrol_ids))
    if since is not None:
        query = query.where(PatrolPoint.recorded_at >= since)
    if until is not None:
        query = query.where(PatrolPoint.recorded_at < until)
    found: dict[int, list[_Fix]] = defaultdict(list)
    for patrol_id, t, lon, lat in session.execute(
        query.order_by(PatrolPoint.patrol_id, PatrolPoint.recorded_at)
    ):
        found[patrol_id].append(_Fix(t, lon, lat))
    return found


def _fixes(session: Session, patrol: Patrol) -> list[_Fix]:
    return _fixes_of(session, [patrol.id]).get(patrol.id, [])


def _pieces(fixes: Sequence[_Fix], gap: timedelta) -> list[list[_Fix]]:
    """The fixes cut wherever two in a row are more than `gap` apart."""
    pieces: list[list[_Fix]] = []
    for fix in fixes:
        if pieces and fix.t - pieces[-1][-1].t <= gap:
            pieces[-1].append(fix)
        else:
            pieces.append([fix])
    return pieces


def _length_m(piece: Sequence[_Fix]) -> float:
    """Geodesic length in metres of a piece of track."""
    if len(piece) < 2:
        return 0.0
    lons = np.array([f.lon for f in piece])
    lats = np.array([f.lat for f in piece])
    _, _, dist = _GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    return float(np.sum(dist))


def _distance_m(a: _Fix, b: _Fix) -> float:
    return float(_GEOD.inv(a.lon, a.lat, b.lon, b.lat)[2])


def _stops(key: str, fixes: Sequence[_Fix]) -> list[TrackStop]:
    """Runs of fixes within the stop radius of the run's first fix lasting longer than the limit."""
    settings = get_settings()
    radius = settings.patrol_stop_radius_m
    limit = timedelta(minutes=settings.patrol_stop_minutes)
    stops = []
    i = 0
    while i < len(fixes):
        j = i
        while j + 1 < len(fixes) and _distance_m(fixes[i], fixes[j + 1]) <= radius:
            j += 1
        if fixes[j].t - fixes[i].t > limit:
            stops.append(
                TrackStop(
                    patrol_key=key,
                    start=fixes[i].t,
                    end=fixes[j].t,
                    minutes=round((fixes[j].t - fixes[i].t).total_seconds() / 60, 1),
                    lon=fixes[i].lon,
                    lat=fixes[i].lat,
                )
            )
        i = j + 1
    return stops


def _gaps(patrol: Patrol, fixes: Sequence[_Fix], until: datetime | None = None) -> list[TrackGap]:
    """Stretches longer than the gap limit with no fix: between fixes, after the start and
    before the end."""
    limit = timedelta(minutes=get_settings().patrol_gap_minutes)
    end = patrol.ended_at or until
    marks = [patrol.started_at, *(f.t for f in fixes), *([end] if end else [])]
    return [
        TrackGap(
            patrol_key=patrol.key,
            start=a,
            end=b,
            minutes=round((b - a).total_seconds() / 60, 1),
        )
        for a, b in itertools.pairwise(marks)
        if b - a > limit
    ]


# --- coverage ---------------------------------------------------------------------------------


def week_bounds(day: date) -> tuple[date, datetime, datetime]:
    """The Monday of `day`'s week and the week's [start, end) instants in China time."""
    if not 2000 <= day.year <= 2100:
        raise InvalidRecord(f"week {day.isoformat()} is outside 2000..2100; give a day of the week")
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time(), tzinfo=CHINA_TZ)
    return monday, start, start + timedelta(days=7)


_PASSED_BUILDINGS = text(
    """
    SELECT count(*) FROM building b
    WHERE b.grid_code = :grid_code
      AND ST_DWithin(b.geom::geography, ST_GeomFromWKB(:track, :srid)::geography, :metres)
    """
)


def coverage(
    session: Session,
    *,
    actor: Actor,
    day: date,
    grid_code: str | None = None,
    staff_id: int | None = None,
) -> list[PatrolCoverage]:
    """Per grid worker and grid of the caller's scope, the week of `day`: buildings of the grid
    passed within `patrol_pass_m` (by any of the worker's tracks that week), time on patrols of
    the grid, their distance, stops and gaps. Grid workers see their own rows only."""
    require_role(actor, COVERAGE_READERS, "see patrol coverage (巡查覆盖)")
    settings = get_settings()
    monday, since, until = week_bounds(day)
    pairs_query = (
        select(StaffGrid.staff_id, StaffGrid.grid_code, Staff.full_name)
        .join(Staff, Staff.id == StaffGrid.staff_id)
        .where(Staff.role == StaffRole.GRID_WORKER, grid_scope(actor, StaffGrid.grid_code))
        .order_by(StaffGrid.grid_code, StaffGrid.staff_id)
    )
    if actor.role is StaffRole.GRID_WORKER:
        pairs_query = pairs_query.where(StaffGrid.staff_id == actor.staff_id)
    if grid_code is not None:
        pairs_query = pairs_query.where(StaffGrid.grid_code == grid_code)
    if staff_id is not None:
        pairs_query = pairs_query.where(StaffGrid.staff_id == staff_id)
    pairs = session.execute(pairs_query).all()
    workers = sorted({s for s, _, _ in pairs})
    patrols = session.scalars(
        select(Patrol)
        .where(
            Patrol.staff_id.in_(workers),
            Patrol.started_at < until,
            or_(Patrol.ended_at.is_(None), Patrol.ended_at >= since),
        )
        .order_by(Patrol.started_at)
    ).all()
    fixes = _fixes_of(session, [p.id for p in patrols], since, until)
    gap = timedelta(minutes=settings.patrol_gap_minutes)
    pieces = {p.id: _pieces(fixes.get(p.id, []), gap) for p in patrols}
    track_of: dict[int, Any] = {}
    for worker in workers:
        # A piece of one fix is a line of length 0 there: it passes what lies near that fix.
        parts = [
            [(f.lon, f.lat) for f in (piece if len(piece) > 1 else piece * 2)]
            for p in patrols
            if p.staff_id == worker
            for piece in pieces[p.id]
        ]
        track_of[worker] = shapely.MultiLineString(parts) if parts else None
    total_buildings = dict(
        session.execute(
            select(Building.grid_code, func.count())
            .where(Building.grid_code.in_({g for _, g, _ in pairs}))
            .group_by(Building.grid_code)
        ).all()
    )
    rows = []
    now = _now()
    for worker, grid, name in pairs:
        mine = [p for p in patrols if p.staff_id == worker and p.grid_code == grid]
        track = track_of[worker]
        passed = 0
        if track is not None:
            passed = (
                session.scalar(
                    _PASSED_BUILDINGS,
                    {
                        "grid_code": grid,
                        "track": shapely.to_wkb(track),
                        "srid": STORAGE_SRID,
                        "metres": settings.patrol_pass_m,
                    },
                )
                or 0
            )
        intervals = []
        for p in mine:
            own = fixes.get(p.id, [])
            end = p.ended_at or (own[-1].t if own else p.started_at)
            intervals.append((max(p.started_at, since), min(end, until, now)))
        buildings = total_buildings.get(grid, 0)
        rows.append(
            PatrolCoverage(
                staff_id=worker,
                worker_name=None if actor.role is StaffRole.LEADER else name,
                grid_code=grid,
                week=monday,
                buildings=buildings,
                buildings_passed=passed,
                building_share=round(passed / buildings, 4) if buildings else None,
                patrols=len(mine),
                patrol_s=sum(max((b - a).total_seconds(), 0.0) for a, b in intervals),
                distance_m=round(sum(_length_m(pc) for p in mine for pc in pieces[p.id]), 1),
                stops=[s for p in mine for s in _stops(p.key, fixes.get(p.id, []))],
                gaps=[
                    g
                    for p in mine
                    for g in _gaps(p, fixes.get(p.id, []), until=min(until, now))
                    if g.start < until
                ],
                intervals=intervals,
            )
        )
    return rows


_CORRIDOR = text(
    """
    SELECT ST_AsBinary(ST_Buffer(ST_GeomFromWKB(:track, :srid)::geography, :metres)::geometry)
    """
)


def week_corridors(
    session: Session, *, actor: Actor, grid_code: str, day: date
) -> list[tuple[str, str, bytes]]:
    """The corridors (within `patrol_pass_m` of the track, gaps left out) of the week's patrols
    of a grid the actor may see tracks of, as (patrol key, label, WKB polygon in CGCS2000):
    a grid worker's own, all of them for command and admin; none for other roles."""
    if actor.role not in TRACK_READERS or not actor.can_see_grid(grid_code):
        return []
    settings = get_settings()
    _, since, until = week_bounds(day)
    query = select(Patrol).where(
        Patrol.grid_code == grid_code,
        Patrol.started_at < until,
        or_(Patrol.ended_at.is_(None), Patrol.ended_at >= since),
    )
    if actor.role is StaffRole.GRID_WORKER:
        query = query.where(Patrol.staff_id == actor.staff_id)
    patrols = session.scalars(query.order_by(Patrol.started_at)).all()
    fixes = _fixes_of(session, [p.id for p in patrols], since, until)
    gap = timedelta(minutes=settings.patrol_gap_minutes)
    corridors = []
    for patrol in patrols:
        parts = [
            [(f.lon, f.lat) for f in (piece if len(piece) > 1 else piece * 2)]
            for piece in _pieces(fixes.get(patrol.id, []), gap)
        ]
        if not parts:
            continue
        wkb = session.scalar(
            _CORRIDOR,
            {
                "track": shapely.to_wkb(shapely.MultiLineString(parts)),
                "srid": STORAGE_SRID,
                "metres": settings.patrol_pass_m,
            },
        )
        started = patrol.started_at.astimezone(CHINA_TZ).strftime("%m-%d %H:%M")
        corridors.append((patrol.key, f"巡查 {started}", bytes(wkb)))
    return corridors


# --- privacy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    """What a prune did: patrols thinned and points they lost, patrols whose points were deleted."""

    thinned_patrols: int
    thinned_points: int
    purged_patrols: int
    purged_points: int


def prune_tracks(session: Session, *, now: datetime | None = None) -> PruneResult:
    """Thin the tracks of patrols ended more than `patrol_thin_after_days` ago to every
    `patrol_thin_keep_every`-th point (the first and last kept), and delete the points of those
    ended more than `patrol_delete_after_days` ago. Each patrol is thinned once."""
    settings = get_settings()
    now = now or _now()
    purge_before = now - timedelta(days=settings.patrol_delete_after_days)
    thin_before = now - timedelta(days=settings.patrol_thin_after_days)
    purge_ids = session.scalars(
        select(Patrol.id).where(Patrol.ended_at < purge_before, Patrol.purged_at.is_(None))
    ).all()
    purged_points = 0
    if purge_ids:
        purged_points = session.execute(
            delete(PatrolPoint).where(PatrolPoint.patrol_id.in_(purge_ids))
        ).rowcount  # type: ignore[attr-defined]
        session.execute(update(Patrol).where(Patrol.id.in_(purge_ids)).values(purged_at=now))
    thin_ids = session.scalars(
        select(Patrol.id).where(
            Patrol.ended_at < thin_before, Patrol.thinned_at.is_(None), Patrol.purged_at.is_(None)
        )
    ).all()
    thinned_points = 0
    if thin_ids:
        ranked = (
            select(
                PatrolPoint.patrol_id,
                PatrolPoint.recorded_at,
                func.row_number()
                .over(partition_by=PatrolPoint.patrol_id, order_by=PatrolPoint.recorded_at)
                .label("n"),
                func.count().over(partition_by=PatrolPoint.patrol_id).label("total"),
            )
            .where(PatrolPoint.patrol_id.in_(thin_ids))
            .subquery()
        )
        doomed = select(ranked.c.patrol_id, ranked.c.recorded_at).where(
            (ranked.c.n - 1) % settings.patrol_thin_keep_every != 0,
            ranked.c.n != ranked.c.total,
        )
        thinned_points = session.execute(
            delete(PatrolPoint).where(
                func.row(PatrolPoint.patrol_id, PatrolPoint.recorded_at).in_(doomed)
            )
        ).rowcount  # type: ignore[attr-defined]
        session.execute(update(Patrol).where(Patrol.id.in_(thin_ids)).values(thinned_at=now))
    session.flush()
    return PruneResult(
        thinned_patrols=len(thin_ids),
        thinned_points=thinned_points,
        purged_patrols=len(purge_ids),
        purged_points=purged_points,
    )


__all__ = [
    "PATROLLERS",
    "TRACK_READERS",
    "PruneResult",
    "append_points",
    "coverage",
    "end_patrol",
    "list_my_patrols",
    "patrol_track",
    "prune_tracks",
    "start_patrol",
    "week_bounds",
    "week_corridors",
]
