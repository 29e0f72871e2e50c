"""Import and export of the resident ledger (台账): CSV and Excel (.xlsx) files, Chinese headers.

An import streams the file in batches. Each row is validated in Python (document numbers,
dates, code labels, phones, lengths) and its ID number and phone encrypted and hashed; a
document already seen earlier in the file is reported. Each batch is then COPYed into a TEMP
table and, on a helper thread while Python reads the next batch, checked set-based against the
database — unknown houses, houses or people outside the actor's scope, residence history — and
written by a handful of INSERT … SELECT / UPDATE … FROM statements: a resident already in the
ledger (same document) is updated, not duplicated, and a changed house closes the open
residence and opens a new one.

Valid rows go in; invalid rows are reported (row, column, reason) and written to an error file
in the input's format. A file that cannot be read as a ledger (wrong type, empty, missing
required columns) raises `LedgerFileError` with nothing written, even when the problem shows
only halfway through (the import runs in a savepoint). The caller owns the transaction.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, Final
from zipfile import BadZipFile

import numpy as np
from sqlalchemy import Integer, String, column, func, insert, literal, or_, select, table, text
from sqlalchemy.orm import Session

from gis import export_guard
from gis.clock import local_today
from gis.text import UNPRINTABLE, check_text
from grid.models import Building, House
from people.access import (
    READ_PERSONS,
    UNMASK,
    Actor,
    grid_scope,
    require_grid,
    require_role,
)
from people.documents import EARLIEST_BIRTH, DocumentError, DocumentType, validate_document
from people.exceptions import InvalidRecord, PeopleError
from people.models import PiiAccessLog, Residence, ResidenceType, Resident, Sex, StaffRole
from people.pii import PhoneError, get_cipher, mask_id_number, mask_phone, validate_phone
from people.service import DOC_CONTEXT, PHONE_CONTEXT, document_hash

__all__ = [
    "COLUMNS",
    "LedgerColumn",
    "LedgerFileError",
    "LedgerImportReport",
    "RowError",
    "export_residents",
    "import_residents",
    "record_error_file_download",
    "write_template",
]

# on_progress(stage, done, total); stages "read" and "written" (rows), then "errors" (rows
# copied to the error file).
ProgressCallback = Callable[[str, int, int], None]

BATCH_ROWS: Final = 10_000
# The report lists this many problems; the error file has all of them.
MAX_REPORTED_ERRORS: Final = 10_000
# Rows searched for the header row, so a title or note row above it is allowed.
HEADER_SEARCH_ROWS: Final = 10
# Data rows that fit one Excel sheet (1,048,576 rows less the header and a note row).
XLSX_MAX_ROWS: Final = 1_048_574
SUFFIXES: Final = (".csv", ".xlsx")
DATA_SHEET: Final = "台账"
NOTES_SHEET: Final = "说明"
IMPORT_REASON: Final = "台账导入"  # residence.reason of stays opened by an import
ERROR_COLUMNS: Final = ("错误行号", "错误列", "错误原因")
MASKED_NOTE: Final = (
    "注意：本文件的证件号码和联系电话已脱敏，出生日期只显示年份，不能再导入"
    "（需要修改后再导入时，请用 --unmasked 导出）。"
    " Masked export: ID numbers and phones are masked and birth dates show the year only, "
    "so this file cannot be re-imported; "
    "export with --unmasked to edit and re-import."
)


class LedgerFileError(PeopleError):
    """The file cannot be read as a ledger at all; nothing was imported."""


# --- columns ------------------------------------------------------------------------------


def _width(name: str) -> int | None:
    return getattr(Resident.__table__.c[name].type, "length", None)


@dataclass(frozen=True)
class LedgerColumn:
    """One column of the ledger file: its Chinese header, accepted aliases and rules."""

    key: str  # the ResidentCreate field it fills
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: str = ""
    example: str = ""
    text_format: bool = False  # kept as text in Excel (long digit strings)

    @property
    def max_length(self) -> int | None:
        """Width of the resident column the value is stored in, if it is free text."""
        return _width(self.key) if self.key in Resident.__table__.c else None


_DOC_LABELS: Final = "、".join(t.label for t in DocumentType)
_RESIDENCE_LABELS: Final = "、".join(t.label for t in ResidenceType)

COLUMNS: Final[tuple[LedgerColumn, ...]] = (
    LedgerColumn("name", "姓名", ("name", "full_name"), True, "与证件上一致", "张三"),
    LedgerColumn("former_name", "曾用名", ("former_name",)),
    LedgerColumn(
        "sex",
        "性别",
        ("sex", "gender"),
        note="男 / 女；居民身份证由证件号码决定，可不填，填写时须与号码一致",
        example="男",
    ),
    LedgerColumn(
        "birth_date",
        "出生日期",
        ("birth_date", "date_of_birth", "birthday", "dob"),
        note="YYYY-MM-DD；居民身份证由证件号码决定，可不填，填写时须与号码一致",
        example="1985-06-15",
    ),
    LedgerColumn(
        "doc_type",
        "证件类型",
        ("doc_type", "document_type", "id_type"),
        note=f"{_DOC_LABELS}；不填即居民身份证",
        example="居民身份证",
    ),
    LedgerColumn(
        "doc_number",
        "证件号码",
        ("doc_number", "document_number", "id_number", "id_no", "id_card", "identity_number"),
        True,
        "文本格式（否则 Excel 会把 18 位号码变成 4.2E+17）；居民身份证 18 位，末位可为 X，"
        "15 位旧号自动升级；同一证件再次导入即更新该居民，不会重复",
        "420502198506150011",
        text_format=True,
    ),
    LedgerColumn("ethnicity", "民族", ("ethnicity", "ethnic_group"), example="汉族"),
    LedgerColumn("native_place", "籍贯", ("native_place",), example="湖北宜昌"),
    LedgerColumn("registered_address", "户籍地址", ("registered_address", "hukou_address")),
    LedgerColumn(
        "phone",
        "联系电话",
        ("phone", "mobile", "telephone", "tel", "phone_number"),
        note="手机 11 位，或带区号的固话，如 0717-1234567",
        example="13812345678",
        text_format=True,
    ),
    LedgerColumn("education", "学历", ("education",), example="大学本科"),
    LedgerColumn("occupation", "职业", ("occupation", "job")),
    LedgerColumn("employer", "工作单位", ("employer", "workplace", "work_unit")),
    LedgerColumn("marital_status", "婚姻状况", ("marital_status",), example="已婚"),
    LedgerColumn("political_status", "政治面貌", ("political_status",), example="群众"),
    LedgerColumn(
        "residence_type",
        "人口类型",
        ("residence_type", "population_type"),
        True,
        _RESIDENCE_LABELS,
        "户籍人口",
    ),
    LedgerColumn(
        "origin", "流出地", ("origin",), note="流动人口必填：从哪里来", example="湖北省恩施州"
    ),
    LedgerColumn("arrival_date", "来本地日期", ("arrival_date",), note="YYYY-MM-DD"),
    LedgerColumn("arrival_reason", "来本地事由", ("arrival_reason",), example="务工"),
    LedgerColumn("permit_number", "居住证号", ("permit_number",), text_format=True),
    LedgerColumn(
        "permit_expiry", "居住证有效期", ("permit_expiry",), note="YYYY-MM-DD，不早于来本地日期"
    ),
    LedgerColumn(
        "house_code",
        "房屋编码",
        ("house_code", "现住址/房屋编码", "现住址房屋编码", "现住址"),
        note="现住址：楼栋编码-单元-房号，如 420502001001001B0001-1-0301；网格员必填，"
        "且须在自己的网格内；房屋变了即记为搬迁",
        example="420502001001001B0001-1-0301",
        text_format=True,
    ),
    LedgerColumn(
        "moved_in",
        "入住日期",
        ("moved_in", "move_in_date"),
        note="YYYY-MM-DD，不填即导入当天；搬迁时旧住址在这一天结束",
        example="2020-01-01",
    ),
    LedgerColumn("relation_to_head", "与户主关系", ("relation_to_head",), example="户主"),
)
_BY_KEY: Final = {c.key: c for c in COLUMNS}
# Columns of ledgers and of our own error files that are read past without a warning.
_IGNORED_HEADERS: Final = frozenset({"序号", *ERROR_COLUMNS})

_NAME_MAX: Final = _width("name") or 50
_TEXT_KEYS: Final = (
    "former_name",
    "ethnicity",
    "native_place",
    "registered_address",
    "education",
    "occupation",
    "employer",
    "marital_status",
    "political_status",
    "origin",
    "arrival_reason",
    "permit_number",
    "relation_to_head",
)


def _header_key(text: str) -> str:
    """A header as compared: full-width to ASCII, no '*' or (必填) marks, lower snake case."""
    cleaned = unicodedata.normalize("NFKC", text).strip().strip("*").strip()
    cleaned = cleaned.removesuffix("(必填)").strip().lower()
    return re.sub(r"[\s\-]+", "_", cleaned)


_HEADER_LOOKUP: Final[dict[str, LedgerColumn]] = {
    _header_key(name): c for c in COLUMNS for name in (c.header, c.key, *c.aliases)
}


def _choices(pairs: dict[str, Any], members: Sequence[Any]) -> dict[str, Any]:
    found = {m.value: m for m in members} | {m.label: m for m in members}
    return found | {_header_key(k): v for k, v in pairs.items()}


_DOC_TYPES: Final = _choices(
    {"身份证": DocumentType.ID_CARD, "id card": DocumentType.ID_CARD}, list(DocumentType)
)
_RESIDENCE_TYPES: Final = _choices(
    {
        "户籍": ResidenceType.REGISTERED,
        "流动": ResidenceType.FLOATING,
        "境外": ResidenceType.OVERSEAS,
        "未落户": ResidenceType.UNREGISTERED,
    },
    list(ResidenceType),
)
_SEXES: Final = _choices(
    {"男性": Sex.MALE, "女性": Sex.FEMALE, "m": Sex.MALE, "f": Sex.FEMALE}, list(Sex)
)


# --- reports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in one row: the row as a spreadsheet numbers it (header = row 1), the column
    header as written in the file, and a sentence saying what to fix."""

    row: int
    column: str
    reason: str


