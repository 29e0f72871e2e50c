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

Who sees clusters: admins all; command staff and leaders those of their area (leaders without
the single events); a unit's dispatchers their unit's tasks; grid workers and inspectors none.
Like every service this never commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from geoalchemy2.shape import from_shape
from pydantic import BaseModel, ConfigDict, Field, field_validator
from shapely import Point
from sqlalchemy import ColumnElement, and_, exists, false, func, literal, or_, select, text, true
from sqlalchemy.orm import Session, aliased

from events.calendar import Limit
from events.catalog import DepartmentType
from events.dispatch import choose_unit, decide_departments
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport, NotFound
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
from events.reference import work_calendar
from gis.clock import CHINA_TZ
from gis.config import get_settings
from gis.db import STORAGE_SRID
from gis.text import InputModel
from grid.exceptions import InvalidQuery
from grid.service import area_prefix
from people.access import Actor
from people.models import StaffRole

# Not a repeat of anything: thrown out (作废, 不予立案) or now another district's case.
NOT_COUNTED: Final = (EventStatus.VOIDED, EventStatus.REFUSED, EventStatus.TRANSFERRED)
READERS: Final = frozenset(
    {StaffRole.DISPATCHER, StaffRole.COMMAND, StaffRole.LEADER, StaffRole.ADMIN}
)
RUNNERS: Final = frozenset({StaffRole.COMMAND, StaffRole.ADMIN})
# Who may act on a task: the unit's dispatchers (command staff when it fell to a command centre).
LEADS: Final = frozenset({StaffRole.DISPATCHER, StaffRole.COMMAND, StaffRole.ADMIN})
MAX_JOIN_ROUNDS: Final = 50
MAX_ON_MAP: Final = 500


# -- schemas -------------------------------------------------------------------------------------


class Threshold(BaseModel):
    """What counts as recurrence for a category: events, metres, days."""

    model_config = ConfigDict(frozen=True)  # a dict key: categories grouped by threshold
    min_events: int = Field(ge=2, le=1000)
    radius_m: float = Field(gt=0, le=5000)
    window_days: int = Field(ge=1, le=366)


class ClusterRead(BaseModel):
    """A recurrence cluster and its 源头治理 task; no personal data (leaders read it too)."""

    id: int
    district_code: str
    category_code: str
    category_name: str
    event_count: int
    first_reported_at: datetime
    last_reported_at: datetime
    lon: float  # centroid, CGCS2000
    lat: float
    spread_m: float  # farthest member from the centroid, metres
    radius_m: float
    min_events: int
    window_days: int
    task_status: str
    task_status_label: str
    task_deadline: datetime
    overdue: bool
    lead_type: str
    lead_type_label: str
    lead_unit_id: int | None
    lead_unit_name: str | None
    routing: str
    detected_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    closing_report: str | None


class ClusterEvent(BaseModel):
    """A member event as the cluster's detail lists it (no reporter, no caller)."""

    code: str
    reported_at: datetime
    status: str
    status_label: str
    grid_code: str | None
    lon: float
    lat: float


class TimelineEntry(BaseModel):
    """One moment of the cluster's story: an event reported, detection, acceptance, closing."""

    at: datetime
    what: str
    note: str | None = None


class ClusterDetail(ClusterRead):
    """A cluster with its events, its timeline and its members as GeoJSON (CGCS2000 lon/lat);
    a leader's copy has no single events (aggregates only)."""

    events: list[ClusterEvent]
    timeline: list[TimelineEntry]
    geojson: dict[str, Any]


class DetectionRun(BaseModel):
    """What one detection run did."""

    until: datetime
    districts: list[str]
    created: list[int]
    extended: list[int]
    events_linked: int


class DetectionInput(InputModel):
    """Run detection now: for a district (default: my own) up to the end of a day (default: now)."""

    district: str | None = Field(default=None, description="6-digit district code")
    on: date | None = Field(default=None, description="run as of the end of this day (China)")


