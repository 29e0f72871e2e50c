"""COPY-based bulk loading (and bulk reading) inside the caller's transaction."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import shapely
from psycopg2 import sql
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from gis.db import STORAGE_SRID

BATCH_ROWS = 20_000


def ewkb_hex(geom: BaseGeometry, srid: int = STORAGE_SRID) -> str:
    """Hex EWKB with the SRID embedded: what PostGIS's geometry input reads in COPY."""
    return str(shapely.to_wkb(shapely.set_srid(geom, srid), hex=True, include_srid=True))


def _csv_value(value: Any) -> Any:
    if isinstance(value, BaseGeometry):
        return ewkb_hex(value)
    if hasattr(value, "value") and not isinstance(value, str | int | float):
        return value.value  # enum members are stored by value
    return value


def _copy_in(cursor: Any, table: str, columns: Sequence[str]) -> str:
    """The `COPY table (columns) FROM STDIN` statement, identifiers quoted."""
    return str(
        sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)")
        .format(sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
        .as_string(cursor)
    )


def copy_rows(
    session: Session,
    *,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    on_batch: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
    prefetch: bool = False,
    convert: bool = True,
) -> int:
    """COPY `rows` into `table` within the session's transaction; returns the row count.

    Geometries (shapely) are sent as hex EWKB in SRID 4490; `None` becomes NULL. Rows go in
    batches of `batch_rows`; `on_batch(n)` is called after each batch with the number of rows
    it sent. With `prefetch` the next batch is made and formatted in a worker thread while the
    server ingests this one (psycopg2 releases the GIL while it waits): worth it when rows are
    costly to make, e.g. encrypted as they are generated. `convert=False` sends rows that hold
    only text, numbers, dates and None as they are, skipping the per-value conversion: for wide
    rows it takes longer than writing the CSV. `table` may be a TEMP table of the session.
    """
    cursor = session.connection().connection.cursor()
    statement = _copy_in(cursor, table, columns)
    remaining = iter(rows)

    def build() -> tuple[io.StringIO, int]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        count = 0
        for row in itertools.islice(remaining, batch_rows):
            writer.writerow([_csv_value(v) for v in row] if convert else row)
            count += 1
        buffer.seek(0)
        return buffer, count

    total = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(build) if prefetch else None
        while True:
            buffer, count = pending.result() if pending else build()
            if not count:
                break
            if pending:
                pending = pool.submit(build)
            cursor.copy_expert(statement, buffer, 1 << 20)
            total += count
            if on_batch:
                on_batch(count)
    return total


def copy_frame(
    session: Session,
    *,
    table: str,
    frame: pd.DataFrame,
    on_batch: Callable[[int], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> int:
    """COPY a DataFrame's rows into `table` (columns named as the frame's); returns the count.

    Values are written as pandas writes CSV (missing values become NULL), `batch_rows` at a
    time; `on_batch(n)` is called after each batch with the number of rows it sent.
    """
    cursor = session.connection().connection.cursor()
    statement = _copy_in(cursor, table, list(frame.columns))
    total = len(frame)
    for begin in range(0, total, batch_rows):
        buffer = io.StringIO()
        frame.iloc[begin : begin + batch_rows].to_csv(buffer, header=False, index=False)
        buffer.seek(0)
        cursor.copy_expert(statement, buffer)
        if on_batch:
            on_batch(min(batch_rows, total - begin))
    return total


def read_frame(
    session: Session,
    *,
    query: str,
    params: dict[str, Any],
    dtype: Any,
    na_values: Any = None,
) -> pd.DataFrame:
    """Rows of `query` (psycopg2 `%(name)s` parameters) read with COPY … TO STDOUT into pandas.

    Fast for millions of rows. Empty fields stay empty strings unless `na_values` names them
    (as pandas' `read_csv` takes it); `dtype` is passed to `read_csv` too.
    """
    cursor = session.connection().connection.cursor()
    bound = cursor.mogrify(query, params).decode()
    buffer = io.StringIO()
    cursor.copy_expert(f"COPY ({bound}) TO STDOUT WITH (FORMAT csv, HEADER)", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=dtype, keep_default_na=False, na_values=na_values)
