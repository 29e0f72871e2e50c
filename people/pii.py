"""Personal data protection: encryption at rest, keyed lookup hashes, masking, phone numbers.

ID numbers and phones are stored as AES-256-GCM ciphertext plus an HMAC-SHA256 lookup hash,
so exact search and de-duplication never need to decrypt. Both sub-keys are derived from
SECRET_KEY with HKDF, so one secret serves both without the two uses ever sharing a key.

The masking rule (脱敏规则): no combination of fields that one role sees rebuilds a number.
A GB 11643 ID number is region (6) + birth date (8) + sequence (3, odd for men) + check
character, and the check character is a function of the other 17, so an attacker who knows
all but one digit recovers it. Every output (API JSON, masked ledger CSV and xlsx exports,
special-group details, pages, maps, tiles, Open311) therefore shows, for every role:

- the ID number as region + 11 stars + check character: ``420502***********X``;
- the birth year, never the month and day (``birth_year``; ``age`` is the age reached in the
  current year, which says nothing more than the year); and sex.

What stays unknown is the month and day (365) and the sequence within the sex (500): about
182,500 bodies, of which the shown check character keeps one in eleven, some 16,000
candidates. Region and year are public enough (the grid, the apparent age) that the mask is
designed as if the attacker knew them anyway. Showing the full birth date with any sequence
digit or the check character would leave 50 or fewer, so the full date is handed out only with
the clear number, by `unmask_resident` and the unmasked ledger export, which both write an
access-log row. tests/api/test_pii_exposure.py counts the candidates for every role.

Phones show at most 7 of 11 digits (mobile 3 + 4: ``138****5678``, 10,000 candidates) and
landlines their last 4 digits only; no output shows another part of a phone.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gis.config import get_settings

# Blob layout: 1 version byte | 12-byte random nonce | ciphertext | 16-byte GCM tag.
# The version byte says which key encrypted the blob, so SECRET_KEY can be rotated while old
# rows are re-encrypted in the background.
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_HEADER_BYTES: Final = 1
_KEY_BYTES: Final = 32  # an AES-256 key; also the HMAC-SHA256 output size
_MAX_VERSION: Final = 255
# Fixed salt: the input is already a high-entropy secret, the salt only separates this
# application's keys from any other use of the same secret.
_HKDF_SALT: Final = b"gridgov/pii/v1"
_ENCRYPTION_INFO: Final = b"aes-256-gcm encryption key"
_LOOKUP_INFO: Final = b"hmac-sha256 lookup key"


class PiiError(Exception):
    """Personal data could not be decrypted or the cipher is misconfigured; the message says why."""


def _derive(secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=_HKDF_SALT, info=info).derive(
        secret_key.encode("utf-8")
    )


def normalise_lookup_value(value: str) -> str:
    """The form a value is hashed in: full-width to ASCII, no whitespace, upper case."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


