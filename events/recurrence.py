"""Recurrence (重复发生) → 源头治理 tasks: events of one category repeated in one place.

At least `min_events` events of one category, each within `radius_m` metres of another, reported
in the last `window_days` days (RECURRENCE_* settings, a category's `recurrence_rule` row
overriding them) form a cluster: PostGIS `ST_ClusterDBSCAN` over the events of each district and
category, in the city's Gauss-Krüger zone (`METRIC_SRID`, metres) since storage is degrees.
Voided, refused and transferred events do not count, nor events already in a cluster.

`detect` runs daily (`gridgov analyse recurrences`) and on demand, and is idempotent: new events
within the radius of an open cluster's centroid or of any of its members (same category, inside
the window) join that cluster rather than start another. Each new cluster is a task for the lead
unit: the department type leading most of its events (else the category's dispatch rule), and
the unit of that type covering the centroid (`events.dispatch.choose_unit`), due
RECURRENCE_TASK_LIMIT of working time later. Lifecycle: open (待接收) → accepted (治理中) by the
unit → closed (已办结) with a report of what was changed at the source.

Reading the tasks and their lifecycle are in `events.recurrence_tasks`, the schemas in
`events.recurrence_schemas`; both are re-exported here. Like every service this never commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, or_, select, text, true
from sqlalchemy.orm import Session, aliased

from events.calendar import Limit
from events.catalog import DepartmentType
from events.dispatch import choose_unit, decide_departments
from events.exceptions import Forbidden, InvalidReport, NotFound
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventStatus,
    RecurrenceCluster,
    RecurrenceMember,
    RecurrenceRule,
    RecurrenceStatus,
)
from events.recurrence_schemas import (
    ClusterClose,
    ClusterDetail,
    ClusterRead,
    DetectionInput,
    DetectionRun,
    Threshold,
)
from events.recurrence_tasks import (
    LEADS,
    READERS,
    accept,
    close,
    current_category,
    get_cluster,
    list_clusters,
    list_visible,
    unfinished_in_area,
    visible_cluster,
)
from events.reference import work_calendar
from gis.clock import CHINA_TZ
from gis.config import get_settings
from gis.crs import distance_m
from gis.db import STORAGE_SRID
from grid.service import area_prefix
from people.access import Actor
from people.models import StaffRole

# Not a repeat of anything: thrown out (作废, 不予立案) or now another district's case.
NOT_COUNTED: Final = (EventStatus.VOIDED, EventStatus.REFUSED, EventStatus.TRANSFERRED)
RUNNERS: Final = frozenset({StaffRole.COMMAND, StaffRole.ADMIN})
MAX_JOIN_ROUNDS: Final = 50


# -- thresholds ----------------------------------------------------------------------------------


def default_threshold() -> Threshold:
    """The RECURRENCE_* settings."""
    s = get_settings()
    return Threshold(
        min_events=s.recurrence_min_events,
        radius_m=s.recurrence_radius_m,
        window_days=s.recurrence_window_days,
    )


def set_threshold(session: Session, *, category_code: str, threshold: Threshold | None) -> None:
    """Give a category its own threshold, or (None) put it back on the settings' default."""
    current = session.scalar(
        select(EventCategory.id).where(
            EventCategory.code == category_code, EventCategory.valid_to.is_(None)
        )
    )
    if current is None:
        raise NotFound(f"事件类别{category_code}不存在 (category {category_code} does not exist)")
    rule = session.get(RecurrenceRule, category_code)
    if threshold is None:
        if rule is not None:
            session.delete(rule)
    elif rule is None:
        session.add(RecurrenceRule(category_code=category_code, **threshold.model_dump()))
    else:
        for key, value in threshold.model_dump().items():
            setattr(rule, key, value)
    session.flush()


def _thresholds(session: Session) -> dict[str, Threshold]:
    rules = session.scalars(select(RecurrenceRule)).all()
    return {
        r.category_code: Threshold(
            min_events=r.min_events, radius_m=r.radius_m, window_days=r.window_days
        )
        for r in rules
    }


# -- detection -----------------------------------------------------------------------------------


def _metric(geom: Any) -> Any:
    """`geom` (SRID 4490) in the city's Gauss-Krüger zone, metres."""
    return func.ST_Transform(geom, get_settings().metric_srid)


