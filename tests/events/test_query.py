"""The event list's light filter in SQL: the same lights as events.deadlines.light, always."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from events import deadlines
from events.calendar import Light
from events.models import Event
from events.query import light_filter
from events.reference import work_calendar
from gis.clock import CHINA_TZ
from tests.events.workflow_city import build_city, do, file


def test_light_filter_picks_what_the_calendar_light_says_across_holidays_and_suspension(
    session,
):
    city = build_city(session)
    at = lambda *parts: datetime(2026, *parts, tzinfo=CHINA_TZ)  # noqa: E731
    filed = [
        file(city, category="0102", now=at(9, 18, 16, 0)),  # Fri → Sun 20th, a worked weekend
        file(city, category="0102", now=at(9, 24, 17, 0)),  # Thu → over the Mid-Autumn holiday
        file(city, category="1101", now=at(10, 3, 22, 0)),  # urgent: on the clock, in a holiday
        file(city, category="0102", now=at(10, 9, 12, 30)),  # in the lunch break
    ]
    over_holiday = file(city, category="0101", now=at(9, 30, 11, 0))
    filed.append(do(city, "disp_w", over_holiday, "sign", at(9, 30, 11, 30)))  # 1d past 国庆
    plain_week = file(city, category="0102", lon=111.283, now=at(10, 12, 9, 30))
    filed.append(do(city, "disp_w", plain_week, "sign", at(10, 12, 10, 0)))  # 3d, no holiday
    paused = file(city, category="0102", now=at(9, 29, 10, 0))
    do(city, "disp_w", paused, "sign", at(9, 29, 10, 30))
    filed.append(do(city, "command_staff", paused, "suspend", at(9, 29, 15, 0), reason="待鉴定"))
    events = session.scalars(select(Event).where(Event.id.in_([e.id for e in filed]))).all()
    assert all(e.stage_deadline is not None for e in events)

    instants = [at(9, 18, 0, 0) + timedelta(minutes=113 * i) for i in range(30 * 24 * 60 // 113)]
    for event in events:  # the edges: at each deadline and a second either side, the
        # hours before it (yellow), and 80 % on the clock
        start, deadline = event.stage_started_at, event.stage_deadline
        assert start is not None and deadline is not None
        instants += [deadline + timedelta(seconds=s) for s in (-1, 0, 1)]
        instants += [deadline - timedelta(minutes=m) for m in (5, 12, 30, 50, 70, 100, 150, 200)]
        instants.append(start + (deadline - start) * 4 / 5)
    calendar = work_calendar(session)
    ids = [e.id for e in events]
    seen = set()
    for now in instants:
        rows = session.execute(
            select(Event.id, *(light_filter(calendar, now, light) for light in Light)).where(
                Event.id.in_(ids)
            )
        ).all()
        in_sql = {light: {row[0] for row in rows if row[1 + i]} for i, light in enumerate(Light)}
        by_calendar = {light: set() for light in Light}
        for event in events:
            expected = deadlines.light(session, event=event, now=now)
            assert expected is not None
            by_calendar[expected].add(event.id)
        assert (now, in_sql) == (now, by_calendar)
        seen |= {light for light, found in by_calendar.items() if found}
    assert seen == set(Light)
