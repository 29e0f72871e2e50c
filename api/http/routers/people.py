"""Residents, households, special groups and their visits (走访); scoped and masked by the
services in `people`, which decide who sees whom."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.http.auth import allow
from api.http.bodies import IdempotencyKey
from api.http.deps import SessionDep
from api.http.errors import ApiError
from api.http.paging import LedgerPageSize, PageQuery
from api.schemas import (
    MAX_ID,
    DocumentLookup,
    Enrolment,
    MoveIn,
    MoveOut,
    UnmaskRequest,
    VisitInput,
)
from people import occupancy, service
from people import special_groups as groups
from people.access import READ_PERSONS, UNMASK, Actor
from people.models import ResidenceType, SpecialGroupType
from people.occupancy import HouseStay
from people.schemas import (
    ChangeRead,
    DueVisitPage,
    HouseholdRead,
    ResidenceRead,
    ResidentCreate,
    ResidentPage,
    ResidentPii,
    ResidentRead,
    ResidentUpdate,
    SpecialGroupPage,
    SpecialGroupRead,
    VisitRead,
)

router = APIRouter(prefix="/api", tags=["people 人口"])

Reader = Annotated[Actor, allow(READ_PERSONS)]
# Ids are 32-bit in the database: larger numbers are refused (422) rather than failing there.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
GridQuery = Annotated[str | None, Query(description="15-digit grid code")]
_SEEN = {"description": "the Idempotency-Key was seen before: what the first request made"}


def _answer(response: Response, created: bool) -> None:
    if not created:
        response.status_code = status.HTTP_200_OK


# --- residents ---------------------------------------------------------------------------------


@router.get("/residents", response_model=ResidentPage)
def list_residents(
    session: SessionDep,
    actor: Reader,
    grid: GridQuery = None,
    building: Annotated[str | None, Query(description="building code")] = None,
    house: Annotated[str | None, Query(description="house code: building code-unit-room")] = None,
    q: Annotated[str | None, Query(max_length=50, description="part of the name")] = None,
    residence_type: ResidenceType | None = None,
    include_inactive: bool = False,
    page: PageQuery = 1,
    page_size: LedgerPageSize = 50,
) -> ResidentPage:
    """Residents in my scope (masked), by grid, building, house and name."""
    return service.list_residents(
        session,
        actor=actor,
        grid_code=grid,
        building_code=building,
        house_code=house,
        name=q,
        residence_type=residence_type,
        include_inactive=include_inactive,
        page=page,
        page_size=page_size,
    )


@router.post(
    "/residents",
    response_model=ResidentRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ResidentRead, **_SEEN}},
)
def register_resident(
    session: SessionDep,
    actor: Reader,
    data: ResidentCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ResidentRead:
    """Register a resident (登记) in a house of my grids; recorded in their history. Sent again
    with the same Idempotency-Key: 200 and the resident registered the first time."""
    written = service.add_resident(
        session, actor=actor, data=data, idempotency_key=idempotency_key or None
    )
    _answer(response, written.created)
    return written.read


@router.post("/residents/lookup", response_model=ResidentRead)
def find_by_document(session: SessionDep, actor: Reader, lookup: DocumentLookup) -> ResidentRead:
    """The resident holding a document (masked), found without decrypting anything."""
    found = service.find_by_document(
        session, actor=actor, doc_type=lookup.doc_type, number=lookup.doc_number
    )
    if found is None:
        raise ApiError(
            status.HTTP_404_NOT_FOUND,
            "nobody with that document is registered in your scope (您的管辖范围内无此证件人员); "
            "if they live in your grid, register them with POST /api/residents",
        )
    return found


@router.get("/residents/{resident_id}", response_model=ResidentRead)
def get_resident(session: SessionDep, actor: Reader, resident_id: Id) -> ResidentRead:
    """One resident, masked."""
    return service.get_resident(session, actor=actor, resident_id=resident_id)


@router.patch("/residents/{resident_id}", response_model=ResidentRead)
def update_resident(
    session: SessionDep, actor: Reader, resident_id: Id, changes: ResidentUpdate
) -> ResidentRead:
    """Correct a resident's fields (only those sent); recorded in their history."""
    return service.update_resident(session, actor=actor, resident_id=resident_id, changes=changes)


@router.get("/residents/{resident_id}/history", response_model=list[ChangeRead])
def resident_history(session: SessionDep, actor: Reader, resident_id: Id) -> list[ChangeRead]:
    """Every recorded change of a resident in my scope (变更记录), oldest first, masked."""
    return service.resident_history(session, actor=actor, resident_id=resident_id)


@router.post("/residents/{resident_id}/unmask", response_model=ResidentPii)
def unmask_resident(
    session: SessionDep,
    actor: Annotated[Actor, allow(UNMASK)],
    resident_id: Id,
    body: UnmaskRequest,
) -> ResidentPii:
    """The clear ID number and phone of one resident, for a stated reason (logged)."""
    return service.unmask_resident(
        session, actor=actor, resident_id=resident_id, reason=body.reason
    )


@router.get("/residents/{resident_id}/residences", response_model=list[ResidenceRead])
def residence_history(session: SessionDep, actor: Reader, resident_id: Id) -> list[ResidenceRead]:
    """Every stay of a resident in a house, oldest first."""
    return service.residence_history(session, actor=actor, resident_id=resident_id)


