"""Special groups (特殊人群): typed memberships with their own fields and a visit (走访) schedule.

Each membership's `details` are checked against the model of its type
(`people.schemas.DETAILS_MODELS`; its code tables are in `people.special_group_types`); phones
and the disability certificate number (which embeds the ID number) are stored encrypted with a
masked copy, like every other piece of PII. The visit interval comes from the
`visit_interval` table (the highest `min_danger_level` not above the member's danger level) and
is copied onto the membership, so overdue lists are a plain indexed date comparison.

A membership is "owed" a visit by its responsible staff member when one is set, otherwise by
every grid worker covering the resident's grid.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from geoalchemy2.shape import from_shape
from pydantic import ValidationError
from shapely import Point
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.clock import local_today
from gis.crs import STORAGE_SRID, CoordinateError, to_storage
from grid.models import Building, Grid, House
from grid.service import HOUSE_CODE
from people.access import (
    READ_AGGREGATES,
    READ_PERSONS,
    Actor,
    grid_scope,
    load_visible_resident,
    require_grid,
    require_role,
)
from people.documents import DocumentType
from people.exceptions import Duplicate, InvalidRecord, NotFound
from people.models import (
    Resident,
    SpecialGroup,
    SpecialGroupType,
    Staff,
    StaffGrid,
    StaffRole,
    Visit,
    VisitInterval,
)
from people.pii import get_cipher
from people.schemas import (
    DETAILS_MODELS,
    Details,
    DisabledDetails,
    DueVisitPage,
    DueVisitRead,
    GridOverdue,
    OverdueVisitRead,
    SpecialGroupPage,
    SpecialGroupRead,
    VisitIntervalChange,
    VisitIntervalRead,
    VisitRead,
    WorkerOverdue,
)
from people.service import MAX_PAGE_SIZE, document_hash

MAX_DANGER_LEVEL = 5
# Encrypted copies of secret detail fields live beside the masked value under `<field>_enc`.
_ENC_SUFFIX = "_enc"
# The model has no column for why a membership ended, so the reason is kept in `details`.


def _days_overdue(today: date) -> Any:
    """Days from the due date to `today` (date − date is an integer in PostgreSQL)."""
    return type_coerce(literal(today) - SpecialGroup.next_visit_due, Integer).label("days_overdue")


def _visit_fields(
    group: SpecialGroup, name: str, doc_masked: str, grid: str | None, days: int
) -> dict[str, Any]:
    return {
        "special_group_id": group.id,
        "resident_id": group.resident_id,
        "resident_name": name,
        "doc_masked": doc_masked,
        "grid_code": grid,
        "group_type": group.group_type,
        "group_type_label": group.group_type.label,
        "danger_level": group.danger_level,
        "responsible_staff_id": group.responsible_staff_id,
        "last_visit_on": group.last_visit_on,
        "next_visit_due": group.next_visit_due,
        "days_overdue": days,
    }


# --- helpers ----------------------------------------------------------------------------------


def _group_name(group_type: SpecialGroupType) -> str:
    return f"{group_type.label} ({group_type.value})"


def parse_group_type(value: SpecialGroupType | str) -> SpecialGroupType:
    """The group type named by its value or Chinese label; InvalidRecord lists the choices."""
    if isinstance(value, SpecialGroupType):
        return value
    try:
        return SpecialGroupType.parse(value)
    except ValueError as exc:
        raise InvalidRecord(str(exc)) from exc


def _describe_error(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    where = f"details.{where}" if where else "details"
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return f"{where} is not a field of this group"
    if kind == "missing":
        return f"{where} is required"
    if kind.startswith("value_error") or kind == "assertion_error":
        return f"{where}: {message.removeprefix('Value error, ')}"
    return f"{where}: {message} (got {error['input']!r})"


def validate_details(group_type: SpecialGroupType | str, details: dict[str, Any]) -> Details:
    """The details of a group type, validated; InvalidRecord names every wrong field."""
    kind = parse_group_type(group_type)
    model = DETAILS_MODELS[kind]
    if not isinstance(details, dict):
        raise InvalidRecord(f"details of {_group_name(kind)} must be an object of named fields")
    try:
        return model.model_validate(details)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(_describe_error(e).rstrip(".") for e in errors)
        hint = ""
        if any(e["type"] in ("extra_forbidden", "missing") for e in errors):
            hint = f" Fields of this group: {', '.join(model.model_fields)}."
        raise InvalidRecord(
            f"details of {_group_name(kind)} are not valid: {problems}.{hint}"
        ) from None


def _stored_details(group_type: SpecialGroupType, parsed: Details) -> dict[str, Any]:
    """JSON for the details column: secret fields masked, their clear text encrypted beside."""
    stored = parsed.model_dump(mode="json", exclude_none=True)
    cipher = get_cipher()
    for name, mask in parsed.SECRET_FIELDS.items():
        value = stored.get(name)
        if value:
            context = f"special_group.{group_type.value}.{name}"
            blob = cipher.encrypt(value, context=context)
            stored[name] = mask(value)
            stored[name + _ENC_SUFFIX] = base64.b64encode(blob).decode("ascii")
    return stored


def _shown_details(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if not k.endswith(_ENC_SUFFIX)}


def _interval_days(session: Session, group_type: SpecialGroupType, danger_level: int | None) -> int:
    days = session.scalar(
        select(VisitInterval.interval_days)
        .where(
            VisitInterval.group_type == group_type,
            VisitInterval.min_danger_level <= (danger_level or 0),
        )
        .order_by(VisitInterval.min_danger_level.desc())
        .limit(1)
    )
    if days is None:
        raise InvalidRecord(
            f"no visit interval is configured for {_group_name(group_type)}"
            + (f" at danger level {danger_level}" if danger_level is not None else "")
            + "; an admin sets one with set_visit_interval"
        )
    return days


def _check_danger_level(group_type: SpecialGroupType, danger_level: int | None) -> None:
    if group_type is SpecialGroupType.MENTAL_DISORDER:
        if danger_level is None:
            raise InvalidRecord(
                "danger_level is required for 严重精神障碍患者 (mental_disorder): the risk "
                "assessment level 0–5 sets how often they are visited"
            )
        if not 0 <= danger_level <= MAX_DANGER_LEVEL:
            raise InvalidRecord(f"danger_level {danger_level} is outside 0..{MAX_DANGER_LEVEL}")
    elif danger_level is not None:
        raise InvalidRecord(
            f"danger_level only applies to 严重精神障碍患者 (mental_disorder), not to "
            f"{_group_name(group_type)}; leave it out"
        )


def _membership_select() -> Any:
    return select(SpecialGroup, Resident.name, Resident.doc_masked, Resident.grid_code).join(
        Resident, SpecialGroup.resident_id == Resident.id
    )


def _read(
    group: SpecialGroup, name: str, doc_masked: str, grid_code: str | None
) -> SpecialGroupRead:
    details = group.details or {}
    return SpecialGroupRead(
        id=group.id,
        resident_id=group.resident_id,
        resident_name=name,
        doc_masked=doc_masked,
        grid_code=grid_code,
        group_type=group.group_type,
        group_type_label=group.group_type.label,
        details=_shown_details(details),
        danger_level=group.danger_level,
        started_on=group.started_on,
        ended_on=group.ended_on,
        end_reason=group.end_reason,
        visit_interval_days=group.visit_interval_days,
        last_visit_on=group.last_visit_on,
        next_visit_due=group.next_visit_due,
        responsible_staff_id=group.responsible_staff_id,
    )


def _load_resident(session: Session, actor: Actor, resident_id: int, action: str) -> Resident:
    require_role(actor, READ_PERSONS, action)
    # Locking the resident serialises concurrent enrolments of the same person.
    return load_visible_resident(session, actor, resident_id, lock=True)


def _load_membership(
    session: Session, actor: Actor, special_group_id: int, action: str
) -> tuple[SpecialGroup, Resident]:
    require_role(actor, READ_PERSONS, action)
    group = session.get(SpecialGroup, special_group_id, with_for_update=True)
    missing = NotFound(
        f"special group membership {special_group_id} does not exist or is outside your scope "
        "(不存在或不在您的管辖范围内)"
    )
    if group is None:
        raise missing
    resident = session.get(Resident, group.resident_id)
    assert resident is not None  # the foreign key cascades deletes
    if not actor.can_see_grid(resident.grid_code):
        # Same answer as a membership that does not exist: it would otherwise confirm that
        # somebody outside one's scope is in a special group, and name their grid.
        raise missing
    return group, resident


def _require_open(group: SpecialGroup) -> None:
    if group.ended_on is not None:
        raise InvalidRecord(
            f"membership {group.id} ({_group_name(group.group_type)}) ended on {group.ended_on}; "
            "enrol the resident again if they are back in the group"
        )


def _check_responsible(session: Session, staff_id: int, grid_code: str | None) -> None:
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise NotFound(f"responsible staff account {staff_id} does not exist or is disabled")
    covers = session.scalar(
        select(StaffGrid.grid_code).where(
            StaffGrid.staff_id == staff_id, StaffGrid.grid_code == grid_code
        )
    )
    if staff.role is not StaffRole.GRID_WORKER or covers is None:
        raise InvalidRecord(
            f"responsible_staff_id {staff_id} ({staff.full_name}) is not a grid worker of grid "
            f"{grid_code or '(none)'}; choose a grid worker of the resident's grid"
        )


def _not_after_today(name: str, day: date, today: date) -> None:
    if day > today:
        raise InvalidRecord(f"{name} {day} is in the future (today is {today})")


# --- memberships ------------------------------------------------------------------------------


def enrol(
    session: Session,
    *,
    actor: Actor,
    resident_id: int,
    group_type: SpecialGroupType | str,
    details: dict[str, Any],
    started_on: date,
    danger_level: int | None = None,
    responsible_staff_id: int | None = None,
    today: date | None = None,
) -> SpecialGroupRead:
    """Add a resident to a special group; the first visit is due one interval after the start."""
    kind = parse_group_type(group_type)
    resident = _load_resident(session, actor, resident_id, "enrol residents in special groups")
    if not resident.active:
        raise InvalidRecord(
            f"resident {resident_id} has moved away or died (inactive); only current residents "
            "are enrolled"
        )
    _not_after_today("started_on", started_on, today or local_today())
    _check_danger_level(kind, danger_level)
    parsed = validate_details(kind, details)
    problems = parsed.problems_with_start(started_on)
    if problems:
        raise InvalidRecord(f"details of {_group_name(kind)}: " + "; ".join(problems))
    if isinstance(parsed, DisabledDetails):
        _check_certificate_holder(resident, parsed.certificate_number)
    existing = session.execute(
        select(SpecialGroup.id, SpecialGroup.started_on).where(
            SpecialGroup.resident_id == resident_id,
            SpecialGroup.group_type == kind,
            SpecialGroup.ended_on.is_(None),
        )
    ).first()
    if existing is not None:
        raise Duplicate(
            f"resident {resident_id} is already in {_group_name(kind)} since {existing[1]} "
            f"(membership {existing[0]}); update or end that membership instead"
        )
    if responsible_staff_id is not None:
        _check_responsible(session, responsible_staff_id, resident.grid_code)
    interval = _interval_days(session, kind, danger_level)
    group = SpecialGroup(
        resident_id=resident_id,
        district_code=resident.district_code,
        group_type=kind,
        details=_stored_details(kind, parsed),
        danger_level=danger_level,
        started_on=started_on,
        visit_interval_days=interval,
        next_visit_due=date.fromordinal(started_on.toordinal() + interval),
        responsible_staff_id=responsible_staff_id,
    )
    session.add(group)
    session.flush()
    return _read(group, resident.name, resident.doc_masked, resident.grid_code)


def _check_certificate_holder(resident: Resident, certificate_number: str) -> None:
    """The ID number inside a disability certificate must be the resident's own."""
    if resident.doc_type is not DocumentType.ID_CARD:
        return
    if document_hash(DocumentType.ID_CARD, certificate_number[:18]) != resident.doc_hash:
        raise InvalidRecord(
            "details.certificate_number: its first 18 characters are not this resident's ID "
            "number; check that the certificate belongs to them"
        )