@dataclass
class LedgerImportReport:
    """Outcome of a ledger import."""

    total_rows: int  # non-blank data rows in the file
    inserted: int
    updated: int
    rejected: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    rejected_rows: int = 0  # rows not imported (a row may have several errors)
    error_count: int = 0  # every error, including those past MAX_REPORTED_ERRORS
    warnings: list[str] = field(default_factory=list)
    error_file: Path | None = None

    @property
    def imported(self) -> int:
        """Rows written: new residents plus updated ones."""
        return self.inserted + self.updated


# --- reading files ------------------------------------------------------------------------


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return suffix
    hint = ""
    if suffix == ".xls":
        hint = " (an old Excel .xls file: open it in Excel or WPS and save it as .xlsx)"
    raise LedgerFileError(
        f"{path.name} is not a ledger file type{hint}; use one of {', '.join(SUFFIXES)}"
    )


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
def _open_rows(path: Path) -> Iterator[tuple[Iterator[list[Any]], int]]:
    """The file's rows (lists of cells, row 1 first) and an estimate of their number."""
    suffix = _check_suffix(path)
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


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


@dataclass
class _Layout:
    """Where each known column is in the file, and what else the header holds."""

    header_row: int
    header: list[str]
    index: dict[str, int]  # column key → cell index
    warnings: list[str]

    def name(self, key: str) -> str:
        """The column's header as the file writes it (the Chinese one if absent)."""
        i = self.index.get(key)
        return self.header[i] if i is not None else _BY_KEY[key].header


def _read_header(path: Path, rows: Iterator[list[Any]], actor: Actor) -> _Layout:
    """Find the header row among the first rows and map its cells to ledger columns."""
    seen = 0
    for row_no, cells in enumerate(rows, start=1):
        if _blank(cells):
            continue
        seen += 1
        names = [("" if c is None else str(c)).strip() for c in cells]
        known = [_HEADER_LOOKUP.get(_header_key(n)) for n in names]
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
) -> _Layout:
    index: dict[str, int] = {}
    extra: list[str] = []
    for i, (name, ledger_column) in enumerate(zip(names, known, strict=True)):
        if ledger_column is None:
            if name and name not in _IGNORED_HEADERS:
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
        missing.append(_BY_KEY["house_code"].header)
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
    return _Layout(row_no, names, index, warnings)


# --- checking rows ------------------------------------------------------------------------

_DATE_PATTERN: Final = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0{1,2}:00(?::00)?)?"
)
_DATE_DIGITS: Final = re.compile(r"\d{8}")
_MASKED: Final = "*"

# Columns of a staged batch row, in COPY order; rows with problems are staged too, `ok` false,
# so the SQL checks can report everything wrong with them at once.
_STAGE_COLUMNS: Final = (
    "row_no",
    "ok",
    "doc_type",
    "doc_enc",
    "doc_hash",
    "doc_masked",
    "name",
    "sex",
    "birth_date",
    "phone_enc",
    "phone_masked",
    "residence_type",
    "house_code",
    "building_code",
    "unit",
    "room",
    *_TEXT_KEYS,
    "arrival_date",
    "permit_expiry",
    "moved_in",
)
_STAGE_TYPES: Final = {
    "row_no": "int PRIMARY KEY",
    "ok": "boolean",
    "doc_enc": "bytea",
    "doc_hash": "bytea",
    "phone_enc": "bytea",
    "birth_date": "date",
    "arrival_date": "date",
    "permit_expiry": "date",
    "moved_in": "date",
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value).strip() or None


def _bytea(blob: bytes) -> str:
    return "\\x" + blob.hex()


