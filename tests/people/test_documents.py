"""Specification of identity documents: GB 11643 ID numbers and the other document types."""

from __future__ import annotations

from datetime import date

import pytest

from people.documents import (
    DocumentError,
    DocumentType,
    IdCardInfo,
    check_digit,
    make_id_number,
    validate_document,
    validate_id_card,
)

TODAY = date(2025, 6, 1)


def rule_of(doc_type: DocumentType | str, number: str) -> str:
    """The rule validate_document reports for number; fails the test if it is accepted."""
    with pytest.raises(DocumentError) as caught:
        validate_document(doc_type, number, today=TODAY)
    return caught.value.rule


def with_wrong_check_digit(number: str) -> str:
    """number with its 18th character replaced by a different, wrong one."""
    return number[:17] + ("1" if number[17] == "0" else "0")


# --- GB 11643 check digit -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("11010519491231002", "X"),  # the standard's worked example
        ("44052418800101001", "4"),  # the standard's second example
        ("42050219870101123", "4"),
    ],
)
def test_check_digit_matches_the_published_examples(first17: str, expected: str) -> None:
    assert check_digit(first17) == expected


def test_check_digit_refuses_anything_but_17_digits() -> None:
    with pytest.raises(DocumentError):
        check_digit("1101051949123100")


# --- validate_id_card: accepted -----------------------------------------------------------


def test_published_example_with_x_check_digit_is_valid_and_describes_its_holder() -> None:
    info = validate_id_card("11010519491231002X", today=TODAY)
    assert info == IdCardInfo(
        number="11010519491231002X",
        region_code="110105",
        birth_date=date(1949, 12, 31),
        sex="female",
        upgraded_from=None,
    )
    assert info.province == "北京"


def test_spaces_lower_case_x_and_full_width_digits_are_normalised() -> None:
    assert validate_id_card(" 110105 19491231 002x ", today=TODAY).number == "11010519491231002X"
    assert validate_id_card("１１０１０５１９４９１２３１００２Ｘ", today=TODAY).number == (
        "11010519491231002X"
    )


def test_odd_17th_digit_means_male_and_even_means_female() -> None:
    male = make_id_number("420502", date(1987, 1, 1), 123)
    female = make_id_number("420502", date(1987, 1, 1), 124)
    assert validate_id_card(male, today=TODAY).sex == "male"
    assert validate_id_card(female, today=TODAY).sex == "female"


def test_birth_date_and_region_are_read_from_the_number() -> None:
    info = validate_id_card(make_id_number("420502", date(2000, 2, 29), 7), today=TODAY)
    assert info.birth_date == date(2000, 2, 29)
    assert info.region_code == "420502"
    assert info.province == "湖北"
    assert info.age_on(date(2025, 2, 28)) == 24
    assert info.age_on(date(2025, 3, 1)) == 25


def test_legacy_15_digit_number_is_upgraded_to_18_with_19_and_a_check_digit() -> None:
    info = validate_id_card("110105491231002", today=TODAY)
    assert info.number == "11010519491231002X"
    assert info.upgraded_from == "110105491231002"
    assert info.birth_date == date(1949, 12, 31)
    assert info.sex == "female"


def test_someone_born_today_is_accepted() -> None:
    number = make_id_number("420502", TODAY, 1)
    assert validate_id_card(number, today=TODAY).birth_date == TODAY


def test_made_numbers_are_always_valid() -> None:
    for sequence in (0, 1, 500, 999):
        number = make_id_number("420502", date(1990, 5, 17), sequence)
        assert validate_id_card(number, today=TODAY).number == number


# --- validate_id_card: each rule ----------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("42050219870101123", "length"),
        ("4205021987010112345", "length"),
        ("4.20502198701E+17", "length"),
        ("4205021987O101123X", "characters"),
        ("42050219870101123Y", "characters"),
        ("X20502198701011234", "characters"),
        ("42050219870101123A", "characters"),
        ("420502198701011235", "check_digit"),
        ("990502198701011234", "region"),
        ("000000198701011234", "region"),
        ("420502198702301234", "birth_date"),  # 30 February
        ("420502198713011234", "birth_date"),  # month 13
        ("420502209901011234", "future_birth"),
        ("990502870101123", "region"),  # legacy number, unknown province
        ("42050287013112A", "characters"),  # legacy numbers are digits only
        ("420502870230123", "birth_date"),  # legacy number, 30 February 1987
    ],
)
def test_each_broken_rule_is_named(number: str, rule: str) -> None:
    with pytest.raises(DocumentError) as caught:
        validate_id_card(number, today=TODAY)
    assert caught.value.rule == rule
    assert isinstance(caught.value, ValueError)


