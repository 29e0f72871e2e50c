"""Address search (地址匹配): free address text → ranked buildings and houses; standard
addresses (标准地址) by code, and the addresses below one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.http.auth import ALL_STAFF, allow
from api.http.deps import SessionDep
from events.directory import districts_seen
from grid import addresses, std_address
from grid.schemas import AddressSearch, StdAddressPage, StdAddressRead
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


@router.get("/addresses/{code}", response_model=StdAddressRead)
def get_address(session: SessionDep, actor: Staff, code: str) -> StdAddressRead:
    """One standard address (标准地址) by its code: level, full text, point, grid, and the
    building or house on it. Addresses of another district are not found."""
    districts = districts_seen(session, actor=actor)
    return std_address.read_address(session, code=code, districts=districts)


@router.get("/addresses/{code}/children", response_model=StdAddressPage)
def list_children(
    session: SessionDep,
    actor: Staff,
    code: str,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=std_address.MAX_PAGE_SIZE)] = 50,
) -> StdAddressPage:
    """The addresses one level below a community (12 digits: its roads and the buildings
    with no door plate) or below an address, in code order."""
    districts = districts_seen(session, actor=actor)
    return std_address.list_children(
        session, code=code, page=page, size=page_size, districts=districts
    )
