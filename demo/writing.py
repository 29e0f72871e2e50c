"""Writing generated demo rows: fresh ids from a table's sequence, and COPY progress reports."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from demo.arrays import IntArray, Progress


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
