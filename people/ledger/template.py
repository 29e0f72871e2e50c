"""The empty ledger template: .xlsx with drop-down lists and a 说明 sheet, or a CSV header."""

from __future__ import annotations

import csv
from pathlib import Path

from people.documents import DocumentType
from people.ledger.columns import COLUMNS
from people.ledger.files import DATA_SHEET, NOTES_SHEET, atomic, check_suffix, fill_notes
from people.models import ResidenceType, Sex


def write_template(path: str | Path) -> Path:
    """Write an empty ledger: .xlsx with a 说明 sheet and drop-down lists, or a .csv header."""
    target = Path(path)
    suffix = check_suffix(target)
    header = [c.header for c in COLUMNS]
    if suffix == ".csv":
        # The BOM makes Excel open the Chinese headers as UTF-8.
        with atomic(target) as part, part.open("w", encoding="utf-8-sig", newline="") as handle:
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
    fill_notes(workbook.create_sheet(NOTES_SHEET))
    notes = workbook[NOTES_SHEET]
    for letter, width in zip("ABCDE", (14, 20, 6, 90, 30), strict=True):
        notes.column_dimensions[letter].width = width
    with atomic(target) as part:
        workbook.save(part)
    return target
