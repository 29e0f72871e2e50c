"""Finding events for a caller: the scoped, filtered list, one event with its photos and the
actions the caller may take now, and the photo files.

Scope is one SQL clause (`visible_to`) used by the list and by every read of one event, so no
filter can reach past it: a grid worker sees the events of their grids and those they reported;
a dispatcher their unit's cases (and, while open, the cases their unit assists); command
centre, leaders and inspectors their admin area; admins everything.

A list filtered by light stays one query at city scale: red is an indexed deadline
comparison, green and yellow compare the stage's working time in SQL (`light_filter`), equal to
`events.deadlines.light`, which gives the light shown for each listed event.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    Time,
    and_,
    any_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import Grouping

from events import deadlines
from events.actions import actions_for
from events.calendar import Light, Limit, LimitUnit, WorkCalendar, WorkingHours
from events.catalog import Priority
from events.disputes import disputing
from events.exceptions import Forbidden, InvalidReport, NotFound
from events.models import Attachment, DepartmentUnit, Event, EventCategory, EventStatus
from events.reference import work_calendar
from events.schemas import (
    MAX_PAGE_SIZE,
    EventDetail,
    EventFilter,
    EventPage,
    EventRead,
    EventSummary,
    PhotoRef,
    UnitRef,
)
from events.service import get_event, read_event
from events.tiers import actor_tier
from events.workflow import OPEN_STATES
from gis.clock import CHINA_TZ
from gis.crs import STORAGE_SRID
from grid.exceptions import InvalidQuery
from grid.service import area_prefix, parse_bbox
from people.access import Actor
from people.models import StaffRole

PHOTO_URL = "/api/events/{code}/photos/{id}"
# Monday 2000-01-03: the working-time clock in SQL counts from here (only differences matter).
_EPOCH = date(2000, 1, 3)
_MICROS = 1_000_000
# Stages longer than this many wall days skip the cheap green bound (long extended disputes).
_LONGEST_SPAN_DAYS = 60
_SAFETY = timedelta(minutes=1)  # keeps the green bound strict
_WEEKS_BEFORE_EPOCH = 100_000  # any date after 0085 counts from a positive number of weeks


# -- scope -------------------------------------------------------------------------------------


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause limiting events to those `actor` may see."""
    role = actor.role
    if role is StaffRole.ADMIN:
        return true()
    if role is StaffRole.LEADER:
        return false()  # leaders see events as aggregates only (events.map_stats, events.kpis)
    if role is StaffRole.GRID_WORKER:
        mine = Event.reporter_id == actor.staff_id
        if not actor.grid_codes:
            return mine
        return or_(Event.grid_code.in_(sorted(actor.grid_codes)), mine)
    if role is StaffRole.DISPATCHER:
        unit = actor.department_unit_id
        if unit is None:
            return false()
        # Assisting is limited to open cases so the clause stays on indexes (unit, status).
        assisting = and_(
            Event.status.in_(sorted(OPEN_STATES)), literal(unit) == any_(Event.assisting_unit_ids)
        )
        return or_(Event.unit_id == unit, assisting)
    if not actor.area_code:
        return false()
    try:
        prefix = area_prefix(actor.area_code)
    except InvalidQuery:
        return false()
    # Events outside every grid still belong to the community, street or district they are in.
    place = func.coalesce(Event.community_code, Event.street_code, Event.district_code)
    return or_(
        Event.grid_code.like(f"{prefix}%"),
        and_(Event.grid_code.is_(None), place.like(f"{prefix}%")),
    )


def _scope_sentence(actor: Actor) -> str:
    if actor.role is StaffRole.LEADER:
        return "what a leader account reads: leaders see counts, heat maps and KPIs, not events"
    if actor.role is StaffRole.GRID_WORKER:
        return f"your grids ({', '.join(sorted(actor.grid_codes)) or 'none'})"
    if actor.role is StaffRole.DISPATCHER:
        return "your unit's cases"
    return f"your area ({actor.area_code or 'none'})"


def check_visible(session: Session, *, actor: Actor, event: Event) -> None:
    """Refuse (Forbidden) an event outside the actor's scope."""
    seen = session.scalar(select(exists().where(Event.id == event.id, visible_to(actor))))
    if not seen:
        raise Forbidden(
            f"event {event.code} is outside {_scope_sentence(actor)}; ask the command centre"
        )


