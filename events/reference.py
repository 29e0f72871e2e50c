"""Reference data every deployment starts with: the category table and the work calendar."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from events.calendar import CalendarEntry, DayKind, WorkCalendar, read_calendar_csv
from events.catalog import load_default_categories
from events.devices import load_device_types
from events.models import EventCategory, WorkCalendarDay


def shipped_calendar_entries() -> list[CalendarEntry]:
    """Rows of the shipped work calendar (2026 and 2027)."""
    text = resources.files("events").joinpath("data/work_calendar.csv").read_text("utf-8")
    return read_calendar_csv(text)


def load_reference_data(session: Session) -> tuple[int, int]:
    """Add shipped categories and calendar days that are missing; returns how many of each.

    Existing rows are left alone, so an admin's edits survive upgrades.
    """
    known = set(session.scalars(select(EventCategory.code)))
    categories = [spec for spec in load_default_categories() if spec.code not in known]
    session.add_all(
        EventCategory(
            code=spec.code,
            version=1,
            major_code=spec.major_code,
            major_name=spec.major_name,
            name=spec.name,
            lead=spec.lead,
            assisting=[d.value for d in spec.assisting],
            priority=spec.priority,
            sign_limit=spec.sign_limit,
            handle_limit=spec.handle_limit,
            verify_limit=spec.verify_limit,
            photo_required=spec.photo_required,
            onsite_verification_required=spec.onsite_verification_required,
            needs_check=spec.needs_check,
            start_tier=spec.start_tier,
            auto_register=spec.auto_register,
            description=spec.description or None,
        )
        for spec in categories
    )
    days = [
        {"day": e.day, "kind": e.kind.value, "name": e.name} for e in shipped_calendar_entries()
    ]
    added_days = 0
    if days:
        result = session.execute(
            insert(WorkCalendarDay)
            .values(days)
            .on_conflict_do_nothing()
            .returning(WorkCalendarDay.day)
        )
        added_days = len(result.all())
    session.flush()
    # The sensors' device types file their alarms as categories: loaded after them.
    load_device_types(session)
    return len(categories), added_days


def work_calendar(session: Session) -> WorkCalendar:
    """The calendar as edited in the database (read once per session)."""
    cached = session.info.get("work_calendar")
    if isinstance(cached, WorkCalendar):
        return cached
    rows = session.execute(select(WorkCalendarDay.day, WorkCalendarDay.kind)).all()
    calendar = WorkCalendar(
        holidays=[day for day, kind in rows if kind == DayKind.HOLIDAY.value],
        workdays=[day for day, kind in rows if kind == DayKind.WORKDAY.value],
    )
    session.info["work_calendar"] = calendar
    return calendar
