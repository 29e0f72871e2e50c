"""Work calendar: deadlines in working time, 调休 weekends, holidays, suspensions and lights."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from events.calendar import (
    CHINA_TZ,
    DayKind,
    Light,
    Limit,
    LimitUnit,
    WorkCalendar,
    WorkingHours,
    read_calendar_csv,
)

HOURS = LimitUnit.HOURS
DAYS = LimitUnit.DAYS
CALENDAR = WorkCalendar.shipped()
DATA = Path(__file__).parents[2] / "events" / "data" / "work_calendar.csv"

# Official 调休 working weekends of 2026 (国务院办公厅关于2026年部分节假日安排的通知).
WORKDAYS_2026 = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant in Beijing time."""
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


# An ordinary week: Monday 2 March 2026 to Friday 6 March 2026, Monday 9 March after it.
MONDAY = at(2026, 3, 2, 8, 30)


# -- working days and the shipped data ---------------------------------------------------------


def test_shipped_calendar_has_national_day_off_and_the_official_2026_tiaoxiu_workdays() -> None:
    assert not CALENDAR.is_working_day(date(2026, 10, 1))
    assert not CALENDAR.is_working_day(date(2026, 2, 17))  # 正月初一
    assert CALENDAR.is_working_day(date(2026, 10, 8))
    for day in WORKDAYS_2026:
        assert day.weekday() >= 5
        assert CALENDAR.is_working_day(day), day
    assert CALENDAR.workdays >= set(WORKDAYS_2026)
    assert {2026, 2027} <= CALENDAR.years


def test_ordinary_weekends_are_off_and_ordinary_weekdays_are_worked() -> None:
    assert CALENDAR.is_working_day(date(2026, 3, 6))
    assert not CALENDAR.is_working_day(date(2026, 3, 7))
    assert not CALENDAR.is_working_day(date(2026, 3, 8))


def test_2026_has_248_working_days_counted_the_same_way_as_a_day_by_day_loop() -> None:
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert sum(CALENDAR.is_working_day(d) for d in days) == 248
    seconds = CALENDAR.working_seconds_between(at(2026, 1, 1), at(2027, 1, 1))
    assert seconds == 248 * 6.5 * 3600


def test_every_shipped_workday_row_is_a_weekend_and_2027_rows_are_marked_as_estimates() -> None:
    entries = read_calendar_csv(DATA.read_text(encoding="utf-8"))
    assert all(e.day.weekday() >= 5 for e in entries if e.kind is DayKind.WORKDAY)
    assert all(e.name.endswith("(预计)") for e in entries if e.day.year == 2027)
    assert all(e.name for e in entries)


def test_calendar_data_with_a_weekday_listed_as_workday_is_refused() -> None:
    with pytest.raises(ValueError, match="is a weekday"):
        WorkCalendar(holidays=[], workdays=[date(2026, 3, 4)])


def test_calendar_data_with_a_day_both_off_and_worked_is_refused() -> None:
    with pytest.raises(ValueError, match="both as holiday and as workday"):
        WorkCalendar(holidays=[date(2026, 3, 7)], workdays=[date(2026, 3, 7)])


def test_calendar_row_with_an_unknown_kind_names_the_row_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"row 2 .*holiday, workday"):
        read_calendar_csv("date,kind,name\n2026-03-07,vacation,x\n")


def test_edited_calendar_file_is_loaded_with_comments_skipped(tmp_path: Path) -> None:
    edited = tmp_path / "calendar.csv"
    edited.write_text("# local day off\ndate,kind,name\n2026-03-04,holiday,地方\n", "utf-8")
    calendar = WorkCalendar.from_csv(edited)
    assert not calendar.is_working_day(date(2026, 3, 4))
    assert calendar.is_working_day(date(2026, 10, 1))  # only what the file says


# -- working hours -----------------------------------------------------------------------------


def test_friday_1630_plus_2_working_hours_is_monday_0930() -> None:
    assert CALENDAR.add(at(2026, 3, 6, 16, 30), Limit(2, HOURS)) == at(2026, 3, 9, 9, 30)


def test_hours_skip_the_lunch_break() -> None:
    assert CALENDAR.add(at(2026, 3, 3, 11, 30), Limit(1, HOURS)) == at(2026, 3, 3, 15, 0)


