"""Spreadsheet formula guard (防公式注入) for every file we export: CSV and xlsx alike.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or the
full-width ``＝＋－＠`` that Excel also accepts) is run as a formula when the file is opened in
Excel or WPS: a resident named ``=1+1`` shows 2, an employer ``=WEBSERVICE(...)`` sends data
away. Every export passes its rows through here:

- CSV cells get a leading apostrophe (``'=1+1``), which spreadsheets show as text. Text that
  already starts with apostrophes before a formula character gets one more, so `restore`
  returns exactly the original text when one of our exports is imported again.
- xlsx cells are written as typed strings with Excel's quote-prefix style, so the workbook
  holds the original text unchanged and no cell is ever a formula.

Numbers stay numbers (-5 is a number, not text starting with "-"); only text is guarded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

FORMULA_LEADS: Final = frozenset("=+-@\t\r＝＋－＠")
GUARD: Final = "'"


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would run `text` as a formula (or a DDE call)."""
    return bool(text) and text[0] in FORMULA_LEADS


def _needs_guard(text: str) -> bool:
    # Apostrophes already in front are part of the text; guard them too, so restore is exact.
    return is_formula_like(text.lstrip(GUARD))


def neutralise(value: Any) -> Any:
    """`value` made safe for a CSV cell: formula-leading text gets a leading apostrophe."""
    if isinstance(value, str) and _needs_guard(value):
        return GUARD + value
    return value


def neutralise_row(row: Iterable[Any]) -> list[Any]:
    """A CSV row with every text cell passed through `neutralise`."""
    return [neutralise(value) for value in row]


def restore(value: Any) -> Any:
    """The original text of a cell `neutralise` guarded (for importing our own exports)."""
    if isinstance(value, str) and value.startswith(GUARD) and _needs_guard(value[1:]):
        return value[1:]
    return value


def xlsx_row(sheet: Any, row: Iterable[Any]) -> list[Any]:
    """Cells for a write-only openpyxl `sheet`: text typed as a string, never as a formula.

    Cells that are already openpyxl cells (e.g. a bold header) pass through unchanged unless
    their text looks like a formula.
    """
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import Cell

    cells: list[Any] = []
    for value in row:
        cell = value if isinstance(value, Cell) else None
        text = cell.value if cell is not None else value
        if isinstance(text, str) and is_formula_like(text):
            cell = cell or WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"  # openpyxl types "=..." text as a formula otherwise
            cell.quotePrefix = True  # Excel's own marker for "text, do not evaluate"
            cells.append(cell)
        else:
            cells.append(cell if cell is not None else value)
    return cells


def guard_cell(cell: Any) -> None:
    """Make one openpyxl cell of a normal (not write-only) workbook a string if it looks like
    a formula."""
    if isinstance(cell.value, str) and is_formula_like(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