class ClusterClose(InputModel):
    """The lead unit's closing report: what was changed at the source (源头治理情况)."""

    report: str = Field(max_length=4000, description="what was changed at the source")

    @field_validator("report")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        least = get_settings().recurrence_report_min_chars
        if len(value.strip()) < least:
            raise ValueError(
                f"办结报告至少{least}个字，请写明在源头上改了什么（设施、管理、责任人）"
                f" (the closing report needs at least {least} characters saying what was "
                "changed at the source)"
            )
        return value.strip()


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


def _current_category(session: Session, code: str) -> EventCategory:
    category = session.scalar(
        select(EventCategory)
        .where(EventCategory.code == code)
        .order_by(EventCategory.valid_to.is_(None).desc(), EventCategory.version.desc())
        .limit(1)
    )
    assert category is not None, code  # events reference their category
    return category


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
    category = _current_category(session, category_code)
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


# -- reading -------------------------------------------------------------------------------------


def _read(
    session: Session, clusters: Sequence[RecurrenceCluster], *, now: datetime
) -> list[ClusterRead]:
    """Clusters as ClusterRead, with their category and unit names looked up once."""
    if not clusters:
        return []
    ids = [c.id for c in clusters]
    points: dict[int, list[float]] = dict(
        session.execute(
            select(
                RecurrenceCluster.id,
                func.json_build_array(
                    func.ST_X(RecurrenceCluster.geom), func.ST_Y(RecurrenceCluster.geom)
                ),
            ).where(RecurrenceCluster.id.in_(ids))
        ).all()
    )
    codes = {c.category_code for c in clusters}
    names = {code: _current_category(session, code).name for code in codes}
    unit_ids = {c.unit_id for c in clusters if c.unit_id is not None}
    units = (
        dict(
            session.execute(
                select(DepartmentUnit.id, DepartmentUnit.name).where(
                    DepartmentUnit.id.in_(unit_ids)
                )
            ).all()
        )
        if unit_ids
        else {}
    )
    return [
        ClusterRead(
            id=c.id,
            district_code=c.district_code,
            category_code=c.category_code,
            category_name=names[c.category_code],
            event_count=c.event_count,
            first_reported_at=c.first_reported_at,
            last_reported_at=c.last_reported_at,
            lon=points[c.id][0],
            lat=points[c.id][1],
            spread_m=c.spread_m,
            radius_m=c.radius_m,
            min_events=c.min_events,
            window_days=c.window_days,
            task_status=c.status.value,
            task_status_label=c.status.label,
            task_deadline=c.deadline,
            overdue=c.status is not RecurrenceStatus.CLOSED and c.deadline < now,
            lead_type=c.lead_type.value,
            lead_type_label=c.lead_type.label,
            lead_unit_id=c.unit_id,
            lead_unit_name=units.get(c.unit_id) if c.unit_id is not None else None,
            routing=c.routing,
            detected_at=c.detected_at,
            accepted_at=c.accepted_at,
            closed_at=c.closed_at,
            closing_report=c.closing_report,
        )
        for c in clusters
    ]


