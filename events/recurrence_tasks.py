"""源头治理 tasks of recurrence clusters (events.recurrence): reading them and their lifecycle.

Who sees clusters: admins all; command staff and leaders those of their area (leaders without
the single events); a unit's dispatchers their unit's tasks; grid workers and inspectors none.
The lead unit accepts (open 待接收 → accepted 治理中) and closes (→ closed 已办结) with a report of
what it changed at the source. Like every service this never commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, false, func, select, true
from sqlalchemy.orm import Session

from events.catalog import DepartmentType
from events.exceptions import ActionNotAllowed, Forbidden, InvalidReport, NotFound
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    RecurrenceCluster,
    RecurrenceMember,
    RecurrenceStatus,
)
from events.recurrence_schemas import (
    ClusterClose,
    ClusterDetail,
    ClusterEvent,
    ClusterRead,
    TimelineEntry,
)
from grid.exceptions import InvalidQuery
from grid.service import area_prefix
from people.access import Actor
from people.models import StaffRole

READERS: Final = frozenset(
    {StaffRole.DISPATCHER, StaffRole.COMMAND, StaffRole.LEADER, StaffRole.ADMIN}
)
# Who may act on a task: the unit's dispatchers (command staff when it fell to a command centre).
LEADS: Final = frozenset({StaffRole.DISPATCHER, StaffRole.COMMAND, StaffRole.ADMIN})
MAX_ON_MAP: Final = 500


def current_category(session: Session, code: str) -> EventCategory:
    """The category's current version (else its latest)."""
    category = session.scalar(
        select(EventCategory)
        .where(EventCategory.code == code)
        .order_by(EventCategory.valid_to.is_(None).desc(), EventCategory.version.desc())
        .limit(1)
    )
    assert category is not None, code  # events reference their category
    return category


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
    names = {code: current_category(session, code).name for code in codes}
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


__all__ = [
    "LEADS",
    "READERS",
    "accept",
    "close",
    "current_category",
    "get_cluster",
    "list_clusters",
    "list_visible",
    "unfinished_in_area",
    "visible_cluster",
]
