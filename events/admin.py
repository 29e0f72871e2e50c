"""What admins edit: categories (versioned), dispatch rules, the work calendar and units.

Category edits add a new version and close the old one, so past events keep the limits and
departments they were filed under.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from events.calendar import Limit
from events.catalog import Tier
from events.exceptions import InvalidReport, NotFound
from events.models import DepartmentUnit, DispatchRule, EventCategory, WorkCalendarDay
from events.schemas import CategoryChange, RuleInput
from gis.crs import STORAGE_SRID
from gis.geometry import GeometryError, parse_geometry, validate_polygonal
from people.access import Actor, require_role
from people.models import StaffRole

ADMINS = frozenset({StaffRole.ADMIN})


def change_category(
    session: Session,
    *,
    actor: Actor,
    code: str,
    change: CategoryChange,
    now: datetime | None = None,
) -> EventCategory:
    """Write a new version of category `code`; events already filed keep their version."""
    require_role(actor, ADMINS, "edit event categories")
    current = session.scalar(
        select(EventCategory)
        .where(EventCategory.code == code, EventCategory.valid_to.is_(None))
        .with_for_update()
    )
    if current is None:
        raise NotFound(f"category {code} does not exist")
    values = change.model_dump(exclude_unset=True)
    for stage in ("sign_limit", "handle_limit", "verify_limit"):
        if stage in values:
            try:
                Limit.parse(values[stage])
            except ValueError as exc:
                raise InvalidReport(f"{stage}: {exc}") from exc
    if values.get("start_tier") is Tier.CITY:
        raise InvalidReport(
            "start_tier city: a case starts at community, street or district", field="start_tier"
        )
    if "assisting" in values:
        values["assisting"] = [d.value for d in change.assisting or []]
    moment = now or datetime.now(UTC)
    copied = {
        c.key: getattr(current, c.key)
        for c in EventCategory.__table__.columns
        if c.key not in ("id", "version", "valid_from", "valid_to", "changed_by")
    }
    current.valid_to = moment
    session.flush()
    version = EventCategory(
        **(copied | values),
        version=current.version + 1,
        valid_from=moment,
        changed_by=actor.staff_id,
    )
    session.add(version)
    session.flush()
    return version


def _check_rule(session: Session, data: RuleInput) -> dict[str, Any]:
    if data.weekdays and not all(1 <= d <= 7 for d in data.weekdays):
        raise InvalidReport("weekdays are 1 (Monday) to 7 (Sunday)")
    if (data.time_from is None) != (data.time_to is None):
        raise InvalidReport("give both time_from and time_to, or neither")
    if data.fixed_unit_id is not None:
        unit = session.get(DepartmentUnit, data.fixed_unit_id)
        if unit is None:
            raise NotFound(f"unit {data.fixed_unit_id} does not exist")
        # Units are per district: a rule naming one must not reach cases of another.
        prefix = data.area_prefix or ""
        if not prefix.startswith(unit.district_code):
            raise InvalidReport(
                f"规则指定的单位 {unit.name} 属于 {unit.district_code}，"
                f"area_prefix 须限定在该区县内（以 {unit.district_code} 开头）"
                f"(a rule naming a unit of district {unit.district_code} needs an area_prefix "
                "inside that district)"
            )
    if data.category_code and not session.scalar(
        select(func.count())
        .select_from(EventCategory)
        .where(EventCategory.code.startswith(data.category_code))
    ):
        raise InvalidReport(f"no category has code {data.category_code}")
    values = data.model_dump()
    values["assisting"] = [d.value for d in data.assisting]
    return values


def save_rule(
    session: Session, *, actor: Actor, data: RuleInput, rule_id: int | None = None
) -> DispatchRule:
    """Create (or replace, with `rule_id`) a dispatch rule."""
    require_role(actor, ADMINS, "edit dispatch rules")
    if rule_id is None:
        return add_rule(session, data=data)
    values = _check_rule(session, data)
    found = session.get(DispatchRule, rule_id)
    if found is None:
        raise NotFound(f"dispatch rule {rule_id} does not exist")
    for key, value in values.items():
        setattr(found, key, value)
    session.flush()
    return found


def add_rule(session: Session, *, data: RuleInput, first: bool = False) -> DispatchRule:
    """Create a dispatch rule, checked as an admin's is; `first` places it before every other
    rule (the caller has decided who may: admins, or the command centre from a ruling)."""
    values = _check_rule(session, data)
    if first:
        values["position"] = _first_position(session)
    rule = DispatchRule(**values)
    session.add(rule)
    session.flush()
    return rule


def _first_position(session: Session) -> int:
    """A position tried before every rule's (rules at 0 move down one to make room)."""
    lowest = session.scalar(select(func.min(DispatchRule.position)))
    if lowest is None:
        return 0
    if lowest > 0:
        return int(lowest) - 1
    session.execute(update(DispatchRule).values(position=DispatchRule.position + 1))
    return 0


def delete_rule(session: Session, *, actor: Actor, rule_id: int) -> None:
    """Deactivate a rule (kept so past dispatch explanations still name it)."""
    require_role(actor, ADMINS, "edit dispatch rules")
    rule = session.get(DispatchRule, rule_id)
    if rule is None:
        raise NotFound(f"dispatch rule {rule_id} does not exist")
    rule.active = False
    session.flush()


def set_calendar_day(
    session: Session, *, actor: Actor, day: date, kind: str | None, name: str = ""
) -> None:
    """Mark `day` a holiday or a worked weekend day (调休); kind None removes the entry."""
    require_role(actor, ADMINS, "edit the work calendar")
    if kind is None:
        session.execute(delete(WorkCalendarDay).where(WorkCalendarDay.day == day))
    elif kind == "holiday" or (kind == "workday" and day.isoweekday() >= 6):
        session.execute(
            insert(WorkCalendarDay)
            .values(day=day, kind=kind, name=name)
            .on_conflict_do_update(index_elements=["day"], set_={"kind": kind, "name": name})
        )
    elif kind == "workday":
        raise InvalidReport(f"{day} is a weekday: it is a working day already")
    else:
        raise InvalidReport(f"kind '{kind}' must be holiday or workday")
    session.info.pop("work_calendar", None)  # the next deadline reads the edited calendar
    session.flush()


def set_unit_jurisdiction(
    session: Session, *, actor: Actor, unit_id: int, geometry: Any
) -> DepartmentUnit:
    """Replace a unit's jurisdiction polygon (validated; CGCS2000 lon/lat)."""
    require_role(actor, ADMINS, "edit unit jurisdictions")
    unit = session.get(DepartmentUnit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    try:
        polygon = validate_polygonal(parse_geometry(geometry), label=f"jurisdiction of {unit.name}")
    except GeometryError as exc:
        raise InvalidReport(str(exc)) from exc
    unit.geom = f"SRID={STORAGE_SRID};{polygon.wkt}"  # type: ignore[assignment]
    session.flush()
    return unit