def _filtered(
    *,
    district_code: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if district_code is not None:
        where.append(RecurrenceCluster.district_code == district_code)
    if since is not None:
        where.append(RecurrenceCluster.last_reported_at >= since)
    if until is not None:
        where.append(RecurrenceCluster.first_reported_at < until)
    if status is not None:
        try:
            where.append(RecurrenceCluster.status == RecurrenceStatus.parse(status))
        except ValueError as exc:
            raise InvalidReport(str(exc), field="status") from None
    return where


def _ordered(where: Iterable[ColumnElement[bool]], limit: int) -> Any:
    """Unfinished tasks first by deadline, then closed ones, newest first."""
    return (
        select(RecurrenceCluster)
        .where(*where)
        .order_by(
            RecurrenceCluster.status == RecurrenceStatus.CLOSED,
            RecurrenceCluster.deadline,
            RecurrenceCluster.id.desc(),
        )
        .limit(limit)
    )


def list_clusters(
    session: Session,
    *,
    district_code: str,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
) -> list[ClusterRead]:
    """A district's clusters whose events fall at least partly in [since, until) (the weekly
    report's 重复发生与源头治理 section); `status` open, accepted or closed."""
    where = _filtered(district_code=district_code, since=since, until=until, status=status)
    clusters = session.scalars(_ordered(where, 10_000)).all()
    return _read(session, clusters, now=datetime.now(UTC))


def _scope(actor: Actor) -> ColumnElement[bool]:
    """Which clusters `actor` may read."""
    if actor.role not in READERS:
        raise Forbidden(
            f"{actor.role.label}账号没有源头治理任务 (a {actor.role.value} account has no "
            "root-cause tasks; they are for units, the command centre and leaders)"
        )
    if actor.role is StaffRole.ADMIN:
        return true()
    if actor.role is StaffRole.DISPATCHER:
        if actor.department_unit_id is None:
            return false()
        return RecurrenceCluster.unit_id == actor.department_unit_id
    if not actor.area_code:
        return false()
    try:
        prefix = area_prefix(actor.area_code)
    except InvalidQuery:
        return false()
    return RecurrenceCluster.place_code.like(f"{prefix}%")


def list_visible(
    session: Session,
    *,
    actor: Actor,
    district_code: str | None = None,
    status: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[ClusterRead]:
    """The clusters `actor` may see: unfinished tasks first by deadline."""
    where = [
        _scope(actor),
        *_filtered(district_code=district_code, since=None, until=None, status=status),
    ]
    clusters = session.scalars(_ordered(where, limit)).all()
    return _read(session, clusters, now=now or datetime.now(UTC))


def unfinished_in_area(
    session: Session, *, actor: Actor, prefix: str | None, now: datetime
) -> list[ClusterRead]:
    """The open and accepted clusters `actor` may see inside the area `prefix` (None: all of
    the actor's), for the leader map; at most MAX_ON_MAP, soonest deadline first."""
    where = [_scope(actor), RecurrenceCluster.status != RecurrenceStatus.CLOSED]
    if prefix:
        where.append(RecurrenceCluster.place_code.like(f"{prefix}%"))
    return _read(session, session.scalars(_ordered(where, MAX_ON_MAP)).all(), now=now)


def visible_cluster(
    session: Session, *, actor: Actor, cluster_id: int, lock: bool = False
) -> RecurrenceCluster:
    """The cluster if `actor` may see it, else NotFound (saying nothing of others' tasks)."""
    query = select(RecurrenceCluster).where(RecurrenceCluster.id == cluster_id, _scope(actor))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    cluster = session.scalar(query)
    if cluster is None:
        raise NotFound(
            f"源头治理任务{cluster_id}不存在或不在您的范围内 (recurrence cluster {cluster_id} does "
            "not exist or is not one your unit or area may see)"
        )
    return cluster


def get_cluster(
    session: Session, *, actor: Actor, cluster_id: int, now: datetime | None = None
) -> ClusterDetail:
    """One cluster with its events, timeline and GeoJSON; leaders get no single events."""
    cluster = visible_cluster(session, actor=actor, cluster_id=cluster_id)
    base = _read(session, [cluster], now=now or datetime.now(UTC))[0]
    rows = session.execute(
        select(
            Event.code,
            Event.reported_at,
            Event.status,
            Event.grid_code,
            func.ST_X(Event.geom),
            func.ST_Y(Event.geom),
            RecurrenceMember.joined_at,
        )
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
        .order_by(Event.reported_at, Event.id)
    ).all()
    singles = actor.role is not StaffRole.LEADER
    events = [
        ClusterEvent(
            code=code,
            reported_at=reported,
            status=status.value,
            status_label=status.label,
            grid_code=grid,
            lon=lon,
            lat=lat,
        )
        for code, reported, status, grid, lon, lat, _ in rows
    ]
    timeline = [
        TimelineEntry(at=e.reported_at, what="事件上报", note=e.code if singles else None)
        for e in events
    ]
    joined = Counter(row[6] for row in rows)
    for moment, n in sorted(joined.items()):
        first = moment == cluster.detected_at
        timeline.append(
            TimelineEntry(
                at=moment,
                what="识别为重复发生，生成源头治理任务" if first else "新增事件并入",
                note=f"{n}件" if first else f"{n}件 (joined)",
            )
        )
    if cluster.accepted_at is not None:
        timeline.append(TimelineEntry(at=cluster.accepted_at, what="牵头单位接收"))
    if cluster.closed_at is not None:
        timeline.append(
            TimelineEntry(at=cluster.closed_at, what="源头治理办结", note=cluster.closing_report)
        )
    timeline.sort(key=lambda t: t.at)
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [base.lon, base.lat]},
            "properties": {
                "kind": "centroid",
                "category": base.category_name,
                "count": base.event_count,
                "spread_m": base.spread_m,
                "status": base.task_status_label,
            },
        }
    ]
    if singles:
        features += [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [e.lon, e.lat]},
                "properties": {
                    "kind": "event",
                    "code": e.code,
                    "reported_at": e.reported_at.isoformat(),
                    "status": e.status_label,
                },
            }
            for e in events
        ]
    return ClusterDetail(
        **base.model_dump(),
        events=events if singles else [],
        timeline=timeline,
        geojson={"type": "FeatureCollection", "features": features},
    )