class _Row:
    """One data row being checked: its cells by column key and the problems found so far."""

    __slots__ = ("errors", "names", "values")

    def __init__(self, values: dict[str, Any], names: dict[str, str]) -> None:
        self.values, self.names = values, names
        self.errors: list[tuple[str, str]] = []

    def get(self, key: str) -> Any:
        """The cell of a column (None when blank or when the file has no such column)."""
        return self.values.get(key)

    def text(self, key: str) -> str | None:
        """The cell as text."""
        value = self.values.get(key)
        return value if value is None or type(value) is str else _text(value)

    def bad(self, key: str, reason: str) -> None:
        """Record a problem in column `key` ("" for the whole row)."""
        self.errors.append((self.names.get(key, ""), reason))


def _unprintable(value: str) -> str:
    """The reason a cell holding a control character is refused."""
    try:
        check_text(value)
    except ValueError as exc:
        return str(exc)
    return "contains a control character; remove it"


class _RowChecker:
    """Validates, encrypts and hashes rows; one per import (it holds the layout and cipher).

    The rules are those of `ResidentCreate` and `register_resident`, applied without building
    a pydantic model per row, which would cost more than everything else together.
    """

    def __init__(self, layout: _Layout, actor: Actor, today: date) -> None:
        self.today = today
        self.cipher = get_cipher()
        self.grid_worker = actor.role is StaffRole.GRID_WORKER
        self.names = {c.key: layout.name(c.key) for c in COLUMNS}
        self.keys = tuple(layout.index)
        self.cells_of = itemgetter(*layout.index.values())
        self.limits = {key: _BY_KEY[key].max_length or 0 for key in _TEXT_KEYS}
        self.width = len(layout.header)

    def check(self, row_no: int, cells: list[Any]) -> tuple[tuple[Any, ...], list[tuple[str, str]]]:
        """The staging tuple of a row and its problems as (column header, reason)."""
        if len(cells) < self.width:
            cells = [*cells, *(None,) * (self.width - len(cells))]
        # Every cell stripped once, blanks as None (the one loop over all cells).
        values = {
            key: (cell.strip() or None) if type(cell) is str else cell
            for key, cell in zip(self.keys, self.cells_of(cells), strict=True)
        }
        row = _Row(values, self.names)
        name = row.text("name")
        if name is None:
            row.bad("name", "姓名 is empty; every resident needs a name")
        elif len(name) > _NAME_MAX:
            row.bad("name", f"is {len(name)} characters long; at most {_NAME_MAX} fit")
        elif UNPRINTABLE.search(name):
            row.bad("name", _unprintable(name))
            name = None

        kind, number = self._document(row)
        sex, birth = self._sex_and_birth(row, kind, number)
        doc_enc = doc_hash = doc_masked = None
        if kind is not None and number is not None:
            doc_hash = _bytea(document_hash(kind, number))
            doc_enc = _bytea(self.cipher.encrypt(number, context=DOC_CONTEXT))
            doc_masked = mask_id_number(number)

        phone_enc = phone_masked = None
        phone = row.text("phone")
        if phone is not None and _MASKED in phone:
            row.bad("phone", f"{phone} is masked; a masked export cannot be re-imported")
        elif phone is not None:
            try:
                phone = validate_phone(phone)
            except PhoneError as exc:
                row.bad("phone", str(exc))
            else:
                phone_enc = _bytea(self.cipher.encrypt(phone, context=PHONE_CONTEXT))
                phone_masked = mask_phone(phone)

        residence = _coded(row, "residence_type", _RESIDENCE_TYPES, _RESIDENCE_LABELS)
        if residence is None and row.text("residence_type") is None:
            row.bad("residence_type", f"人口类型 is empty; use one of {_RESIDENCE_LABELS}")

        texts: dict[str, str | None] = {}
        for key, limit in self.limits.items():
            value = row.text(key)
            if value is not None and limit and len(value) > limit:
                row.bad(key, f"is {len(value)} characters long; at most {limit} fit")
                value = None
            elif value is not None and UNPRINTABLE.search(value):
                # xlsx and XML cannot hold it: the export of the ledger would break.
                row.bad(key, _unprintable(value))
                value = None
            texts[key] = value

        arrival = self._date(row, "arrival_date", past=True)
        expiry = self._date(row, "permit_expiry", past=False)
        moved_in = self._date(row, "moved_in", past=True)
        if residence is ResidenceType.FLOATING and texts["origin"] is None:
            row.bad(
                "origin",
                "流出地 is empty; a floating resident (流动人口) needs where they came from",
            )
        if expiry and arrival and expiry < arrival:
            row.bad("permit_expiry", f"{expiry} is before 来本地日期 {arrival}; check the permit")
        house_code, building_code, unit, room = self._house(row)

        if len(cells) > self.width and not _blank(cells[self.width :]):
            row.bad(
                "",
                f"the row has {len(cells)} cells but the header only {self.width}; a value "
                "probably holds an unquoted comma: quote it or remove the comma",
            )
        staged = (
            row_no,
            "f" if row.errors else "t",
            kind.value if kind else None,
            doc_enc,
            doc_hash,
            doc_masked,
            name,
            sex.value if sex else None,
            birth,
            phone_enc,
            phone_masked,
            residence.value if residence else None,
            house_code,
            building_code,
            unit,
            room,
            *texts.values(),
            arrival,
            expiry,
            moved_in,
        )
        return staged, row.errors

    def _document(self, row: _Row) -> tuple[DocumentType | None, str | None]:
        """The document type (ID card when blank) and the normalised number, if valid."""
        kind: DocumentType | None = DocumentType.ID_CARD
        if row.text("doc_type") is not None:
            kind = _coded(row, "doc_type", _DOC_TYPES, _DOC_LABELS)
        raw = row.get("doc_number")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            row.bad("doc_number", "证件号码 is empty; enter the number printed on the document")
            return kind, None
        if isinstance(raw, str) and _MASKED in raw:
            row.bad(
                "doc_number",
                f"{raw.strip()} is masked, and a masked export cannot be re-imported; "
                "export with --unmasked to edit and re-import",
            )
            return kind, None
        if kind is None:
            return None, None
        try:
            return kind, validate_document(kind, raw, today=self.today)
        except DocumentError as exc:
            row.bad("doc_number", str(exc))
            return kind, None

    def _sex_and_birth(
        self, row: _Row, kind: DocumentType | None, number: str | None
    ) -> tuple[Sex | None, date | None]:
        """As given for other documents; from the number for ID cards, checked against what
        the row says (GB 11643: digits 7–14 the birth date, an odd 17th digit a man)."""
        sex = _coded(row, "sex", _SEXES, "男、女")
        birth = self._date(row, "birth_date", past=True)
        if kind is not DocumentType.ID_CARD:
            return sex, birth
        if number is None:
            return None, None
        id_birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        id_sex = Sex.MALE if int(number[16]) % 2 else Sex.FEMALE
        if sex is not None and sex is not Sex.UNKNOWN and sex is not id_sex:
            row.bad(
                "sex",
                f"性别 {sex.label} contradicts the ID number, which says {id_sex.label}; "
                "correct whichever is wrong",
            )
        if birth is not None and birth != id_birth:
            row.bad(
                "birth_date",
                f"出生日期 {birth} contradicts the ID number, which says {id_birth}; "
                "correct whichever is wrong",
            )
        return id_sex, id_birth

    def _date(self, row: _Row, key: str, *, past: bool) -> date | None:
        value = row.get(key)
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            written = _text(value)
            if written is None:
                return None
            parsed = _parse_date(written)
            if parsed is None:
                row.bad(
                    key, f"'{written}' is not a date; write dates as YYYY-MM-DD, e.g. 2020-03-01"
                )
                return None
            if isinstance(parsed, str):
                row.bad(key, parsed)
                return None
            value = parsed
        if past and value > self.today:
            row.bad(key, f"{value} is in the future; check the year")
            return None
        if value < EARLIEST_BIRTH:
            row.bad(key, f"{value} is before {EARLIEST_BIRTH.year}; check the year")
            return None
        return value

    def _house(self, row: _Row) -> tuple[str | None, str | None, str | None, str | None]:
        """The house code, normalised, and its building code, unit and room."""
        code = row.text("house_code")
        if code is None:
            if self.grid_worker:
                row.bad(
                    "house_code",
                    "房屋编码 is empty; a grid worker imports residents where they live, "
                    "in one of their grids",
                )
            return None, None, None, None
        if not code.isascii():
            code = unicodedata.normalize("NFKC", code)
        parts = [p.strip() for p in code.rsplit("-", 2)]
        if len(parts) != 3 or not all(parts):
            row.bad(
                "house_code",
                f"'{code}' is not a house code; write the building code, unit and room joined "
                "by '-', e.g. 420502001001001B0001-1-0301",
            )
            return None, None, None, None
        building_code, unit, room = parts
        return f"{building_code}-{unit}-{room}", building_code, unit, room


