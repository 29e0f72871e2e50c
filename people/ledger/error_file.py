"""The error file of an import: rejected rows as read, with where and why, in the input's format."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import export_guard
from people.access import Actor
from people.ledger.check import BATCH_ROWS
from people.ledger.columns import BY_KEY, ERROR_COLUMNS
from people.ledger.files import atomic, xlsx_writer
from people.ledger.read import Layout, open_rows
from people.ledger.report import ProgressCallback
from people.ledger.stage import ERROR_TABLE
from people.models import PiiAccessLog


def default_error_path(path: Path) -> Path:
    """`<name>.errors.<suffix>` beside the imported file."""
    return path.with_name(f"{path.stem}.errors{path.suffix.lower()}")


def record_error_file_download(
    session: Session, *, actor: Actor, job_id: int, filename: str, rows: int
) -> None:
    """Write the access-log row for reading an import's error file (clear ID numbers in it)."""
    session.add(
        PiiAccessLog(
            staff_id=actor.staff_id,
            resident_id=None,
            district_code=actor.log_district,
            fields="import_error_file",
            reason=(
                f"下载导入错误文件 downloaded the error file of import job {job_id} "
                f"({filename}, {rows} rejected rows with clear ID numbers)"
            )[:300],
        )
    )
    session.flush()


def _row_errors(session: Session) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """Each rejected row's errors in column order, streamed from the server."""
    rows = session.execute(
        text(f"SELECT row_no, col, reason FROM {ERROR_TABLE} ORDER BY row_no, seq"),
        execution_options={"yield_per": 5_000},
    )
    for row_no, group in groupby(rows, key=lambda r: r[0]):
        yield row_no, [(c or "", r) for _, c, r in group]


def write_error_file(
    session: Session,
    source: Path,
    target: Path,
    layout: Layout,
    on_progress: ProgressCallback | None,
    rejected_rows: int,
) -> None:
    """The rejected rows as read, with 错误行号/错误列/错误原因, in the source's format."""
    errors = _row_errors(session)
    pending = next(errors, None)
    written = 0
    header = [*layout.header, *ERROR_COLUMNS]
    with open_rows(source) as (rows, _), _error_writer(target, header, layout) as write:
        for row_no, cells in enumerate(rows, start=1):
            if pending is None:
                break
            if row_no != pending[0]:
                continue
            problems = pending[1]
            columns = "、".join(dict.fromkeys(c or "(整行)" for c, _ in problems))
            reasons = (
                problems[0][1]
                if len(problems) == 1
                else "；".join(f"{c or '(整行)'}: {r}" for c, r in problems)
            )
            width = len(layout.header)
            padded = [*cells[:width], *(None,) * (width - len(cells))]
            write([*padded, row_no, columns, reasons, *cells[width:]])
            written += 1
            if on_progress and written % BATCH_ROWS == 0:
                on_progress("errors", written, rejected_rows)
            pending = next(errors, None)
    if on_progress:
        on_progress("errors", written, rejected_rows)


@contextmanager
def _error_writer(
    target: Path, header: list[str], layout: Layout
) -> Iterator[Callable[[list[Any]], None]]:
    if target.suffix.lower() == ".xlsx":
        with xlsx_writer(target, header, text_columns=_text_indexes(layout.index)) as write:
            yield write
        return
    with atomic(target) as part, part.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        # Rejected rows carry the uploader's cells as they were: guard them like any export.
        yield lambda row: writer.writerow(export_guard.neutralise_row(row))


def _text_indexes(index: dict[str, int]) -> list[int]:
    return [i for key, i in index.items() if BY_KEY[key].text_format]
