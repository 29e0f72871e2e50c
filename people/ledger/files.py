"""Writing ledger files: the file types, atomic writes, streamed workbooks and the notes sheet."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from gis import export_guard
from people.ledger.columns import COLUMNS
from people.ledger.report import LedgerFileError

SUFFIXES: Final = (".csv", ".xlsx")
DATA_SHEET: Final = "台账"  # the sheet of rows in a workbook
NOTES_SHEET: Final = "说明"  # the sheet of instructions, skipped when reading


def check_suffix(path: Path) -> str:
    """The file's suffix, lower case, if it is a ledger file type; else LedgerFileError."""
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return suffix
    hint = ""
    if suffix == ".xls":
        hint = " (an old Excel .xls file: open it in Excel or WPS and save it as .xlsx)"
    raise LedgerFileError(
        f"{path.name} is not a ledger file type{hint}; use one of {', '.join(SUFFIXES)}"
    )


@contextmanager
def atomic(target: Path) -> Iterator[Path]:
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
def xlsx_writer(
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
        fill_notes(workbook.create_sheet(NOTES_SHEET), masked_note=note)
    with atomic(target) as part:
        workbook.save(part)


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


def fill_notes(sheet: Any, masked_note: str | None = None) -> None:
    """Write the 说明 sheet: how to fill in the ledger, then every column and its rules."""
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