def _uncounted() -> ColumnElement[bool]:
    """Events that may still join a cluster: located, counted, in no cluster yet."""
    return and_(
        Event.geom.is_not(None),
        Event.status.notin_(NOT_COUNTED),
        ~exists().where(
            RecurrenceMember.event_id == Event.id,
            RecurrenceMember.district_code == Event.district_code,
        ),
    )


def end_of_day(on: date) -> datetime:
    """The last instant of `on` in China."""
    return datetime.combine(on + timedelta(days=1), time.min, CHINA_TZ) - timedelta(microseconds=1)


@dataclass
class _Tally:
    created: list[int]
    extended: set[int]
    linked: int = 0


def detect(
    session: Session,
    *,
    district_code: str | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> DetectionRun:
    """Find recurrence clusters among the events reported up to `until` (default now), in one
    district or every district with events; extend open clusters, raise tasks for new ones."""
    at = now or datetime.now(UTC)
    end = until or at
    if end.utcoffset() is None or at.utcoffset() is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    overrides = _thresholds(session)
    longest = max([default_threshold().window_days, *(t.window_days for t in overrides.values())])
    if district_code is not None:
        districts = [district_code]
    else:
        districts = list(
            session.scalars(
                select(Event.district_code)
                .where(Event.reported_at >= end - timedelta(days=longest), Event.reported_at <= end)
                .distinct()
                .order_by(Event.district_code)
            )
        )
    tally = _Tally(created=[], extended=set())
    for district in districts:
        # One run per district at a time: two runs must not both raise the same cluster.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"recurrence:{district}"}
        )
        _join_open_clusters(session, district=district, until=end, at=at, tally=tally)
        _new_clusters(
            session, district=district, until=end, at=at, overrides=overrides, tally=tally
        )
    return DetectionRun(
        until=end,
        districts=districts,
        created=tally.created,
        extended=sorted(tally.extended - set(tally.created)),
        events_linked=tally.linked,
    )


def _join_open_clusters(
    session: Session, *, district: str, until: datetime, at: datetime, tally: _Tally
) -> None:
    """Link uncounted events near an open cluster (its centroid or any member) to it, until no
    more join (a joined event can bring the next one within reach)."""
    member = aliased(Event)
    cluster = RecurrenceCluster
    near_member = exists().where(
        RecurrenceMember.cluster_id == cluster.id,
        RecurrenceMember.district_code == cluster.district_code,
        member.id == RecurrenceMember.event_id,
        member.district_code == RecurrenceMember.district_code,
        func.ST_DWithin(_metric(member.geom), _metric(Event.geom), cluster.radius_m),
    )
    window_start = literal(until) - func.make_interval(0, 0, 0, cluster.window_days)
    query = (
        select(Event.id, cluster.id)
        .join(
            cluster,
            and_(
                cluster.district_code == Event.district_code,
                cluster.category_code == Event.category_code,
                cluster.status != RecurrenceStatus.CLOSED,
            ),
        )
        .where(
            Event.district_code == district,
            Event.reported_at <= until,
            Event.reported_at >= window_start,
            _uncounted(),
            or_(
                func.ST_DWithin(_metric(cluster.geom), _metric(Event.geom), cluster.radius_m),
                near_member,
            ),
        )
        .order_by(Event.id, cluster.id)
    )
    touched: set[int] = set()
    for _ in range(MAX_JOIN_ROUNDS):
        pairs: dict[int, int] = {}
        for event_id, cluster_id in session.execute(query):
            pairs.setdefault(event_id, cluster_id)  # near two clusters: the older one
        if not pairs:
            break
        _link(session, cluster_ids=pairs, district=district, at=at)
        tally.linked += len(pairs)
        touched.update(pairs.values())
    for cluster_id in sorted(touched):
        found = session.get(RecurrenceCluster, cluster_id)
        assert found is not None
        _refresh(session, found)
        tally.extended.add(cluster_id)


