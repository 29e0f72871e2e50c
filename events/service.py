"""Reporting an event: locate, register, dispatch, set deadlines and queue notifications, all in
the caller's transaction; and reading events back with their history.

The steps every transition shares live beside what they serve: `workflow.add_step` (the audit
trail), `dispatch.dispatch_event` (routing) and `outbox.notify` (the webhooks).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from geoalchemy2 import WKTElement
from geoalchemy2.shape import to_shape
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from events import deadlines
from events.attachments import PhotoInfo
from events.catalog import DepartmentType, Priority
from events.dispatch import dispatch_event, event_point
from events.disputes import is_disputed
from events.evaluation import evaluate_event
from events.exceptions import Conflict, Forbidden, InvalidReport, NotFound
from events.models import (
    DepartmentUnit,
    Event,
    EventCategory,
    EventKey,
    EventSource,
    EventStage,
    EventStatus,
    EventStep,
    KeyKind,
    Stage,
)
from events.schemas import EventRead, EventReport, StageRead, StepRead, UnitRef
from events.sources import (
    OPERATOR_CITIZEN_SOURCES,
    SELF_CHECKED_SOURCES,
    refusal,
)
from events.tiers import await_registration, registers_at_once, starting_tier
from events.workflow import OPEN_STATES, add_step
from gis.clock import CHINA_TZ
from gis.crs import STORAGE_SRID, Crs
from gis.partitions import month_floor, sequence_part
from grid import exceptions as grid_errors
from grid import service as grid_service
from grid.models import Building
from grid.parts import part_named, part_point
from grid.schemas import PartNamed
from people.access import Actor
from people.models import Staff
from people.pii import get_cipher, mask_name, mask_phone

DUPLICATE_RADIUS_M = 100.0
DUPLICATE_WINDOW = timedelta(hours=24)
CONTACT_CONTEXT = "event.contact"
CALLER_NAME_CONTEXT = "event.caller_name"
UNLOCATED = "none"  # locate_match of a case placed by address only, waiting for 定位


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    return moment


def current_category(session: Session, code: str) -> EventCategory:
    """The current version of subcategory `code`."""
    category = session.scalar(
        select(EventCategory).where(
            EventCategory.code == code.strip(), EventCategory.valid_to.is_(None)
        )
    )
    if category is None:
        raise InvalidReport(
            f"category '{code}' is unknown; use a subcategory code from "
            "GET /api/categories, such as 0201 (楼道堆放杂物)"
        )
    return category


def _duplicate_candidates(session: Session, *, event: Event, at: datetime) -> list[str]:
    """Open events of the same category within 100 m and 24 h (linked, never dropped)."""
    other = event_point(event)
    return list(
        session.scalars(
            select(Event.code)
            .where(
                Event.id != event.id,
                Event.category_code == event.category_code,
                Event.status.in_(OPEN_STATES),
                Event.reported_at >= at - DUPLICATE_WINDOW,
                func.ST_DWithin(
                    func.Geography(Event.geom), func.Geography(other), DUPLICATE_RADIUS_M
                ),
            )
            .order_by(Event.reported_at)
        )
    )


def _replay(
    session: Session, *, event: Event, actor: Actor, key: str | None, at: datetime
) -> EventRead:
    """The event filed earlier under `key`, for its reporter only (keys are not shared)."""
    if event.reporter_id != actor.staff_id:
        raise Conflict(
            f"the idempotency key {key!r} was already used by another account; "
            "generate a new key for this report and send it again"
        )
    return read_event(session, event=event, now=at, created=False)


def event_code(district: str, at: datetime, event_id: int) -> str:
    """420502-20261203-000123: district, the day in China (Asia/Shanghai), sequence."""
    return f"{district}-{at.astimezone(CHINA_TZ):%Y%m%d}-{sequence_part(event_id):06d}"


def ticket_key(source: EventSource, ticket: str) -> str:
    """The event_key of a channel's ticket number: unique per channel (and district)."""
    return f"{source.value}:{ticket.strip()}"


def _ticket_taken(session: Session, *, source: EventSource, ticket: str | None) -> Conflict | None:
    """The 409 for a ticket number already filed on this channel, naming its event."""
    if not ticket:
        return None
    existing = event_by_key(session, KeyKind.TICKET, ticket_key(source, ticket))
    if existing is None:
        return None
    return Conflict(
        f"工单号 {ticket} 已受理为事件 {existing.code} (ticket {ticket} of {source.value} was "
        f"already filed as event {existing.code}); open that event instead of filing it again",
        field="ticket",
        existing_event=existing.code,
    )


