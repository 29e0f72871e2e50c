"""Rentals (出租屋) and floating residents' deadlines (流动人口) over HTTP.

Rentals are read by those who work with residents, in their grids or area; grid workers (and
admins) register and change them. Bodies are JSON or form fields; a POST sent again with the
same Idempotency-Key answers 200 with the rental the first one registered (201). Each rental
carries its risk grade (风险等级) with the rules that raised it, counting the fire-safety and
recent events at its building.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy.orm import Session

from api.http.auth import allow
from api.http.bodies import IdempotencyKey, SubmissionDep, body_doc, text_body
from api.http.deps import SessionDep
from api.schemas import MAX_ID
from events.building_findings import rental_findings
from people import floating, rentals
from people.access import READ_PERSONS, Actor
from people.models import RentalStatus
from people.rentals import RENTAL_WRITERS, FindingsOf
from people.schemas import FloatingPage, RentalCreate, RentalPage, RentalRead, RentalUpdate
from people.service import MAX_PAGE_SIZE

router = APIRouter(prefix="/api", tags=["rentals 出租屋与流动人口"])

Reader = Annotated[Actor, allow(READ_PERSONS)]
Writer = Annotated[Actor, allow(RENTAL_WRITERS)]
RentalId = Annotated[int, Path(ge=1, le=MAX_ID)]
Grid = Annotated[str | None, Query(max_length=15, description="15-digit grid code")]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
_SEEN = {"description": "the Idempotency-Key was seen before: the rental it registered then"}


def _findings(session: Session) -> FindingsOf:
    """The events counted at the rentals' buildings over the settings' lookback."""
    return rental_findings(session)


@router.get("/rentals", response_model=RentalPage)
def list_rentals(
    session: SessionDep,
    actor: Reader,
    grid: Grid = None,
    house: Annotated[
        str | None,
        Query(max_length=60, description="a house code (building-unit-room): its rental history"),
    ] = None,
    rental_status: Annotated[
        RentalStatus | None,
        Query(
            alias="status",
            description="active 在租 or closed 已退租; default active, or every lease of a house",
        ),
    ] = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> RentalPage:
    """Rentals of my grids (my area for the command centre and inspectors), newest lease first,
    each with its tenants (masked) and risk grade; `house=` gives one house's rental history
    (租赁历史), ended leases included."""
    if rental_status is None and not house:
        rental_status = RentalStatus.ACTIVE
    return rentals.list_rentals(
        session,
        actor=actor,
        grid_code=grid,
        house_code=house,
        status=rental_status,
        page=page,
        page_size=page_size,
        findings_of=_findings(session),
    )


@router.post(
    "/rentals",
    response_model=RentalRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RentalRead, **_SEEN}},
    openapi_extra=body_doc(RentalCreate, required=True),
)
def register_rental(
    session: SessionDep,
    actor: Writer,
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RentalRead:
    """Register a rental (出租屋登记) in a house of my grids: landlord (a resident or an
    organisation), lease, 治安责任书 date, use, rooms let. The people living there become its
    tenants. JSON or form."""
    data = text_body(
        RentalCreate, submission, what="a rental", send="house_code, landlord and lease_start"
    )
    written = rentals.register_rental(
        session,
        actor=actor,
        data=data,
        idempotency_key=idempotency_key or None,
        findings_of=_findings(session),
    )
    if not written.created:
        response.status_code = status.HTTP_200_OK
    return written.read


@router.get("/rentals/{rental_id}", response_model=RentalRead)
def get_rental(session: SessionDep, actor: Reader, rental_id: RentalId) -> RentalRead:
    """One rental of my scope with its tenants and its risk grade and reasons."""
    return rentals.get_rental(
        session, actor=actor, rental_id=rental_id, findings_of=_findings(session)
    )


@router.patch(
    "/rentals/{rental_id}",
    response_model=RentalRead,
    openapi_extra=body_doc(RentalUpdate, required=True),
)
def change_rental(
    session: SessionDep, actor: Writer, rental_id: RentalId, submission: SubmissionDep
) -> RentalRead:
    """Change a rental of my grids (only the fields sent); `status: closed` (退租) moves every
    tenant out on `closed_on` (default today). JSON or form."""
    changes = text_body(RentalUpdate, submission, what="a rental", send="the fields to change")
    return rentals.change_rental(
        session,
        actor=actor,
        rental_id=rental_id,
        changes=changes,
        findings_of=_findings(session),
    )


@router.get("/floating/overdue", response_model=FloatingPage)
def overdue_registrations(
    session: SessionDep, actor: Reader, grid: Grid = None, page: Page = 1, page_size: PageSize = 50
) -> FloatingPage:
    """Floating residents of my scope past their 居住登记 deadline (arrival + 30 days) and not
    registered, longest overdue first (masked)."""
    return floating.list_overdue_registrations(
        session, actor=actor, grid_code=grid, page=page, page_size=page_size
    )


@router.get("/floating/expiring", response_model=FloatingPage)
def expiring_permits(
    session: SessionDep, actor: Reader, grid: Grid = None, page: Page = 1, page_size: PageSize = 50
) -> FloatingPage:
    """Floating residents of my scope whose 居住证 expires within 30 days (or has), soonest
    first (masked)."""
    return floating.list_expiring_permits(
        session, actor=actor, grid_code=grid, page=page, page_size=page_size
    )
