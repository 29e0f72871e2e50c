"""Checking ledger rows in Python: values, encryption and hashing, documents repeated in a file."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from operator import itemgetter
from typing import Any, Final

import numpy as np

from gis.text import UNPRINTABLE, check_text
from people.access import Actor
from people.documents import EARLIEST_BIRTH, DocumentError, DocumentType, validate_document
from people.ledger.columns import (
    BY_KEY,
    COLUMNS,
    DOC_LABELS,
    DOC_TYPES,
    NAME_MAX,
    RESIDENCE_LABELS,
    RESIDENCE_TYPES,
    SEXES,
    TEXT_KEYS,
    header_key,
)
from people.ledger.read import Layout, is_blank
from people.models import ResidenceType, Sex, StaffRole
from people.pii import PhoneError, get_cipher, mask_id_number, mask_phone, validate_phone
from people.service import DOC_CONTEXT, PHONE_CONTEXT, document_hash

# Rows checked, staged and written together.
BATCH_ROWS: Final = 10_000

_DATE_PATTERN: Final = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0{1,2}:00(?::00)?)?"
)
_DATE_DIGITS: Final = re.compile(r"\d{8}")
_MASKED: Final = "*"

# Columns of a staged batch row, in COPY order; rows with problems are staged too, `ok` false,
# so the SQL checks can report everything wrong with them at once.
STAGE_COLUMNS: Final = (
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
    *TEXT_KEYS,
    "arrival_date",
    "permit_expiry",
    "moved_in",
)


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


class RowChecker:
    """Validates, encrypts and hashes rows; one per import (it holds the layout and cipher).

    The rules are those of `ResidentCreate` and `register_resident`, applied without building
    a pydantic model per row, which would cost more than everything else together.
    """

    def __init__(self, layout: Layout, actor: Actor, today: date) -> None:
        self.today = today
        self.cipher = get_cipher()
        self.grid_worker = actor.role is StaffRole.GRID_WORKER
        self.names = {c.key: layout.name(c.key) for c in COLUMNS}
        self.keys = tuple(layout.index)
        self.cells_of = itemgetter(*layout.index.values())
        self.limits = {key: BY_KEY[key].max_length or 0 for key in TEXT_KEYS}
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
        elif len(name) > NAME_MAX:
            row.bad("name", f"is {len(name)} characters long; at most {NAME_MAX} fit")
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

        residence = _coded(row, "residence_type", RESIDENCE_TYPES, RESIDENCE_LABELS)
        if residence is None and row.text("residence_type") is None:
            row.bad("residence_type", f"人口类型 is empty; use one of {RESIDENCE_LABELS}")

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

        if len(cells) > self.width and not is_blank(cells[self.width :]):
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
            kind = _coded(row, "doc_type", DOC_TYPES, DOC_LABELS)
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
        sex = _coded(row, "sex", SEXES, "男、女")
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
        if not code.isascii():
            # An address (现住址 as written: 前进里社区12栋3单元502), not a code: it is placed
            # by the address search when its batch is written (stage.place_by_address).
            return code, None, None, None
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
    found = lookup.get(written) or lookup.get(header_key(written))
    if found is None:
        row.bad(key, f"'{written}' is not a {BY_KEY[key].header}; use one of {choices}")
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


# Order of a row's problems: Python's (by column) first, then the duplicate and SQL checks'.
SEQ_DUPLICATE, SEQ_HOUSE, SEQ_SCOPE, SEQ_PERSON, SEQ_HISTORY = 100, 101, 102, 103, 104
SEQ_ADDRESS: Final = 105


class SeenDocuments:
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


def checked_batches(
    rows: Iterator[list[Any]], layout: Layout, checker: RowChecker
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Checked rows below the header in batches of BATCH_ROWS (blank rows skipped), with
    their problems as (row, seq, column, reason); a document seen before is one of them."""
    seen = SeenDocuments()
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
                        SEQ_DUPLICATE,
                        doc_column,
                        f"the same document is already on row {first} of this file; "
                        "a person may appear only once, so merge the two rows",
                    )
                )
        return staged, errors

    for row_no, cells in enumerate(rows, start=layout.header_row + 1):
        if is_blank(cells):
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