def building_point(session: Session, code: str) -> tuple[float, float]:
    """CGCS2000 lon/lat of a building (a point on its footprint), to place a case by building."""
    row = session.execute(
        select(
            func.ST_X(func.ST_PointOnSurface(Building.geom)),
            func.ST_Y(func.ST_PointOnSurface(Building.geom)),
        ).where(Building.code == code.strip())
    ).first()
    if row is None:
        raise InvalidReport(
            f"building {code} does not exist; check the building code", field="building"
        )
    return float(row[0]), float(row[1])


def new_event(
    session: Session,
    *,
    actor: Actor,
    report: EventReport,
    category: EventCategory,
    district: str,
    at: datetime,
    idempotency_key: str | None,
    status: EventStatus,
    point: tuple[float, float] | None,
    **located: Any,
) -> Event:
    """A new event row (not yet added) with its id and code, e.g. 420502-20261123-000123.

    The code carries the day in China (a report at 07:00 Beijing, 23:00 UTC the day before,
    is today's); the id is stamped with the month the row is created in (the database's
    clock, see gis.partitions) and the code ends with the sequence's part of it. A leader's
    instruction (领导批示) is urgent whatever its category. `point` None: placed by address.
    """
    event_id = session.execute(text("SELECT month_stamped_id('event_id_seq')")).scalar_one()
    return Event(
        id=event_id,
        code=event_code(district, at, event_id),
        idempotency_key=idempotency_key,
        category_id=category.id,
        category_code=category.code,
        priority=Priority.URGENT if report.source is EventSource.LEADER else category.priority,
        status=status,
        source=report.source,
        description=report.description,
        address=report.address,
        geom=WKTElement(f"POINT({point[0]} {point[1]})", srid=STORAGE_SRID) if point else None,
        district_code=district,
        reporter_id=actor.staff_id,
        reported_at=at,
        **located,
    )


def _check_filing(actor: Actor, report: EventReport) -> None:
    """Refuse a source the actor's role does not file (403) or a report its source forbids."""
    why = refusal(report.source, actor.role)
    if why is not None:
        raise Forbidden(why, field="source")
    if report.source in OPERATOR_CITIZEN_SOURCES and report.appeal_type is None:
        raise InvalidReport(
            f"a {report.source.label} case needs appeal_type (诉求类型): consult, help, "
            "complaint, tip_off, suggestion or praise",
            field="appeal_type",
        )
    if report.self_resolved and report.source is not EventSource.GRID_WORKER:
        raise InvalidReport(
            "only a grid worker fixes a case on the spot (自行处置); file it without "
            "self_resolved and the unit it is dispatched to handles it",
            field="self_resolved",
        )


def _located(session: Session, *, actor: Actor, report: EventReport) -> dict[str, Any]:
    """Where the report is: its district, point and the fields locating gives the row; a report
    placed by address only gets the actor's district and no point (locate_match 'none')."""
    lon, lat, crs = report.lon, report.lat, report.crs
    if lon is None and report.building:
        (lon, lat), crs = building_point(session, report.building), Crs.CGCS2000
    elif lon is None and report.part_code:
        try:
            (lon, lat), crs = part_point(session, code=report.part_code), Crs.CGCS2000
        except grid_errors.InvalidQuery as exc:
            raise InvalidReport(str(exc), field="part_code") from exc
    if lon is None or lat is None:
        district = actor.home_district
        if district is None:
            raise InvalidReport(
                "a case with no point waits in a district's queue, and your account has no "
                "district; give lon and lat",
                field="lon",
            )
        return {"district": district, "point": None, "locate_match": UNLOCATED, "locate": None}
    try:
        located = grid_service.locate_point(session, lon=lon, lat=lat, crs=crs)
    except grid_errors.InvalidQuery as exc:
        raise InvalidReport(str(exc)) from exc
    # A report outside every district is routed to the reporter's own district.
    district = (located.district.code[:6] if located.district else None) or actor.home_district
    if district is None:
        raise InvalidReport(
            "the location is outside every district and your account has no "
            "area to route it to; check the coordinates and crs"
        )
    building_code = report.building or (located.building.code if located.building else None)
    building_id = (
        session.scalar(select(Building.id).where(Building.code == building_code))
        if building_code
        else None
    )
    if report.building and building_id is None:
        raise InvalidReport(f"building {report.building} does not exist")
    return {
        "district": district,
        "point": (located.lon, located.lat),
        "locate": located,
        "input_crs": located.input_crs.value,
        "locate_match": located.match,
        "grid_code": located.grid.code if located.grid else None,
        "community_code": located.community.code if located.community else None,
        "street_code": located.street.code if located.street else None,
        "building_id": building_id,
    }