def _coded(row: _Row, key: str, lookup: dict[str, Any], choices: str) -> Any:
    """The code member a cell names by label or value; None (and a problem) if it names none."""
    written = row.text(key)
    if written is None:
        return None
    found = lookup.get(written) or lookup.get(_header_key(written))
    if found is None:
        row.bad(key, f"'{written}' is not a {_BY_KEY[key].header}; use one of {choices}")
    return found


def _parse_date(text_value: str) -> date | str | None:
    """A date from 2020-03-01, 2020/3/1, 2020.03.01, 2020年3月1日 or 20200301.

    None when the text is not date-shaped; a sentence when it is shaped like one but impossible.
    """
    match = _DATE_PATTERN.fullmatch(text_value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    elif _DATE_DIGITS.fullmatch(text_value):
        year, month, day = int(text_value[:4]), int(text_value[4:6]), int(text_value[6:])
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return (
            f"'{text_value}' is not a calendar date ({year}-{month:02d}-{day:02d} does not "
            "exist); check the month and day"
        )


# --- staging, SQL checks and writes, batch by batch -----------------------------------------

_BATCH: Final = "_ledger_batch"  # the rows of the batch being written
_LINK: Final = "_ledger_link"  # one narrow row per batch row: its house, resident, residence
_ERROR: Final = "_ledger_error"  # every problem of the import
_TEMP_TABLES: Final = (_BATCH, _LINK, _ERROR)
_ERROR_COLUMNS: Final = ("row_no", "seq", "col", "reason")

# Order of a row's problems: Python's (by column) first, then the duplicate and SQL checks'.
_SEQ_DUPLICATE, _SEQ_HOUSE, _SEQ_SCOPE, _SEQ_PERSON, _SEQ_HISTORY = 100, 101, 102, 103, 104


class _SeenDocuments:
    """The documents of the rows read so far, to report one that appears twice in the file.

    Keeps the first 64 bits of each row's lookup hash, sorted, beside the row it first
    appeared on: 12 bytes a row, so a 2-million-row file needs 24 MB, and a false duplicate
    (two documents sharing 64 bits) has a chance of about 1 in 10 million at that size.
    """

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int32)

    def repeats(self, keys: list[int], rows: list[int]) -> dict[int, int]:
        """Record a batch; for each of its rows whose document came before: row → first row."""
        if not keys:
            return {}
        batch_keys = np.array(keys, dtype=np.uint64)
        batch_rows = np.array(rows, dtype=np.int32)
        order = np.lexsort((batch_rows, batch_keys))
        batch_keys, batch_rows = batch_keys[order], batch_rows[order]
        # The first row of each key inside the batch ...
        starts = np.ones(len(batch_keys), dtype=bool)
        starts[1:] = batch_keys[1:] != batch_keys[:-1]
        first = batch_rows[np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))]
        # ... unless an earlier batch had it.
        at = np.searchsorted(self.keys, batch_keys)
        earlier = at < len(self.keys)
        earlier[earlier] = self.keys[at[earlier]] == batch_keys[earlier]
        first[earlier] = self.rows[at[earlier]]
        repeated = first != batch_rows
        new = starts & ~earlier
        self.keys = np.insert(self.keys, at[new], batch_keys[new])
        self.rows = np.insert(self.rows, at[new], batch_rows[new])
        return dict(zip(batch_rows[repeated].tolist(), first[repeated].tolist(), strict=True))


def _hash_prefix(doc_hash: str) -> int:
    """The first 64 bits of a staged lookup hash ('\\x' and hex)."""
    return int(doc_hash[2:18], 16)


def _drop_temp(session: Session) -> None:
    for name in _TEMP_TABLES:
        session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))


def _create_temp(session: Session) -> None:
    """The TEMP tables of an import; small (one batch each) but for the error list."""
    _drop_temp(session)
    columns = ", ".join(f"{c} {_STAGE_TYPES.get(c, 'text')}" for c in _STAGE_COLUMNS)
    # ON COMMIT DROP cleans up after a commit; the explicit drop lets imports share a transaction.
    for ddl in (
        f"CREATE TEMP TABLE {_BATCH} ({columns}) ON COMMIT DROP",
        f"""CREATE TEMP TABLE {_LINK} (
            row_no int PRIMARY KEY, ok boolean, house_code text, has_house boolean,
            building_id int, matches int, house_id int, grid_code text, district_code text,
            moved_in date, resident_id int, resident_grid text, open_house_id int,
            open_moved_in date, new_id int) ON COMMIT DROP""",
        f"CREATE TEMP TABLE {_ERROR} (row_no int, seq int, col text, reason text) ON COMMIT DROP",
        f"CREATE INDEX ON {_ERROR} (row_no)",
    ):
        session.execute(text(ddl))


_error_table = table(
    _ERROR, column("row_no", Integer), column("seq", Integer), column("col"), column("reason")
)
_link_table = table(
    _LINK,
    column("row_no", Integer),
    column("house_code", String),
    column("house_id", Integer),
    column("grid_code", String),
    column("resident_id", Integer),
    column("resident_grid", String),
)


