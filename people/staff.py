"""Staff accounts: grid workers, inspectors, dispatchers, command centre, leaders, admins."""

from __future__ import annotations

import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gis.config import get_settings
from grid.models import AdminLevel, AdminUnit, Grid
from people.access import Actor, load_actor
from people.exceptions import Duplicate, InvalidRecord, NotFound
from people.models import Staff, StaffGrid, StaffRole

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,49}$")
MIN_PASSWORD = 8


@functools.lru_cache
def _hasher() -> PasswordHasher:
    if get_settings().environment == "test":
        # The test suite creates hundreds of accounts: same algorithm, cheapest parameters.
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2 hash stored for `password`."""
    return _hasher().hash(password)


def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    full_name: str,
    role: StaffRole | str,
    grid_codes: list[str] | None = None,
    area_code: str | None = None,
    department_unit_id: int | None = None,
    phone: str | None = None,
) -> Actor:
    """Create an account; the scope its role needs must be given (grids, area or unit)."""
    role = StaffRole.parse(role) if isinstance(role, str) else role
    if not USERNAME.match(username):
        raise InvalidRecord(
            f"username '{username}' must be 3–50 lower-case letters, digits, "
            "'.', '_' or '-', starting with a letter"
        )
    if len(password) < MIN_PASSWORD:
        raise InvalidRecord(f"the password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise Duplicate(f"username {username} is taken")
    if role is StaffRole.GRID_WORKER and not grid_codes:
        raise InvalidRecord("a grid worker account needs the grids it covers (grid_codes)")
    if role in (StaffRole.LEADER, StaffRole.COMMAND, StaffRole.INSPECTOR) and not area_code:
        raise InvalidRecord(f"a {role.label} account needs its admin area (area_code)")
    if role is StaffRole.DISPATCHER and department_unit_id is None:
        raise InvalidRecord("a dispatcher account needs its department unit")
    if area_code and not area_exists(session, area_code):
        raise NotFound(
            f"admin area {area_code} does not exist; give a 12-digit district, street or "
            "community code, or a 4-digit city prefix such as 4205 (该区划不存在)"
        )
    staff = Staff(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        area_code=area_code,
        department_unit_id=department_unit_id,
        phone=phone,
    )
    session.add(staff)
    session.flush()
    if grid_codes:
        assign_grids(session, staff_id=staff.id, grid_codes=grid_codes)
    return load_actor(session, staff_id=staff.id)


def area_exists(session: Session, area_code: str) -> bool:
    """Whether `area_code` is an admin unit, or a 4-digit city prefix (市级) of one district."""
    if len(area_code) == 4 and area_code.isdigit():
        return (
            session.scalar(
                select(AdminUnit.code)
                .where(
                    AdminUnit.level == AdminLevel.DISTRICT,
                    AdminUnit.district_code.startswith(area_code),
                )
                .limit(1)
            )
            is not None
        )
    return session.get(AdminUnit, area_code) is not None


def assign_grids(session: Session, *, staff_id: int, grid_codes: list[str]) -> None:
    """Replace the grids a grid worker covers."""
    unknown = set(grid_codes) - set(
        session.scalars(select(Grid.code).where(Grid.code.in_(grid_codes)))
    )
    if unknown:
        raise NotFound(f"grid(s) {', '.join(sorted(unknown))} do not exist")
    session.execute(delete(StaffGrid).where(StaffGrid.staff_id == staff_id))
    session.add_all(StaffGrid(staff_id=staff_id, grid_code=c) for c in sorted(set(grid_codes)))
    session.flush()


def authenticate(session: Session, *, username: str, password: str) -> Actor | None:
    """The actor for a correct username and password of an active account, else None."""
    staff = session.scalar(select(Staff).where(Staff.username == username))
    if staff is None or not staff.active:
        _hasher().hash(password)  # same work either way, so timing does not reveal usernames
        return None
    try:
        _hasher().verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher().check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher().hash(password)
        session.flush()
    return load_actor(session, staff_id=staff.id)


def full_name_of(session: Session, *, staff_id: int) -> str:
    """The account holder's name as shown in pages."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"account {staff_id} does not exist")
    return staff.full_name


def set_password(session: Session, *, staff_id: int, password: str) -> None:
    """Replace an account's password."""
    if len(password) < MIN_PASSWORD:
        raise InvalidRecord(f"the password needs at least {MIN_PASSWORD} characters")
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"account {staff_id} does not exist")
    staff.password_hash = _hasher().hash(password)
    staff.token_version += 1  # a new password signs the account out everywhere
    session.flush()


def end_sessions(session: Session, *, staff_id: int) -> None:
    """Sign an account out everywhere: every token issued to it so far stops working."""
    session.execute(
        update(Staff).where(Staff.id == staff_id).values(token_version=Staff.token_version + 1)
    )