def _part_named(
    session: Session, *, report: EventReport, district: str, point: tuple[float, float] | None
) -> PartNamed | None:
    """The city part the report names, checked (exists, in the event's district, within
    100 m of its point); None when it names none."""
    if not report.part_code:
        return None
    if point is None:
        raise InvalidReport(
            "a case naming a city part needs its point (lon, lat), or only the part_code "
            "to place it at the part",
            field="part_code",
        )
    try:
        return part_named(
            session, code=report.part_code, district_code=district, lon=point[0], lat=point[1]
        )
    except grid_errors.InvalidQuery as exc:
        raise InvalidReport(str(exc), field="part_code") from exc


def _caller(report: EventReport) -> dict[str, Any]:
    """The caller's phone and name, encrypted with their masks (shown everywhere else)."""
    cipher = get_cipher()
    contact = report.contact.strip() if report.contact else None
    name = report.caller_name.strip() if report.caller_name else None
    return {
        "contact_enc": cipher.encrypt(contact, context=CONTACT_CONTEXT) if contact else None,
        "contact_masked": mask_phone(contact) if contact else None,
        "caller_name_enc": cipher.encrypt(name, context=CALLER_NAME_CONTEXT) if name else None,
        "caller_name_masked": mask_name(name) if name else None,
    }


def report_event(
    session: Session,
    *,
    actor: Actor,
    report: EventReport,
    idempotency_key: str | None = None,
    photos: list[PhotoInfo] | None = None,
    photo_dir: Any = None,
    now: datetime | None = None,
    needs_check: bool | None = None,
) -> EventRead:
    """File an event: located, registered and dispatched with deadlines in one transaction.

    Who may file which source is `events.sources.SOURCE_ROLES`. A case with no point (placed
    by address) waits, reported, for the command centre's `locate`. A ticket number (工单号)
    already filed on the same channel is a Conflict naming that event. Resubmitting the same
    `idempotency_key` returns the original event (`created=False`). `needs_check` overrides
    whether the on-site check (核实) comes first (a sensor's device type decides it); None
    decides by source and category.
    """
    at = _now(now)
    _check_filing(actor, report)
    if idempotency_key:
        existing = event_by_key(session, KeyKind.IDEMPOTENCY, idempotency_key)
        if existing is not None:
            return _replay(session, event=existing, actor=actor, key=idempotency_key, at=at)
    if report.ticket and (
        taken := _ticket_taken(session, source=report.source, ticket=report.ticket)
    ):
        raise taken
    category = current_category(session, report.category)
    if category.photo_required and report.self_resolved and not photos:
        raise InvalidReport("a self-resolved event needs a photo of the fixed site")
    place = _located(session, actor=actor, report=report)
    district, point, located = place.pop("district"), place.pop("point"), place.pop("locate")
    part = _part_named(session, report=report, district=district, point=point)
    event = new_event(
        session,
        actor=actor,
        report=report,
        category=category,
        district=district,
        at=at,
        idempotency_key=idempotency_key,
        status=EventStatus.REPORTED,
        point=point,
        organisation_id=report.organisation_id,
        part_code=part.code if part else None,
        appeal_type=report.appeal_type,
        external_ref=report.ticket or report.external_ref,
        occurred_at=report.occurred_at,
        **place,
        **_caller(report),
    )
    try:
        with session.begin_nested():
            add_event(session, event, ticket=report.ticket)
    except IntegrityError:
        # Another request with the same key or ticket won the race: answer with its event.
        existing = (
            event_by_key(session, KeyKind.IDEMPOTENCY, idempotency_key) if idempotency_key else None
        )
        if existing is None:
            taken = _ticket_taken(session, source=report.source, ticket=report.ticket)
            if taken is not None:
                raise taken from None
            raise
        return _replay(session, event=existing, actor=actor, key=idempotency_key, at=at)

    if needs_check is None:
        needs_check = checked_on_site_first(report.source, category)
    duplicates = _duplicate_candidates(session, event=event, at=at) if point else []
    data: dict[str, Any] = {"duplicate_candidates": duplicates, "source": report.source.value}
    if located is not None:
        data["locate"] = located.model_dump(
            mode="json", include={"match", "distance_to_grid_m", "grid_candidates"}
        )
    if part is not None:
        data["part"] = part.model_dump(mode="json")
    if report.appeal_type is not None:
        data["appeal_type"] = report.appeal_type.value
    if report.ticket:
        data["ticket"] = report.ticket
    event.status = None  # type: ignore[assignment]  # the first step records "from nothing"
    first = add_step(
        session,
        event=event,
        action="report",
        to_status=EventStatus.REPORTED
        if point is None or needs_check
        else intake_status(event, category),
        at=at,
        actor_id=actor.staff_id,
        note=report.description[:200],
        data=data,
    )
    if photos:
        from events.photos import attach_photos

        attach_photos(session, event=event, step=first, photos=photos, directory=photo_dir)
    if point is None:
        return read_event(session, event=event, now=at)  # waits for the command centre's locate
    if report.self_resolved:
        add_step(
            session,
            event=event,
            action="self-resolve",
            to_status=EventStatus.SELF_RESOLVED,
            at=at,
            actor_id=actor.staff_id,
            note="网格员现场自行处置",
        )
        event.closed_at = at
        evaluate_event(session, event=event, at=at)  # 考评
    else:
        route_located(
            session,
            event=event,
            category=category,
            at=at,
            actor_id=actor.staff_id,
            check=needs_check,
        )
    return read_event(session, event=event, now=at)


