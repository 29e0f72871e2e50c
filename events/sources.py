"""Which staff may file which event source (来源): the one place the rule lives.

A grid worker files what they find in their grids (网格员上报); the command centre's operators
(受理员) take the citizen channels — 12345 hotline, 市长信箱, 网站·APP — and cases handed over by
departments (部门移交); inspectors file patrol findings (巡查发现); leaders file instructions
(领导批示), which the command centre may also enter for them. Open311 apps and sensors file only
through their integration services (each acting as a COMMAND service account), never through a
staff member's filing: `STAFF_SOURCES` are the sources a filing body may name.
"""

from __future__ import annotations

from typing import Final

from events.models import CITIZEN_SOURCES, EventSource
from people.models import StaffRole

_R = StaffRole
# Admins may file every source staff file (they set the system up and stand in for anyone).
SOURCE_ROLES: Final[dict[EventSource, frozenset[StaffRole]]] = {
    EventSource.GRID_WORKER: frozenset({_R.GRID_WORKER, _R.ADMIN}),
    EventSource.HOTLINE: frozenset({_R.COMMAND, _R.ADMIN}),
    EventSource.MAILBOX: frozenset({_R.COMMAND, _R.ADMIN}),
    EventSource.WEB_APP: frozenset({_R.COMMAND, _R.ADMIN}),
    EventSource.DEPARTMENT: frozenset({_R.COMMAND, _R.ADMIN}),
    EventSource.INSPECTION: frozenset({_R.INSPECTOR, _R.ADMIN}),
    # A leader's instruction, or the command centre entering one it was given.
    EventSource.LEADER: frozenset({_R.LEADER, _R.COMMAND, _R.ADMIN}),
    # Filed by the integration's service account (role COMMAND) through its own door only.
    EventSource.OPEN311: frozenset({_R.COMMAND}),
    EventSource.SENSOR: frozenset({_R.COMMAND}),
}
assert set(SOURCE_ROLES) == set(EventSource), "every source names the roles that file it"

# Sources only an integration service files (Open311 gateway, 物联感知 devices).
INTEGRATION_SOURCES: Final = frozenset({EventSource.OPEN311, EventSource.SENSOR})
# Filed by whoever saw it themselves or whose word is the order: no on-site check (核实) first.
SELF_CHECKED_SOURCES: Final = frozenset(
    {EventSource.GRID_WORKER, EventSource.INSPECTION, EventSource.LEADER}
)
# Sources a member of staff names when filing through the API or the pages.
STAFF_SOURCES: Final = frozenset(set(EventSource) - INTEGRATION_SOURCES)
# Citizen channels an operator files by hand: these carry 诉求类型 and may carry a caller.
OPERATOR_CITIZEN_SOURCES: Final = frozenset(CITIZEN_SOURCES - INTEGRATION_SOURCES)
# Every role that files some source: the gate of POST /api/events.
FILERS: Final = frozenset(role for source in STAFF_SOURCES for role in SOURCE_ROLES[source])


def roles_filing(source: EventSource) -> str:
    """The roles that may file `source` as a reader names them: "指挥中心 (command)、…"."""
    roles = sorted(SOURCE_ROLES[source], key=lambda r: list(StaffRole).index(r))
    return "、".join(f"{r.label} ({r.value})" for r in roles)


def refusal(source: EventSource, role: StaffRole) -> str | None:
    """Why `role` may not file `source` (a sentence naming who may), None when it may."""
    if role in SOURCE_ROLES[source]:
        return None
    hint = {
        StaffRole.COMMAND: "; a command-centre operator files a citizen's case under its "
        "channel (hotline, mailbox, web_app) — an operator is not a grid worker",
        StaffRole.INSPECTOR: "; an inspector files patrol findings (source inspection)",
        StaffRole.LEADER: "; a leader files instructions (source leader)",
        StaffRole.GRID_WORKER: "; a grid worker files under source grid_worker",
    }.get(role, "")
    if source in INTEGRATION_SOURCES:
        hint = f"; {source.value} cases come only through their integration, never a filing"
    return (
        f"a {role.label} ({role.value}) account may not file {source.label} ({source.value}) "
        f"events; those are filed by {roles_filing(source)}{hint}"
    )


# The source a filing that names none is taken as; command-centre operators name their channel.
DEFAULT_SOURCE: Final = {
    _R.GRID_WORKER: EventSource.GRID_WORKER,
    _R.INSPECTOR: EventSource.INSPECTION,
    _R.LEADER: EventSource.LEADER,
    _R.ADMIN: EventSource.GRID_WORKER,
}


__all__ = [
    "DEFAULT_SOURCE",
    "FILERS",
    "INTEGRATION_SOURCES",
    "OPERATOR_CITIZEN_SOURCES",
    "SELF_CHECKED_SOURCES",
    "SOURCE_ROLES",
    "STAFF_SOURCES",
    "refusal",
    "roles_filing",
]