class _BatchWriter:
    """Checks and writes batches on a helper thread while the caller reads the next one.

    psycopg2 releases the GIL while the server works, so Python validating batch k+1 and
    PostgreSQL checking and indexing batch k run on two cores. One batch is in flight at most,
    and the session is only touched by one thread at a time.
    """

    def __init__(self, session: Session, actor: Actor, layout: _Layout, today: date) -> None:
        self.session, self.actor, self.layout, self.today = session, actor, layout, today
        self.cursor = session.connection().connection.cursor()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-write")
        self.pending: Future[None] | None = None
        self.inserted = self.updated = self.written = 0
        # Residents when the import began, and as many as the statistics last described.
        self.residents_before = self.analysed = _estimated_residents(session)

    def submit(self, rows: list[tuple[Any, ...]], errors: list[tuple[Any, ...]]) -> None:
        """Queue a batch, once the one before it is written (raising what it raised)."""
        self.wait()
        self.pending = self.pool.submit(self._write_batch, rows, errors)

    def wait(self) -> None:
        """Wait for the batch in flight."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        """Wait for the last batch and stop the thread."""
        try:
            self.wait()
        finally:
            self.pool.shutdown()

    def _copy(self, target: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            buffer = io.StringIO()
            csv.writer(buffer).writerows(rows)
            buffer.seek(0)
            statement = f"COPY {target} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
            self.cursor.copy_expert(statement, buffer, 1 << 20)

    def _write_batch(self, rows: list[tuple[Any, ...]], errors: list[tuple[Any, ...]]) -> None:
        session = self.session
        session.execute(text(f"TRUNCATE {_BATCH}, {_LINK}"))
        self._copy(_ERROR, _ERROR_COLUMNS, errors)
        self._copy(_BATCH, _STAGE_COLUMNS, rows)
        if self.residents_before + self.inserted > 2 * self.analysed:
            # The import has more than doubled the tables since their statistics were taken;
            # ANALYZE counts this transaction's own rows, so the plans stay index probes.
            session.execute(text("ANALYZE resident, residence"))
            self.analysed = _estimated_residents(session)
        with _index_probes(session):
            _link_batch(session)
            _sql_checks(session, self.actor, self.layout, self.today)
            inserted, updated = _write(session, self.today)
        self.inserted += inserted
        self.updated += updated
        self.written += len(rows)


def _estimated_residents(session: Session) -> int:
    """How many residents the planner believes there are."""
    estimate = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = CAST('resident' AS regclass)")
    ).scalar_one()
    return max(int(estimate), 0)


# Planner settings for a batch's statements (see _index_probes).
_PROBE_SETTINGS: Final = {
    "enable_seqscan": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "jit": "off",
}


@contextmanager
def _index_probes(session: Session) -> Iterator[None]:
    """Plan the batch's statements as index probes per batch row, whatever the statistics say.

    Each statement joins one batch (thousands of rows) to tables of millions; a plan that scans
    or hashes a whole table once per batch makes a large import quadratic. Statistics lag
    behind an import that fills the tables (the writer re-analyses as they grow), and the
    costs these settings produce would switch on JIT compilation, which takes longer than the
    statements. The settings are transaction-local and put back afterwards.
    """
    names = list(_PROBE_SETTINGS)
    previous = session.execute(
        text(
            "SELECT array_agg(current_setting(n) ORDER BY i) "
            "FROM unnest(:names) WITH ORDINALITY s(n, i)"
        ),
        {"names": names},
    ).scalar_one()

    def apply(values: Sequence[str]) -> None:
        session.execute(
            text("SELECT set_config(n, v, true) FROM unnest(:names, :values) s(n, v)"),
            {"names": names, "values": list(values)},
        )

    apply(list(_PROBE_SETTINGS.values()))
    try:
        yield
    finally:
        apply(previous)


def _link_batch(session: Session) -> None:
    """For each row of the batch: its house (by code), the resident already holding its
    document, and that resident's open residence.

    Run under _index_probes: each lookup is an index probe per row, whatever the table sizes.
    """
    session.execute(
        text(
            f"""
            INSERT INTO {_LINK}
            SELECT s.row_no, s.ok, s.house_code, s.building_code IS NOT NULL,
                   b.id, h.matches, CASE WHEN h.matches = 1 THEN h.house_id END,
                   b.grid_code, b.district_code, s.moved_in,
                   r.id, r.grid_code, o.house_id, o.moved_in,
                   CASE WHEN r.id IS NULL
                        THEN nextval(pg_get_serial_sequence('resident', 'id')) END
            FROM {_BATCH} s
            LEFT JOIN LATERAL (
                SELECT id, grid_code, district_code FROM building WHERE code = s.building_code
            ) b ON true
            LEFT JOIN LATERAL (
                SELECT min(id) AS house_id, count(*) AS matches FROM house
                WHERE building_id = b.id AND unit = s.unit AND room = s.room
            ) h ON s.building_code IS NOT NULL
            LEFT JOIN LATERAL (
                SELECT id, grid_code FROM resident
                WHERE doc_type = CAST(s.doc_type AS document_type) AND doc_hash = s.doc_hash
            ) r ON true
            LEFT JOIN LATERAL (
                SELECT house_id, moved_in FROM residence
                WHERE resident_id = r.id AND moved_out IS NULL
            ) o ON true
            """
        )
    )


def _scope_words(actor: Actor) -> str:
    if actor.role is StaffRole.GRID_WORKER:
        return "your grids " + (", ".join(sorted(actor.grid_codes)) or "(none)")
    return f"your area {actor.area_code or '(none)'}"


def _sql_checks(session: Session, actor: Actor, layout: _Layout, today: date) -> None:
    """Unknown or ambiguous houses, scope and residence history, for the batch."""
    session.execute(
        text(
            f"""
            INSERT INTO {_ERROR} (row_no, seq, col, reason)
            SELECT row_no, {_SEQ_HOUSE}, :col,
                   CASE WHEN building_id IS NULL
                        THEN 'house ' || house_code || ': building '
                             || split_part(house_code, '-', 1) || ' does not exist; '
                             || 'check the building code'
                        WHEN matches = 0
                        THEN 'house ' || house_code || ' does not exist: its building has no '
                             || 'such unit and room; check the unit and room'
                        ELSE 'house code ' || house_code || ' matches ' || matches
                             || ' houses on different floors; ask the admin to fix the rooms'
                   END
            FROM {_LINK}
            WHERE has_house AND (building_id IS NULL OR matches <> 1)
            """
        ),
        {"col": layout.name("house_code")},
    )
    if actor.role is not StaffRole.ADMIN:
        _scope_checks(
            session,
            actor,
            house_column=layout.name("house_code"),
            doc_column=layout.name("doc_number"),
        )
    session.execute(
        text(
            f"""
            INSERT INTO {_ERROR} (row_no, seq, col, reason)
            SELECT row_no, {_SEQ_HISTORY}, :col,
                   'moving in on ' || coalesce(moved_in, CAST(:today AS date))
                   || ' is before the current residence began (' || open_moved_in
                   || '); residence history cannot be rewritten, so give the day they moved '
                   || 'in here, on or after that'
            FROM {_LINK}
            WHERE house_id IS NOT NULL AND open_house_id IS NOT NULL
              AND open_house_id <> house_id
              AND coalesce(moved_in, CAST(:today AS date)) < open_moved_in
            """
        ),
        {"col": layout.name("moved_in"), "today": today},
    )
    session.execute(
        text(
            f"""
            UPDATE {_LINK} l SET ok = false FROM (
                SELECT DISTINCT row_no FROM {_ERROR}
                WHERE row_no BETWEEN (SELECT min(row_no) FROM {_LINK})
                                 AND (SELECT max(row_no) FROM {_LINK})
            ) e
            WHERE l.row_no = e.row_no AND l.ok
            """
        )
    )


def _scope_checks(session: Session, actor: Actor, *, house_column: str, doc_column: str) -> None:
    """Houses, and people already in the ledger, outside the actor's grids or area."""
    link = _link_table
    outside = f", outside {_scope_words(actor)}"

    def reject(seq: int, col: str, reason: Any, grid: Any, *where: Any) -> None:
        # A record in no grid is outside every scope but the admin's (Actor.can_see_grid).
        session.execute(
            insert(_error_table).from_select(
                list(_ERROR_COLUMNS),
                select(link.c.row_no, literal(seq), literal(col), reason).where(
                    *where, or_(grid.is_(None), ~grid_scope(actor, grid))
                ),
            )
        )

    grid = func.coalesce(link.c.grid_code, "(none)")
    reject(
        _SEQ_SCOPE,
        house_column,
        literal("house ")
        + link.c.house_code
        + " is in grid "
        + grid
        + outside
        + "; only residents of your own grids or area can be imported",
        link.c.grid_code,
        link.c.house_id.is_not(None),
    )
    # Never which grid: an import must not tell where a person outside one's scope lives.
    reject(
        _SEQ_PERSON,
        doc_column,
        literal("this person is already registered outside ")
        + literal(_scope_words(actor))
        + "; ask the command centre (指挥中心) to move them into your grid "
        "(该人员已在其他网格登记)",
        link.c.resident_grid,
        link.c.resident_id.is_not(None),
    )


