"""Identity documents of residents: GB 11643 ID numbers and the other document types.

Every validator normalises first (full-width characters to ASCII, whitespace removed, letters
upper-cased) and raises DocumentError with a sentence a grid worker can act on.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from gis.clock import local_today

# GB 11643-1999 / ISO 7064 MOD 11-2 weights for the 17 body digits, and the check character
# for each remainder of the weighted sum mod 11.
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"

# Nobody born before this is still alive; a date before it is a typo, even though the standard's
# own worked example (440524188001010014) is born in 1880.
EARLIEST_BIRTH: Final = date(1900, 1, 1)

# First two digits of the region code (GB/T 2260 provinces). 71 Taiwan has no resident ID cards
# but is a valid code; 81/82/83 are used by the HK/Macau/Taiwan residence permits.
PROVINCES: Final[dict[str, str]] = {
    "11": "北京",
    "12": "天津",
    "13": "河北",
    "14": "山西",
    "15": "内蒙古",
    "21": "辽宁",
    "22": "吉林",
    "23": "黑龙江",
    "31": "上海",
    "32": "江苏",
    "33": "浙江",
    "34": "安徽",
    "35": "福建",
    "36": "江西",
    "37": "山东",
    "41": "河南",
    "42": "湖北",
    "43": "湖南",
    "44": "广东",
    "45": "广西",
    "46": "海南",
    "50": "重庆",
    "51": "四川",
    "52": "贵州",
    "53": "云南",
    "54": "西藏",
    "61": "陕西",
    "62": "甘肃",
    "63": "青海",
    "64": "宁夏",
    "65": "新疆",
    "71": "台湾",
    "81": "香港",
    "82": "澳门",
    "83": "台湾（居住证）",
}

# Region prefixes of the residence permits for Hong Kong/Macau and Taiwan residents.
_HK_MACAU_RESIDENCE_PREFIXES: Final = ("810000", "820000")
_TAIWAN_RESIDENCE_PREFIX: Final = "830000"

Sex = Literal["male", "female"]


class DocumentType(enum.StrEnum):
    """Kind of identity document a resident is registered with."""

    ID_CARD = "id_card"
    PASSPORT = "passport"
    HK_MACAU_PERMIT = "hk_macau_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    HK_MACAU_RESIDENCE = "hk_macau_residence"
    TAIWAN_RESIDENCE = "taiwan_residence"
    FOREIGN_PERMANENT = "foreign_permanent"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The document's Chinese name, as printed on forms."""
        return _LABELS[self]


_LABELS: Final[dict[DocumentType, str]] = {
    DocumentType.ID_CARD: "居民身份证",
    DocumentType.PASSPORT: "护照",
    DocumentType.HK_MACAU_PERMIT: "港澳居民来往内地通行证",
    DocumentType.TAIWAN_PERMIT: "台湾居民来往大陆通行证",
    DocumentType.HK_MACAU_RESIDENCE: "港澳居民居住证",
    DocumentType.TAIWAN_RESIDENCE: "台湾居民居住证",
    DocumentType.FOREIGN_PERMANENT: "外国人永久居留身份证",
    DocumentType.OTHER: "其他证件",
}


