"""Writing generated demo rows: fresh ids from a table's sequence, and COPY progress reports."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from demo.arrays import IntArray, Progress
from gis.partitions import STAMP

# China time is UTC+8 all year (no daylight saving since 1991), as gis.partitions counts months.
_CHINA_OFFSET_S = 8 * 3600


def reserve_ids(session: Session, table: str, n: int) -> IntArray:
    """`n` fresh ids from the table's id sequence (ascending), safe beside concurrent inserts."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sequence = session.execute(
        text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
    ).scalar_one()
    low, high = session.execute(
        text(
            "SELECT min(v), max(v) FROM (SELECT nextval(CAST(:sequence AS regclass)) AS v "
            "FROM generate_series(1, :n)) s"
        ),
        {"sequence": sequence, "n": n},
    ).one()
    if high - low + 1 == n:  # the usual case: nobody else drew from the sequence meanwhile
        return np.arange(low, high + 1, dtype=np.int64)
    ids = session.execute(
        text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
        {"sequence": sequence, "n": n},
    ).scalars()
    return np.sort(np.fromiter(ids, dtype=np.int64, count=n))


def stamp_ids(ids: IntArray, instants_us: IntArray) -> IntArray:
    """Month-stamped ids (gis.partitions): YYYYMM of each instant (µs since 1970) in China time
    · 10^10 + the reserved id, so a backfilled row lands in the partition of its own month."""
    months = (
        ((instants_us // 1_000_000 + _CHINA_OFFSET_S).astype("datetime64[s]"))
        .astype("datetime64[M]")
        .astype(np.int64)
    )
    yyyymm = (months // 12 + 1970) * 100 + months % 12 + 1
    return yyyymm * STAMP + ids


def reserve_stamped_ids(session: Session, table: str, instants_us: IntArray) -> IntArray:
    """One fresh month-stamped id of `table` per instant (`reserve_ids`, then `stamp_ids`)."""
    return stamp_ids(reserve_ids(session, table, len(instants_us)), instants_us)


def batch_progress(on_progress: Progress | None, stage: str, total: int) -> Callable[[int], None]:
    """An `on_batch` for `gis.bulk` that reports `stage` as done of `total` (0 at once)."""
    done = 0
    if on_progress:
        on_progress(stage, 0, total)

    def batch(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(stage, done, total)

    return batch
