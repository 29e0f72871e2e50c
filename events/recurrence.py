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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from geoalchemy2.shape import from_shape
from shapely import Point
from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select, text, true
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
        session.add_all(
            RecurrenceMember(event_id=e, district_code=district, cluster_id=c, joined_at=at)
            for e, c in pairs.items()
        )
        session.flush()
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
    groups: dict[Threshold, list[str] | None] = {default_threshold(): None}
    for code, threshold in overrides.items():
        groups.setdefault(threshold, [])
        codes = groups[threshold]
        if codes is not None:
            codes.append(code)
    for threshold, codes in groups.items():
        if codes is None:  # the default: every category without an override
            which = Event.category_code.notin_(list(overrides)) if overrides else true()
        else:
            which = Event.category_code.in_(codes)
        for (category, _), event_ids in _dbscan(
            session, district=district, until=until, threshold=threshold, which=which
        ).items():
            cluster = _raise_task(
                session,
                district=district,
                category_code=category,
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


def _lead_type(
    session: Session, *, cluster: RecurrenceCluster, category: EventCategory, at: datetime
) -> tuple[DepartmentType, str]:
    """The department type leading most of the cluster's events, else the category's routing."""
    counts = session.execute(
        select(DepartmentUnit.dept_type, func.count())
        .join(Event, Event.unit_id == DepartmentUnit.id)
        .join(
            RecurrenceMember,
            and_(
                RecurrenceMember.event_id == Event.id,
                RecurrenceMember.district_code == Event.district_code,
            ),
        )
        .where(
            RecurrenceMember.cluster_id == cluster.id,
            DepartmentUnit.dept_type != DepartmentType.COMMAND_CENTRE,
        )
        .group_by(DepartmentUnit.dept_type)
    ).all()
    decision = decide_departments(session, category=category, area_code=cluster.place_code, at=at)
    if counts:
        most = max(n for _, n in counts)
        tied = sorted(t.value for t, n in counts if n == most)
        lead = decision.lead if decision.lead.value in tied else DepartmentType(tied[0])
        return lead, f"{lead.label} led {most} of the {cluster.event_count} events"
    return decision.lead, decision.why


def _raise_task(
    session: Session,
    *,
    district: str,
    category_code: str,
    event_ids: Sequence[int],
    threshold: Threshold,
    at: datetime,
) -> RecurrenceCluster:
    """A new cluster of `event_ids` and its task for the lead unit at the centroid."""
    settings = get_settings()
    cluster = RecurrenceCluster(
        district_code=district,
        category_code=category_code,
        place_code=district,
        status=RecurrenceStatus.OPEN,
        lead_type=DepartmentType.COMMAND_CENTRE,
        routing="",
        radius_m=threshold.radius_m,
        min_events=threshold.min_events,
        window_days=threshold.window_days,
        geom=from_shape(Point(0, 0), srid=STORAGE_SRID),  # set by _refresh below
        spread_m=0.0,
        event_count=len(event_ids),
        first_reported_at=at,
        last_reported_at=at,
        detected_at=at,
        deadline=work_calendar(session).add(at, Limit.parse(settings.recurrence_task_limit)),
    )
    session.add(cluster)
    session.flush()
    session.add_all(
        RecurrenceMember(event_id=e, district_code=district, cluster_id=cluster.id, joined_at=at)
        for e in event_ids
    )
    session.flush()
    _refresh(session, cluster)
    category = current_category(session, category_code)
    lead, why = _lead_type(session, cluster=cluster, category=category, at=at)
    centroid = select(RecurrenceCluster.geom).where(
        RecurrenceCluster.id == cluster.id, RecurrenceCluster.district_code == district
    )
    choice = choose_unit(
        session, dept_type=lead, point=centroid.scalar_subquery(), district_code=district
    )
    cluster.lead_type = lead
    cluster.unit_id = choice.unit.id if choice.unit else None
    cluster.routing = f"{why}; {choice.how}"
    session.flush()
    return cluster


def _refresh(session: Session, cluster: RecurrenceCluster) -> None:
    """Recount a cluster from its members: count, first and last report, centroid, spread, place."""
    members = (
        select(Event.geom, Event.reported_at, Event.grid_code, Event.community_code)
        .join(
            RecurrenceMember,
            and_(
                RecurrenceMember.event_id == Event.id,
                RecurrenceMember.district_code == Event.district_code,
            ),
        )
        .where(
            RecurrenceMember.cluster_id == cluster.id,
            RecurrenceMember.district_code == cluster.district_code,
        )
        .subquery()
    )
    centroid = func.ST_Centroid(func.ST_Collect(members.c.geom))
    count, first, last, lon, lat = session.execute(
        select(
            func.count(),
            func.min(members.c.reported_at),
            func.max(members.c.reported_at),
            func.ST_X(centroid),
            func.ST_Y(centroid),
        )
    ).one()
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), STORAGE_SRID)
    spread = session.scalar(
        select(func.max(func.ST_Distance(_metric(members.c.geom), _metric(point))))
    )
    place = session.execute(
        select(func.coalesce(members.c.grid_code, members.c.community_code), func.count())
        .group_by(func.coalesce(members.c.grid_code, members.c.community_code))
        .order_by(func.count().desc(), func.coalesce(members.c.grid_code, members.c.community_code))
        .limit(1)
    ).first()
    cluster.event_count = count
    cluster.first_reported_at = first
    cluster.last_reported_at = last
    cluster.geom = from_shape(Point(lon, lat), srid=STORAGE_SRID)
    cluster.spread_m = round(float(spread or 0.0), 1)
    cluster.place_code = (place[0] if place and place[0] else None) or cluster.district_code
    session.flush()


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
