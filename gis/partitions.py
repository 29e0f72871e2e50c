"""Monthly partitions of the case history: `event`, `event_step` and `outbox` (and the sensors'
`reading`).

The three tables are partitioned by RANGE of their id, and a new id carries its month:
`YYYYMM · 10^10 + nextval(sequence)`, YYYYMM being the creation month in China time. The SQL
function `month_stamped_id(sequence, at)` is the ids' column default (at = now()) and
`stamped_id` below is its twin for bulk writers, which stamp a backfilled row with its own
time so it lands in its month. The primary key `(id, district_code)` thus contains the
partition key and the composite foreign keys stay as they are. Ids stay below 2^53, so a
browser reads them exactly (until the year 9007).

Partitions: `<table>_before` holds the ids from before stamping (below the stamp of 2000-01),
and `<table>_pYYYYMM` one month each. There is no DEFAULT partition: a row with no month to
go to is refused, so `ensure` creates the months ahead (`PARTITION_MONTHS_AHEAD`, 6) from
`gridgov migrate`, the server's start-up and the daily `gridgov db partitions` timer.
`prune` drops outbox months older than `OUTBOX_RETENTION_MONTHS` (6) once every row in them
is delivered or dead; event and event_step months are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.clock import CHINA_TZ
from gis.config import get_settings

PARTITIONED = ("event", "event_step", "outbox", "reading")
# A stamped id is month · STAMP + the sequence's value (which stays below STAMP).
STAMP = 10**10
FIRST_MONTH = 200001  # ids below FIRST_MONTH · STAMP are from before stamping
# One `ensure` or `prune` at a time (the server's start-up and the timer may meet).
_LOCK_KEY = 0x67726964  # "grid"


def month_of(at: datetime) -> int:
    """YYYYMM of `at` in China time, e.g. 202612."""
    if at.tzinfo is None:
        raise ValueError("times must carry a time zone (e.g. datetime.now(UTC))")
    local = at.astimezone(CHINA_TZ)
    return local.year * 100 + local.month


def stamped_id(at: datetime, sequence_value: int) -> int:
    """The id `month_stamped_id` gives a row created at `at` with `sequence_value`."""
    if not 0 < sequence_value < STAMP:
        raise ValueError(f"a sequence value must be between 1 and {STAMP - 1}")
    return month_of(at) * STAMP + sequence_value


def sequence_part(row_id: int) -> int:
    """The sequence's value inside an id (an id from before stamping is returned as is)."""
    return row_id % STAMP


def month_floor(row_id: int) -> int:
    """The lowest id of the month `row_id` was stamped in (0 for an id from before stamping).

    A step or an outbox row is never created before its event, so `EventStep.id >=
    month_floor(event.id)` is always true and lets a query skip the earlier months.
    """
    return (row_id // STAMP) * STAMP if row_id >= FIRST_MONTH * STAMP else 0


def add_months(month: int, n: int) -> int:
    """YYYYMM `n` months after (or before, when negative) `month`."""
    index = (month // 100) * 12 + (month % 100 - 1) + n
    return (index // 12) * 100 + index % 12 + 1


def is_partition(name: str) -> bool:
    """Whether a table name is one of the partitions (`event_before`, `outbox_p202612`)."""
    table, _, part = name.rpartition("_")
    return table in PARTITIONED and (part == "before" or (part[:1] == "p" and part[1:].isdigit()))


def partition_name(table: str, month: int) -> str:
    """`event_p202612`."""
    return f"{table}_p{month}"


def months_ahead_setting() -> int:
    """PARTITION_MONTHS_AHEAD (default 6): months created beyond the current one."""
    return get_settings().partition_months_ahead


def retention_setting() -> int:
    """OUTBOX_RETENTION_MONTHS (default 6): whole outbox months kept before the current one."""
    return get_settings().outbox_retention_months


def is_partitioned(session: Session) -> bool:
    """Whether the database's case history is partitioned (migrated to 0012 or later)."""
    return bool(
        session.scalar(
            text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('public.event')")
        )
    )


def existing_months(session: Session, table: str) -> list[int]:
    """The months that have a partition of `table`, in order (none for a missing table)."""
    names = session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "WHERE h.inhparent = to_regclass(:table)"
        ),
        {"table": table},
    )
    prefix = f"{table}_p"
    return sorted(
        int(name[len(prefix) :])
        for name in names
        if name.startswith(prefix) and name[len(prefix) :].isdigit()
    )


def _create(session: Session, table: str, month: int) -> None:
    low, high = month * STAMP, add_months(month, 1) * STAMP
    session.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {partition_name(table, month)} "
            f"PARTITION OF {table} FOR VALUES FROM ({low}) TO ({high})"
        )
    )


