"""Specification of personal data protection: encryption, lookup hashes, masks, phones."""

from __future__ import annotations

import hashlib

import pytest

from people.pii import (
    PhoneError,
    PiiCipher,
    PiiError,
    get_cipher,
    mask_id_number,
    mask_name,
    mask_phone,
    validate_phone,
)

KEY = "test-secret-0123456789abcdef0123456789"
OTHER_KEY = "another-secret-0123456789abcdef012345"
ID = "42050219870101123X"


@pytest.fixture
def cipher() -> PiiCipher:
    """A cipher on a fixed test key."""
    return PiiCipher(KEY)


# --- encryption ---------------------------------------------------------------------------


def test_encrypt_then_decrypt_gives_back_the_plain_text(cipher: PiiCipher) -> None:
    for plain in (ID, "13812345678", "", "张三 · 欧阳娜娜"):
        assert cipher.decrypt(cipher.encrypt(plain)) == plain


def test_ciphertext_does_not_contain_the_plain_text(cipher: PiiCipher) -> None:
    assert ID.encode() not in cipher.encrypt(ID)


def test_blob_is_version_byte_nonce_ciphertext_and_tag(cipher: PiiCipher) -> None:
    blob = cipher.encrypt(ID)
    assert blob[0] == 1
    assert len(blob) == 1 + 12 + len(ID) + 16


def test_encrypting_the_same_value_twice_uses_different_nonces(cipher: PiiCipher) -> None:
    first, second = cipher.encrypt(ID), cipher.encrypt(ID)
    assert first != second
    assert first[1:13] != second[1:13]


def test_decrypt_accepts_the_memoryview_psycopg2_returns_for_bytea(cipher: PiiCipher) -> None:
    assert cipher.decrypt(memoryview(cipher.encrypt(ID))) == ID


def test_any_altered_byte_is_detected(cipher: PiiCipher) -> None:
    blob = cipher.encrypt(ID)
    for index in range(1, len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(PiiError, match="integrity check"):
            cipher.decrypt(bytes(tampered))


def test_a_truncated_blob_is_refused(cipher: PiiCipher) -> None:
    with pytest.raises(PiiError, match="shorter than"):
        cipher.decrypt(cipher.encrypt(ID)[:20])


def test_a_different_key_cannot_decrypt(cipher: PiiCipher) -> None:
    with pytest.raises(PiiError, match="SECRET_KEY"):
        PiiCipher(OTHER_KEY).decrypt(cipher.encrypt(ID))


def test_a_blob_only_decrypts_in_the_context_it_was_encrypted_for(cipher: PiiCipher) -> None:
    blob = cipher.encrypt("13812345678", context="resident.phone")
    assert cipher.decrypt(blob, context="resident.phone") == "13812345678"
    with pytest.raises(PiiError):
        cipher.decrypt(blob, context="resident.id_number")


def test_after_rotation_old_blobs_still_decrypt_with_the_retired_key() -> None:
    old = PiiCipher(KEY).encrypt(ID)
    rotated = PiiCipher(OTHER_KEY, key_version=2, retired_keys={1: KEY})
    assert rotated.decrypt(old) == ID
    assert rotated.encrypt(ID)[0] == 2


def test_a_blob_from_an_unknown_key_version_says_which_version_is_missing() -> None:
    newer = PiiCipher(OTHER_KEY, key_version=3).encrypt(ID)
    with pytest.raises(PiiError, match="key version 3"):
        PiiCipher(KEY).decrypt(newer)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(PiiError, match="SECRET_KEY is empty"):
        PiiCipher("")


def test_get_cipher_is_built_once_from_settings() -> None:
    assert get_cipher() is get_cipher()
    assert get_cipher().decrypt(get_cipher().encrypt(ID)) == ID


# --- lookup hash --------------------------------------------------------------------------


def test_lookup_hash_is_32_bytes_and_stable(cipher: PiiCipher) -> None:
    digest = cipher.lookup_hash(ID)
    assert len(digest) == 32
    assert digest == PiiCipher(KEY).lookup_hash(ID)


def test_lookup_hash_ignores_spaces_and_case(cipher: PiiCipher) -> None:
    assert cipher.lookup_hash(" 420502 19870101 123x ") == cipher.lookup_hash(ID)


def test_different_values_hash_differently(cipher: PiiCipher) -> None:
    assert cipher.lookup_hash(ID) != cipher.lookup_hash("420502198701011234")


def test_different_keys_give_different_hashes(cipher: PiiCipher) -> None:
    assert cipher.lookup_hash(ID) != PiiCipher(OTHER_KEY).lookup_hash(ID)


def test_lookup_hash_is_not_a_plain_sha256_of_the_value(cipher: PiiCipher) -> None:
    assert cipher.lookup_hash(ID) != hashlib.sha256(ID.encode()).digest()


# --- masks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("42050219870101123X", "420502***********X"),
        ("420502 19870101 123x", "420502***********X"),
        ("110105491231002", "11***********02"),
        ("E12345678", "E1*****78"),
        ("H123", "****"),
        ("", ""),
    ],
)
def test_id_numbers_are_masked_keeping_only_the_ends(number: str, masked: str) -> None:
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("0717-1234567", "*******4567"),
        ("123", "***"),
    ],
)
def test_phones_are_masked_keeping_the_last_four_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳锋", "欧阳*"),
        ("欧阳", "欧*"),
        ("买买提·艾力", "买*****"),
        ("张", "*"),
        ("", ""),
    ],
)
def test_names_keep_only_the_surname(name: str, masked: str) -> None:
    assert mask_name(name) == masked


# --- phone numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "normalised"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("１９９１２３４５６７８", "19912345678"),
        ("0717-1234567", "0717-1234567"),
        ("07171234567", "0717-1234567"),
        ("010-12345678", "010-12345678"),
        ("(020) 1234 5678", "020-12345678"),
        ("+86 717 1234567", "0717-1234567"),
        ("+86 10 12345678", "010-12345678"),
    ],
)
def test_mobiles_and_landlines_are_accepted_and_normalised(phone: str, normalised: str) -> None:
    assert validate_phone(phone) == normalised


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("1381234567", "have 11"),
        ("138123456789", "have 11"),
        ("11812345678", "start with 13–19"),
        ("1234567", "without its area code"),
        ("0717-123456", "neither a mainland mobile"),
        ("0717-1234567-801", "neither a mainland mobile"),
        ("138abc45678", "digits only"),
        ("", "empty"),
    ],
)
def test_bad_phones_are_refused_with_a_sentence(phone: str, message: str) -> None:
    with pytest.raises(PhoneError, match=message) as caught:
        validate_phone(phone)
    assert isinstance(caught.value, ValueError)