def test_check_digit_error_says_what_the_18th_character_should_be() -> None:
    with pytest.raises(DocumentError, match=r"should be 4, not 5 \(GB 11643\)"):
        validate_id_card("420502198701011235", today=TODAY)


def test_bad_character_error_names_the_character_and_position() -> None:
    with pytest.raises(DocumentError, match=r"'O' at position 11"):
        validate_id_card("4205021987O101123X", today=TODAY)


def test_unknown_province_error_names_the_prefix() -> None:
    with pytest.raises(DocumentError, match=r"starts with 99, which is not a Chinese province"):
        validate_id_card("990502198701011234", today=TODAY)


def test_feb_30_error_shows_the_impossible_date() -> None:
    with pytest.raises(DocumentError, match=r"1987-02-30, which is not a calendar date"):
        validate_id_card("420502198702301234", today=TODAY)


def test_birth_before_1900_is_refused_even_with_a_correct_check_digit() -> None:
    # GB 11643's own example 440524188001010014 has a correct check digit but a birth year
    # (1880) no living resident can have.
    with pytest.raises(DocumentError, match="before 1900") as caught:
        validate_id_card("440524188001010014", today=TODAY)
    assert caught.value.rule == "birth_date"


def test_future_birth_is_judged_against_today() -> None:
    number = make_id_number("420502", date(2025, 6, 2), 1)
    with pytest.raises(DocumentError) as caught:
        validate_id_card(number, today=TODAY)
    assert caught.value.rule == "future_birth"


def test_spreadsheet_number_gets_a_hint_to_format_the_column_as_text() -> None:
    with pytest.raises(DocumentError, match="format the column as text"):
        validate_id_card("4.20502198701E+17", today=TODAY)
    with pytest.raises(DocumentError, match="must be text") as caught:
        validate_id_card(420502198701011234, today=TODAY)  # type: ignore[arg-type]
    assert caught.value.rule == "characters"


def test_make_id_number_refuses_an_unknown_region_or_sequence() -> None:
    with pytest.raises(DocumentError):
        make_id_number("990502", date(1990, 1, 1), 1)
    with pytest.raises(DocumentError):
        make_id_number("420502", date(1990, 1, 1), 1000)


# --- document types -----------------------------------------------------------------------


def test_every_document_type_has_a_chinese_label() -> None:
    assert DocumentType.ID_CARD.label == "居民身份证"
    assert DocumentType.HK_MACAU_PERMIT.label == "港澳居民来往内地通行证"
    assert DocumentType.FOREIGN_PERMANENT.label == "外国人永久居留身份证"
    assert all(t.label for t in DocumentType)


def _new_foreign_number() -> str:
    """9 + province 11 + nationality 840 + 19850315 + sequence 001 + check digit."""
    body = "911840" + "19850315" + "001"
    return body + check_digit(body)


@pytest.mark.parametrize(
    ("doc_type", "given", "normalised"),
    [
        (DocumentType.ID_CARD, "11010519491231002x", "11010519491231002X"),
        ("id_card", "110105491231002", "11010519491231002X"),
        (DocumentType.PASSPORT, "e 1234 5678", "E12345678"),
        (DocumentType.PASSPORT, "EA1234567", "EA1234567"),
        (DocumentType.HK_MACAU_PERMIT, "h12345678", "H12345678"),
        (DocumentType.HK_MACAU_PERMIT, "M1234567801", "M1234567801"),
        (DocumentType.TAIWAN_PERMIT, "12345678", "12345678"),
        (DocumentType.TAIWAN_PERMIT, "1234567890", "1234567890"),
        (
            DocumentType.HK_MACAU_RESIDENCE,
            make_id_number("810000", date(1990, 1, 1), 11),
            make_id_number("810000", date(1990, 1, 1), 11),
        ),
        (
            DocumentType.HK_MACAU_RESIDENCE,
            make_id_number("820000", date(1990, 1, 1), 12),
            make_id_number("820000", date(1990, 1, 1), 12),
        ),
        (
            DocumentType.TAIWAN_RESIDENCE,
            make_id_number("830000", date(1970, 7, 7), 3),
            make_id_number("830000", date(1970, 7, 7), 3),
        ),
        (DocumentType.FOREIGN_PERMANENT, "usa110085031501", "USA110085031501"),
        (DocumentType.FOREIGN_PERMANENT, _new_foreign_number(), _new_foreign_number()),
        (DocumentType.OTHER, "  军官证  第 123 号 ", "军官证 第 123 号"),
    ],
)
def test_each_document_type_accepts_its_shape_and_normalises_it(
    doc_type: DocumentType | str, given: str, normalised: str
) -> None:
    assert validate_document(doc_type, given, today=TODAY) == normalised