class DocumentError(ValueError):
    """A document number the caller must fix; `rule` names the failed check, the message how."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class IdCardInfo:
    """What a valid GB 11643 ID number says about its holder."""

    number: str  # normalised, 18 characters
    region_code: str  # 6 digits: county of household registration at issue (GB/T 2260)
    birth_date: date
    sex: Sex
    upgraded_from: str | None = None  # the 15-digit pre-1999 number it was converted from

    @property
    def province(self) -> str:
        """Chinese name of the province in the region code."""
        return PROVINCES[self.region_code[:2]]

    def age_on(self, day: date) -> int:
        """Age in whole years on day."""
        had_birthday = (day.month, day.day) >= (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - (0 if had_birthday else 1)


# --- helpers ------------------------------------------------------------------------------


def _compact(value: object, noun: str) -> str:
    """Full-width to ASCII, whitespace removed, upper case."""
    if not isinstance(value, str):
        # Spreadsheets turn 18-digit numbers into floats and silently lose the last digits.
        raise DocumentError(
            "characters",
            f"{noun} must be text, not {type(value).__name__} {value!r}; if it came from a "
            "spreadsheet, format the column as text and export again.",
        )
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def _compact_keep_spaces(value: object, noun: str) -> str:
    """Full-width to ASCII and trimmed, inner spaces kept (free-text document numbers)."""
    if not isinstance(value, str):
        return _compact(value, noun)  # raises the "must be text" error
    return unicodedata.normalize("NFKC", value).strip()


def _is_digits(text: str) -> bool:
    # str.isdigit() alone accepts other scripts' digits and superscripts.
    return text.isascii() and text.isdigit()


def _describe_bad_character(text: str, allowed: str) -> str:
    for position, char in enumerate(text, start=1):
        if char not in allowed:
            return f"{char!r} at position {position}"
    return "an unexpected character"


def check_digit(first17: str) -> str:
    """GB 11643 check character ('0'–'9' or 'X') for the first 17 digits of an ID number."""
    if len(first17) != 17 or not _is_digits(first17):
        raise DocumentError(
            "characters", f"Expected exactly 17 digits to compute a check digit, got {first17!r}."
        )
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _check_region(number: str, noun: str) -> None:
    if number[:2] not in PROVINCES:
        raise DocumentError(
            "region",
            f"{noun} {number} starts with {number[:2]}, which is not a Chinese province code "
            "(GB/T 2260); check the first two digits.",
        )


def _parse_birth(number: str, digits: str, noun: str, today: date | None) -> date:
    """Birth date from 8 YYYYMMDD digits, checked for calendar validity and plausibility."""
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise DocumentError(
            "birth_date",
            f"{noun} {number} has birth date {digits[:4]}-{digits[4:6]}-{digits[6:8]}, which is "
            "not a calendar date; check the date digits against the card.",
        ) from None
    if birth > (today or local_today()):
        raise DocumentError(
            "future_birth",
            f"{noun} {number} has birth date {birth.isoformat()}, which is in the future; "
            "check the date digits against the card.",
        )
    if birth < EARLIEST_BIRTH:
        raise DocumentError(
            "birth_date",
            f"{noun} {number} has birth date {birth.isoformat()}, before "
            f"{EARLIEST_BIRTH.year}; check the year digits against the card.",
        )
    return birth


def _check_gb11643_digit(number: str, noun: str) -> None:
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise DocumentError(
            "check_digit",
            f"{noun} {number} fails the check digit: for the first 17 digits as given, the 18th "
            f"character should be {expected}, not {number[17]} (GB 11643); a digit is probably "
            "mistyped, re-read the number from the card.",
        )


def _parse_gb11643(number: str, *, noun: str, today: date | None, allow_legacy: bool) -> IdCardInfo:
    """Validate a compacted GB 11643 number (and, if allowed, a 15-digit legacy one)."""
    if allow_legacy and len(number) == 15:
        return _parse_legacy(number, noun=noun, today=today)
    if len(number) != 18:
        if "E+" in number:
            raise DocumentError(
                "length",
                f"{noun} {number} looks like a spreadsheet number in scientific notation, which "
                "has lost digits; format the column as text and export again.",
            )
        shape = "18 (or 15 digits on cards issued before 1999)" if allow_legacy else "18"
        raise DocumentError(
            "length",
            f"{noun} {number} has {len(number)} characters but should have {shape}; check for "
            "a missing or extra digit.",
        )
    if not (_is_digits(number[:17]) and (number[17] == "X" or _is_digits(number[17]))):
        bad = _describe_bad_character(number[:17], "0123456789")
        if _is_digits(number[:17]):
            bad = f"{number[17]!r} at position 18"
        raise DocumentError(
            "characters",
            f"{noun} {number} has {bad}; only digits are allowed, with X only as the 18th "
            "character.",
        )
    _check_region(number, noun)
    birth = _parse_birth(number, number[6:14], noun, today)
    _check_gb11643_digit(number, noun)
    return IdCardInfo(
        number=number,
        region_code=number[:6],
        birth_date=birth,
        sex="male" if int(number[16]) % 2 else "female",
    )


def _parse_legacy(number: str, *, noun: str, today: date | None) -> IdCardInfo:
    """Upgrade a pre-1999 15-digit number (6 region + YYMMDD + 3 sequence) to 18 characters."""
    if not _is_digits(number):
        raise DocumentError(
            "characters",
            f"{noun} {number} has {_describe_bad_character(number, '0123456789')}; a 15-digit "
            "number from before 1999 has digits only.",
        )
    _check_region(number, noun)
    # Every 15-digit number was issued for someone born in the 1900s.
    birth = _parse_birth(number, "19" + number[6:12], noun, today)
    body = number[:6] + "19" + number[6:]
    return IdCardInfo(
        number=body + check_digit(body),
        region_code=number[:6],
        birth_date=birth,
        sex="male" if int(number[14]) % 2 else "female",
        upgraded_from=number,
    )


# --- public API ---------------------------------------------------------------------------


def validate_id_card(number: str, *, today: date | None = None) -> IdCardInfo:
    """Validate a resident ID number (居民身份证号码, GB 11643-1999); 15-digit ones are upgraded."""
    compact = _compact(number, "ID number")
    return _parse_gb11643(compact, noun="ID number", today=today, allow_legacy=True)


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """A valid 18-character ID number for tests and demo data; an odd sequence means male."""
    if len(region) != 6 or not _is_digits(region) or region[:2] not in PROVINCES:
        raise DocumentError(
            "region", f"Region {region!r} must be a 6-digit GB/T 2260 code such as '420502'."
        )
    if not 0 <= sequence <= 999:
        raise DocumentError("characters", f"Sequence {sequence} must be in 0..999.")
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + check_digit(body)


_PASSPORT_RE: Final = re.compile(r"[A-Z0-9]{5,17}")
_HK_MACAU_PERMIT_RE: Final = re.compile(r"[HM](\d{8}|\d{10})")
_TAIWAN_PERMIT_RE: Final = re.compile(r"\d{8}|[A-Z0-9]{10}")
_FOREIGN_OLD_RE: Final = re.compile(r"[A-Z]{3}\d{12}")
_FOREIGN_NEW_RE: Final = re.compile(r"9\d{16}[\dX]")
_OTHER_MAX_LENGTH: Final = 64


def _parse_type(doc_type: DocumentType | str) -> DocumentType:
    try:
        return DocumentType(doc_type)
    except ValueError:
        accepted = ", ".join(t.value for t in DocumentType)
        raise DocumentError(
            "document_type", f"Unknown document type {doc_type!r}; use one of {accepted}."
        ) from None


def _validate_hk_macau_permit(number: str, noun: str) -> str:
    if len(number) not in (9, 11):
        raise DocumentError(
            "length",
            f"{noun} {number} has {len(number)} characters; it should be H (Hong Kong) or M "
            "(Macau) followed by 8 digits, or 10 digits on cards issued before 2013, e.g. "
            "H12345678.",
        )
    if not _HK_MACAU_PERMIT_RE.fullmatch(number):
        raise DocumentError(
            "characters",
            f"{noun} {number} should be H (Hong Kong) or M (Macau) followed by digits only, "
            "e.g. H12345678.",
        )
    return number


def _validate_taiwan_permit(number: str, noun: str) -> str:
    if len(number) not in (8, 10):
        raise DocumentError(
            "length",
            f"{noun} {number} has {len(number)} characters; it should be 8 digits (cards since "
            "2015) or 10 letters and digits on older cards.",
        )
    if not _TAIWAN_PERMIT_RE.fullmatch(number):
        raise DocumentError(
            "characters",
            f"{noun} {number} should be 8 digits, or 10 letters and digits on older cards.",
        )
    return number


def _validate_foreign_permanent(number: str, noun: str, today: date | None) -> str:
    if len(number) not in (15, 18):
        raise DocumentError(
            "length",
            f"{noun} {number} has {len(number)} characters; it should be 18 (cards since "
            "December 2023, starting with 9) or 15 (3 letters and 12 digits on older cards).",
        )
    if len(number) == 15:
        if not _FOREIGN_OLD_RE.fullmatch(number):
            raise DocumentError(
                "characters",
                f"{noun} {number} should be 3 letters (the nationality) followed by 12 digits, "
                "e.g. USA110012345678.",
            )
        return number
    if not _FOREIGN_NEW_RE.fullmatch(number):
        raise DocumentError(
            "characters",
            f"{noun} {number} should start with 9 and have 17 digits followed by a digit or X.",
        )
    # Layout: 9, 2-digit issuing province, 3-digit nationality, YYYYMMDD birth, 3-digit
    # sequence, then the GB 11643 check character.
    _parse_birth(number, number[6:14], noun, today)
    _check_gb11643_digit(number, noun)
    return number


def validate_document(
    doc_type: DocumentType | str, number: str, *, today: date | None = None
) -> str:
    """Return the normalised document number, or raise DocumentError naming the failed rule."""
    kind = _parse_type(doc_type)
    noun = f"{kind.label} number"
    if kind is DocumentType.OTHER:
        text = " ".join(_compact_keep_spaces(number, noun).split())
        if not 1 <= len(text) <= _OTHER_MAX_LENGTH:
            raise DocumentError(
                "length",
                f"{noun} must have 1 to {_OTHER_MAX_LENGTH} characters, got {len(text)}.",
            )
        return text
    compact = _compact(number, noun)
    if not compact:
        raise DocumentError("length", f"{noun} is empty; enter the number printed on the document.")
    if kind is DocumentType.ID_CARD:
        info = _parse_gb11643(compact, noun="ID number", today=today, allow_legacy=True)
        for prefix, other in (
            *((p, DocumentType.HK_MACAU_RESIDENCE) for p in _HK_MACAU_RESIDENCE_PREFIXES),
            (_TAIWAN_RESIDENCE_PREFIX, DocumentType.TAIWAN_RESIDENCE),
        ):
            if info.number.startswith(prefix):
                raise DocumentError(
                    "document_type",
                    f"ID number {info.number} starts with {prefix}, which is a {other.label} "
                    f"(residence permit) number; record it as document type {other.value}.",
                )
        return info.number
    if kind is DocumentType.HK_MACAU_RESIDENCE or kind is DocumentType.TAIWAN_RESIDENCE:
        info = _parse_gb11643(compact, noun=noun, today=today, allow_legacy=False)
        prefixes = (
            _HK_MACAU_RESIDENCE_PREFIXES
            if kind is DocumentType.HK_MACAU_RESIDENCE
            else (_TAIWAN_RESIDENCE_PREFIX,)
        )
        if not info.number.startswith(prefixes):
            raise DocumentError(
                "region",
                f"{noun} {info.number} should start with {' or '.join(prefixes)}; a number "
                "starting with another region is a resident ID card, record it as id_card.",
            )
        return info.number
    if kind is DocumentType.PASSPORT:
        if not 5 <= len(compact) <= 17:
            raise DocumentError(
                "length",
                f"{noun} {compact} has {len(compact)} characters; passport numbers have 5 to 17 "
                "letters and digits.",
            )
        if not _PASSPORT_RE.fullmatch(compact):
            raise DocumentError(
                "characters",
                f"{noun} {compact} has "
                f"{_describe_bad_character(compact, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')}; "
                "passport numbers have letters and digits only.",
            )
        return compact
    if kind is DocumentType.HK_MACAU_PERMIT:
        return _validate_hk_macau_permit(compact, noun)
    if kind is DocumentType.TAIWAN_PERMIT:
        return _validate_taiwan_permit(compact, noun)
    return _validate_foreign_permanent(compact, noun, today)