def ensure(
    session: Session,
    *,
    since: datetime | None = None,
    ahead: int | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Create the missing monthly partitions; returns the names of those created.

    Every table gets a partition for each month from the earliest needed (the month of
    `since` when given, else the current month) through `ahead` months after the current one
    (PARTITION_MONTHS_AHEAD). Runs in the session's transaction.
    """
    at = now or datetime.now(UTC)
    current = month_of(at)
    months_ahead = months_ahead_setting() if ahead is None else ahead
    last = add_months(current, months_ahead)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    created = []
    for table in PARTITIONED:
        if session.scalar(text("SELECT to_regclass(:t)"), {"t": table}) is None:
            continue  # a table of a later migration (reading, 0017) not made yet
        have = set(existing_months(session, table))
        # Months before 2000-01 belong to <table>_before. Past months are not filled in
        # unless asked for: a pruned outbox month stays dropped.
        first = max(FIRST_MONTH, min(current, month_of(since)) if since else current)
        month = first
        while month <= last:
            if month not in have:
                _create(session, table, month)
                created.append(partition_name(table, month))
            month = add_months(month, 1)
    return created


@dataclass(frozen=True)
class Coverage:
    """How far ahead every partitioned table has its months."""

    current_month: int
    last_month: int | None  # the last month all three tables have without a gap from now
    months_ahead: int  # full months after the current one (-1: not even the current one)

    @property
    def warning(self) -> str | None:
        """A sentence when fewer than two months ahead exist (the daily timer has stopped)."""
        if self.months_ahead >= 2:
            return None
        return (
            f"分区只建到当前月之后 {max(self.months_ahead, 0)} 个月，请运行 gridgov db partitions"
            f" (only {max(self.months_ahead, 0)} months of partitions exist ahead of "
            f"{self.current_month}; run `gridgov db partitions`)"
        )


def coverage(session: Session, *, now: datetime | None = None) -> Coverage:
    """How many months after the current one every partitioned table can take rows."""
    current = month_of(now or datetime.now(UTC))
    ahead = None
    for table in PARTITIONED:
        have = set(existing_months(session, table))
        n, month = -1, current
        while month in have:
            n, month = n + 1, add_months(month, 1)
        ahead = n if ahead is None else min(ahead, n)
    months = ahead if ahead is not None else -1
    return Coverage(
        current_month=current,
        last_month=add_months(current, months) if months >= 0 else None,
        months_ahead=months,
    )


def prune(
    session: Session,
    *,
    retention: int | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Drop outbox months older than the retention whose rows are all delivered or dead.

    A month is old when it ends before the first day of the month `retention` months before
    the current one (OUTBOX_RETENTION_MONTHS). A month with a pending row is kept whole. The
    month's delivery attempts are deleted first; events and steps are never dropped. Returns
    the names of the dropped partitions.
    """
    months = retention_setting() if retention is None else retention
    keep_from = add_months(month_of(now or datetime.now(UTC)), -months)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    dropped = []
    for month in existing_months(session, "outbox"):
        if month >= keep_from:
            break
        name = partition_name("outbox", month)
        pending = session.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE status = 'pending')")
        ).scalar_one()
        if pending:
            continue
        low, high = month * STAMP, add_months(month, 1) * STAMP
        session.execute(
            text("DELETE FROM delivery_attempt WHERE outbox_id >= :low AND outbox_id < :high"),
            {"low": low, "high": high},
        )
        # Detaching checks that nothing references the month's rows any more.
        session.execute(text(f"ALTER TABLE outbox DETACH PARTITION {name}"))
        session.execute(text(f"DROP TABLE {name}"))
        dropped.append(name)
    return dropped


__all__ = [
    "PARTITIONED",
    "STAMP",
    "Coverage",
    "add_months",
    "coverage",
    "ensure",
    "is_partition",
    "is_partitioned",
    "month_floor",
    "month_of",
    "months_ahead_setting",
    "partition_name",
    "prune",
    "retention_setting",
    "sequence_part",
    "stamped_id",
]