@router.get("/houses/{code}/residences", response_model=list[HouseStay])
def house_history(session: SessionDep, actor: Reader, code: str) -> list[HouseStay]:
    """Who lived in a house and when (the 楼盘表 room's history), current stays first."""
    return occupancy.house_history(session, actor=actor, house_code=code)


@router.post(
    "/residents/{resident_id}/move-in",
    response_model=ResidenceRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ResidenceRead, **_SEEN}},
)
def move_in(
    session: SessionDep,
    actor: Reader,
    resident_id: Id,
    move: MoveIn,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ResidenceRead:
    """Move a resident into a house (搬入), ending their current residence that day. Sent
    again with the same Idempotency-Key: 200 and the stay the first request began."""
    written = service.move_in_once(
        session,
        actor=actor,
        resident_id=resident_id,
        house_code=move.house_code,
        on=move.on,
        reason=move.reason,
        idempotency_key=idempotency_key or None,
    )
    _answer(response, written.created)
    return written.read


@router.post("/residents/{resident_id}/move-out", response_model=ResidentRead)
def move_out(
    session: SessionDep,
    actor: Reader,
    resident_id: Id,
    move: MoveOut,
    idempotency_key: IdempotencyKey = None,
) -> ResidentRead:
    """End a resident's current residence (搬离); the record stays, inactive. Sent again with
    the same Idempotency-Key, it changes nothing a second time."""
    service.move_out(
        session,
        actor=actor,
        resident_id=resident_id,
        on=move.on,
        reason=move.reason,
        idempotency_key=idempotency_key or None,
    )
    return service.get_resident(session, actor=actor, resident_id=resident_id)


@router.get("/households/{household_id}", response_model=HouseholdRead)
def get_household(session: SessionDep, actor: Reader, household_id: Id) -> HouseholdRead:
    """A household (户) and its members, masked."""
    return service.get_household(session, actor=actor, household_id=household_id)


# --- special groups and visits -------------------------------------------------------------


@router.get("/special-groups", response_model=SpecialGroupPage)
def list_special_groups(
    session: SessionDep,
    actor: Reader,
    grid: GridQuery = None,
    group_type: Annotated[
        SpecialGroupType | None, Query(alias="type", description="group type")
    ] = None,
    include_ended: bool = False,
    page: PageQuery = 1,
    page_size: LedgerPageSize = 50,
) -> SpecialGroupPage:
    """Special-group memberships in my scope (masked), by grid and type."""
    return groups.list_members(
        session,
        actor=actor,
        group_type=group_type,
        grid_code=grid,
        include_ended=include_ended,
        page=page,
        page_size=page_size,
    )


@router.post(
    "/special-groups", response_model=SpecialGroupRead, status_code=status.HTTP_201_CREATED
)
def enrol(session: SessionDep, actor: Reader, enrolment: Enrolment) -> SpecialGroupRead:
    """Enrol a resident in a special group; the first visit falls due one interval later."""
    return groups.enrol(
        session,
        actor=actor,
        resident_id=enrolment.resident_id,
        group_type=enrolment.group_type,
        details=dict(enrolment.details),
        started_on=enrolment.started_on,
        danger_level=enrolment.danger_level,
        responsible_staff_id=enrolment.responsible_staff_id,
    )


@router.get("/special-groups/{special_group_id}", response_model=SpecialGroupRead)
def get_special_group(session: SessionDep, actor: Reader, special_group_id: Id) -> SpecialGroupRead:
    """One membership, masked."""
    return groups.get_membership(session, actor=actor, special_group_id=special_group_id)


@router.get("/special-groups/{special_group_id}/visits", response_model=list[VisitRead])
def list_visits(session: SessionDep, actor: Reader, special_group_id: Id) -> list[VisitRead]:
    """The visits of a membership, newest first."""
    return groups.list_visits(session, actor=actor, special_group_id=special_group_id)


@router.post(
    "/special-groups/{special_group_id}/visits",
    response_model=VisitRead,
    status_code=status.HTTP_201_CREATED,
)
def record_visit(
    session: SessionDep, actor: Reader, special_group_id: Id, visit: VisitInput
) -> VisitRead:
    """Record a visit (走访) and move the next due date on."""
    return groups.record_visit(
        session,
        actor=actor,
        special_group_id=special_group_id,
        visited_on=visit.visited_on,
        note=visit.note,
        lon=visit.lon,
        lat=visit.lat,
        crs=visit.crs.value,
    )


@router.get("/visits/due", response_model=DueVisitPage)
def due_visits(
    session: SessionDep,
    actor: Reader,
    grid: GridQuery = None,
    within_days: Annotated[int, Query(ge=0, le=366, description="due within this many days")] = 7,
    page: PageQuery = 1,
    page_size: LedgerPageSize = 50,
) -> DueVisitPage:
    """Special-group members in my grids whose visit is overdue or due soon, most urgent first."""
    return groups.list_due(
        session,
        actor=actor,
        grid_code=grid,
        within_days=within_days,
        page=page,
        page_size=page_size,
    )