@pytest.mark.parametrize(
    ("doc_type", "number", "rule"),
    [
        ("driving_licence", "123", "document_type"),
        (DocumentType.ID_CARD, "", "length"),
        (DocumentType.ID_CARD, "420502198701011235", "check_digit"),
        (DocumentType.ID_CARD, make_id_number("810000", date(1990, 1, 1), 1), "document_type"),
        (DocumentType.ID_CARD, make_id_number("830000", date(1990, 1, 1), 1), "document_type"),
        (DocumentType.PASSPORT, "E123", "length"),
        (DocumentType.PASSPORT, "E1234567890123456789", "length"),
        (DocumentType.PASSPORT, "E1234-5678", "characters"),
        (DocumentType.HK_MACAU_PERMIT, "H1234567", "length"),
        (DocumentType.HK_MACAU_PERMIT, "K12345678", "characters"),
        (DocumentType.HK_MACAU_PERMIT, "H1234567A", "characters"),
        (DocumentType.TAIWAN_PERMIT, "1234567", "length"),
        (DocumentType.TAIWAN_PERMIT, "1234567A", "characters"),
        (DocumentType.TAIWAN_PERMIT, "12345678-0", "characters"),
        (DocumentType.HK_MACAU_RESIDENCE, "810000199001011", "length"),  # no legacy form
        (DocumentType.HK_MACAU_RESIDENCE, "11010519491231002X", "region"),
        (
            DocumentType.HK_MACAU_RESIDENCE,
            with_wrong_check_digit(make_id_number("810000", date(1990, 1, 1), 11)),
            "check_digit",
        ),
        (DocumentType.TAIWAN_RESIDENCE, make_id_number("810000", date(1990, 1, 1), 1), "region"),
        (DocumentType.FOREIGN_PERMANENT, "USA11008503150", "length"),
        (DocumentType.FOREIGN_PERMANENT, "US1110085031501", "characters"),
        (DocumentType.FOREIGN_PERMANENT, "811840198503150011", "characters"),  # must start 9
        (DocumentType.FOREIGN_PERMANENT, "911840198502300011", "birth_date"),
        (DocumentType.OTHER, "   ", "length"),
        (DocumentType.OTHER, "x" * 65, "length"),
    ],
)
def test_each_document_type_rejects_bad_numbers_naming_the_rule(
    doc_type: DocumentType | str, number: str, rule: str
) -> None:
    assert rule_of(doc_type, number) == rule


def test_new_foreign_permanent_card_uses_the_gb_11643_check_digit() -> None:
    wrong = with_wrong_check_digit(_new_foreign_number())
    assert rule_of(DocumentType.FOREIGN_PERMANENT, wrong) == "check_digit"


def test_residence_permit_filed_as_id_card_says_which_type_to_use() -> None:
    number = make_id_number("810000", date(1990, 1, 1), 1)
    with pytest.raises(DocumentError, match="record it as document type hk_macau_residence"):
        validate_document(DocumentType.ID_CARD, number, today=TODAY)


def test_shape_errors_describe_the_expected_shape() -> None:
    with pytest.raises(DocumentError, match=r"H \(Hong Kong\) or M \(Macau\) followed by 8"):
        validate_document(DocumentType.HK_MACAU_PERMIT, "H1234567")
    with pytest.raises(DocumentError, match="5 to 17 letters and digits"):
        validate_document(DocumentType.PASSPORT, "E12")
    with pytest.raises(DocumentError, match="use one of id_card, passport"):
        validate_document("licence", "1")