def test_a_limit_used_up_at_closing_time_is_due_that_evening_not_next_morning() -> None:
    assert CALENDAR.add(at(2026, 3, 6, 16, 30), Limit(1, HOURS)) == at(2026, 3, 6, 17, 30)
    assert CALENDAR.add(at(2026, 3, 3, 8, 30), Limit(3.5, HOURS)) == at(2026, 3, 3, 12, 0)


def test_report_at_2100_on_friday_starts_counting_at_monday_opening() -> None:
    assert CALENDAR.add(at(2026, 3, 6, 21, 0), Limit(2, HOURS)) == at(2026, 3, 9, 10, 30)


def test_reports_outside_office_hours_start_counting_at_the_next_opening() -> None:
    saturday = at(2026, 3, 7, 10, 0)
    early = at(2026, 3, 3, 6, 45)
    lunch = at(2026, 3, 3, 12, 40)
    assert CALENDAR.add(saturday, Limit(1, HOURS)) == at(2026, 3, 9, 9, 30)
    assert CALENDAR.add(early, Limit(1, HOURS)) == at(2026, 3, 3, 9, 30)
    assert CALENDAR.add(lunch, Limit(1, HOURS)) == at(2026, 3, 3, 15, 30)
    assert CALENDAR.working_seconds_between(at(2026, 3, 6, 18, 0), at(2026, 3, 9, 8, 30)) == 0


def test_a_start_in_another_time_zone_is_counted_in_beijing_office_hours() -> None:
    friday_1630_beijing = datetime(2026, 3, 6, 8, 30, tzinfo=UTC)
    deadline = CALENDAR.add(friday_1630_beijing, Limit(2, HOURS))
    assert deadline == at(2026, 3, 9, 9, 30)
    assert deadline.tzinfo == CHINA_TZ


def test_a_tiaoxiu_saturday_counts_as_a_working_day() -> None:
    # 2026-02-28 (Saturday) is worked in exchange for the Spring Festival break.
    assert CALENDAR.add(at(2026, 2, 27, 16, 30), Limit(2, HOURS)) == at(2026, 2, 28, 9, 30)
    assert CALENDAR.add(at(2026, 2, 26, 10, 0), Limit(2, DAYS)) == at(2026, 2, 28, 17, 30)


def test_working_time_elapsed_spans_the_weekend_without_counting_it() -> None:
    assert CALENDAR.working_seconds_between(at(2026, 3, 6, 16, 30), at(2026, 3, 9, 9, 30)) == 7200
    assert CALENDAR.working_seconds_between(at(2026, 3, 9, 9, 30), at(2026, 3, 6, 16, 30)) == -7200


@pytest.mark.parametrize("hours", [0.25, 1, 2, 3.5, 6.5, 7, 13, 100, 2000])
@pytest.mark.parametrize(
    "start",
    [at(2026, 3, 6, 16, 30), at(2026, 9, 30, 12, 15), at(2026, 12, 31, 23, 59), at(2027, 2, 4, 9)],
)
def test_the_deadline_is_exactly_the_limit_of_working_time_after_the_start(
    start: datetime, hours: float
) -> None:
    deadline = CALENDAR.add(start, Limit(hours, HOURS))
    assert CALENDAR.working_seconds_between(start, deadline) == hours * 3600
    assert CALENDAR.is_working_day(deadline.date())


def test_office_hours_are_configurable() -> None:
    hours = WorkingHours(morning=(time(9, 0), time(12, 0)), afternoon=(time(13, 30), time(17, 0)))
    calendar = WorkCalendar(holidays=[], workdays=[], hours=hours)
    assert hours.hours_per_day == 6.5
    assert calendar.add(at(2026, 3, 3, 11, 30), Limit(1, HOURS)) == at(2026, 3, 3, 14, 0)
    assert calendar.add(at(2026, 3, 3, 11, 30), Limit(1, DAYS)) == at(2026, 3, 4, 17, 0)


def test_office_hours_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="two sessions in order"):
        WorkingHours(morning=(time(8, 30), time(15, 0)), afternoon=(time(14, 30), time(17, 30)))


# -- working days ------------------------------------------------------------------------------


