"""Importing a ledger file: read, check, stage and write batch by batch, then report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.clock import local_today
from people.access import READ_PERSONS, Actor, require_role
from people.ledger.check import RowChecker, checked_batches
from people.ledger.error_file import default_error_path, write_error_file
from people.ledger.read import open_rows, read_header
from people.ledger.report import (
    MAX_REPORTED_ERRORS,
    LedgerFileError,
    LedgerImportReport,
    ProgressCallback,
    RowError,
)
from people.ledger.stage import ERROR_TABLE, BatchWriter, create_temp, drop_temp


def import_residents(
    session: Session,
    *,
    actor: Actor,
    path: str | Path,
    on_progress: ProgressCallback | None = None,
    error_path: str | Path | None = None,
    today: date | None = None,
) -> LedgerImportReport:
    """Import a ledger file (.csv or .xlsx): valid rows go in, invalid rows are reported.

    A resident whose document is already in the ledger is updated (blank cells keep the stored
    value); a changed house ends the open residence on 入住日期 (default today) and opens a new
    one. Rejected rows go to `error_path` (default `<name>.errors.<suffix>` beside the file).
    Raises LedgerFileError, having written nothing, when the file is not a readable ledger.
    `on_progress(stage, done, total)` reports rows "read" and "written", then "errors".
    """
    require_role(actor, READ_PERSONS, "import residents")
    source = Path(path)
    target = Path(error_path) if error_path else default_error_path(source)
    if target.suffix.lower() != source.suffix.lower():
        raise LedgerFileError(
            f"the error file {target.name} must be of the same type as {source.name} "
            f"({source.suffix.lower() or 'no suffix'})"
        )
    today = today or local_today()
    session.flush()
    with open_rows(source) as (rows, estimate):
        layout = read_header(source, rows, actor)
        checker = RowChecker(layout, actor, today)
        # A savepoint: should the file turn out unreadable halfway, what earlier batches wrote
        # is undone here, even if the caller goes on to commit.
        with session.begin_nested():
            create_temp(session)
            writer = BatchWriter(session, actor, layout, today)
            total = 0
            try:
                for staged, errors in checked_batches(rows, layout, checker):
                    writer.submit(staged, errors)
                    total += len(staged)
                    if on_progress:
                        expected = max(total, estimate - layout.header_row)
                        on_progress("read", total, expected)
                        on_progress("written", writer.written, expected)
            finally:
                writer.close()
            if total == 0:
                raise LedgerFileError(
                    f"{source.name} has a header but no resident rows under it; nothing to import"
                )
    if on_progress:
        on_progress("read", total, total)
        on_progress("written", total, total)
    error_count, rejected_rows = session.execute(
        text(f"SELECT count(*), count(DISTINCT row_no) FROM {ERROR_TABLE}")
    ).one()
    report = LedgerImportReport(
        total_rows=total,
        inserted=writer.inserted,
        updated=writer.updated,
        rejected=[
            RowError(row, col or "", reason)
            for row, col, reason in session.execute(
                text(
                    f"SELECT row_no, col, reason FROM {ERROR_TABLE} ORDER BY row_no, seq LIMIT :n"
                ),
                {"n": MAX_REPORTED_ERRORS},
            )
        ],
        rejected_rows=int(rejected_rows),
        error_count=int(error_count),
        warnings=list(layout.warnings),
    )
    if error_count > MAX_REPORTED_ERRORS:
        report.warnings.append(
            f"{error_count} errors: the first {MAX_REPORTED_ERRORS} are listed here, "
            "and the error file has them all"
        )
    if rejected_rows:
        write_error_file(session, source, target, layout, on_progress, int(rejected_rows))
        report.error_file = target
    drop_temp(session)
    session.expire_all()  # residents the session holds were changed behind its back
    return report
