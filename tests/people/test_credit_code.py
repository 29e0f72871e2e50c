"""Specification of unified social credit codes (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

import pytest

from people.credit_code import (
    CREDIT_CODE_CHARS,
    CreditCodeError,
    credit_check_character,
    make_credit_code,
    organisation_check_character,
    validate_credit_code,
)

# Published codes of registered organisations, cross-checked against open-source validators'
# test suites; several have letters in the organisation code, which exercises GB 11714.
REAL_CODES = [
    "91350100M000100Y43",  # the sample printed in GB 32100 explanations
    "9135010557098120XJ",
    "91120222MA06DG3067",
    "91310000MA1K35Y38P",
    "91110108795101314G",
    "914403001922038216",
    "91330000704202479R",
    "91500105MA5UM6TF71",
    "9135020026015919XW",
    "913502006120495420",
    "91310115591693856A",
    "91310110666007217T",
    "91110108551385082Q",
]

# Real Xiamen pilot codes from 2015 that predate the standard and fail its check character.
PILOT_CODES = ["91350211M0000XUF46", "91350100M0001TGQXM", "91350203M0001FUE2P"]


def rule_of(code: str) -> str:
    """The rule validate_credit_code reports for code; fails the test if it is accepted."""
    with pytest.raises(CreditCodeError) as caught:
        validate_credit_code(code)
    return caught.value.rule


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_published_codes_are_valid(code: str) -> None:
    assert validate_credit_code(code) == code


def test_the_character_set_has_31_characters_without_i_o_s_v_z() -> None:
    assert len(CREDIT_CODE_CHARS) == 31
    assert not set("IOSVZ") & set(CREDIT_CODE_CHARS)


def test_check_characters_of_the_standard_sample() -> None:
    assert organisation_check_character("M000100Y") == "4"
    assert credit_check_character("91350100M000100Y4") == "3"


def test_lower_case_spaces_and_full_width_characters_are_normalised() -> None:
    assert validate_credit_code(" 9135 0100 m000 100y 43 ") == "91350100M000100Y43"
    assert validate_credit_code("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y433", "length"),
        ("110105000123456", "length"),  # old business registration number
        ("91350I00M000100Y43", "characters"),
        ("91350100M000100O43", "characters"),
        ("91350100M0001-0Y43", "characters"),
        ("91AB0100M000100Y43", "region"),
        ("91990100M000100Y43", "region"),
        ("91350100M000100Y53", "organisation_check"),  # position 17 wrong
        ("91350100M000200Y43", "organisation_check"),  # position 13 mistyped
        ("91350100M000100Y44", "check_character"),  # position 18 wrong
        ("91350200M000100Y43", "check_character"),  # region mistyped
    ],
)
def test_each_broken_rule_is_named(code: str, rule: str) -> None:
    assert rule_of(code) == rule


def test_errors_name_the_failing_position_and_what_was_expected() -> None:
    with pytest.raises(CreditCodeError, match=r"position 18 should be 3, not 4"):
        validate_credit_code("91350100M000100Y44")
    with pytest.raises(CreditCodeError, match=r"position 17 should be 4, not 5"):
        validate_credit_code("91350100M000100Y53")
    with pytest.raises(CreditCodeError, match=r"'I' at position 6.*did you mean 1\?"):
        validate_credit_code("91350I00M000100Y43")
    with pytest.raises(CreditCodeError, match=r"positions 3–8"):
        validate_credit_code("91AB0100M000100Y43")
    with pytest.raises(CreditCodeError, match="business registration number"):
        validate_credit_code("110105000123456")


@pytest.mark.parametrize("code", PILOT_CODES)
def test_pilot_codes_fail_strict_checking_but_pass_when_confirmed(code: str) -> None:
    assert rule_of(code) == "check_character"
    assert validate_credit_code(code, strict=False) == code


def test_non_strict_checking_still_refuses_bad_shapes() -> None:
    with pytest.raises(CreditCodeError):
        validate_credit_code("91350I00M000100Y43", strict=False)
    with pytest.raises(CreditCodeError):
        validate_credit_code("91990100M000100Y43", strict=False)


def test_central_level_region_100000_is_accepted() -> None:
    code = make_credit_code("100000", 1234, authority="1", kind="2")
    assert validate_credit_code(code) == code


def test_made_codes_are_valid_and_carry_their_parts() -> None:
    code = make_credit_code("420502", 12345678)
    assert code.startswith("91420502" + "12345678")
    assert validate_credit_code(code) == code
    assert validate_credit_code(make_credit_code("420502", 0, authority="5", kind="1"))


def test_make_credit_code_refuses_bad_parts() -> None:
    with pytest.raises(CreditCodeError):
        make_credit_code("990000", 1)
    with pytest.raises(CreditCodeError):
        make_credit_code("420502", 100_000_000)
    with pytest.raises(CreditCodeError):
        make_credit_code("420502", 1, authority="I")