def test_working_days_are_due_at_closing_time_with_the_start_day_as_day_zero() -> None:
    assert CALENDAR.add(at(2026, 3, 2, 10, 0), Limit(3, DAYS)) == at(2026, 3, 5, 17, 30)
    assert CALENDAR.add(at(2026, 3, 2, 17, 29), Limit(3, DAYS)) == at(2026, 3, 5, 17, 30)
    assert CALENDAR.add(at(2026, 3, 4, 10, 0), Limit(3, DAYS)) == at(2026, 3, 9, 17, 30)


def test_working_days_reported_after_hours_or_on_a_weekend_start_on_the_next_working_day() -> None:
    assert CALENDAR.add(at(2026, 3, 2, 17, 30), Limit(3, DAYS)) == at(2026, 3, 6, 17, 30)
    assert CALENDAR.add(at(2026, 3, 7, 11, 0), Limit(1, DAYS)) == at(2026, 3, 10, 17, 30)


def test_3_working_days_across_the_2026_mid_autumn_and_national_day_breaks() -> None:
    # 中秋 25–27 Sep, 国庆 1–7 Oct, 10 Oct (Saturday) worked in exchange.
    assert CALENDAR.add(at(2026, 9, 24, 10, 0), Limit(3, DAYS)) == at(2026, 9, 30, 17, 30)
    assert CALENDAR.add(at(2026, 9, 30, 10, 0), Limit(3, DAYS)) == at(2026, 10, 10, 17, 30)
    assert CALENDAR.add(at(2026, 9, 30, 16, 30), Limit(2, HOURS)) == at(2026, 10, 8, 9, 30)


def test_the_2027_spring_festival_is_skipped() -> None:
    # 除夕 Friday 5 Feb to 初三 Monday 8 Feb 2027 are statutory; the rest of the break is estimated.
    for day in (date(2027, 2, 5), date(2027, 2, 8)):
        assert not CALENDAR.is_working_day(day)
    deadline = CALENDAR.add(at(2027, 2, 4, 16, 0), Limit(2, HOURS))
    assert deadline.date() > date(2027, 2, 8)
    assert deadline.time() == time(9, 0)
    assert CALENDAR.is_working_day(deadline.date())


def test_a_deadline_years_away_is_still_exact() -> None:
    start = at(2026, 3, 2, 10, 0)
    deadline = CALENDAR.add(start, Limit(2000, DAYS))
    assert deadline.time() == time(17, 30)
    days = (deadline.date() - date(2026, 3, 2)).days
    worked = sum(CALENDAR.is_working_day(date(2026, 3, 3) + timedelta(n)) for n in range(days))
    assert worked == 2000


# -- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("2h", Limit(2, HOURS)),
        ("2工作小时", Limit(2, HOURS)),
        ("1.5 hours", Limit(1.5, HOURS)),
        ("3d", Limit(3, DAYS)),
        ("3个工作日", Limit(3, DAYS)),
    ],
)
def test_limits_are_parsed_from_short_and_chinese_forms(text: str, limit: Limit) -> None:
    assert Limit.parse(text) == limit


def test_limit_text_without_a_known_unit_is_refused_with_examples() -> None:
    with pytest.raises(ValueError, match="such as 2h"):
        Limit.parse("2 weeks")


def test_part_working_days_and_non_positive_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="working hours"):
        Limit(1.5, DAYS)
    with pytest.raises(ValueError, match="positive"):
        Limit(0, HOURS)


def test_limit_reads_with_its_chinese_unit() -> None:
    assert str(Limit(2, HOURS)) == "2工作小时"
    assert str(Limit(3, DAYS)) == "3工作日"


# -- lights --------------------------------------------------------------------------------------

# 10 working hours from Monday 08:30 are due Tuesday 12:00 (6.5 h Monday + 3.5 h Tuesday).
DUE = at(2026, 3, 3, 12, 0)


def test_ten_working_hours_from_monday_opening_are_due_tuesday_noon() -> None:
    assert CALENDAR.add(MONDAY, Limit(10, HOURS)) == DUE


@pytest.mark.parametrize(
    ("now", "share", "light"),
    [
        (at(2026, 3, 3, 9, 54), 0.79, Light.GREEN),
        (at(2026, 3, 3, 10, 0), 0.80, Light.GREEN),
        (at(2026, 3, 3, 10, 6), 0.81, Light.YELLOW),
        (DUE, 1.00, Light.YELLOW),
        (at(2026, 3, 3, 14, 36), 1.01, Light.RED),
    ],
)
def test_light_is_green_to_80_percent_yellow_to_100_and_red_beyond(
    now: datetime, share: float, light: Light
) -> None:
    assert CALENDAR.used_fraction(MONDAY, DUE, now) == pytest.approx(share)
    assert CALENDAR.light(MONDAY, DUE, now) is light


