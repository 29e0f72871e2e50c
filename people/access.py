"""Who may see and change which people: enforced here so neither the API nor the CLI can skip it.

Deny by default. A grid worker works on the residents of their own grids; command-centre staff
and inspectors on their admin area; admins everywhere; leaders see aggregates only, and
dispatchers see no resident at all (they work on events).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, SQLColumnExpression, false, select, true
from sqlalchemy.orm import Session

from gis.distribution import NO_DISTRICT
from grid.service import area_prefix
from people.exceptions import Forbidden, NotFound
from people.models import PiiAccessLog, Resident, Staff, StaffGrid, StaffRole

# Roles allowed to read residents one by one (masked), and to ask for unmasked PII.
READ_PERSONS = frozenset(
    {StaffRole.GRID_WORKER, StaffRole.INSPECTOR, StaffRole.COMMAND, StaffRole.ADMIN}
)
UNMASK = frozenset({StaffRole.GRID_WORKER, StaffRole.COMMAND, StaffRole.ADMIN})
READ_AGGREGATES = frozenset(
    {
        StaffRole.LEADER,
        StaffRole.COMMAND,
        StaffRole.ADMIN,
        StaffRole.INSPECTOR,
        StaffRole.GRID_WORKER,
    }
)


@dataclass(frozen=True)
class Actor:
    """The account a service call acts for, with its scope resolved."""

    staff_id: int
    username: str
    role: StaffRole
    grid_codes: frozenset[str] = field(default_factory=frozenset)
    area_code: str | None = None
    department_unit_id: int | None = None
    # Tokens carrying another version were revoked (signed out, new password, disabled).
    token_version: int = 0

    def can_see_grid(self, grid_code: str | None) -> bool:
        """Whether a record in `grid_code` lies inside this actor's scope."""
        if self.role is StaffRole.ADMIN:
            return True
        if self.role is StaffRole.GRID_WORKER:
            return grid_code in self.grid_codes
        if self.area_code and grid_code:
            return grid_code.startswith(area_prefix(self.area_code))
        return False

    @property
    def home_district(self) -> str | None:
        """The district of the actor's first grid or of its area (None above district level)."""
        if self.grid_codes:
            return sorted(self.grid_codes)[0][:6]
        if self.area_code and len(area_prefix(self.area_code)) >= 6:
            return self.area_code[:6]
        return None

    @property
    def log_district(self) -> str:
        """Where a log row about no single record is kept: the home district, else 000000."""
        return self.home_district or NO_DISTRICT


def load_actor(session: Session, *, staff_id: int) -> Actor:
    """The actor for an active account, with the grids it covers."""
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise NotFound(f"account {staff_id} does not exist or is disabled")
    grids = session.scalars(select(StaffGrid.grid_code).where(StaffGrid.staff_id == staff_id))
    return Actor(
        staff_id=staff.id,
        username=staff.username,
        role=staff.role,
        grid_codes=frozenset(grids),
        area_code=staff.area_code,
        department_unit_id=staff.department_unit_id,
        token_version=staff.token_version,
    )


def require_role(actor: Actor, allowed: frozenset[StaffRole], action: str) -> None:
    """Refuse `action` unless the actor's role is among `allowed`."""
    if actor.role not in allowed:
        roles = "、".join(sorted(r.label for r in allowed))
        raise Forbidden(
            f"a {actor.role.label} ({actor.role.value}) account may not {action}; "
            f"that needs one of: {roles}"
        )


def require_grid(actor: Actor, grid_code: str | None, what: str) -> None:
    """Refuse access to a record outside the actor's grids or area."""
    if not actor.can_see_grid(grid_code):
        scope = (
            (", ".join(sorted(actor.grid_codes)) or "none")
            if actor.role is StaffRole.GRID_WORKER
            else (actor.area_code or "none")
        )
        raise Forbidden(f"{what} is in grid {grid_code or '(none)'}, outside your scope ({scope})")


def resident_not_visible(resident_id: int) -> NotFound:
    """The one answer for a resident who does not exist or lies outside the actor's scope.

    Both cases read alike, so an error never tells whether, or in which grid, a person outside
    one's scope is registered.
    """
    return NotFound(
        f"resident {resident_id} does not exist or is outside your scope "
        "(该人员不存在或不在您的管辖范围内)"
    )


def load_visible_resident(
    session: Session, actor: Actor, resident_id: int, *, lock: bool = False
) -> Resident:
    """The resident if it exists and lies in the actor's scope, else `resident_not_visible`."""
    resident = session.get(Resident, resident_id, with_for_update=lock or None)
    if resident is None or not actor.can_see_grid(resident.grid_code):
        raise resident_not_visible(resident_id)
    return resident


def grid_scope(actor: Actor, grid_column: SQLColumnExpression[str | None]) -> ColumnElement[bool]:
    """A WHERE clause limiting `grid_column` to the actor's scope."""
    if actor.role is StaffRole.ADMIN:
        return true()
    if actor.role is StaffRole.GRID_WORKER:
        return grid_column.in_(sorted(actor.grid_codes)) if actor.grid_codes else false()
    if actor.area_code:
        return grid_column.startswith(area_prefix(actor.area_code))
    return false()


def scope_prefixes(actor: Actor) -> list[str] | None:
    """Code prefixes of the grids an actor works in: a grid worker's grid codes, area staff's
    area prefix; None (everywhere) for an admin, [] for an account with neither."""
    if actor.role is StaffRole.ADMIN:
        return None
    if actor.role is StaffRole.GRID_WORKER:
        return sorted(actor.grid_codes)
    if actor.area_code:
        return [area_prefix(actor.area_code)]
    return []


def log_pii_read(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    fields: str,
    reason: str,
    resident_id: int | None = None,
    organisation_id: int | None = None,
    event_id: int | None = None,
) -> None:
    """Write the access-log row of one read of unmasked personal data: who, why, which fields
    of which resident, organisation or event's caller."""
    session.add(
        PiiAccessLog(
            staff_id=actor.staff_id,
            resident_id=resident_id,
            organisation_id=organisation_id,
            event_id=event_id,
            district_code=district_code,
            fields=fields,
            reason=reason.strip(),
        )
    )
    session.flush()
