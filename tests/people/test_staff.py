"""Staff accounts: argon2 passwords, scopes each role needs, clear refusals."""

from __future__ import annotations

import pytest

from people import staff
from people.exceptions import Duplicate, InvalidRecord, NotFound
from people.models import Staff, StaffRole
from tests.factories import COMMUNITY, add_grid, admin_tree, square


@pytest.fixture
def grids(session):
    admin_tree(session)
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    return session


def test_password_is_stored_as_argon2_and_authenticates(grids):
    actor = staff.create_staff(
        grids,
        username="worker1",
        password="gridgov-demo",
        full_name="王网格",
        role="grid_worker",
        grid_codes=[COMMUNITY + "001"],
    )
    stored = grids.get(Staff, actor.staff_id)
    assert (
        stored.password_hash.startswith("$argon2id$") and "gridgov-demo" not in stored.password_hash
    )
    found = staff.authenticate(grids, username="worker1", password="gridgov-demo")
    assert found is not None and found.grid_codes == frozenset({COMMUNITY + "001"})
    assert staff.authenticate(grids, username="worker1", password="wrong-password") is None
    assert staff.authenticate(grids, username="nobody", password="gridgov-demo") is None


def test_disabled_account_cannot_log_in(grids):
    actor = staff.create_staff(
        grids, username="admin1", password="long-enough", full_name="管理员", role=StaffRole.ADMIN
    )
    grids.get(Staff, actor.staff_id).active = False
    assert staff.authenticate(grids, username="admin1", password="long-enough") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "grid_worker"}, "needs the grids"),
        ({"role": "leader"}, "needs its admin area"),
        ({"role": "dispatcher"}, "needs its department unit"),
        ({"role": "admin", "password": "short"}, "at least 8 characters"),
        ({"role": "admin", "username": "Bad Name"}, "lower-case letters"),
        ({"role": "pilot"}, "not a known staff role"),
    ],
)
def test_accounts_missing_what_their_role_needs_are_refused(grids, fields, message):
    values = {"username": "someone", "password": "long-enough", "full_name": "某人"} | fields
    with pytest.raises((InvalidRecord, ValueError), match=message):
        staff.create_staff(grids, **values)


def test_usernames_are_unique_and_grids_must_exist(grids):
    staff.create_staff(grids, username="dup", password="long-enough", full_name="甲", role="admin")
    with pytest.raises(Duplicate, match="taken"):
        staff.create_staff(
            grids, username="dup", password="long-enough", full_name="乙", role="admin"
        )
    with pytest.raises(NotFound, match="420502001001999"):
        staff.create_staff(
            grids,
            username="worker9",
            password="long-enough",
            full_name="丙",
            role="grid_worker",
            grid_codes=["420502001001999"],
        )