def checked_on_site_first(source: EventSource, category: EventCategory) -> bool:
    """Whether a grid worker checks the report on site (核实) before it is routed: every source
    but those who saw it themselves or whose word is the order (grid worker, patrol, leader)."""
    return source not in SELF_CHECKED_SOURCES and category.needs_check


def intake_status(event: Event, category: EventCategory) -> EventStatus:
    """Where a located (and, where needed, checked) case goes: registered when it registers at
    once (events.tiers.registers_at_once), else pending (待立案) for the command centre."""
    return EventStatus.REGISTERED if registers_at_once(event, category) else EventStatus.PENDING


def route_located(
    session: Session,
    *,
    event: Event,
    category: EventCategory,
    at: datetime,
    actor_id: int | None,
    check: bool | None = None,
) -> None:
    """The path of a located case whose first step is recorded: the on-site check (核实)
    clock when it needs one (the event is reported); else, registered at once, dispatch from
    its starting tier; else the 立案 clock (it is pending, `intake_status`).
    `check` None decides by source and category."""
    if check is None:
        check = checked_on_site_first(event.source, category)
    if check:
        deadlines.start_stage(session, event=event, category=category, stage=Stage.CHECK, at=at)
    elif registers_at_once(event, category):
        event.tier = starting_tier(session, event=event, category=category)
        dispatch_event(session, event=event, category=category, at=at, actor_id=actor_id)
    else:
        await_registration(session, event=event, category=category, at=at)


def add_event(session: Session, event: Event, *, ticket: str | None = None) -> None:
    """Insert a new event with its keys (event_key): a code, an idempotency key or a channel's
    ticket number already taken in the district raises IntegrityError."""
    session.add(event)
    session.flush()
    keys = {
        KeyKind.CODE: event.code,
        KeyKind.IDEMPOTENCY: event.idempotency_key,
        KeyKind.TICKET: ticket_key(event.source, ticket) if ticket else None,
    }
    session.add_all(
        EventKey(district_code=event.district_code, kind=kind, key=key, event_id=event.id)
        for kind, key in keys.items()
        if key is not None
    )
    session.flush()


def event_by_key(session: Session, kind: KeyKind, key: str) -> Event | None:
    """The event a code or an idempotency key names (through event_key), None when none."""
    event_id = session.scalar(
        select(EventKey.event_id).where(EventKey.kind == kind, EventKey.key == key).limit(1)
    )
    return session.get(Event, event_id) if event_id is not None else None


def code_is(session: Session, code: str) -> list[ColumnElement[bool]]:
    """`Event.code == code`, and the event's id when event_key knows it, so a query by code
    reads one monthly partition instead of every partition's code index."""
    event_id = session.scalar(
        select(EventKey.event_id).where(
            EventKey.district_code == code[:6], EventKey.kind == KeyKind.CODE, EventKey.key == code
        )
    )
    return [Event.code == code] + ([Event.id == event_id] if event_id is not None else [])


def get_event(session: Session, *, code: str) -> Event:
    """An event by code."""
    event = session.scalar(select(Event).where(*code_is(session, code)))
    if event is None:
        raise NotFound(f"event {code} does not exist")
    return event


def _unit_ref(unit: DepartmentUnit | None) -> UnitRef | None:
    if unit is None:
        return None
    return UnitRef(
        id=unit.id,
        code=unit.code,
        name=unit.name,
        dept_type=unit.dept_type.value,
        dept_label=unit.dept_type.label,
    )


