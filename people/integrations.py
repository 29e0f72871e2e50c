"""API keys for outside systems (接入系统): Open311 apps, hotline bridges.

An admin issues a key to a named integration for one admin area; the key is shown once and
only its sha256 is stored. Each integration acts through its own service account (role
command, scoped to the integration's area) so events it files have a reporter and pass the
same checks as any other report; that account's password is random and never shown, so
nobody can sign in with it, and revoking the key disables the account too.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from grid.models import AdminUnit
from people.exceptions import Duplicate, Forbidden, InvalidRecord, NotFound
from people.models import Integration, Staff, StaffRole
from people.schemas import IntegrationRead, IssuedKey
from people.staff import create_staff

NAME = re.compile(r"^[a-z][a-z0-9_.-]{2,39}$")
AREA = re.compile(r"^[0-9]{12}$")
KEY_PREFIX = "g311_"
SHOWN_PREFIX = 12  # characters of a key kept in clear, so admins can tell keys apart
# Marking a key as used is a write; once a minute is enough to see which keys are alive.
USE_RESOLUTION = timedelta(minutes=1)


class InvalidKey(Forbidden):
    """An API key that is unknown or revoked."""


@dataclass(frozen=True)
class IntegrationRef:
    """The integration a request comes from, as services need it."""

    id: int
    name: str
    area_code: str
    staff_id: int


def hash_key(key: str) -> str:
    """The stored form of an API key: sha256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _read(session: Session, integration: Integration) -> IntegrationRead:
    username = session.scalar(select(Staff.username).where(Staff.id == integration.staff_id))
    return IntegrationRead(
        id=integration.id,
        name=integration.name,
        key_prefix=integration.key_prefix,
        area_code=integration.area_code,
        service_account=username or "",
        created_at=integration.created_at,
        last_used_at=integration.last_used_at,
        revoked_at=integration.revoked_at,
        active=integration.revoked_at is None,
    )


def issue_key(
    session: Session,
    *,
    name: str,
    area_code: str,
    created_by: int | None = None,
    key: str | None = None,
) -> IssuedKey:
    """Register an integration for an admin area and return its new key (shown once)."""
    name = name.strip()
    if not NAME.match(name):
        raise InvalidRecord(
            f"integration name '{name}' must be 3–40 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter, e.g. city-app"
        )
    area_code = area_code.strip()
    area = session.get(AdminUnit, area_code) if AREA.match(area_code) else None
    if area is None:
        raise NotFound(
            f"admin area {area_code} does not exist; give a 12-digit district, street or "
            "community code, e.g. 420502000000"
        )
    if session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
        raise Duplicate(f"an integration named {name} exists already; choose another name")
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    if session.scalar(select(Integration.id).where(Integration.key_hash == hash_key(key))):
        raise Duplicate("that key is in use by another integration; issue a random one")
    account = create_staff(
        session,
        username=f"api.{name}",
        password=secrets.token_urlsafe(32),  # never shown: the account cannot sign in
        full_name=f"接入系统 {name}"[:50],
        role=StaffRole.COMMAND,
        area_code=area.code,
    )
    integration = Integration(
        name=name,
        key_prefix=key[:SHOWN_PREFIX],
        key_hash=hash_key(key),
        area_code=area.code,
        staff_id=account.staff_id,
        created_by=created_by,
    )
    session.add(integration)
    session.flush()
    session.refresh(integration)
    return IssuedKey(**_read(session, integration).model_dump(), key=key)


def list_keys(session: Session) -> list[IntegrationRead]:
    """Every integration, active ones first, by name."""
    rows = session.scalars(
        select(Integration).order_by(Integration.revoked_at.is_not(None), Integration.name)
    )
    return [_read(session, row) for row in rows]


def revoke_key(session: Session, *, name: str, now: datetime | None = None) -> IntegrationRead:
    """Stop a key from working and disable its service account; the record stays."""
    integration = (
        session.scalar(select(Integration).where(Integration.name == name))
        if NAME.match(name)
        else None
    )
    if integration is None:
        raise NotFound(
            f"there is no integration named {name}; `gridgov integration list` shows them"
        )
    if integration.revoked_at is None:
        integration.revoked_at = now or datetime.now(UTC)
        account = session.get(Staff, integration.staff_id)
        if account is not None:
            account.active = False
        session.flush()
    return _read(session, integration)


def check_key(session: Session, *, key: str, now: datetime | None = None) -> IntegrationRef:
    """The integration an API key belongs to; InvalidKey when it is unknown or revoked."""
    integration = session.scalar(select(Integration).where(Integration.key_hash == hash_key(key)))
    if integration is None:
        raise InvalidKey("the api_key is not valid; ask the administrator for a key")
    if integration.revoked_at is not None:
        raise InvalidKey(
            f"the api_key of {integration.name} was revoked on "
            f"{integration.revoked_at:%Y-%m-%d}; ask the administrator for a new key"
        )
    at = now or datetime.now(UTC)
    if integration.last_used_at is None or at - integration.last_used_at >= USE_RESOLUTION:
        integration.last_used_at = at
        session.flush()
    return IntegrationRef(
        id=integration.id,
        name=integration.name,
        area_code=integration.area_code,
        staff_id=integration.staff_id,
    )
