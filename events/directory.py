"""The reference tables as staff read them: categories, departments, units, dispatch rules and
the work calendar. Admins change them through `events.admin`."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Final

from sqlalchemy import func, null, select
from sqlalchemy.orm import Session

from events.calendar import DayKind
from events.catalog import DepartmentType
from events.exceptions import InvalidReport, NotFound
from events.models import Department, DepartmentUnit, DispatchRule, EventCategory, WorkCalendarDay
from events.schemas import CalendarDayRead, CategoryRead, DepartmentRead, RuleRead, UnitRead
from people.access import Actor, require_role
from people.models import StaffRole

# Dispatch rules say which department handles what; command staff read them, admins edit them.
READ_RULES: Final = frozenset({StaffRole.COMMAND, StaffRole.ADMIN})
DAY_KIND_LABELS: Final = {DayKind.HOLIDAY.value: "节假日", DayKind.WORKDAY.value: "调休上班"}


def _labels(types: list[str]) -> list[str]:
    return [DepartmentType(t).label for t in types]


def category_read(category: EventCategory) -> CategoryRead:
    """A category row as staff see it."""
    return CategoryRead(
        code=category.code,
        version=category.version,
        major_code=category.major_code,
        major_name=category.major_name,
        name=category.name,
        lead=category.lead,
        lead_label=category.lead.label,
        assisting=list(category.assisting),
        assisting_labels=_labels(list(category.assisting)),
        priority=category.priority,
        priority_label=category.priority.label,
        sign_limit=category.sign_limit,
        handle_limit=category.handle_limit,
        verify_limit=category.verify_limit,
        photo_required=category.photo_required,
        onsite_verification_required=category.onsite_verification_required,
        needs_check=category.needs_check,
        start_tier=category.start_tier,
        start_tier_label=category.start_tier.label,
        auto_register=category.auto_register,
        description=category.description,
        valid_from=category.valid_from,
    )


def list_categories(session: Session, *, major_code: str | None = None) -> list[CategoryRead]:
    """The current version of every subcategory, by code."""
    stmt = select(EventCategory).where(EventCategory.valid_to.is_(None))
    if major_code:
        stmt = stmt.where(EventCategory.major_code == major_code)
    return [category_read(c) for c in session.scalars(stmt.order_by(EventCategory.code))]


def _department_type(value: DepartmentType | str | None) -> DepartmentType | None:
    if value is None or isinstance(value, DepartmentType):
        return value
    try:
        return DepartmentType.parse(value)
    except ValueError as exc:
        raise InvalidReport(str(exc)) from exc


def list_departments(
    session: Session, *, dept_type: DepartmentType | str | None = None
) -> list[DepartmentRead]:
    """Departments with their unit counts, by type and name."""
    kind = _department_type(dept_type)
    units = (
        select(func.count()).where(DepartmentUnit.department_id == Department.id).scalar_subquery()
    )
    stmt = select(Department, units)
    if kind is not None:
        stmt = stmt.where(Department.dept_type == kind)
    rows = session.execute(stmt.order_by(Department.dept_type, Department.name, Department.id))
    return [
        DepartmentRead(
            id=d.id,
            name=d.name,
            dept_type=d.dept_type,
            dept_type_label=d.dept_type.label,
            district_code=d.district_code,
            units=n,
        )
        for d, n in rows
    ]


def _unit_rows(with_geometry: bool) -> Any:
    geometry = func.ST_AsGeoJSON(DepartmentUnit.geom, 7, 0) if with_geometry else null()
    return select(
        DepartmentUnit,
        Department.name,
        func.ST_X(DepartmentUnit.location),
        func.ST_Y(DepartmentUnit.location),
        geometry,
    ).join(Department, DepartmentUnit.department_id == Department.id)


def _unit_read(row: Any) -> UnitRead:
    unit, department_name, lon, lat, geometry = row
    return UnitRead(
        id=unit.id,
        code=unit.code,
        name=unit.name,
        department_id=unit.department_id,
        department_name=department_name,
        dept_type=unit.dept_type,
        dept_type_label=unit.dept_type.label,
        district_code=unit.district_code,
        phone=unit.phone,
        active=unit.active,
        lon=lon,
        lat=lat,
        has_jurisdiction=unit.geom is not None,
        geometry=json.loads(geometry) if geometry else None,
    )


def list_units(
    session: Session,
    *,
    dept_type: DepartmentType | str | None = None,
    department_id: int | None = None,
    with_geometry: bool = False,
) -> list[UnitRead]:
    """Department units by type and code; jurisdictions as GeoJSON when `with_geometry`."""
    kind = _department_type(dept_type)
    stmt = _unit_rows(with_geometry)
    if kind is not None:
        stmt = stmt.where(DepartmentUnit.dept_type == kind)
    if department_id is not None:
        stmt = stmt.where(DepartmentUnit.department_id == department_id)
    rows = session.execute(stmt.order_by(DepartmentUnit.dept_type, DepartmentUnit.code))
    return [_unit_read(row) for row in rows]


def get_unit(session: Session, *, unit_id: int, with_geometry: bool = True) -> UnitRead:
    """One department unit with its jurisdiction."""
    row = session.execute(
        _unit_rows(with_geometry).where(DepartmentUnit.id == unit_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"unit {unit_id} does not exist")
    return _unit_read(row)


def rule_read(rule: DispatchRule) -> RuleRead:
    """A dispatch rule as staff see it."""
    return RuleRead(
        id=rule.id,
        position=rule.position,
        name=rule.name,
        category_code=rule.category_code,
        area_prefix=rule.area_prefix,
        weekdays=list(rule.weekdays) if rule.weekdays is not None else None,
        time_from=rule.time_from,
        time_to=rule.time_to,
        priority=rule.priority,
        lead=rule.lead,
        lead_label=rule.lead.label,
        assisting=list(rule.assisting),
        fixed_unit_id=rule.fixed_unit_id,
        active=rule.active,
    )


def list_rules(session: Session, *, actor: Actor, include_inactive: bool = False) -> list[RuleRead]:
    """Dispatch rules in the order they are tried (command centre and admins)."""
    require_role(actor, READ_RULES, "read dispatch rules")
    stmt = select(DispatchRule)
    if not include_inactive:
        stmt = stmt.where(DispatchRule.active)
    rules = session.scalars(stmt.order_by(DispatchRule.position, DispatchRule.id))
    return [rule_read(r) for r in rules]


def get_rule(session: Session, *, actor: Actor, rule_id: int) -> RuleRead:
    """One dispatch rule."""
    require_role(actor, READ_RULES, "read dispatch rules")
    rule = session.get(DispatchRule, rule_id)
    if rule is None:
        raise NotFound(f"dispatch rule {rule_id} does not exist")
    return rule_read(rule)


def districts_seen(session: Session, *, actor: Actor) -> tuple[str, ...] | None:
    """The districts (6-digit codes, or a 4-digit city prefix) whose base map (grids,
    buildings, houses) the actor sees: an admin every one (None); a grid worker their grids'
    districts, a dispatcher their unit's, area staff their area's; nobody another district's."""
    if actor.role is StaffRole.ADMIN:
        return None
    if actor.grid_codes:
        return tuple(sorted({code[:6] for code in actor.grid_codes}))
    if actor.department_unit_id is not None:
        unit = session.get(DepartmentUnit, actor.department_unit_id)
        return (unit.district_code,) if unit is not None else ()
    if actor.area_code:
        return (actor.area_code.strip()[:6],)  # a city's 4 digits stay 4
    return ()