# -- the task's lifecycle ------------------------------------------------------------------------


def _require_lead(session: Session, actor: Actor, cluster: RecurrenceCluster, what: str) -> None:
    """Only the lead unit's dispatchers act on its task (command staff of the area when the task
    fell to a command centre); admins everywhere."""
    if actor.role is StaffRole.ADMIN:
        return
    if actor.role is StaffRole.DISPATCHER and actor.department_unit_id == cluster.unit_id:
        return
    unit = session.get(DepartmentUnit, cluster.unit_id) if cluster.unit_id else None
    if actor.role is StaffRole.COMMAND and (
        unit is None or unit.dept_type is DepartmentType.COMMAND_CENTRE
    ):
        return
    raise Forbidden(
        f"只有牵头单位才能{what}此源头治理任务 (only the lead unit may {what} this root-cause task)"
    )


def accept(
    session: Session, *, actor: Actor, cluster_id: int, now: datetime | None = None
) -> ClusterRead:
    """The lead unit accepts (接收) the task."""
    at = now or datetime.now(UTC)
    cluster = visible_cluster(session, actor=actor, cluster_id=cluster_id, lock=True)
    _require_lead(session, actor, cluster, "接收 (accept)")
    if cluster.status is not RecurrenceStatus.OPEN:
        raise ActionNotAllowed(
            f"任务已是“{cluster.status.label}”，不能再接收 (the task is {cluster.status.value}; "
            "only an open task can be accepted)",
            allowed=["close"] if cluster.status is RecurrenceStatus.ACCEPTED else [],
        )
    cluster.status = RecurrenceStatus.ACCEPTED
    cluster.accepted_at = at
    cluster.accepted_by_id = actor.staff_id
    session.flush()
    return _read(session, [cluster], now=at)[0]


def close(
    session: Session,
    *,
    actor: Actor,
    cluster_id: int,
    entry: ClusterClose,
    now: datetime | None = None,
) -> ClusterRead:
    """The lead unit closes (办结) an accepted task, reporting what changed at the source."""
    at = now or datetime.now(UTC)
    cluster = visible_cluster(session, actor=actor, cluster_id=cluster_id, lock=True)
    _require_lead(session, actor, cluster, "办结 (close)")
    if cluster.status is not RecurrenceStatus.ACCEPTED:
        raise ActionNotAllowed(
            "任务已办结，不能重复办结 (the task is already closed)"
            if cluster.status is RecurrenceStatus.CLOSED
            else "请先接收任务再办结 (accept the task before closing it)",
            allowed=["accept"] if cluster.status is RecurrenceStatus.OPEN else [],
        )
    cluster.status = RecurrenceStatus.CLOSED
    cluster.closed_at = at
    cluster.closed_by_id = actor.staff_id
    cluster.closing_report = entry.report
    session.flush()
    return _read(session, [cluster], now=at)[0]


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
