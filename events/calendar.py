"""Work calendar (工作日历): stage deadlines and traffic lights counted in working time.

Every event stage (签收 sign-for, 处置 handling, 核查 verification) has a limit in working hours
or working days. Working time is the office hours of working days: Monday to Friday unless a
public holiday, plus the weekend days worked in exchange (调休上班). Holidays and working
weekends are data (`events/data/work_calendar.csv`), not code.

Counting is done on a cumulative clock of working time. Working days before a date are counted
with arithmetic on weekdays plus `bisect` over the sorted exceptions, so a deadline or a light
costs a few binary searches however far apart the instants are — the KPI and escalation jobs call
`light()` for thousands of open events. The clock is kept in integer microseconds, so sums and the
80 %/100 % thresholds are exact.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final, Self
from zoneinfo import ZoneInfo

from gis.clock import CHINA_TZ
from gis.codes import LabelledEnum

_MICROS_PER_SECOND: Final = 1_000_000
_MICROS_PER_HOUR: Final = 3600 * _MICROS_PER_SECOND
_SATURDAY: Final = 5


def _micros_of_day(moment: time) -> int:
    """Microseconds since midnight."""
    return (
        (moment.hour * 60 + moment.minute) * 60 + moment.second
    ) * _MICROS_PER_SECOND + moment.microsecond


def _time_of_day(micros: int) -> time:
    """The time of day `micros` microseconds after midnight (below 24 h)."""
    seconds, microsecond = divmod(micros, _MICROS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, microsecond)


@dataclass(frozen=True)
class WorkingHours:
    """Office hours of a working day: a morning and an afternoon session, lunch in between.

    The default is the usual government office day (8:30–12:00, 14:30–17:30), 6.5 working hours.
    A session is half-open: an instant at 12:00 is in the lunch break, one at 17:30 after hours.
    """

    morning: tuple[time, time] = (time(8, 30), time(12, 0))
    afternoon: tuple[time, time] = (time(14, 30), time(17, 30))
    _sessions: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sessions = tuple(
            (_micros_of_day(opens), _micros_of_day(closes))
            for opens, closes in (self.morning, self.afternoon)
        )
        (m_open, m_close), (a_open, a_close) = sessions
        if not (m_open < m_close <= a_open < a_close):
            raise ValueError(
                f"office hours {self.morning[0]}–{self.morning[1]} and "
                f"{self.afternoon[0]}–{self.afternoon[1]} must be two sessions in order, "
                "each opening before it closes and the morning ending before the afternoon"
            )
        object.__setattr__(self, "_sessions", sessions)

    @property
    def opening(self) -> time:
        """When the working day starts."""
        return self.morning[0]

    @property
    def closing(self) -> time:
        """When the working day ends."""
        return self.afternoon[1]

    @property
    def micros_per_day(self) -> int:
        """Working time of one working day, in microseconds."""
        return sum(closes - opens for opens, closes in self._sessions)

    @property
    def hours_per_day(self) -> float:
        """Working hours in one working day (6.5 by default)."""
        return self.micros_per_day / _MICROS_PER_HOUR

    def worked_by(self, moment: time) -> int:
        """Working microseconds of a working day that have passed at `moment`."""
        at = _micros_of_day(moment)
        worked = 0
        for opens, closes in self._sessions:
            if at <= opens:
                break
            worked += min(at, closes) - opens
        return worked

    def moment_after(self, worked: int) -> time:
        """The earliest time of day by which `worked` microseconds (0 < worked ≤ a day) are done."""
        for opens, closes in self._sessions:
            if worked <= closes - opens:
                return _time_of_day(opens + worked)
            worked -= closes - opens
        raise ValueError(f"{worked} µs is more than one working day")


OFFICE_HOURS: Final = WorkingHours()


class LimitUnit(LabelledEnum):
    """unit of a stage time limit"""

    HOURS = "hours", "工作小时"
    DAYS = "days", "工作日"


_LIMIT_UNITS: Final[dict[str, LimitUnit]] = {
    "h": LimitUnit.HOURS,
    "hour": LimitUnit.HOURS,
    "hours": LimitUnit.HOURS,
    "小时": LimitUnit.HOURS,
    "工作小时": LimitUnit.HOURS,
    "个工作小时": LimitUnit.HOURS,
    "d": LimitUnit.DAYS,
    "day": LimitUnit.DAYS,
    "days": LimitUnit.DAYS,
    "天": LimitUnit.DAYS,
    "工作日": LimitUnit.DAYS,
    "个工作日": LimitUnit.DAYS,
}
_LIMIT_PATTERN: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(\S+)")


@dataclass(frozen=True)
class Limit:
    """A stage time limit: `Limit(2, LimitUnit.HOURS)` (2 工作小时), `Limit(3, LimitUnit.DAYS)`."""

    amount: float
    unit: LimitUnit

    def __post_init__(self) -> None:
        if not self.amount > 0:
            raise ValueError(f"a time limit must be positive, not {self.amount}")
        if self.unit is LimitUnit.DAYS and self.amount != int(self.amount):
            raise ValueError(
                f"{self.amount} working days is not a whole number of days; "
                "give part days in working hours (one working day is 6.5 hours by default)"
            )

    @classmethod
    def parse(cls, text: str) -> Self:
        """A limit written as "2h", "3d", "2工作小时", "3个工作日" or "1.5 hours"."""
        match = _LIMIT_PATTERN.fullmatch(text.strip())
        unit = _LIMIT_UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise ValueError(
                f"'{text}' is not a time limit; write a number and a unit, "
                "such as 2h, 2工作小时, 3d or 3工作日"
            )
        return cls(float(match.group(1)), unit)

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit.label}"


class Light(LabelledEnum):
    """warning light of a stage"""

    GREEN = "green", "绿灯"
    YELLOW = "yellow", "黄灯"
    RED = "red", "红灯"


class DayKind(enum.StrEnum):
    """Kind of row in the work calendar data."""

    HOLIDAY = "holiday"  # a day off, even when it is a weekday
    WORKDAY = "workday"  # a weekend day that is worked (调休上班)


@dataclass(frozen=True)
class CalendarEntry:
    """One row of the work calendar data."""

    day: date
    kind: DayKind
    name: str


def read_calendar_csv(text: str) -> list[CalendarEntry]:
    """Rows of a `date,kind,name` work calendar; lines starting with # are comments."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if reader.fieldnames is None or not {"date", "kind", "name"} <= set(reader.fieldnames):
        raise ValueError(
            f"work calendar header is {reader.fieldnames}; it must have the columns date,kind,name"
        )
    entries: list[CalendarEntry] = []
    kinds = ", ".join(DayKind)
    for row in reader:
        where = f"work calendar row {reader.line_num} ({row['date']},{row['kind']})"
        try:
            day = date.fromisoformat(row["date"].strip())
        except ValueError:
            raise ValueError(f"{where}: the date must be written YYYY-MM-DD") from None
        try:
            kind = DayKind(row["kind"].strip())
        except ValueError:
            raise ValueError(f"{where}: kind must be one of {kinds}") from None
        entries.append(CalendarEntry(day, kind, (row["name"] or "").strip()))
    return entries


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{what} {moment.isoformat()} has no time zone; working time can only be counted "
            "for aware datetimes, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai'))"
        )
    return moment


