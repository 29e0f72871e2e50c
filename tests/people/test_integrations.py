"""Integration API keys: shown once, stored hashed, scoped to an area, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from people.exceptions import Duplicate, InvalidRecord, NotFound
from people.integrations import (
    InvalidKey,
    check_key,
    hash_key,
    issue_key,
    list_keys,
    revoke_key,
)
from people.models import Integration, Staff, StaffRole
from people.staff import authenticate
from tests.factories import DISTRICT, admin_tree

AREA = DISTRICT + "000000"


@pytest.fixture
def area(session):
    admin_tree(session)
    return AREA


def test_a_key_is_shown_once_and_only_its_hash_is_stored(session, area):
    issued = issue_key(session, name="city-app", area_code=area)
    assert issued.key.startswith("g311_") and len(issued.key) > 40
    row = session.scalar(select(Integration).where(Integration.name == "city-app"))
    assert row.key_hash == hash_key(issued.key)
    assert issued.key not in (row.key_hash, row.key_prefix)
    assert "key" not in list_keys(session)[0].model_dump()


def test_a_valid_key_names_its_integration_and_area(session, area):
    issued = issue_key(session, name="city-app", area_code=area)
    ref = check_key(session, key=issued.key)
    assert (ref.name, ref.area_code) == ("city-app", area)
    assert list_keys(session)[0].last_used_at is not None


def test_the_integration_acts_through_a_command_account_nobody_can_sign_in_with(session, area):
    issue_key(session, name="city-app", area_code=area)
    account = session.scalar(select(Staff).where(Staff.username == "api.city-app"))
    assert account.role is StaffRole.COMMAND and account.area_code == area
    for guess in ("", "city-app", "gridgov-demo", "test-password"):
        assert authenticate(session, username="api.city-app", password=guess) is None


def test_unknown_and_revoked_keys_are_refused(session, area):
    issued = issue_key(session, name="city-app", area_code=area)
    with pytest.raises(InvalidKey, match="not valid"):
        check_key(session, key="g311_guessed")
    revoked = revoke_key(session, name="city-app", now=datetime.now(UTC) - timedelta(hours=1))
    assert revoked.active is False
    with pytest.raises(InvalidKey, match="revoked"):
        check_key(session, key=issued.key)
    account = session.scalar(select(Staff).where(Staff.username == "api.city-app"))
    assert account.active is False


def test_bad_names_unknown_areas_and_duplicates_are_refused_with_a_reason(session, area):
    with pytest.raises(InvalidRecord, match="lower-case"):
        issue_key(session, name="City App", area_code=area)
    with pytest.raises(NotFound, match="12-digit"):
        issue_key(session, name="city-app", area_code="999999000000")
    issue_key(session, name="city-app", area_code=area)
    with pytest.raises(Duplicate, match="choose another name"):
        issue_key(session, name="city-app", area_code=area)
    with pytest.raises(NotFound, match="integration list"):
        revoke_key(session, name="nobody")