# -- light in SQL -------------------------------------------------------------------------------


def _micros_of_day(moment: time) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * _MICROS + moment.microsecond


def _dates(days: list[date]) -> Any:
    # A sentinel first element: width_bucket needs a non-empty array.
    return literal([date(1, 1, 1), *sorted(days)], ARRAY(Date))


def working_clock_sql(calendar: WorkCalendar, moment: Any) -> ColumnElement[int]:
    """Working microseconds from 2000-01-03 to `moment` on `calendar` (SQL, for any row).

    Mirrors WorkCalendar's clock: weekdays by arithmetic, holidays on weekdays and worked
    weekends by binary search (width_bucket) over sorted arrays, office hours by clipping.
    """
    local = func.timezone(calendar.tz.key, moment)
    day = cast(local, Date)
    # Whole weeks since the epoch by integer division, kept non-negative so it truncates down.
    shifted = cast(day - literal(_EPOCH, Date), Integer) + 7 * _WEEKS_BEFORE_EPOCH
    weekdays_before = 5 * (shifted // 7 - _WEEKS_BEFORE_EPOCH) + func.least(shifted % 7, 5)
    holidays = _dates([d for d in calendar.holidays if d.weekday() < 5])
    workdays = _dates(list(calendar.workdays))
    holidays_before = func.width_bucket(day - 1, holidays)  # both arrays start with a sentinel
    workdays_before = func.width_bucket(day - 1, workdays)
    is_working = case(
        (func.date_part("isodow", day) < 6, func.width_bucket(day, holidays) == holidays_before),
        else_=func.width_bucket(day, workdays) > workdays_before,
    )
    of_day = cast(func.round(func.date_part("epoch", cast(local, Time)) * _MICROS), BigInteger)
    worked: Any = None
    for opens, closes in (calendar.hours.morning, calendar.hours.afternoon):
        start, end = _micros_of_day(opens), _micros_of_day(closes)
        session_worked = func.least(func.greatest(of_day - start, 0), end - start)
        worked = session_worked if worked is None else worked + session_worked
    days_before = weekdays_before - holidays_before + workdays_before
    return days_before * calendar.hours.micros_per_day + case((is_working, worked), else_=0)


_CalendarKey = tuple[frozenset[date], frozenset[date], WorkingHours, str]


def _calendar_key(calendar: WorkCalendar) -> _CalendarKey:
    return calendar.holidays, calendar.workdays, calendar.hours, calendar.tz.key


@functools.lru_cache(maxsize=16)
def _column_clock(key: _CalendarKey, column: str) -> ColumnElement[int]:
    """The clock of an event time column, built once per calendar (it never changes)."""
    holidays, workdays, hours, tz = key
    calendar = WorkCalendar(holidays, workdays, hours, ZoneInfo(tz))
    return working_clock_sql(calendar, getattr(Event, column))


def _clock_now(now: datetime) -> ColumnElement[datetime]:
    """The instant a stage's light is read at: now, or when it was suspended (clock stopped)."""
    return func.coalesce(Event.suspended_at, literal(now, DateTime(timezone=True)))


def _overdue(now: datetime) -> ColumnElement[bool]:
    """Red: past the stage deadline at `now`, or at the suspension for a suspended case.

    Written as a range on the deadline index: a suspension began before now, so a case overdue
    when suspended is overdue now too.
    """
    moment = literal(now, DateTime(timezone=True))
    return and_(
        Event.stage_deadline < moment,
        or_(Event.suspended_at.is_(None), Event.stage_deadline < Event.suspended_at),
    )


def _not_overdue(now: datetime) -> ColumnElement[bool]:
    """A running stage not past its deadline: a range on the deadline index, or (few) suspended
    cases, found by status, whose deadline was still ahead when they were suspended."""
    moment = literal(now, DateTime(timezone=True))
    return or_(
        Event.stage_deadline >= moment,
        and_(
            Event.status == EventStatus.SUSPENDED,
            Event.suspended_at.is_not(None),
            Event.stage_deadline >= Event.suspended_at,
        ),
    )


def _surely_green_bound(calendar: WorkCalendar, now: datetime) -> ColumnElement[bool]:
    """A cheap test that a running, unsuspended, non-urgent stage is green at `now`.

    The bound of events.escalation: a stage shorter than k+1 wall days holds at most (k+2)
    working days, so it is yellow only when its deadline falls before add(now, 20 % of that);
    one instant per k, looked up by each row, spares the working-time clocks for most rows.
    """
    day_hours = calendar.hours.hours_per_day
    bounds = [
        calendar.add(now, Limit(0.2 * (k + 2) * day_hours, LimitUnit.HOURS)) + _SAFETY
        for k in range(_LONGEST_SPAN_DAYS + 1)
    ]
    span_days = cast(
        func.floor(func.extract("epoch", Event.stage_deadline - Event.stage_started_at) / 86400),
        Integer,
    )
    # One array constant (not an ARRAY[...] built again for every row).
    bounds_array = Grouping(literal(bounds, ARRAY(DateTime(timezone=True))))
    bound = bounds_array[func.greatest(span_days, 0) + 1]
    return and_(
        Event.suspended_at.is_(None),
        span_days <= _LONGEST_SPAN_DAYS,
        Event.stage_deadline >= bound,
    )


def _within_80_percent(calendar: WorkCalendar, now: datetime) -> ColumnElement[bool]:
    """At most 80 % of a running stage's time used at `now`: wall time if urgent (特急),
    working time on the calendar otherwise (5 × used ≤ 4 × allowed, as deadlines.light).

    Only for stages not past their deadline (see `light_filter`): the cheap bound is checked
    first, in a CASE so that the database evaluates it before the clocks.
    """
    at = _clock_now(now)
    start, deadline = Event.stage_started_at, Event.stage_deadline
    total = func.extract("epoch", deadline - start)
    spent = func.extract("epoch", at - start)
    key = _calendar_key(calendar)
    begun = _column_clock(key, "stage_started_at")
    # Now's clock is one value for the whole query (an InitPlan); suspended stages use their own.
    now_clock = select(working_clock_sql(calendar, literal(now, DateTime(timezone=True))))
    at_clock = case(
        (Event.suspended_at.is_(None), now_clock.scalar_subquery()),
        else_=_column_clock(key, "suspended_at"),
    )
    used = func.greatest(at_clock - begun, 0)
    allowed = _column_clock(key, "stage_deadline") - begun
    return case(
        (Event.priority == Priority.URGENT, and_(total > 0, spent * 5 <= total * 4)),
        (_surely_green_bound(calendar, now), true()),
        else_=used * 5 <= allowed * 4,
    )


def light_filter(calendar: WorkCalendar, now: datetime, light: Light) -> ColumnElement[bool]:
    """Events whose running stage shows `light` at `now`, as `events.deadlines.light` says.

    Red is past the deadline, an indexed comparison. A stage not past it is green while at
    most 80 % of its time is used and yellow after, which needs the working-time clock of the
    stage's start, deadline and now in SQL (`working_clock_sql`).
    """
    if light is Light.RED:
        return _overdue(now)
    running = and_(
        Event.stage_deadline.is_not(None),  # lets an index scan in deadline order stop early
        Event.stage_started_at.is_not(None),
        _not_overdue(now),
    )
    green = _within_80_percent(calendar, now)
    return and_(running, green if light is Light.GREEN else not_(green))


# -- the list ------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    """Times without a zone are read as China time (what people type on a page)."""
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=CHINA_TZ)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(
    session: Session, *, actor: Actor, now: datetime, filters: EventFilter
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a list request, the caller's scope first."""
    for name, text in (
        ("category", filters.category),
        ("grid", filters.grid),
        ("bbox", filters.bbox),
        ("q", filters.q),
    ):
        if text is not None and "\x00" in text:
            raise InvalidReport(f"{name} must not contain a NUL (\\x00) character; remove it")
    where = [visible_to(actor)]
    if filters.status:
        where.append(Event.status.in_(sorted(set(filters.status))))
    if filters.category:
        code = filters.category.strip()
        where.append(
            Event.category_code.like(f"{code}%") if len(code) <= 2 else Event.category_code == code
        )
    if filters.unit is not None:
        where.append(Event.unit_id == filters.unit)
    if filters.department is not None:
        units = select(DepartmentUnit.id).where(DepartmentUnit.dept_type == filters.department)
        where.append(Event.unit_id.in_(units.scalar_subquery()))
    if filters.grid:
        where.append(Event.grid_code == filters.grid.strip())
    if filters.overdue is not None:
        where.append(
            _overdue(now)
            if filters.overdue
            else or_(Event.stage_deadline.is_(None), _not_overdue(now))  # no clock: not late
        )
    if filters.unlocated is not None:
        where.append(Event.geom.is_(None) if filters.unlocated else Event.geom.is_not(None))
    if filters.source is not None:
        where.append(Event.source == filters.source)
    if filters.tier is not None:
        tier = actor_tier(actor) if filters.tier == "mine" else filters.tier
        if tier is None:
            raise InvalidReport(
                "tier=mine is for command staff of a tier (an area code); name the tier instead: "
                "community, street, district or city",
                field="tier",
            )
        where.append(Event.tier == tier)
    if filters.light is not None:
        where.append(light_filter(work_calendar(session), now, Light(filters.light)))
    if filters.bbox:
        envelope = func.ST_MakeEnvelope(*parse_bbox(filters.bbox), STORAGE_SRID)
        where.append(func.ST_Intersects(Event.geom, envelope))
    since, until = filters.since, filters.until
    if since is not None:
        where.append(Event.reported_at >= _aware(since))
    if until is not None:
        where.append(Event.reported_at < _aware(until))
    if since is not None and until is not None and _aware(until) <= _aware(since):
        raise InvalidReport(
            f"until {until.isoformat()} is not after since {since.isoformat()}; swap them"
        )
    if filters.q and filters.q.strip():
        q = filters.q.strip()
        pattern = _like(q)
        # The index finds the events holding the text's characters or character pairs (one- and
        # two-character Chinese queries included); ILIKE keeps those that hold the text itself.
        where.append(Event.search_grams.op("@>")(func.query_grams(q)))
        where.append(
            or_(
                Event.code.ilike(pattern),
                Event.description.ilike(pattern),
                Event.address.ilike(pattern),
            )
        )
    if filters.mine:
        where.append(Event.reporter_id == actor.staff_id)
    return where


def _summary_rows() -> Select[Any]:
    original = aliased(Event)
    return (
        select(
            Event.code,
            Event.status,
            Event.category_code,
            EventCategory.major_name,
            EventCategory.name.label("category_label"),
            Event.priority,
            Event.description,
            Event.address,
            Event.grid_code,
            func.ST_X(Event.geom).label("lon"),
            func.ST_Y(Event.geom).label("lat"),
            DepartmentUnit.id.label("unit_id"),
            DepartmentUnit.code.label("unit_code"),
            DepartmentUnit.name.label("unit_name"),
            DepartmentUnit.dept_type,
            Event.reported_at,
            Event.stage,
            Event.stage_deadline,
            Event.stage_started_at,
            Event.suspended_at,
            # A subquery, not a join: it runs for the page's rows only and reads one monthly
            # partition each, where a join would read every partition's events.
            select(original.code)
            .where(original.id == Event.duplicate_of_id)
            .scalar_subquery()
            .label("duplicate_of"),
            Event.source,
            Event.tier,
            Event.void_reason,
            Event.returned_by_unit_ids,
        )
        .select_from(Event)
        .join(EventCategory, EventCategory.id == Event.category_id)
        .outerjoin(DepartmentUnit, DepartmentUnit.id == Event.unit_id)
    )


def _clock_fields(session: Session, row: Any, now: datetime) -> dict[str, Any]:
    """The running stage of a listed row, by the one definition (a detached Event's clock)."""
    clock = Event(
        priority=row.priority,
        stage=row.stage,
        stage_started_at=row.stage_started_at,
        stage_deadline=row.stage_deadline,
        suspended_at=row.suspended_at,
    )
    return deadlines.clock_fields(session, event=clock, now=now)


def _summary(session: Session, row: Any, now: datetime) -> EventSummary:
    unit = (
        UnitRef(
            id=row.unit_id,
            code=row.unit_code,
            name=row.unit_name,
            dept_type=row.dept_type.value,
            dept_label=row.dept_type.label,
        )
        if row.unit_id is not None
        else None
    )
    return EventSummary(
        code=row.code,
        status=row.status,
        status_label=row.status.label,
        category=row.category_code,
        category_name=f"{row.major_name}/{row.category_label}",
        priority=row.priority.value,
        description=row.description,
        address=row.address,
        grid_code=row.grid_code,
        lon=row.lon,
        lat=row.lat,
        source=row.source,
        unit=unit,
        tier=row.tier,
        reason=row.void_reason,
        reported_at=row.reported_at,
        duplicate_of=row.duplicate_of,
        **_clock_fields(session, row, now),
        disputed=disputing(row.returned_by_unit_ids),
    )


def list_events(
    session: Session,
    *,
    actor: Actor,
    filters: EventFilter | None = None,
    now: datetime | None = None,
) -> EventPage:
    """A page of the events `actor` may see that match every filter given.

    `since`/`until` bound the report time (until exclusive); `bbox` is
    min_lon,min_lat,max_lon,max_lat in CGCS2000/WGS84; `sort` is `deadline` (running stage
    deadline first, cases with no clock last) or `-reported_at` (newest first).
    """
    filters = filters or EventFilter()
    page, page_size = filters.page, filters.page_size
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidReport(f"page starts at 1 and page_size is 1..{MAX_PAGE_SIZE}")
    at = now or datetime.now(UTC)
    where = _filters(session, actor=actor, now=at, filters=filters)
    total = session.scalar(select(func.count()).select_from(Event).where(*where)) or 0
    order = (
        (Event.stage_deadline.asc().nulls_last(), Event.id.asc())
        if filters.sort == "deadline"
        else (Event.reported_at.desc(), Event.id.desc())
    )
    rows = session.execute(
        _summary_rows()
        .where(*where)
        .order_by(*order)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return EventPage(
        items=[_summary(session, row, at) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


# -- one event ---------------------------------------------------------------------------------


def photo_refs(session: Session, *, event: Event) -> list[PhotoRef]:
    """The event's photos, oldest first, with the URLs that serve them."""
    rows = session.scalars(
        select(Attachment).where(Attachment.event_id == event.id).order_by(Attachment.id)
    )
    return [
        PhotoRef(
            id=a.id,
            url=PHOTO_URL.format(code=event.code, id=a.id),
            thumbnail_url=PHOTO_URL.format(code=event.code, id=a.id) + "/thumbnail",
            content_type=a.content_type,
            width=a.width,
            height=a.height,
            step_id=a.step_id,
        )
        for a in rows
    ]


def detail_of(session: Session, *, actor: Actor, read: EventRead) -> EventDetail:
    """`read` (as a service returned it) with its photos and the actor's possible actions."""
    event = get_event(session, code=read.code)
    return EventDetail(
        **read.model_dump(),
        photos=photo_refs(session, event=event),
        actions=actions_for(session, actor=actor, event=event),
    )


def event_detail(
    session: Session, *, actor: Actor, code: str, now: datetime | None = None
) -> EventDetail:
    """One event in the actor's scope: history, stages, dispatch, photos and possible actions."""
    event = get_event(session, code=code)
    check_visible(session, actor=actor, event=event)
    return detail_of(session, actor=actor, read=read_event(session, event=event, now=now))


@dataclass(frozen=True)
class PhotoFile:
    """A stored photo (or its thumbnail) to send."""

    path: Path
    content_type: str


def photo_file(
    session: Session, *, actor: Actor, code: str, photo_id: int, thumbnail: bool = False
) -> PhotoFile:
    """The file of photo `photo_id` of event `code`, if the actor may see the event."""
    event = get_event(session, code=code)
    check_visible(session, actor=actor, event=event)
    photo = session.get(Attachment, photo_id)
    if photo is None or photo.event_id != event.id:
        raise NotFound(
            f"event {code} has no photo {photo_id}; see its photos in GET /api/events/{code}"
        )
    if thumbnail:
        found = PhotoFile(Path(photo.thumbnail_path), "image/jpeg")
    else:
        found = PhotoFile(Path(photo.path), photo.content_type)
    if not found.path.is_file():
        raise NotFound(
            f"the file of photo {photo_id} of event {code} is missing from storage; "
            "tell the administrator (upload directory)"
        )
    return found


__all__ = [
    "PhotoFile",
    "check_visible",
    "detail_of",
    "event_detail",
    "light_filter",
    "list_events",
    "photo_file",
    "photo_refs",
    "visible_to",
    "working_clock_sql",
]