def _new_clusters(
    session: Session,
    *,
    district: str,
    until: datetime,
    at: datetime,
    overrides: dict[str, Threshold],
    tally: _Tally,
) -> None:
    """ST_ClusterDBSCAN over the uncounted events of each category (grouped by threshold)."""
    by_threshold: dict[Threshold, list[str]] = {}
    for code, threshold in overrides.items():
        by_threshold.setdefault(threshold, []).append(code)
    # The default for every category without an override, then each override's categories.
    runs: list[tuple[Threshold, ColumnElement[bool]]] = [
        (
            default_threshold(),
            Event.category_code.notin_(list(overrides)) if overrides else true(),
        ),
        *((t, Event.category_code.in_(codes)) for t, codes in by_threshold.items()),
    ]
    categories: dict[str, EventCategory] = {}
    for threshold, which in runs:
        for (category, _), event_ids in _dbscan(
            session, district=district, until=until, threshold=threshold, which=which
        ).items():
            if category not in categories:  # one look-up per category and run
                categories[category] = current_category(session, category)
            cluster = _raise_task(
                session,
                district=district,
                category=categories[category],
                event_ids=event_ids,
                threshold=threshold,
                at=at,
            )
            tally.created.append(cluster.id)
            tally.linked += len(event_ids)


def _dbscan(
    session: Session,
    *,
    district: str,
    until: datetime,
    threshold: Threshold,
    which: ColumnElement[bool],
) -> dict[tuple[str, int], list[int]]:
    """Event ids by (category, DBSCAN cluster number) for one district and threshold."""
    cid = func.ST_ClusterDBSCAN(_metric(Event.geom), threshold.radius_m, threshold.min_events).over(
        partition_by=(Event.district_code, Event.category_code)
    )
    rows = session.execute(
        select(Event.category_code, cid, Event.id)
        .where(
            Event.district_code == district,
            Event.reported_at <= until,
            Event.reported_at >= until - timedelta(days=threshold.window_days),
            which,
            _uncounted(),
        )
        .order_by(Event.category_code, Event.id)
    ).all()
    found: dict[tuple[str, int], list[int]] = {}
    for category, number, event_id in rows:
        if number is not None:
            found.setdefault((category, number), []).append(event_id)
    return found


@dataclass(frozen=True)
class _Member:
    reported_at: datetime
    lon: float
    lat: float
    place: str | None  # grid code, else community code
    unit_id: int | None


def _facts(session: Session, *, district: str, event_ids: Sequence[int]) -> list[_Member]:
    """The events by id (the partitions' primary-key indexes)."""
    rows = session.execute(
        select(
            Event.reported_at,
            func.ST_X(Event.geom),
            func.ST_Y(Event.geom),
            func.coalesce(Event.grid_code, Event.community_code),
            Event.unit_id,
        ).where(Event.district_code == district, Event.id.in_(event_ids))
    ).all()
    return [_Member(*row) for row in rows]


def _summary(members: Sequence[_Member], *, district: str) -> dict[str, Any]:
    """A cluster's figures from its members: count, first and last report, centroid, spread
    (the farthest member, geodesic metres), place (the grid most members lie in)."""
    lon, lat = _centroid(members)
    places = Counter(m.place for m in members if m.place)
    return {
        "event_count": len(members),
        "first_reported_at": min(m.reported_at for m in members),
        "last_reported_at": max(m.reported_at for m in members),
        "geom": from_shape(Point(lon, lat), srid=STORAGE_SRID),
        "spread_m": round(max(distance_m(lon, lat, m.lon, m.lat) for m in members), 1),
        "place_code": min(places, key=lambda p: (-places[p], p)) if places else district,
    }


def _lead_type(
    session: Session,
    *,
    place_code: str,
    members: Sequence[_Member],
    category: EventCategory,
    at: datetime,
) -> tuple[DepartmentType, str]:
    """The department type leading most of the cluster's events, else the category's routing
    (which also breaks a tie it is part of)."""
    unit_ids = [m.unit_id for m in members if m.unit_id is not None]
    types = dict(
        session.execute(
            select(DepartmentUnit.id, DepartmentUnit.dept_type).where(
                DepartmentUnit.id.in_(set(unit_ids)),
                DepartmentUnit.dept_type != DepartmentType.COMMAND_CENTRE,
            )
        ).all()
    )
    counts = Counter(types[u] for u in unit_ids if u in types)
    if len(counts) == 1:
        ((lead, most),) = counts.items()
        return lead, f"{lead.label} led {most} of the {len(members)} events"
    decision = decide_departments(session, category=category, area_code=place_code, at=at)
    if counts:
        most = max(counts.values())
        tied = sorted(t.value for t, n in counts.items() if n == most)
        lead = decision.lead if decision.lead.value in tied else DepartmentType(tied[0])
        return lead, f"{lead.label} led {most} of the {len(members)} events"
    return decision.lead, decision.why


