"""Address search (地址匹配): free address text → ranked buildings and houses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.http.auth import ALL_STAFF, allow
from api.http.deps import SessionDep
from events.directory import districts_seen
from grid import addresses
from grid.schemas import AddressSearch
from people.access import Actor, scope_prefixes

router = APIRouter(prefix="/api", tags=["addresses 地址"])

# Addresses are the spatial frame, not personal data: every account that reads the base map
# may search it (leaders place 批示 on the map too), each within its own area.
Staff = Annotated[Actor, allow(ALL_STAFF)]


@router.get("/addresses/search", response_model=AddressSearch)
def search(
    session: SessionDep,
    actor: Staff,
    q: Annotated[str, Query(description="the address as said, e.g. 前进里社区12栋3单元502")],
    limit: Annotated[int, Query(description=f"1..{addresses.MAX_CANDIDATES}")] = 5,
) -> AddressSearch:
    """Buildings (and the house, when a unit/room is given) an address may mean, best first;
    an empty list when nothing matches. Candidates lie in the caller's grids or area."""
    scope = scope_prefixes(actor)
    if scope == [] and actor.department_unit_id is not None:  # a dispatcher: the unit's district
        scope = list(districts_seen(session, actor=actor) or ())
    return addresses.search_addresses(session, q=q, limit=limit, scope=scope)
