"""Text and times every output can carry: the one check shared by every input schema.

A text field goes out again as JSON, Open311 XML, CSV, xlsx and HTML. XML 1.0 and xlsx cannot
hold C0 control characters other than tab, newline and carriage return; PostgreSQL text cannot
hold NUL; UTF-8 cannot encode a lone surrogate (JSON "\\ud800"). Such text is refused at input
with a sentence naming the field, so one stored value can never break a whole feed. Times are
kept inside a window every output (and Python's datetime arithmetic) handles.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator

from gis.clock import CHINA_TZ

# C0 controls except \t \n \r, surrogates, and the two non-characters XML forbids.
UNPRINTABLE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
EARLIEST: Final = datetime(1900, 1, 1)
LATEST: Final = datetime(2100, 1, 1)
# A report's time of occurrence: the system's own era, and no later than a day ahead
# (a phone's clock may be off by hours, not by days).
EARLIEST_OCCURRENCE: Final = datetime(2000, 1, 1, tzinfo=CHINA_TZ)
FUTURE_SLACK: Final = timedelta(days=1)


def natural_order(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key reading digit runs as numbers: 12栋 after 2栋, unit 2 before unit 10, room
    0302 after 0301."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", text)
    )


def describe_character(character: str) -> str:
    """A character as a reader can name it: U+0001, U+000B …"""
    names = {"\x00": "NUL (\\x00)"}
    return names.get(character, f"U+{ord(character):04X}")


def check_text(value: str) -> str:
    """The text unchanged; ValueError naming the first character no output can carry."""
    found = UNPRINTABLE.search(value)
    if found is not None:
        raise ValueError(
            f"contains {describe_character(found.group())} at position {found.start() + 1}, a "
            "control character that XML and Excel cannot carry; remove it (tabs and line "
            "breaks are fine) and send again"
        )
    return value


def check_moment(value: datetime | date) -> datetime | date:
    """The time unchanged; ValueError when it is outside 1900..2099."""
    plain = value.replace(tzinfo=None) if isinstance(value, datetime) else value
    low, high = (
        (EARLIEST, LATEST) if isinstance(plain, datetime) else (EARLIEST.date(), LATEST.date())
    )
    if not low <= plain < high:
        raise ValueError(
            f"{value.isoformat()} is not a plausible date; give one between 1900 and 2099"
        )
    return value


def check_occurrence(value: datetime | None, *, now: datetime | None = None) -> datetime | None:
    """A report's occurred_at, refused before 2000 or more than a day in the future.

    A time without a zone is read as China time (+08:00), as the service stores it.
    """
    if value is None:
        return None
    aware = (
        value if value.utcoffset() is not None else value.replace(tzinfo=EARLIEST_OCCURRENCE.tzinfo)
    )
    latest = (now or datetime.now(UTC)) + FUTURE_SLACK
    try:
        plausible = EARLIEST_OCCURRENCE <= aware <= latest
    except OverflowError:
        plausible = False
    if not plausible:
        raise ValueError(
            f"{value.isoformat()} is not when the event can have happened; give a time between "
            "2000-01-01 and now, e.g. 2026-11-23T09:30:00+08:00"
        )
    return value


PlausibleDate = Annotated[date, AfterValidator(check_moment)]


def _checked(value: Any) -> Any:
    """Every string, date and time inside `value` checked (lists and dicts walked)."""
    if isinstance(value, str):
        return check_text(value)
    if isinstance(value, datetime | date):
        return check_moment(value)
    if isinstance(value, dict):
        for key, item in value.items():
            _checked(key)
            _checked(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _checked(item)
    return value


class InputModel(BaseModel):
    """A body the API takes: no field may hold text or a time an output cannot carry, and a
    field it does not know is refused (a misspelt `occured_at` must not vanish silently)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _outputs_can_carry(cls, value: Any, info: ValidationInfo) -> Any:
        return _checked(value)