def _weekdays_before(ordinal: int) -> int:
    """Mondays to Fridays from 0001-01-01 (a Monday, ordinal 1) up to, not including, `ordinal`."""
    weeks, rest = divmod(ordinal - 1, 7)
    return 5 * weeks + min(rest, 5)


class WorkCalendar:
    """Working days and office hours, and deadlines and lights counted on them."""

    def __init__(
        self,
        holidays: Iterable[date],
        workdays: Iterable[date],
        hours: WorkingHours = OFFICE_HOURS,
        tz: ZoneInfo = CHINA_TZ,
    ) -> None:
        holiday_set = frozenset(holidays)
        workday_set = frozenset(workdays)
        both = sorted(holiday_set & workday_set)
        if both:
            raise ValueError(
                f"{', '.join(map(str, both))} listed both as holiday and as workday; keep one"
            )
        weekdays = sorted(day for day in workday_set if day.weekday() < _SATURDAY)
        if weekdays:
            raise ValueError(
                f"workday {', '.join(map(str, weekdays))} is a weekday, which is worked anyway; "
                "only Saturdays and Sundays worked in exchange (调休) are listed as workdays"
            )
        self.hours = hours
        self.tz = tz
        self.holidays = holiday_set
        self.workdays = workday_set
        self.years = frozenset(day.year for day in holiday_set | workday_set)
        # Only the exceptions that change the weekday rule matter for counting: a holiday that
        # falls on a weekend is a day off anyway.
        self._holiday_weekdays = sorted(
            d.toordinal() for d in holiday_set if d.weekday() < _SATURDAY
        )
        self._working_weekends = sorted(d.toordinal() for d in workday_set)
        self._holiday_ordinals = frozenset(self._holiday_weekdays)
        self._workday_ordinals = frozenset(self._working_weekends)
        self._day = hours.micros_per_day

    @classmethod
    def from_entries(
        cls, entries: Iterable[CalendarEntry], hours: WorkingHours = OFFICE_HOURS
    ) -> WorkCalendar:
        """A calendar from the rows of the calendar data."""
        rows = list(entries)
        return cls(
            holidays=[e.day for e in rows if e.kind is DayKind.HOLIDAY],
            workdays=[e.day for e in rows if e.kind is DayKind.WORKDAY],
            hours=hours,
        )

    @classmethod
    def from_csv(cls, path: str | Path, hours: WorkingHours = OFFICE_HOURS) -> WorkCalendar:
        """A calendar from an edited copy of the `date,kind,name` calendar file."""
        return cls.from_entries(read_calendar_csv(Path(path).read_text(encoding="utf-8")), hours)

    @classmethod
    def shipped(cls) -> WorkCalendar:
        """The calendar shipped in `events/data/work_calendar.csv` (loaded once, then cached)."""
        return _shipped_calendar()

    # -- working days -------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday unless a holiday; Saturday or Sunday only if listed as a workday."""
        return self._is_working_ordinal(day.toordinal())

    def _is_working_ordinal(self, ordinal: int) -> bool:
        if (ordinal - 1) % 7 < _SATURDAY:  # ordinal 1 is a Monday
            return ordinal not in self._holiday_ordinals
        return ordinal in self._workday_ordinals

    def _working_days_before(self, ordinal: int) -> int:
        """Working days from 0001-01-01 up to, not including, the day `ordinal`."""
        return (
            _weekdays_before(ordinal)
            - bisect_left(self._holiday_weekdays, ordinal)
            + bisect_left(self._working_weekends, ordinal)
        )

    def _working_day_number(self, index: int, near: int) -> int:
        """Ordinal of the working day that has `index` working days before it; `near` is a hint."""

        def reached(ordinal: int) -> bool:  # the day is at or after the one sought
            return self._working_days_before(ordinal + 1) > index

        low = high = near
        step = 8
        while reached(low - 1):
            low -= step
            step *= 2
        step = 8
        while not reached(high):
            high += step
            step *= 2
        while low < high:  # invariant: not reached(low - 1), reached(high)
            middle = (low + high) // 2
            if reached(middle):
                high = middle
            else:
                low = middle + 1
        return low

    # -- the working-time clock ---------------------------------------------------------------

    def _clock(self, moment: datetime, what: str = "time") -> int:
        """Working microseconds from 0001-01-01 to `moment`."""
        local = _aware(moment, what).astimezone(self.tz)
        ordinal = local.toordinal()
        clock = self._working_days_before(ordinal) * self._day
        if self._is_working_ordinal(ordinal):
            clock += self.hours.worked_by(local.time())
        return clock

    def _instant(self, clock: int, near: date) -> datetime:
        """The earliest instant at which the working-time clock reads `clock`."""
        index, worked = divmod(clock, self._day)
        if worked == 0:  # a whole number of days: the close of the last of them, not the next open
            index -= 1
            worked = self._day
        ordinal = self._working_day_number(index, near.toordinal())
        return datetime.combine(
            date.fromordinal(ordinal), self.hours.moment_after(worked), tzinfo=self.tz
        )

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds from `start` to `end` (negative if `end` is earlier)."""
        return (self._clock(end, "end") - self._clock(start, "start")) / _MICROS_PER_SECOND

    # -- deadlines ------------------------------------------------------------------------------

    def add(self, start: datetime, limit: Limit) -> datetime:
        """The deadline `limit` of working time after `start`, in the calendar's time zone.

        Counting starts at `start` if it falls in office hours of a working day, otherwise at
        the next opening (a report at 21:00 on Friday starts counting at 8:30 on Monday).

        HOURS: the earliest instant at which that much working time has passed; lunch breaks,
        evenings and days off are skipped. Friday 16:30 + 2 h is Monday 9:30; Friday 16:30 + 1 h
        is Friday 17:30 (not Monday 8:30). Fractions of an hour are kept to the microsecond.

        DAYS: like the rule that the day a period starts is not counted in it (期间开始的当日不
        计入), the day on which counting starts is day 0 and the deadline is the closing time
        (17:30) of the N-th working day after it. Reported on Monday at 10:00, or on Monday at
        17:29, 3 working days are due on Thursday at 17:30; reported on Monday at 17:30 or later,
        on Saturday or on a holiday, counting starts the next working day, which is day 0.
        """
        clock = self._clock(start, "start")
        if limit.unit is LimitUnit.HOURS:
            target = clock + round(limit.amount * _MICROS_PER_HOUR)
        else:
            day_zero = clock // self._day  # index of the working day on which counting starts
            target = (day_zero + int(limit.amount) + 1) * self._day
        return self._instant(target, start.astimezone(self.tz).date())

    def extend_for_pause(self, deadline: datetime, paused: tuple[datetime, datetime]) -> datetime:
        """The deadline moved out by the working time of a suspension (挂账) from begin to end.

        Use this or pass the suspension as `paused` to `light()`, not both for the same interval,
        or the suspension is discounted twice.
        """
        begin, end = paused
        worked = self._paused_micros([(begin, end)])
        if worked == 0:
            return deadline.astimezone(self.tz)
        return self._instant(
            self._clock(deadline, "deadline") + worked, deadline.astimezone(self.tz).date()
        )

    # -- progress and lights --------------------------------------------------------------------

    def _paused_micros(
        self,
        paused: Iterable[tuple[datetime, datetime]],
        within: tuple[datetime, datetime] | None = None,
    ) -> int:
        """Working time in the union of the paused intervals, clipped to `within` if given."""
        intervals: list[tuple[datetime, datetime]] = []
        for begin, end in paused:
            _aware(begin, "pause start")
            _aware(end, "pause end")
            if end < begin:
                raise ValueError(
                    f"suspension ends at {end.isoformat()} before it begins at "
                    f"{begin.isoformat()}; give (begin, end)"
                )
            if within is not None:
                begin, end = max(begin, within[0]), min(end, within[1])
                if end <= begin:
                    continue
            intervals.append((begin, end))
        intervals.sort()
        total = 0
        current: list[datetime] | None = None
        for begin, end in intervals:
            if current is not None and begin <= current[1]:
                current[1] = max(current[1], end)
                continue
            if current is not None:
                total += self._clock(current[1]) - self._clock(current[0])
            current = [begin, end]
        if current is not None:
            total += self._clock(current[1]) - self._clock(current[0])
        return total

    def _progress(
        self,
        start: datetime,
        deadline: datetime,
        now: datetime,
        paused: Iterable[tuple[datetime, datetime]],
    ) -> tuple[int, int, int]:
        """(working time used, working time allowed, clock at `now`), in microseconds."""
        started = self._clock(start, "start")
        allowed = self._clock(deadline, "deadline") - started
        now_clock = self._clock(now, "now")
        used = now_clock - started
        if used > 0:
            used -= self._paused_micros(paused, within=(start, now))
        return max(used, 0), allowed, now_clock

    def used_fraction(
        self,
        start: datetime,
        deadline: datetime,
        now: datetime,
        *,
        paused: Iterable[tuple[datetime, datetime]] = (),
    ) -> float:
        """Share of the limit used at `now`: working time since `start`, less suspensions,
        over the working time from `start` to `deadline` (1.0 at the deadline, > 1 overdue)."""
        used, allowed, _ = self._progress(start, deadline, now, paused)
        if allowed <= 0:
            return 0.0 if used == 0 else float("inf")
        return used / allowed

    def light(
        self,
        start: datetime,
        deadline: datetime,
        now: datetime,
        *,
        paused: Iterable[tuple[datetime, datetime]] = (),
    ) -> Light:
        """Green while at most 80 % of the limit is used, yellow up to 100 %, red when overdue.

        Overdue also covers the hours after a deadline in which no working time passes: a stage
        due at 12:00 is red at 13:00 and a stage due Friday 17:30 is red on Saturday, although
        the share used is still exactly 100 %.
        """
        used, allowed, now_clock = self._progress(start, deadline, now, paused)
        if 5 * used <= 4 * allowed:
            return Light.GREEN
        if used < allowed:
            return Light.YELLOW
        if used == allowed and now <= self._instant(now_clock, now.astimezone(self.tz).date()):
            return Light.YELLOW  # exactly at the deadline, or suspended right on it
        return Light.RED


@cache
def _shipped_calendar() -> WorkCalendar:
    text = resources.files("events").joinpath("data/work_calendar.csv").read_text("utf-8")
    return WorkCalendar.from_entries(read_calendar_csv(text))
