"""Specification of COPY loading (gis/bulk.py): what arrives in the table, converted or as sent."""

from __future__ import annotations

import enum
from datetime import date

import pytest
from shapely import Point
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.bulk import copy_rows


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