def _raise_task(
    session: Session,
    *,
    district: str,
    category: EventCategory,
    event_ids: Sequence[int],
    threshold: Threshold,
    at: datetime,
) -> RecurrenceCluster:
    """A new cluster of `event_ids` and its task for the lead unit at the centroid."""
    members = _facts(session, district=district, event_ids=event_ids)
    figures = _summary(members, district=district)
    lead, why = _lead_type(
        session, place_code=figures["place_code"], members=members, category=category, at=at
    )
    centroid = func.ST_SetSRID(func.ST_MakePoint(*_centroid(members)), STORAGE_SRID)
    choice = choose_unit(session, dept_type=lead, point=centroid, district_code=district)
    limit = Limit.parse(get_settings().recurrence_task_limit)
    cluster = RecurrenceCluster(
        district_code=district,
        category_code=category.code,
        status=RecurrenceStatus.OPEN,
        lead_type=lead,
        unit_id=choice.unit.id if choice.unit else None,
        routing=f"{why}; {choice.how}",
        radius_m=threshold.radius_m,
        min_events=threshold.min_events,
        window_days=threshold.window_days,
        detected_at=at,
        deadline=work_calendar(session).add(at, limit),
        **figures,
    )
    session.add(cluster)
    session.flush()
    _link(session, cluster_ids={e: cluster.id for e in event_ids}, district=district, at=at)
    return cluster


def _link(session: Session, *, cluster_ids: dict[int, int], district: str, at: datetime) -> None:
    """Count events (id → cluster id) in their clusters: one INSERT, no per-row flush."""
    session.execute(
        insert(RecurrenceMember),
        [
            {"event_id": e, "district_code": district, "cluster_id": c, "joined_at": at}
            for e, c in cluster_ids.items()
        ],
    )


def _centroid(members: Sequence[_Member]) -> tuple[float, float]:
    """The mean lon/lat of the members (what ST_Centroid gives for points)."""
    return (
        sum(m.lon for m in members) / len(members),
        sum(m.lat for m in members) / len(members),
    )


def _refresh(session: Session, cluster: RecurrenceCluster) -> None:
    """Recount a cluster from its members (after new events joined it)."""
    ids = session.scalars(
        select(RecurrenceMember.event_id).where(
            RecurrenceMember.cluster_id == cluster.id,
            RecurrenceMember.district_code == cluster.district_code,
        )
    ).all()
    members = _facts(session, district=cluster.district_code, event_ids=ids)
    for key, value in _summary(members, district=cluster.district_code).items():
        setattr(cluster, key, value)


def run_for(
    session: Session,
    *,
    actor: Actor,
    entry: DetectionInput,
    now: datetime | None = None,
) -> DetectionRun:
    """Detection on demand by the command centre (its own district) or an admin (any)."""
    if actor.role not in RUNNERS:
        raise Forbidden(
            f"{actor.role.label}账号不能运行重复发生研判 (a {actor.role.value} account may not run "
            "recurrence detection; that is the command centre's)"
        )
    district = entry.district or actor.home_district
    if district is None or not (len(district) == 6 and district.isdigit()):
        raise InvalidReport(
            "请给出6位区县代码 (give the 6-digit district code to run detection for)",
            field="district",
        )
    if actor.role is not StaffRole.ADMIN:
        prefix = area_prefix(actor.area_code) if actor.area_code else ""
        if not prefix or len(prefix) > 6 or not district.startswith(prefix):
            raise Forbidden(
                f"只能对本级及以下区县运行研判，{district}不在您的范围内 "
                f"(district {district} is not one your command centre covers at district level)"
            )
    return detect(
        session,
        district_code=district,
        until=end_of_day(entry.on) if entry.on else None,
        now=now,
    )


__all__ = [
    "LEADS",
    "NOT_COUNTED",
    "READERS",
    "RUNNERS",
    "ClusterClose",
    "ClusterDetail",
    "ClusterRead",
    "DetectionInput",
    "DetectionRun",
    "Threshold",
    "accept",
    "close",
    "default_threshold",
    "detect",
    "end_of_day",
    "get_cluster",
    "list_clusters",
    "list_visible",
    "run_for",
    "set_threshold",
    "unfinished_in_area",
    "visible_cluster",
]
