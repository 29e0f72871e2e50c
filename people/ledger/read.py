"""Reading ledger files: CSV (UTF-8 or GB18030) and .xlsx rows, and the header row."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zipfile import BadZipFile

from gis import export_guard
from people.access import Actor
from people.ledger.columns import (
    BY_KEY,
    COLUMNS,
    HEADER_LOOKUP,
    IGNORED_HEADERS,
    LedgerColumn,
    header_key,
)
from people.ledger.files import NOTES_SHEET, check_suffix
from people.ledger.report import LedgerFileError
from people.models import StaffRole

# Rows searched for the header row, so a title or note row above it is allowed.
HEADER_SEARCH_ROWS: Final = 10


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), else GB18030 — what Chinese Excel saves "CSV" as."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LedgerFileError(
            f"{path.name} is UTF-16 text (Excel's 'Unicode text'); save it as 'CSV UTF-8'"
        )
    if head.startswith(b"PK\x03\x04") or b"\x00" in head:
        raise LedgerFileError(
            f"{path.name} is a binary file (an Excel workbook?), not CSV text; "
            "save it as CSV UTF-8, or name it .xlsx if it is a workbook"
        )
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sample may end inside a character; only complete ones must decode.
        if exc.start < len(head) - 3:
            try:
                head[: exc.start + 1024].decode("gb18030")
            except UnicodeDecodeError:
                raise LedgerFileError(
                    f"{path.name} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8"
                ) from None
            return "gb18030"
    return "utf-8-sig"


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@contextmanager
def open_rows(path: Path) -> Iterator[tuple[Iterator[list[Any]], int]]:
    """The file's rows (lists of cells, row 1 first) and an estimate of their number."""
    suffix = check_suffix(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.stat().st_size == 0:
        raise LedgerFileError(f"{path.name} is empty; fill in the template and import it again")
    if suffix == ".csv":
        encoding = _csv_encoding(path)
        with path.open("rb") as handle:
            yield _csv_rows(path, handle, encoding), _count_lines(path)
        return
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError) as exc:
        raise LedgerFileError(
            f"{path.name} cannot be opened as an Excel .xlsx workbook ({exc}); "
            "save it from Excel or WPS as .xlsx"
        ) from exc
    try:
        sheets = [s for s in workbook.worksheets if s.title != NOTES_SHEET] or workbook.worksheets
        sheet = sheets[0]
        yield _xlsx_rows(path, sheet), max((sheet.max_row or 0), 0)
    finally:
        workbook.close()


def _decoded(path: Path, handle: Any, encoding: str) -> Iterator[str]:
    """The file's lines as text; decoding line by line names the line that fails."""
    for line_no, line in enumerate(handle, start=1):
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError:
            shown = "UTF-8" if encoding == "utf-8-sig" else encoding.upper()
            raise LedgerFileError(
                f"{path.name} line {line_no} is not {shown} text like the lines before it; "
                "save the whole file as CSV UTF-8 and import it again"
            ) from None


def _csv_rows(path: Path, handle: Any, encoding: str) -> Iterator[list[Any]]:
    reader = csv.reader(_decoded(path, handle, encoding))
    try:
        # Our exports guard formula-like text with an apostrophe; importing one gives it back.
        for row in reader:
            yield [export_guard.restore(cell) for cell in row]
    except csv.Error as exc:
        raise LedgerFileError(
            f"{path.name} line {reader.line_num} cannot be read as CSV ({exc}); "
            "check that line, or save the file again as CSV UTF-8"
        ) from exc


def _xlsx_rows(path: Path, sheet: Any) -> Iterator[list[Any]]:
    try:
        for row in sheet.iter_rows(values_only=True):
            yield [_xlsx_value(v) for v in row]
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise LedgerFileError(
            f"{path.name} is damaged and cannot be read to the end ({exc}); "
            "save it again from Excel or WPS"
        ) from exc


def _xlsx_value(value: Any) -> Any:
    """Cells as text, except dates and numbers too large to have kept every digit."""
    if value is None or isinstance(value, str):
        return export_guard.restore(value)
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Below 1e15 a double holds every digit; above, digits were lost (an 18-digit ID).
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else value
    return value


def is_blank(cells: Sequence[Any]) -> bool:
    """Whether every cell of a row is empty or white space."""
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


@dataclass
class Layout:
    """Where each known column is in the file, and what else the header holds."""

    header_row: int
    header: list[str]
    index: dict[str, int]  # column key → cell index
    warnings: list[str]

    def name(self, key: str) -> str:
        """The column's header as the file writes it (the Chinese one if absent)."""
        i = self.index.get(key)
        return self.header[i] if i is not None else BY_KEY[key].header


def read_header(path: Path, rows: Iterator[list[Any]], actor: Actor) -> Layout:
    """Find the header row among the first rows and map its cells to ledger columns."""
    seen = 0
    for row_no, cells in enumerate(rows, start=1):
        if is_blank(cells):
            continue
        seen += 1
        names = [("" if c is None else str(c)).strip() for c in cells]
        known = [HEADER_LOOKUP.get(header_key(n)) for n in names]
        if sum(k is not None for k in known) >= 2:
            return _map_header(path, row_no, names, known, actor)
        if seen >= HEADER_SEARCH_ROWS:
            break
    if seen == 0:
        raise LedgerFileError(f"{path.name} is empty; fill in the template and import it again")
    raise LedgerFileError(
        f"{path.name} has no header row: none of its first rows names the ledger columns "
        f"({', '.join(c.header for c in COLUMNS[:6])} …); put the header in the first row, "
        "or start from `gridgov people template`"
    )


def _map_header(
    path: Path, row_no: int, names: list[str], known: list[LedgerColumn | None], actor: Actor
) -> Layout:
    index: dict[str, int] = {}
    extra: list[str] = []
    for i, (name, ledger_column) in enumerate(zip(names, known, strict=True)):
        if ledger_column is None:
            if name and name not in IGNORED_HEADERS:
                extra.append(name)
            continue
        if ledger_column.key in index:
            first = names[index[ledger_column.key]]
            raise LedgerFileError(
                f"{path.name} has two columns for {ledger_column.header}: '{first}' and "
                f"'{name}'; delete one of them"
            )
        index[ledger_column.key] = i
    missing = [c.header for c in COLUMNS if c.required and c.key not in index]
    if actor.role is StaffRole.GRID_WORKER and "house_code" not in index:
        missing.append(BY_KEY["house_code"].header)
    if missing:
        raise LedgerFileError(
            f"{path.name} lacks the required column(s) {', '.join(missing)} (header row "
            f"{row_no}); add them with these headers, or start from `gridgov people template`"
            + (
                "; a grid worker's import needs the house of every resident"
                if "house_code" not in index and actor.role is StaffRole.GRID_WORKER
                else ""
            )
        )
    warnings = []
    if extra:
        warnings.append(
            f"column(s) {', '.join(extra)} are not ledger columns and were ignored; "
            f"the ledger columns are {', '.join(c.header for c in COLUMNS)}"
        )
    return Layout(row_no, names, index, warnings)
