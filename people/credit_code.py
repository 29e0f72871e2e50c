"""Unified social credit codes (统一社会信用代码, GB 32100-2015) of organisations.

Layout of the 18 characters::

    1      registration authority (登记管理部门), e.g. 9 market regulation, 5 civil affairs
    2      organisation type within that authority, e.g. 1 enterprise
    3–8    region code of the registering office (GB/T 2260 digits)
    9–17   organisation code (组织机构代码, GB 11714); position 17 is its own check character
    18     check character over positions 1–17
"""

from __future__ import annotations

import unicodedata
from typing import Final

from people.documents import PROVINCES

# The 31 characters GB 32100 uses: digits and capitals without I, O, S, V, Z (too easily
# confused with 1, 0, 5, U, 2). A character's value is its index here.
CREDIT_CODE_CHARS: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CHAR_VALUES: Final = {char: value for value, char in enumerate(CREDIT_CODE_CHARS)}
_CREDIT_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_LOOKALIKES: Final = {"I": "1", "O": "0", "S": "5", "V": "U", "Z": "2"}

# Province prefixes of the region code; "10" is the central level (100000), used by bodies
# registered with national authorities. 83 only exists in Taiwan residents' permit numbers.
_REGION_PREFIXES: Final = (frozenset(PROVINCES) - {"83"}) | {"10"}
_LENGTH: Final = 18
_OLD_REGISTRATION_NUMBER_LENGTH: Final = 15


class CreditCodeError(ValueError):
    """A credit code the caller must fix; `rule` names the failed check, the message how."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def _organisation_value(char: str) -> int:
    # GB 11714 values letters A=10 … Z=35 over the whole alphabet, unlike GB 32100's index
    # into its 31 characters; real codes such as 91120222MA06DG3067 only check out this way.
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def organisation_check_character(first8: str) -> str:
    """GB 11714 check character (position 17 of a credit code) for the 8 characters before it."""
    if len(first8) != 8 or any(c not in _CHAR_VALUES for c in first8):
        raise CreditCodeError("characters", f"Expected 8 credit-code characters, got {first8!r}.")
    total = sum(_organisation_value(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_check_character(first17: str) -> str:
    """GB 32100 check character (position 18) for the first 17 characters of a credit code."""
    if len(first17) != 17 or any(c not in _CHAR_VALUES for c in first17):
        raise CreditCodeError("characters", f"Expected 17 credit-code characters, got {first17!r}.")
    total = sum(_CHAR_VALUES[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def _normalise(code: object) -> str:
    if not isinstance(code, str):
        raise CreditCodeError(
            "characters",
            f"Credit code must be text, not {type(code).__name__} {code!r}; if it came from a "
            "spreadsheet, format the column as text and export again.",
        )
    return "".join(unicodedata.normalize("NFKC", code).split()).upper()


def validate_credit_code(code: str, *, strict: bool = True) -> str:
    """Return the normalised unified social credit code or raise CreditCodeError.

    With strict=False the two check characters are not verified: a few codes issued in 2015
    pilots (e.g. in Xiamen) predate GB 32100 and fail them although they are real.
    """
    text = _normalise(code)
    if len(text) != _LENGTH:
        hint = (
            " it looks like an old 15-digit business registration number (工商注册号); ask for "
            "the 18-character code on the current business licence (营业执照)."
            if len(text) == _OLD_REGISTRATION_NUMBER_LENGTH and text.isdigit()
            else " check for a missing or extra character."
        )
        raise CreditCodeError(
            "length", f"Credit code {text} has {len(text)} characters but should have 18;{hint}"
        )
    for position, char in enumerate(text, start=1):
        if char not in _CHAR_VALUES:
            guess = f"; did you mean {_LOOKALIKES[char]}?" if char in _LOOKALIKES else "."
            raise CreditCodeError(
                "characters",
                f"Credit code {text} has {char!r} at position {position}, which credit codes "
                f"never use (only digits and capitals without I, O, S, V, Z){guess}",
            )
    region = text[2:8]
    if not (region.isdigit() and region[:2] in _REGION_PREFIXES):
        raise CreditCodeError(
            "region",
            f"Credit code {text} has {region} at positions 3–8, which should be the region code "
            "of the registering office (6 digits starting with a province code such as 42); "
            "re-read those characters from the licence.",
        )
    if not strict:
        return text
    expected_org = organisation_check_character(text[8:16])
    if text[16] != expected_org:
        raise CreditCodeError(
            "organisation_check",
            f"Credit code {text} fails the organisation-code check (GB 11714): for positions "
            f"9–16 as given, position 17 should be {expected_org}, not {text[16]}; one of "
            "positions 9–17 is probably mistyped, re-read them from the licence.",
        )
    expected = credit_check_character(text[:17])
    if text[17] != expected:
        raise CreditCodeError(
            "check_character",
            f"Credit code {text} fails the check character (GB 32100): for the first 17 "
            f"characters as given, position 18 should be {expected}, not {text[17]}; a "
            "character is probably mistyped, re-read the code from the business licence. If the "
            "licence shows exactly this code, it is an early pilot code and needs confirming.",
        )
    return text


def make_credit_code(region: str, sequence: int, *, authority: str = "9", kind: str = "1") -> str:
    """A valid credit code for tests and demo data; defaults make an enterprise (9 market, 1)."""
    if len(region) != 6 or not region.isdigit() or region[:2] not in _REGION_PREFIXES:
        raise CreditCodeError(
            "region", f"Region {region!r} must be a 6-digit GB/T 2260 code such as '420502'."
        )
    if not 0 <= sequence <= 99_999_999:
        raise CreditCodeError("characters", f"Sequence {sequence} must be in 0..99999999.")
    for name, value in (("authority", authority), ("kind", kind)):
        if len(value) != 1 or value not in _CHAR_VALUES:
            raise CreditCodeError(
                "characters", f"{name} {value!r} must be one character of {CREDIT_CODE_CHARS}."
            )
    body = f"{sequence:08d}"
    first17 = f"{authority}{kind}{region}{body}{organisation_check_character(body)}"
    return first17 + credit_check_character(first17)
