"""COPY-based bulk loading inside the caller's transaction."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

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


def copy_rows(
    session: Session,
    *,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    on_batch: Callable[[int], None] | None = None,
    convert: bool = True,
) -> int:
    """COPY `rows` into `table` within the session's transaction; returns the row count.

    Geometries (shapely) are sent as hex EWKB in SRID 4490; `None` becomes NULL.
    `on_batch(n)` is called after each batch with the number of rows it sent.
    `convert=False` sends rows that hold only text, numbers, dates and None as they are,
    skipping the per-value conversion: for wide rows it takes longer than writing the CSV.
    `table` may be a TEMP table of the session.
    """
    cursor = session.connection().connection.cursor()
    statement = (
        sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)")
        .format(sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
        .as_string(cursor)
    )
    total = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    pending = 0

    def flush() -> None:
        nonlocal buffer, writer, pending, total
        if pending:
            buffer.seek(0)
            cursor.copy_expert(statement, buffer, 1 << 20)
            total += pending
            if on_batch:
                on_batch(pending)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        pending = 0

    for row in rows:
        writer.writerow([_csv_value(v) for v in row] if convert else row)
        pending += 1
        if pending >= BATCH_ROWS:
            flush()
    flush()
    return total