def test_a_stage_past_its_deadline_in_the_lunch_break_or_weekend_is_red() -> None:
    assert CALENDAR.used_fraction(MONDAY, DUE, at(2026, 3, 3, 13, 0)) == 1.0
    assert CALENDAR.light(MONDAY, DUE, at(2026, 3, 3, 13, 0)) is Light.RED
    friday_close = at(2026, 3, 6, 17, 30)
    assert CALENDAR.light(MONDAY, friday_close, friday_close) is Light.YELLOW
    assert CALENDAR.light(MONDAY, friday_close, at(2026, 3, 7, 9, 0)) is Light.RED


def test_a_stage_not_yet_started_is_green() -> None:
    assert CALENDAR.used_fraction(MONDAY, DUE, at(2026, 3, 1, 9, 0)) == 0.0
    assert CALENDAR.light(MONDAY, DUE, at(2026, 3, 1, 9, 0)) is Light.GREEN


def test_suspended_time_does_not_count() -> None:
    pause = (at(2026, 3, 2, 9, 0), at(2026, 3, 2, 17, 30))  # 6 working hours on Monday
    assert CALENDAR.light(MONDAY, DUE, DUE) is Light.YELLOW
    assert CALENDAR.used_fraction(MONDAY, DUE, DUE, paused=[pause]) == pytest.approx(0.4)
    assert CALENDAR.light(MONDAY, DUE, DUE, paused=[pause]) is Light.GREEN


def test_overlapping_suspensions_count_once_and_only_up_to_now() -> None:
    pauses = [
        (at(2026, 3, 2, 9, 0), at(2026, 3, 2, 12, 0)),
        (at(2026, 3, 2, 11, 0), at(2026, 3, 2, 15, 30)),  # overlaps the first
        (at(2026, 3, 3, 11, 0), at(2026, 3, 5, 9, 0)),  # still running after `now`
    ]
    now = at(2026, 3, 3, 11, 30)  # 9.5 working hours since start
    # Paused 9:00–15:30 Monday (4 h) and 11:00–11:30 Tuesday (0.5 h): 5 h used of 10.
    assert CALENDAR.used_fraction(MONDAY, DUE, now, paused=pauses) == pytest.approx(0.5)


def test_a_suspension_outside_office_hours_changes_nothing() -> None:
    night = (at(2026, 3, 2, 18, 0), at(2026, 3, 3, 8, 0))
    assert CALENDAR.used_fraction(MONDAY, DUE, DUE, paused=[night]) == 1.0


def test_a_suspension_pushes_the_deadline_out_by_its_working_time() -> None:
    three_hours = (at(2026, 3, 2, 14, 30), at(2026, 3, 2, 17, 30))
    assert CALENDAR.extend_for_pause(DUE, three_hours) == at(2026, 3, 3, 17, 30)
    over_weekend = (at(2026, 3, 6, 17, 30), at(2026, 3, 9, 8, 30))
    assert CALENDAR.extend_for_pause(DUE, over_weekend) == DUE
    friday_afternoon = (at(2026, 3, 6, 15, 30), at(2026, 3, 9, 9, 30))  # 2 h + 1 h
    friday_due = at(2026, 3, 6, 16, 30)
    assert CALENDAR.extend_for_pause(friday_due, friday_afternoon) == at(2026, 3, 9, 10, 30)


def test_a_suspension_ending_before_it_begins_is_refused() -> None:
    with pytest.raises(ValueError, match="before it begins"):
        CALENDAR.extend_for_pause(DUE, (at(2026, 3, 3), at(2026, 3, 2)))


# -- time zones ----------------------------------------------------------------------------------


def test_a_naive_datetime_is_refused_with_a_sentence_saying_what_to_do() -> None:
    naive = datetime(2026, 3, 6, 16, 30)
    with pytest.raises(ValueError, match=r"has no time zone.*tzinfo=ZoneInfo\('Asia/Shanghai'\)"):
        CALENDAR.add(naive, Limit(2, HOURS))
    with pytest.raises(ValueError, match=r"now .* has no time zone"):
        CALENDAR.light(MONDAY, DUE, naive)