class PiiCipher:
    """Encrypts personal data and computes lookup hashes with keys derived from one secret.

    Blobs record the key version that made them; pass previous secrets as `retired_keys`
    ({version: secret}) to keep reading them after a rotation. Lookup hashes always use the
    current secret, so a rotation must re-hash every row (decrypt, then `lookup_hash`).
    Random 96-bit nonces stay safe up to about 2**32 encryptions per key (NIST SP 800-38D);
    a city of 2 million residents uses a tiny fraction of that.
    """

    def __init__(
        self,
        secret_key: str,
        *,
        key_version: int = 1,
        retired_keys: Mapping[int, str] | None = None,
    ) -> None:
        if not secret_key:
            raise PiiError(
                "SECRET_KEY is empty; set it to a long random string before storing PII."
            )
        if not 1 <= key_version <= _MAX_VERSION:
            raise PiiError(f"Key version {key_version} must be in 1..{_MAX_VERSION}.")
        self.key_version = key_version
        self._header = bytes([key_version])
        # AESGCM objects are reusable and thread-safe; building one per call would cost more
        # than the encryption itself in a 2-million-row import.
        self._aeads: dict[int, AESGCM] = {
            version: AESGCM(_derive(secret, _ENCRYPTION_INFO))
            for version, secret in (retired_keys or {}).items()
        }
        self._aeads[key_version] = AESGCM(_derive(secret_key, _ENCRYPTION_INFO))
        self._current = self._aeads[key_version]
        # The keyed state is set up once; copying it per call skips re-hashing the padded key.
        self._lookup = hmac.new(_derive(secret_key, _LOOKUP_INFO), digestmod=hashlib.sha256)

    def encrypt(self, plain: str, *, context: str = "") -> bytes:
        """AES-256-GCM ciphertext of plain, prefixed with the key version and a random nonce.

        `context` (e.g. "resident.phone") is authenticated but not stored: a blob only decrypts
        with the same context, so ciphertexts cannot be swapped between columns unnoticed.
        """
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.encrypt(
            nonce, plain.encode("utf-8"), self._header + context.encode()
        )
        return self._header + nonce + sealed

    def decrypt(self, blob: bytes | bytearray | memoryview, *, context: str = "") -> str:
        """The plain text of a blob made by encrypt; raises PiiError if it was altered."""
        data = bytes(blob)  # psycopg2 returns bytea as memoryview
        if len(data) < _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES:
            raise PiiError(
                f"Encrypted value is {len(data)} bytes, shorter than any value this cipher "
                "makes; the column holds something other than encrypted PII."
            )
        version = data[0]
        aead = self._aeads.get(version)
        if aead is None:
            known = ", ".join(str(v) for v in sorted(self._aeads))
            raise PiiError(
                f"Encrypted value uses key version {version}, but only versions {known} are "
                "configured; add the secret it was made with to the retired keys."
            )
        nonce = data[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
        try:
            plain = aead.decrypt(
                nonce, data[_HEADER_BYTES + _NONCE_BYTES :], data[:_HEADER_BYTES] + context.encode()
            )
        except InvalidTag:
            raise PiiError(
                "Encrypted value failed its integrity check: it was altered, belongs to another "
                "column or context, or was made with a different SECRET_KEY; check that "
                "SECRET_KEY is the one the data was stored with."
            ) from None
        return plain.decode("utf-8")

    def lookup_hash(self, value: str) -> bytes:
        """32-byte HMAC-SHA256 of the normalised value, equal for equal values (for lookups)."""
        mac = self._lookup.copy()
        mac.update(normalise_lookup_value(value).encode("utf-8"))
        return mac.digest()


@functools.lru_cache(maxsize=1)
def get_cipher() -> PiiCipher:
    """The process-wide cipher built from the PII key (PII_KEY, else SECRET_KEY)."""
    return PiiCipher(get_settings().pii_secret)


# --- masking ------------------------------------------------------------------------------

_MASK: Final = "*"
_ID_NUMBER_LENGTH: Final = 18

# Common two-character surnames (复姓); for these masking keeps both characters, as people
# expect to see 欧阳** rather than 欧***.
_COMPOUND_SURNAMES: Final = frozenset(
    pair
    for line in (
        "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木",
        "独孤 南宫 西门 百里 呼延 澹台 公冶 申屠 太史 万俟 闻人 赫连 拓跋 钟离 宗政 濮阳",
        "淳于 单于 司空 东郭 鲜于 闾丘 左丘 第五 公羊 梁丘 段干 微生 羊舌 乐正 南门",
    )
    for pair in line.split()
)


def mask_id_number(number: str) -> str:
    """Masked ID number: 18 characters keep 6 + 1 ("420502***********X"), others 2 + 2.

    Never the birth-date or sequence digits: see the module docstring for why.
    """
    text = normalise_lookup_value(number)
    if len(text) == _ID_NUMBER_LENGTH:
        return text[:6] + _MASK * 11 + text[-1:]
    if len(text) <= 4:
        return _MASK * len(text)
    return text[:2] + _MASK * (len(text) - 4) + text[-2:]


def mask_phone(phone: str) -> str:
    """Masked phone: mobiles keep 3 + 4 ("138****5678"), other numbers their last 4 digits."""
    compact = _compact_phone(phone)
    national = _strip_country_code(compact)
    if _MOBILE_RE.fullmatch(national):
        return national[:3] + _MASK * 4 + national[-4:]
    if len(compact) <= 4:
        return _MASK * len(compact)
    return _MASK * (len(compact) - 4) + compact[-4:]


def mask_name(name: str) -> str:
    """Surname kept, the rest starred: "张*", "李**", "欧阳**" (for leader and aggregate views)."""
    text = name.strip()
    keep = 2 if len(text) >= 3 and text[:2] in _COMPOUND_SURNAMES else 1
    if len(text) <= 1:
        return _MASK * len(text)
    return text[:keep] + _MASK * (len(text) - keep)


# --- phone numbers ------------------------------------------------------------------------


class PhoneError(ValueError):
    """A phone number the caller must fix; the message is shown to users."""


_MOBILE_RE: Final = re.compile(r"1[3-9]\d{9}")
# National landline: trunk 0, area code (3 digits for 010 and 02x, else 4), 7–8 digit number.
_LANDLINE_RE: Final = re.compile(r"0\d{9,11}")
_PHONE_SEPARATORS: Final = str.maketrans("", "", " -()（）.")
_MOBILE_DIGITS: Final = 11


def _compact_phone(phone: str) -> str:
    return "".join(unicodedata.normalize("NFKC", phone).split()).translate(_PHONE_SEPARATORS)


def _strip_country_code(compact: str) -> str:
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            return compact[len(prefix) :]
    if compact.startswith("86") and len(compact) == 2 + _MOBILE_DIGITS:
        return compact[2:]
    return compact


def _area_code_length(national: str) -> int:
    return 3 if national.startswith(("010", "02")) else 4


def validate_phone(phone: str) -> str:
    """A mainland mobile ("13812345678") or landline ("0717-1234567"), normalised, or PhoneError."""
    compact = _compact_phone(phone)
    international = compact.startswith(("+86", "0086"))
    national = _strip_country_code(compact)
    if not national:
        raise PhoneError(
            "Phone is empty; enter a mobile such as 13812345678 or a landline such as 0717-1234567."
        )
    if not national.isascii() or not national.isdigit():
        raise PhoneError(
            f"Phone {phone!r} contains characters other than digits; enter digits only, "
            "e.g. 13812345678 or 0717-1234567."
        )
    # In international form a landline drops its trunk 0: +86 717 1234567, +86 10 12345678.
    if international and not national.startswith("0") and not _MOBILE_RE.fullmatch(national):
        national = "0" + national
    if _MOBILE_RE.fullmatch(national):
        return national
    if _LANDLINE_RE.fullmatch(national):
        area = _area_code_length(national)
        if 7 <= len(national) - area <= 8:
            return f"{national[:area]}-{national[area:]}"
    if not national.startswith("0") and 7 <= len(national) <= 8:
        raise PhoneError(
            f"Phone {phone!r} looks like a landline without its area code; add it, "
            "e.g. 0717-1234567."
        )
    if national.startswith("1"):
        if len(national) == _MOBILE_DIGITS:
            raise PhoneError(
                f"Phone {phone!r} starts with {national[:2]}, but mainland mobile numbers start "
                "with 13–19; check the first digits."
            )
        raise PhoneError(
            f"Phone {phone!r} has {len(national)} digits, but mainland mobile numbers have 11; "
            "check for a missing or extra digit."
        )
    raise PhoneError(
        f"Phone {phone!r} is neither a mainland mobile (11 digits starting with 13–19) nor a "
        "landline with area code (e.g. 0717-1234567 or 010-12345678); check the number."
    )