def _day_read(entry: WorkCalendarDay) -> CalendarDayRead:
    return CalendarDayRead(
        day=entry.day,
        kind=entry.kind,
        kind_label=DAY_KIND_LABELS.get(entry.kind, entry.kind),
        name=entry.name,
        weekday=entry.day.isoweekday(),
    )


def list_calendar(session: Session, *, year: int | None = None) -> list[CalendarDayRead]:
    """Holidays and worked weekend days (调休) of the work calendar, by date."""
    stmt = select(WorkCalendarDay)
    if year is not None:
        stmt = stmt.where(
            WorkCalendarDay.day >= date(year, 1, 1), WorkCalendarDay.day <= date(year, 12, 31)
        )
    days = session.scalars(
        stmt.order_by(WorkCalendarDay.day).execution_options(populate_existing=True)
    )
    return [_day_read(d) for d in days]


def get_calendar_day(session: Session, *, day: date) -> CalendarDayRead | None:
    """The calendar entry of `day`, None when it is an ordinary day."""
    entry = session.scalar(
        select(WorkCalendarDay)
        .where(WorkCalendarDay.day == day)
        .execution_options(populate_existing=True)
    )
    return _day_read(entry) if entry is not None else None


__all__ = [
    "category_read",
    "get_calendar_day",
    "get_rule",
    "get_unit",
    "list_calendar",
    "list_categories",
    "list_departments",
    "list_rules",
    "list_units",
    "rule_read",
]