def get_membership(session: Session, *, actor: Actor, special_group_id: int) -> SpecialGroupRead:
    """One membership, masked."""
    group, resident = _load_membership(session, actor, special_group_id, "read special groups")
    return _read(group, resident.name, resident.doc_masked, resident.grid_code)


def list_members(
    session: Session,
    *,
    actor: Actor,
    group_type: SpecialGroupType | str | None = None,
    grid_code: str | None = None,
    include_ended: bool = False,
    page: int = 1,
    page_size: int = 50,
) -> SpecialGroupPage:
    """Memberships in the actor's scope, by grid, type and name; leaders get aggregates instead."""
    require_role(actor, READ_PERSONS, "list special-group members by name")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    stmt = _membership_select().where(grid_scope(actor, Resident.grid_code))
    if group_type is not None:
        stmt = stmt.where(SpecialGroup.group_type == parse_group_type(group_type))
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
        stmt = stmt.where(Resident.grid_code == grid_code)
    if not include_ended:
        stmt = stmt.where(SpecialGroup.ended_on.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(Resident.grid_code, SpecialGroup.group_type, Resident.name, SpecialGroup.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return SpecialGroupPage(
        total=total, page=page, page_size=page_size, items=[_read(*row) for row in rows]
    )


def change_danger_level(
    session: Session, *, actor: Actor, special_group_id: int, danger_level: int
) -> SpecialGroupRead:
    """Record a new risk assessment (严重精神障碍) and reschedule the next visit from it."""
    group, resident = _load_membership(session, actor, special_group_id, "change danger levels")
    _require_open(group)
    if group.group_type is not SpecialGroupType.MENTAL_DISORDER:
        raise InvalidRecord(
            f"membership {special_group_id} is {_group_name(group.group_type)}; danger levels "
            "only apply to 严重精神障碍患者 (mental_disorder)"
        )
    _check_danger_level(group.group_type, danger_level)
    group.danger_level = danger_level
    _reschedule(session, group)
    session.flush()
    return _read(group, resident.name, resident.doc_masked, resident.grid_code)


def _reschedule(session: Session, group: SpecialGroup) -> None:
    group.visit_interval_days = _interval_days(session, group.group_type, group.danger_level)
    last = group.last_visit_on or group.started_on
    group.next_visit_due = date.fromordinal(last.toordinal() + group.visit_interval_days)


def end_membership(
    session: Session,
    *,
    actor: Actor,
    special_group_id: int,
    ended_on: date,
    reason: str,
    today: date | None = None,
) -> SpecialGroupRead:
    """End a membership (recovered, moved away, sentence served …); it stays in the history."""
    group, resident = _load_membership(session, actor, special_group_id, "end memberships")
    _require_open(group)
    if not reason or not reason.strip():
        raise InvalidRecord("say why the membership ends (reason); it is kept with the record")
    _not_after_today("ended_on", ended_on, today or local_today())
    if ended_on < group.started_on:
        raise InvalidRecord(f"ended_on {ended_on} is before started_on {group.started_on}")
    group.ended_on = ended_on
    group.end_reason = reason.strip()
    session.flush()
    return _read(group, resident.name, resident.doc_masked, resident.grid_code)


# --- visits -----------------------------------------------------------------------------------


def record_visit(
    session: Session,
    *,
    actor: Actor,
    special_group_id: int,
    visited_on: date,
    note: str,
    lon: float | None = None,
    lat: float | None = None,
    crs: str = "wgs84",
    today: date | None = None,
) -> VisitRead:
    """Record a visit (走访) by the acting staff member and move the next due date on.

    `lon`/`lat` (optional, both or neither) are decimal degrees in `crs` (wgs84/cgcs2000,
    gcj02, bd09), stored as CGCS2000 (SRID 4490).
    """
    group, _ = _load_membership(session, actor, special_group_id, "record visits")
    _require_open(group)
    _not_after_today("visited_on", visited_on, today or local_today())
    if visited_on < group.started_on:
        raise InvalidRecord(
            f"visited_on {visited_on} is before the membership started ({group.started_on})"
        )
    if not note or not note.strip():
        raise InvalidRecord("say what the visit found (note); it is the visit record")
    if (lon is None) != (lat is None):
        raise InvalidRecord("give both lon and lat for the visit location, or neither")
    geom = None
    if lon is not None and lat is not None:
        try:
            lon, lat = to_storage(lon, lat, crs)
        except CoordinateError as exc:
            raise InvalidRecord(str(exc)) from exc
        geom = from_shape(Point(lon, lat), srid=STORAGE_SRID)
    visit = Visit(
        special_group_id=group.id,
        district_code=group.district_code,
        staff_id=actor.staff_id,
        visited_on=visited_on,
        note=note.strip(),
        geom=geom,
    )
    session.add(visit)
    # A late-entered older visit does not move the schedule back.
    if group.last_visit_on is None or visited_on > group.last_visit_on:
        group.last_visit_on = visited_on
    _reschedule(session, group)
    session.flush()
    return VisitRead(
        id=visit.id,
        special_group_id=group.id,
        staff_id=actor.staff_id,
        visited_on=visited_on,
        note=visit.note,
        lon=lon,
        lat=lat,
        next_visit_due=group.next_visit_due,
    )


def list_visits(session: Session, *, actor: Actor, special_group_id: int) -> list[VisitRead]:
    """The visits of a membership, newest first."""
    group, _ = _load_membership(session, actor, special_group_id, "read visits")
    rows = session.execute(
        select(Visit, func.ST_X(Visit.geom), func.ST_Y(Visit.geom))
        .where(Visit.special_group_id == special_group_id)
        .order_by(Visit.visited_on.desc(), Visit.id.desc())
    ).all()
    return [
        VisitRead(
            id=v.id,
            special_group_id=v.special_group_id,
            staff_id=v.staff_id,
            visited_on=v.visited_on,
            note=v.note,
            lon=x,
            lat=y,
            next_visit_due=group.next_visit_due,
        )
        for v, x, y in rows
    ]


# --- visit intervals --------------------------------------------------------------------------


def list_visit_intervals(session: Session) -> list[VisitIntervalRead]:
    """The configured visit intervals, by group type and danger level."""
    rows = session.scalars(
        select(VisitInterval).order_by(VisitInterval.group_type, VisitInterval.min_danger_level)
    )
    return [
        VisitIntervalRead(
            group_type=r.group_type,
            group_type_label=r.group_type.label,
            min_danger_level=r.min_danger_level,
            interval_days=r.interval_days,
        )
        for r in rows
    ]


def set_visit_interval(
    session: Session,
    *,
    actor: Actor,
    group_type: SpecialGroupType | str,
    min_danger_level: int,
    interval_days: int,
) -> VisitIntervalChange:
    """Set how often a group is visited and reschedule its open memberships (admin only)."""
    require_role(actor, frozenset({StaffRole.ADMIN}), "change visit intervals")
    kind = parse_group_type(group_type)
    if not 0 <= min_danger_level <= MAX_DANGER_LEVEL:
        raise InvalidRecord(f"min_danger_level {min_danger_level} is outside 0..{MAX_DANGER_LEVEL}")
    if min_danger_level and kind is not SpecialGroupType.MENTAL_DISORDER:
        raise InvalidRecord(
            f"{_group_name(kind)} has no danger levels; set its interval with min_danger_level 0"
        )
    if not 1 <= interval_days <= 366:
        raise InvalidRecord(f"interval_days {interval_days} must be 1..366 (at least once a year)")
    base = session.scalar(
        select(VisitInterval.interval_days).where(
            VisitInterval.group_type == kind, VisitInterval.min_danger_level == 0
        )
    )
    if min_danger_level and base is None:
        raise InvalidRecord(
            f"set the base interval of {_group_name(kind)} (min_danger_level 0) first, so every "
            "danger level has one"
        )
    session.execute(
        insert(VisitInterval)
        .values(group_type=kind, min_danger_level=min_danger_level, interval_days=interval_days)
        .on_conflict_do_update(
            index_elements=[VisitInterval.group_type, VisitInterval.min_danger_level],
            set_={"interval_days": interval_days},
        )
    )
    rescheduled = session.execute(
        update(SpecialGroup)
        .where(SpecialGroup.group_type == kind, SpecialGroup.ended_on.is_(None))
        .values(
            visit_interval_days=_interval_for_row(),
            next_visit_due=func.coalesce(SpecialGroup.last_visit_on, SpecialGroup.started_on)
            + _interval_for_row(),
        )
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return VisitIntervalChange(
        group_type=kind,
        group_type_label=kind.label,
        min_danger_level=min_danger_level,
        interval_days=interval_days,
        rescheduled=rescheduled.rowcount,  # type: ignore[attr-defined]
    )


def _interval_for_row() -> Any:
    """The interval of each special_group row, as a correlated scalar subquery."""
    return (
        select(VisitInterval.interval_days)
        .where(
            VisitInterval.group_type == SpecialGroup.group_type,
            VisitInterval.min_danger_level <= func.coalesce(SpecialGroup.danger_level, 0),
        )
        .order_by(VisitInterval.min_danger_level.desc())
        .limit(1)
        .correlate(SpecialGroup)
        .scalar_subquery()
    )


# --- overdue visits ---------------------------------------------------------------------------


def _overdue_filter(actor: Actor, today: date) -> ColumnElement[bool]:
    """Open memberships of current residents in scope whose visit was due before today."""
    return and_(
        SpecialGroup.ended_on.is_(None),
        SpecialGroup.next_visit_due < today,
        Resident.active,
        grid_scope(actor, Resident.grid_code),
    )


def _owed_by(staff_id: int) -> ColumnElement[bool]:
    """Memberships a staff member owes: theirs, or unassigned ones in grids they cover."""
    grids = select(StaffGrid.grid_code).where(StaffGrid.staff_id == staff_id)
    return or_(
        SpecialGroup.responsible_staff_id == staff_id,
        and_(SpecialGroup.responsible_staff_id.is_(None), Resident.grid_code.in_(grids)),
    )


def list_overdue(
    session: Session,
    *,
    actor: Actor,
    today: date | None = None,
    grid_code: str | None = None,
    staff_id: int | None = None,
) -> list[OverdueVisitRead]:
    """Overdue visits in the actor's scope, most overdue first; filter by grid or by worker."""
    require_role(actor, READ_PERSONS, "list overdue visits by name")
    today = today or local_today()
    days_overdue = _days_overdue(today)
    stmt = (
        select(SpecialGroup, Resident.name, Resident.doc_masked, Resident.grid_code, days_overdue)
        .join(Resident, SpecialGroup.resident_id == Resident.id)
        .where(_overdue_filter(actor, today))
    )
    if grid_code:
        stmt = stmt.where(Resident.grid_code == grid_code)
    if staff_id is not None:
        stmt = stmt.where(_owed_by(staff_id))
    rows = session.execute(
        stmt.order_by(SpecialGroup.next_visit_due, Resident.grid_code, SpecialGroup.id)
    ).all()
    return [
        OverdueVisitRead(**_visit_fields(g, name, doc_masked, grid, days))
        for g, name, doc_masked, grid, days in rows
    ]


def list_due(
    session: Session,
    *,
    actor: Actor,
    within_days: int = 7,
    grid_code: str | None = None,
    page: int = 1,
    page_size: int = 50,
    today: date | None = None,
) -> DueVisitPage:
    """Visits due within `within_days` or overdue in the actor's scope, most urgent first."""
    require_role(actor, READ_PERSONS, "list due visits by name")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    if not 0 <= within_days <= 366:
        raise InvalidRecord(f"within_days {within_days} must be 0..366")
    today = today or local_today()
    horizon = date.fromordinal(today.toordinal() + within_days)
    days_overdue = _days_overdue(today)
    stmt = (
        select(
            SpecialGroup,
            Resident.name,
            Resident.doc_masked,
            Resident.grid_code,
            Building.code,
            HOUSE_CODE,
            days_overdue,
        )
        .join(Resident, SpecialGroup.resident_id == Resident.id)
        .outerjoin(House, Resident.house_id == House.id)
        .outerjoin(Building, House.building_id == Building.id)
        .where(
            SpecialGroup.ended_on.is_(None),
            SpecialGroup.next_visit_due <= horizon,
            Resident.active,
            grid_scope(actor, Resident.grid_code),
        )
    )
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
        stmt = stmt.where(Resident.grid_code == grid_code)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(SpecialGroup.next_visit_due, Resident.grid_code, SpecialGroup.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    items = [
        DueVisitRead(
            **_visit_fields(g, name, doc_masked, grid, days),
            building_code=building,
            house_code=house,
        )
        for g, name, doc_masked, grid, building, house, days in rows
    ]
    return DueVisitPage(total=total, page=page, page_size=page_size, items=items)


def overdue_by_grid(
    session: Session, *, actor: Actor, today: date | None = None
) -> list[GridOverdue]:
    """Overdue visits counted per grid in the actor's scope, most first (no names)."""
    require_role(actor, READ_AGGREGATES, "see overdue visit counts")
    today = today or local_today()
    count = func.count(SpecialGroup.id)
    rows = session.execute(
        select(Resident.grid_code, Grid.name, count)
        .select_from(SpecialGroup)
        .join(Resident, SpecialGroup.resident_id == Resident.id)
        .outerjoin(Grid, Grid.code == Resident.grid_code)
        .where(_overdue_filter(actor, today))
        .group_by(Resident.grid_code, Grid.name)
        .order_by(count.desc(), Resident.grid_code)
    ).all()
    return [GridOverdue(grid_code=code, grid_name=name, overdue=n) for code, name, n in rows]


def overdue_by_worker(
    session: Session, *, actor: Actor, today: date | None = None
) -> list[WorkerOverdue]:
    """Overdue visits counted per staff member who owes them, most first (no resident names).

    A membership with a responsible staff member counts for them; one without counts for every
    active grid worker of the resident's grid, or under staff_id None when the grid has none.
    """
    require_role(actor, READ_AGGREGATES, "see overdue visit counts")
    today = today or local_today()
    overdue = (
        select(SpecialGroup.id, SpecialGroup.responsible_staff_id, Resident.grid_code)
        .join(Resident, SpecialGroup.resident_id == Resident.id)
        .where(_overdue_filter(actor, today))
        .subquery()
    )
    workers = (
        select(StaffGrid.staff_id, StaffGrid.grid_code)
        .join(Staff, Staff.id == StaffGrid.staff_id)
        .where(Staff.role == StaffRole.GRID_WORKER, Staff.active)
        .subquery()
    )
    owed = union_all(
        select(overdue.c.responsible_staff_id.label("staff_id"), overdue.c.id).where(
            overdue.c.responsible_staff_id.is_not(None)
        ),
        select(workers.c.staff_id, overdue.c.id)
        .select_from(overdue.outerjoin(workers, workers.c.grid_code == overdue.c.grid_code))
        .where(overdue.c.responsible_staff_id.is_(None)),
    ).subquery()
    count = func.count(func.distinct(owed.c.id))
    rows = session.execute(
        select(owed.c.staff_id, Staff.full_name, count)
        .outerjoin(Staff, Staff.id == owed.c.staff_id)
        .group_by(owed.c.staff_id, Staff.full_name)
        .order_by(count.desc(), owed.c.staff_id.nulls_last())
    ).all()
    return [WorkerOverdue(staff_id=sid, full_name=name, overdue=n) for sid, name, n in rows]
