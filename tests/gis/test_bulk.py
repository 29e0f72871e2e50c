"""Bulk COPY in and out (gis/bulk.py): every row arrives once, in order, with NULLs kept;
values are converted, or sent as they are when asked."""

from __future__ import annotations

import enum
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import Point
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.bulk import copy_frame, copy_rows, read_frame


@pytest.fixture
def probe(session: Session) -> Session:
    """A temporary table in the test's transaction (gone with the rollback)."""
    session.execute(
        text("CREATE TEMP TABLE bulk_probe (id integer, name text, flag boolean, geom geometry)")
    )
    return session


def _stored(session: Session) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in session.execute(
            text(
                "SELECT id, name, flag, ST_AsText(geom), ST_SRID(geom) FROM bulk_probe ORDER BY id"
            )
        )
    ]


@pytest.mark.parametrize("prefetch", [False, True])
def test_copy_rows_sends_every_row_in_batches_with_or_without_prefetch(probe, prefetch):
    made: list[int] = []

    def rows():
        for i in range(7):
            made.append(i)
            yield (i, None if i == 3 else f'第{i}行, "quoted"', i % 2 == 0, shapely.Point(i, 30))

    batches: list[int] = []
    count = copy_rows(
        probe,
        table="bulk_probe",
        columns=("id", "name", "flag", "geom"),
        rows=rows(),
        on_batch=batches.append,
        batch_rows=3,
        prefetch=prefetch,
    )
    assert count == 7
    assert batches == [3, 3, 1]
    assert made == list(range(7))  # each row made once
    stored = _stored(probe)
    assert [r[0] for r in stored] == list(range(7))
    assert stored[3][1] is None  # None became NULL
    assert stored[1][1:] == ('第1行, "quoted"', False, "POINT(1 30)", 4490)


@pytest.mark.parametrize("prefetch", [False, True])
def test_copy_rows_with_no_rows_writes_nothing_and_reports_no_batch(probe, prefetch):
    batches: list[int] = []
    count = copy_rows(
        probe,
        table="bulk_probe",
        columns=("id",),
        rows=[],
        on_batch=batches.append,
        prefetch=prefetch,
    )
    assert count == 0
    assert batches == []
    assert _stored(probe) == []


def test_copy_frame_writes_missing_values_as_null(probe):
    frame = pd.DataFrame(
        {
            "id": pd.arrays.IntegerArray(np.array([1, 2, 3]), np.array([False, False, False])),
            "name": ["一", None, "三"],
            "flag": [True, False, True],
        }
    )
    batches: list[int] = []
    assert (
        copy_frame(probe, table="bulk_probe", frame=frame, on_batch=batches.append, batch_rows=2)
        == 3
    )
    assert batches == [2, 1]
    assert [r[:3] for r in _stored(probe)] == [(1, "一", True), (2, None, False), (3, "三", True)]


def test_read_frame_keeps_empty_text_unless_named_missing(probe):
    probe.execute(text("INSERT INTO bulk_probe (id, name) VALUES (1, ''), (2, 'b'), (3, 'c')"))
    query = "SELECT id, name FROM bulk_probe WHERE id <= %(last)s ORDER BY id"
    kept = read_frame(probe, query=query, params={"last": 2}, dtype=str)
    assert kept.to_dict("list") == {"id": ["1", "2"], "name": ["", "b"]}
    missing = read_frame(
        probe, query=query, params={"last": 2}, dtype=str, na_values={"name": [""]}
    )
    assert pd.isna(missing.name[0]) and missing.name[1] == "b"


class Kind(enum.Enum):
    """A code stored by its value."""

    SHOP = "shop"


@pytest.fixture
def staging(session: Session) -> Session:
    """A TEMP table of the session, like the ledger's staging tables."""
    session.execute(
        text(
            "CREATE TEMP TABLE _bulk_test (label text, kind text, day date, n int, "
            "blob bytea, geom geometry(Point, 4490)) ON COMMIT DROP"
        )
    )
    return session


def stored(session: Session) -> list[tuple[object, ...]]:
    """The rows of the table as PostgreSQL holds them, geometry as EWKT."""
    return [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
        for row in session.execute(
            text("SELECT label, kind, day, n, blob, ST_AsEWKT(geom) FROM _bulk_test ORDER BY label")
        )
    ]


def test_geometries_and_codes_are_converted_by_default(staging: Session) -> None:
    count = copy_rows(
        staging,
        table="_bulk_test",
        columns=("label", "kind", "geom"),
        rows=[("a", Kind.SHOP, Point(111.29, 30.71)), ("b", None, None)],
    )

    assert count == 2
    assert stored(staging) == [
        ("a", "shop", None, None, None, "SRID=4490;POINT(111.29 30.71)"),
        ("b", None, None, None, None, None),
    ]


def test_rows_already_in_copy_form_arrive_as_sent(staging: Session) -> None:
    batches: list[int] = []
    count = copy_rows(
        staging,
        table="_bulk_test",
        columns=("label", "day", "n", "blob"),
        rows=[("a", date(2024, 5, 1), 7, "\\x0102"), ("b", None, None, None)],
        on_batch=batches.append,
        convert=False,
    )

    assert (count, batches) == (2, [2])
    assert stored(staging) == [
        ("a", None, date(2024, 5, 1), 7, b"\x01\x02", None),
        ("b", None, None, None, None, None),
    ]


def test_no_rows_copy_nothing(staging: Session) -> None:
    batches: list[int] = []
    for convert in (True, False):
        count = copy_rows(
            staging,
            table="_bulk_test",
            columns=("label",),
            rows=[],
            on_batch=batches.append,
            convert=convert,
        )
        assert count == 0
    assert batches == [] and stored(staging) == []