def _optional(name: str) -> str:
    return f"{name} = coalesce(s.{name}, r.{name})"


def _write(session: Session, today: date) -> tuple[int, int]:
    """Insert the batch's new residents, update known ones, and move those whose house changed."""
    # A blank cell leaves the stored value alone: an import never erases what it was not given.
    texts = ", ".join(_optional(k) for k in _TEXT_KEYS)
    params = {"today": today, "reason": IMPORT_REASON}
    inserted = session.execute(
        text(
            f"""
            INSERT INTO resident (id, doc_type, doc_enc, doc_hash, doc_masked, name, sex,
                birth_date, phone_enc, phone_masked, residence_type, {", ".join(_TEXT_KEYS)},
                arrival_date, permit_expiry, house_id, grid_code, district_code, active)
            SELECT l.new_id, CAST(s.doc_type AS document_type), s.doc_enc, s.doc_hash,
                s.doc_masked, s.name, CAST(coalesce(s.sex, 'unknown') AS sex), s.birth_date,
                s.phone_enc, s.phone_masked, CAST(s.residence_type AS residence_type),
                {", ".join("s." + k for k in _TEXT_KEYS)},
                s.arrival_date, s.permit_expiry, l.house_id, l.grid_code, l.district_code, true
            FROM {_BATCH} s JOIN {_LINK} l USING (row_no)
            WHERE l.ok AND l.resident_id IS NULL
            ON CONFLICT (doc_type, doc_hash) DO NOTHING
            """
        )
    ).rowcount  # type: ignore[attr-defined]  # a CursorResult
    expected = session.execute(
        text(f"SELECT count(*) FROM {_LINK} WHERE ok AND resident_id IS NULL")
    ).scalar_one()
    if inserted != expected:
        raise PeopleError(
            f"{expected - inserted} of the residents in the file were registered by someone "
            "else while the import ran; nothing was imported, so import the file again"
        )
    updated = session.execute(
        text(
            f"""
            WITH s AS MATERIALIZED (  -- the batch's known residents; probes into resident
                SELECT b.*, l.resident_id, l.house_id, l.grid_code, l.district_code
                FROM {_BATCH} b JOIN {_LINK} l USING (row_no)
                WHERE l.ok AND l.resident_id IS NOT NULL
            )
            UPDATE resident r SET
                name = s.name,
                sex = CAST(coalesce(s.sex, CAST(r.sex AS text)) AS sex),
                birth_date = coalesce(s.birth_date, r.birth_date),
                phone_enc = coalesce(s.phone_enc, r.phone_enc),
                phone_masked = coalesce(s.phone_masked, r.phone_masked),
                residence_type = CAST(s.residence_type AS residence_type),
                {texts},
                arrival_date = coalesce(s.arrival_date, r.arrival_date),
                permit_expiry = coalesce(s.permit_expiry, r.permit_expiry),
                house_id = coalesce(s.house_id, r.house_id),
                grid_code = coalesce(s.grid_code, r.grid_code),
                district_code = coalesce(s.district_code, r.district_code),
                active = r.active OR s.house_id IS NOT NULL,
                updated_at = now()
            FROM s
            WHERE r.id = s.resident_id
            """
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        text(
            f"""
            WITH moving AS MATERIALIZED (  -- probes into residence, never a scan of it
                SELECT resident_id, house_id, moved_in FROM {_LINK}
                WHERE ok AND resident_id IS NOT NULL AND house_id IS NOT NULL
                  AND open_house_id <> house_id
            )
            UPDATE residence o SET moved_out = coalesce(m.moved_in, CAST(:today AS date))
            FROM moving m
            WHERE o.resident_id = m.resident_id AND o.moved_out IS NULL
            """
        ),
        params,
    )
    session.execute(
        text(
            f"""
            INSERT INTO residence (resident_id, house_id, moved_in, reason)
            SELECT coalesce(l.resident_id, l.new_id), l.house_id,
                   coalesce(l.moved_in, CAST(:today AS date)), :reason
            FROM {_LINK} l
            WHERE l.ok AND l.house_id IS NOT NULL
              AND l.open_house_id IS DISTINCT FROM l.house_id
            """
        ),
        params,
    )
    return int(inserted), int(updated)


# --- error file ---------------------------------------------------------------------------


def _default_error_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.errors{path.suffix.lower()}")


def record_error_file_download(
    session: Session, *, actor: Actor, job_id: int, filename: str, rows: int
) -> None:
    """Write the access-log row for reading an import's error file (clear ID numbers in it)."""
    session.add(
        PiiAccessLog(
            staff_id=actor.staff_id,
            resident_id=None,
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
        text(f"SELECT row_no, col, reason FROM {_ERROR} ORDER BY row_no, seq"),
        execution_options={"yield_per": 5_000},
    )
    for row_no, group in groupby(rows, key=lambda r: r[0]):
        yield row_no, [(c or "", r) for _, c, r in group]


def _write_error_file(
    session: Session,
    source: Path,
    target: Path,
    layout: _Layout,
    on_progress: ProgressCallback | None,
    rejected_rows: int,
) -> None:
    """The rejected rows as read, with 错误行号/错误列/错误原因, in the source's format."""
    errors = _row_errors(session)
    pending = next(errors, None)
    written = 0
    header = [*layout.header, *ERROR_COLUMNS]
    with _open_rows(source) as (rows, _), _error_writer(target, header, layout) as write:
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
    target: Path, header: list[str], layout: _Layout
) -> Iterator[Callable[[list[Any]], None]]:
    if target.suffix.lower() == ".xlsx":
        with _xlsx_writer(target, header, text_columns=_text_indexes(layout.index)) as write:
            yield write
        return
    with _atomic(target) as part, part.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        # Rejected rows carry the uploader's cells as they were: guard them like any export.
        yield lambda row: writer.writerow(export_guard.neutralise_row(row))


def _text_indexes(index: dict[str, int]) -> list[int]:
    return [i for key, i in index.items() if _BY_KEY[key].text_format]


@contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """A path to write instead of `target`, moved onto it only when the block succeeds.

    The part file is created readable by this user only (0600): error files and exports hold
    personal data, and writers that reopen it keep that mode.
    """
    part = target.with_name(f".{target.name}.part")
    part.unlink(missing_ok=True)
    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield part
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


@contextmanager
def _xlsx_writer(
    target: Path,
    header: list[str],
    *,
    text_columns: Sequence[int] = (),
    note: str | None = None,
    with_notes_sheet: bool = False,
) -> Iterator[Callable[[list[Any]], None]]:
    """A streaming (write-only) workbook whose first sheet gets `header` then each row."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(DATA_SHEET)
    for i in range(len(header)):
        dimension = sheet.column_dimensions[get_column_letter(i + 1)]
        dimension.width = 24 if i in text_columns else 12
        if i in text_columns:
            dimension.number_format = "@"
    if note:
        sheet.append([note])
    bold = Font(bold=True)
    header_cells = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    yield lambda row: sheet.append(export_guard.xlsx_row(sheet, row))
    if with_notes_sheet:
        _fill_notes(workbook.create_sheet(NOTES_SHEET), masked_note=note)
    with _atomic(target) as part:
        workbook.save(part)


# --- import -------------------------------------------------------------------------------


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
    target = Path(error_path) if error_path else _default_error_path(source)
    if target.suffix.lower() != source.suffix.lower():
        raise LedgerFileError(
            f"the error file {target.name} must be of the same type as {source.name} "
            f"({source.suffix.lower() or 'no suffix'})"
        )
    today = today or local_today()
    session.flush()
    with _open_rows(source) as (rows, estimate):
        layout = _read_header(source, rows, actor)
        checker = _RowChecker(layout, actor, today)
        # A savepoint: should the file turn out unreadable halfway, what earlier batches wrote
        # is undone here, even if the caller goes on to commit.
        with session.begin_nested():
            _create_temp(session)
            writer = _BatchWriter(session, actor, layout, today)
            total = 0
            try:
                for staged, errors in _batches(rows, layout, checker):
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
        text(f"SELECT count(*), count(DISTINCT row_no) FROM {_ERROR}")
    ).one()
    report = LedgerImportReport(
        total_rows=total,
        inserted=writer.inserted,
        updated=writer.updated,
        rejected=[
            RowError(row, col or "", reason)
            for row, col, reason in session.execute(
                text(f"SELECT row_no, col, reason FROM {_ERROR} ORDER BY row_no, seq LIMIT :n"),
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
        _write_error_file(session, source, target, layout, on_progress, int(rejected_rows))
        report.error_file = target
    _drop_temp(session)
    session.expire_all()  # residents the session holds were changed behind its back
    return report


def _batches(
    rows: Iterator[list[Any]], layout: _Layout, checker: _RowChecker
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Checked rows below the header in batches of BATCH_ROWS (blank rows skipped), with
    their problems as (row, seq, column, reason); a document seen before is one of them."""
    seen = _SeenDocuments()
    doc_column = layout.name("doc_number")
    staged: list[tuple[Any, ...]] = []
    errors: list[tuple[Any, ...]] = []

    def batch() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        hashed = [row for row in staged if row[4] is not None]
        repeats = seen.repeats([_hash_prefix(r[4]) for r in hashed], [r[0] for r in hashed])
        for i, row in enumerate(staged):
            first = repeats.get(row[0])
            if first is not None:
                staged[i] = (row[0], "f", *row[2:])
                errors.append(
                    (
                        row[0],
                        _SEQ_DUPLICATE,
                        doc_column,
                        f"the same document is already on row {first} of this file; "
                        "a person may appear only once, so merge the two rows",
                    )
                )
        return staged, errors

    for row_no, cells in enumerate(rows, start=layout.header_row + 1):
        if _blank(cells):
            continue
        row, problems = checker.check(row_no, cells)
        staged.append(row)
        for seq, (col, reason) in enumerate(problems):
            errors.append((row_no, seq, col, reason))
        if len(staged) >= BATCH_ROWS:
            yield batch()
            staged, errors = [], []
    if staged:
        yield batch()


# --- export -------------------------------------------------------------------------------


def export_residents(
    session: Session,
    *,
    actor: Actor,
    path: str | Path,
    grid_code: str | None = None,
    area_code: str | None = None,
    unmasked: bool = False,
    reason: str | None = None,
) -> int:
    """Write the active residents in the actor's scope to a ledger file; returns the count.

    Masked by default (such a file cannot be re-imported). `unmasked` needs a role allowed to
    see personal data and a reason, and writes one access-log row for the whole export.
    """
    require_role(actor, READ_PERSONS, "export residents")
    target = Path(path)
    suffix = _check_suffix(target)
    if unmasked:
        require_role(actor, UNMASK, "export unmasked ID numbers and phones")
        if reason is None or len(reason.strip()) < 4:
            raise InvalidRecord(
                "say why you need the unmasked ledger (at least a few words); "
                "the reason is kept in the access log"
            )
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
    stmt = _export_query(actor, grid_code, area_code)
    if suffix == ".xlsx":
        count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        if count > XLSX_MAX_ROWS:
            raise InvalidRecord(
                f"{count} residents do not fit one Excel sheet ({XLSX_MAX_ROWS} rows); "
                "export to .csv, or narrow the export with a grid or area"
            )
    cipher = get_cipher()
    header = [c.header for c in COLUMNS]
    note = None if unmasked else MASKED_NOTE
    written = 0
    rows = session.execute(stmt, execution_options={"yield_per": 5_000})
    with _ledger_writer(target, header, note) as write:
        for row in rows:
            write(_export_row(row, cipher, unmasked))
            written += 1
    if unmasked:
        assert reason is not None
        session.add(
            PiiAccessLog(
                staff_id=actor.staff_id,
                resident_id=None,
                fields="bulk_export",
                reason=f"{reason.strip()} (exported {written} residents unmasked to {target.name})"[
                    :300
                ],
            )
        )
        session.flush()
    return written


def _export_query(actor: Actor, grid_code: str | None, area_code: str | None) -> Any:
    from grid.service import area_prefix

    house_code = Building.code + "-" + House.unit + "-" + House.room
    stmt = (
        select(
            Resident.name,
            Resident.former_name,
            Resident.sex,
            Resident.birth_date,
            Resident.doc_type,
            Resident.doc_enc,
            Resident.doc_masked,
            Resident.ethnicity,
            Resident.native_place,
            Resident.registered_address,
            Resident.phone_enc,
            Resident.phone_masked,
            Resident.education,
            Resident.occupation,
            Resident.employer,
            Resident.marital_status,
            Resident.political_status,
            Resident.residence_type,
            Resident.origin,
            Resident.arrival_date,
            Resident.arrival_reason,
            Resident.permit_number,
            Resident.permit_expiry,
            house_code.label("house_code"),
            Residence.moved_in,
            Resident.relation_to_head,
        )
        .outerjoin(House, Resident.house_id == House.id)
        .outerjoin(Building, House.building_id == Building.id)
        .outerjoin(
            Residence, (Residence.resident_id == Resident.id) & Residence.moved_out.is_(None)
        )
        .where(Resident.active, grid_scope(actor, Resident.grid_code))
        .order_by(Resident.grid_code, house_code, Resident.name, Resident.id)
    )
    if grid_code:
        stmt = stmt.where(Resident.grid_code == grid_code)
    if area_code:
        stmt = stmt.where(Resident.grid_code.startswith(area_prefix(area_code)))
    return stmt


def _export_row(row: Any, cipher: Any, unmasked: bool) -> list[Any]:
    if unmasked:
        number = cipher.decrypt(row.doc_enc, context=DOC_CONTEXT)
        phone = cipher.decrypt(row.phone_enc, context=PHONE_CONTEXT) if row.phone_enc else None
    else:
        number, phone = row.doc_masked, row.phone_masked
    values = {
        "name": row.name,
        "former_name": row.former_name,
        "sex": row.sex.label if row.sex is not Sex.UNKNOWN else None,
        # A masked file gives the year only: with the check character the full date would
        # narrow the ID number to a handful of candidates (people/pii.py).
        "birth_date": row.birth_date if unmasked or row.birth_date is None else row.birth_date.year,
        "doc_type": row.doc_type.label,
        "doc_number": number,
        "phone": phone,
        "residence_type": row.residence_type.label,
        "house_code": row.house_code,
        "moved_in": row.moved_in,
    }
    out = []
    for c in COLUMNS:
        value = values[c.key] if c.key in values else getattr(row, c.key)
        out.append(value.isoformat() if isinstance(value, date) else value)
    return out


@contextmanager
def _ledger_writer(
    target: Path, header: list[str], note: str | None
) -> Iterator[Callable[[list[Any]], None]]:
    if target.suffix.lower() == ".xlsx":
        text_columns = [i for i, c in enumerate(COLUMNS) if c.text_format]
        with _xlsx_writer(
            target, header, text_columns=text_columns, note=note, with_notes_sheet=True
        ) as write:
            yield write
        return
    with _atomic(target) as part, part.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        if note:
            writer.writerow([note])
        writer.writerow(header)
        yield lambda row: writer.writerow(export_guard.neutralise_row(row))


# --- template -----------------------------------------------------------------------------

_GENERAL_NOTES: Final = (
    "实有人口台账导入模板 — resident ledger import template",
    "1. 在「台账」表第 1 行表头下逐行填写，每行一人；不要改动表头"
    "（英文表头如 name、doc_number 也可识别）。",
    "2. 红色表头的列必填（下表标 *）。日期写成 YYYY-MM-DD（如 2020-03-01）。"
    "证件号码、电话、房屋编码列已设为文本格式。",
    "3. 同一证件号码再次导入即更新该居民（空白单元格保留原值），不会重复登记；"
    "同一文件内同一证件只能出现一次。",
    "4. 房屋编码变了即记为搬迁：原住址在入住日期当天结束，新住址从这一天开始。",
    "5. 有错误的行不导入，会写入错误文件（多出 错误行号 / 错误列 / 错误原因 三列）；"
    "改正后可直接导入该错误文件。",
    "6. 脱敏导出的文件（证件号码带 *）不能再导入。",
    "7. 命令：gridgov people import 文件.xlsx --as 用户名",
)


def _fill_notes(sheet: Any, masked_note: str | None = None) -> None:
    for line in (*((masked_note,) if masked_note else ()), *_GENERAL_NOTES, ""):
        sheet.append([line])
    sheet.append(["列名", "英文列名", "必填", "说明 / 可选值", "示例"])
    for c in COLUMNS:
        sheet.append(
            [
                c.header,
                c.key,
                "*" if c.required else "",
                c.note + (f"（最多 {c.max_length} 字）" if c.max_length and not c.note else ""),
                c.example,
            ]
        )


def write_template(path: str | Path) -> Path:
    """Write an empty ledger: .xlsx with a 说明 sheet and drop-down lists, or a .csv header."""
    target = Path(path)
    suffix = _check_suffix(target)
    header = [c.header for c in COLUMNS]
    if suffix == ".csv":
        # The BOM makes Excel open the Chinese headers as UTF-8.
        with _atomic(target) as part, part.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerow(header)
        return target
    import openpyxl
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = DATA_SHEET
    sheet.append(header)
    sheet.freeze_panes = "A2"
    for i, c in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=i)
        cell.font = Font(bold=True, color="C00000" if c.required else None)
        letter = get_column_letter(i)
        dimension = sheet.column_dimensions[letter]
        dimension.width = 26 if c.text_format else max(10, 2 * len(c.header) + 4)
        if c.text_format:
            # Text, so Excel keeps all 18 digits instead of showing 4.2050219850615E+17.
            dimension.number_format = "@"
        lists = {
            "doc_type": [t.label for t in DocumentType],
            "residence_type": [t.label for t in ResidenceType],
            "sex": [Sex.MALE.label, Sex.FEMALE.label],
        }
        if c.key in lists:
            validation = DataValidation(
                type="list",
                formula1='"' + ",".join(lists[c.key]) + '"',
                allow_blank=not c.required,
                showErrorMessage=True,
                errorTitle=c.header,
                error=f"请选择：{'、'.join(lists[c.key])}",
            )
            validation.add(f"{letter}2:{letter}1048576")
            sheet.add_data_validation(validation)
    _fill_notes(workbook.create_sheet(NOTES_SHEET))
    notes = workbook[NOTES_SHEET]
    for letter, width in zip("ABCDE", (14, 20, 6, 90, 30), strict=True):
        notes.column_dimensions[letter].width = width
    with _atomic(target) as part:
        workbook.save(part)
    return target