def get_unit_ref(session: Session, *, unit_id: int | None) -> UnitRef | None:
    """A department unit by id and name, None when there is no such unit."""
    return _unit_ref(session.get(DepartmentUnit, unit_id) if unit_id is not None else None)


def read_event(
    session: Session,
    *,
    event: Event,
    now: datetime | None = None,
    created: bool = True,
    history: bool = True,
) -> EventRead:
    """The event as users see it: routing, deadlines, light, and (optionally) its history."""
    at = _now(now)
    category = session.get(EventCategory, event.category_id)
    assert category is not None
    point = to_shape(event.geom) if event.geom is not None else None
    units = {
        u.id: u
        for u in session.scalars(
            select(DepartmentUnit).where(
                DepartmentUnit.id.in_([event.unit_id, *(event.assisting_unit_ids or [])])
            )
        )
    }
    steps = (
        list(
            session.execute(
                select(EventStep, Staff.username, DepartmentUnit.name)
                .outerjoin(Staff, EventStep.actor_id == Staff.id)
                .outerjoin(DepartmentUnit, EventStep.unit_id == DepartmentUnit.id)
                .where(EventStep.event_id == event.id, EventStep.id >= month_floor(event.id))
                .order_by(EventStep.at, EventStep.id)
            ).all()
        )
        if history
        else []
    )
    first_data = steps[0][0].data if steps else {}
    dispatch = next(
        (s.data["dispatch"] for s, _, _ in reversed(steps) if "dispatch" in s.data), None
    )
    stages = (
        list(
            session.scalars(
                select(EventStage)
                .where(EventStage.event_id == event.id)
                .order_by(EventStage.started_at, EventStage.id)
            )
        )
        if history
        else []
    )
    duplicate_of = (
        session.scalar(select(Event.code).where(Event.id == event.duplicate_of_id))
        if event.duplicate_of_id
        else None
    )
    running = deadlines.clock_fields(session, event=event, now=at)
    urgent = event.priority is Priority.URGENT
    return EventRead(
        id=event.id,
        code=event.code,
        status=event.status,
        status_label=event.status.label,
        category=category.code,
        category_name=f"{category.major_name}/{category.name}",
        priority=event.priority.value,
        source=event.source,
        description=event.description,
        address=event.address,
        lon=point.x if point else None,
        lat=point.y if point else None,
        locate_match=event.locate_match,
        grid_code=event.grid_code,
        community=event.community_code,
        street=event.street_code,
        district_code=event.district_code,
        part_code=event.part_code,
        building_code=session.scalar(select(Building.code).where(Building.id == event.building_id))
        if event.building_id
        else None,
        unit=_unit_ref(units.get(event.unit_id) if event.unit_id else None),
        assisting_units=[
            r for r in (_unit_ref(units.get(i)) for i in event.assisting_unit_ids or []) if r
        ],
        tier=event.tier,
        tier_label=event.tier.label,
        reason=event.void_reason,
        reporter=session.scalar(select(Staff.username).where(Staff.id == event.reporter_id))
        if event.reporter_id
        else None,
        appeal_type=event.appeal_type,
        appeal_type_label=event.appeal_type.label if event.appeal_type else None,
        caller_name=event.caller_name_masked,
        caller_phone=event.contact_masked,
        ticket=event.external_ref if event.source is not EventSource.OPEN311 else None,
        reported_at=event.reported_at,
        closed_at=event.closed_at,
        supervision_level=event.supervision_level,
        rework_count=event.rework_count,
        disputed=is_disputed(event),
        duplicate_of=duplicate_of,
        duplicate_candidates=list(first_data.get("duplicate_candidates", [])),
        dispatch=dispatch,
        stages=[
            StageRead(
                stage=s.stage,
                stage_label=s.stage.label,
                started_at=s.started_at,
                deadline=s.deadline,
                ended_at=s.ended_at,
                on_time=s.on_time,
                light=running["light"]
                if s.ended_at is None
                else deadlines.ended_light(session, stage=s, urgent=urgent),
            )
            for s in stages
        ],
        **running,
        steps=[
            StepRead(
                id=s.id,
                action=s.action,
                from_status=s.from_status,
                to_status=s.to_status,
                actor=user,
                unit=unit,
                note=s.note,
                data=s.data,
                at=s.at,
            )
            for s, user, unit in steps
        ],
        created=created,
    )


__all__ = [
    "DepartmentType",
    "add_event",
    "code_is",
    "current_category",
    "event_by_key",
    "get_event",
    "intake_status",
    "new_event",
    "read_event",
    "report_event",
    "route_located",
]
