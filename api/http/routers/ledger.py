"""The house and organisation ledgers (实有房屋, 实有单位) over HTTP: adding and changing houses,
registering, reading and changing organisations, and the history of every write.

Reading houses stays with the spatial frame (GET /api/houses in routers/grids.py). Bodies are
JSON or form fields (the worker page's forms); a POST sent again with the same Idempotency-Key
answers 200 with the record the first one made (201), never a second record.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from api.http.auth import allow
from api.http.bodies import IdempotencyKey, SubmissionDep, body_doc, text_body
from api.http.deps import SessionDep
from api.http.geojson import feature
from api.http.paging import LedgerPageSize, PageQuery
from api.schemas import MAX_ID, UnmaskRequest
from grid.schemas import HouseCreate, HouseUpdate
from people import houses
from people import organisations as orgs
from people.access import READ_PERSONS, UNMASK, Actor
from people.houses import HOUSE_WRITERS
from people.models import OrganisationType
from people.schemas import (
    ChangeRead,
    OrganisationCreate,
    OrganisationPage,
    OrganisationPii,
    OrganisationRead,
    OrganisationUpdate,
)

router = APIRouter(prefix="/api", tags=["ledger 实有房屋与单位"])

Reader = Annotated[Actor, allow(READ_PERSONS)]
HouseWriter = Annotated[Actor, allow(HOUSE_WRITERS)]
OrganisationId = Annotated[int, Path(ge=1, le=MAX_ID)]
HouseCode = Annotated[
    str,
    Path(max_length=80, description="building code-unit-room, e.g. 420502001001001B0001-1-0301"),
]
_SEEN = {"description": "the Idempotency-Key was seen before: the record it made then"}


def _answer(response: Response, created: bool) -> None:
    if not created:
        response.status_code = status.HTTP_200_OK


# --- houses ----------------------------------------------------------------------------------


@router.post(
    "/houses",
    status_code=status.HTTP_201_CREATED,
    responses={200: _SEEN},
    openapi_extra=body_doc(HouseCreate, required=True),
)
def add_house(
    session: SessionDep,
    actor: HouseWriter,
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Add a house (新增房屋) to a building of my grids: unit, floor, room, use, area.
    JSON or form; answered as a GeoJSON Feature like GET /api/houses/{code}."""
    data = text_body(HouseCreate, submission, what="a house", send="its unit, floor and room")
    written = houses.add_house(
        session, actor=actor, data=data, idempotency_key=idempotency_key or None
    )
    _answer(response, written.created)
    return feature(written.read)


@router.patch("/houses/{code}", openapi_extra=body_doc(HouseUpdate, required=True))
def change_house(
    session: SessionDep, actor: HouseWriter, code: HouseCode, submission: SubmissionDep
) -> dict[str, Any]:
    """Change a house of my grids (修改房屋): only the fields sent. JSON or form."""
    changes = text_body(HouseUpdate, submission, what="a house", send="the fields to change")
    return feature(houses.change_house(session, actor=actor, code=code, changes=changes))


@router.get("/houses/{code}/history", response_model=list[ChangeRead])
def house_history(session: SessionDep, actor: Reader, code: HouseCode) -> list[ChangeRead]:
    """Every recorded change of a house in my scope (变更记录), oldest first."""
    return houses.house_history(session, actor=actor, code=code)


# --- organisations ---------------------------------------------------------------------------


@router.get("/organisations", response_model=OrganisationPage)
def list_organisations(
    session: SessionDep,
    actor: Reader,
    grid: Annotated[str | None, Query(max_length=15, description="15-digit grid code")] = None,
    area: Annotated[
        str | None, Query(max_length=12, description="admin code (district/street/community)")
    ] = None,
    org_type: Annotated[
        OrganisationType | None, Query(alias="type", description="organisation type")
    ] = None,
    fire_key_unit: Annotated[bool | None, Query(description="消防重点单位 only")] = None,
    security_key_unit: Annotated[bool | None, Query(description="治安重点单位 only")] = None,
    q: Annotated[str | None, Query(max_length=50, description="part of the name")] = None,
    page: PageQuery = 1,
    page_size: LedgerPageSize = 50,
) -> OrganisationPage:
    """Organisations (实有单位) in my scope, phones masked, by grid, area, type and key unit."""
    return orgs.list_organisations(
        session,
        actor=actor,
        grid_code=grid,
        area_code=area,
        org_type=org_type,
        fire_key_unit=fire_key_unit,
        security_key_unit=security_key_unit,
        name=q,
        page=page,
        page_size=page_size,
    )


@router.post(
    "/organisations",
    response_model=OrganisationRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": OrganisationRead, **_SEEN}},
    openapi_extra=body_doc(OrganisationCreate, required=True),
)
def register_organisation(
    session: SessionDep,
    actor: Reader,
    submission: SubmissionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrganisationRead:
    """Register an organisation (登记实有单位) in my grids: GB 32100 credit code checked, placed
    by building_code (or lon/lat), key-unit flags. JSON or form."""
    data = text_body(
        OrganisationCreate, submission, what="an organisation", send="its fields as JSON or a form"
    )
    written = orgs.register_organisation(
        session, actor=actor, data=data, idempotency_key=idempotency_key or None
    )
    _answer(response, written.created)
    return written.read


@router.get("/organisations/{organisation_id}", response_model=OrganisationRead)
def get_organisation(
    session: SessionDep, actor: Reader, organisation_id: OrganisationId
) -> OrganisationRead:
    """One organisation in my scope, the responsible person's phone masked."""
    return orgs.get_organisation(session, actor=actor, organisation_id=organisation_id)


@router.patch(
    "/organisations/{organisation_id}",
    response_model=OrganisationRead,
    openapi_extra=body_doc(OrganisationUpdate, required=True),
)
def update_organisation(
    session: SessionDep,
    actor: Reader,
    organisation_id: OrganisationId,
    submission: SubmissionDep,
) -> OrganisationRead:
    """Change an organisation in my scope (only the fields sent); recorded in its history."""
    changes = text_body(
        OrganisationUpdate, submission, what="an organisation", send="the fields to change"
    )
    return orgs.update_organisation(
        session, actor=actor, organisation_id=organisation_id, changes=changes
    )


@router.post("/organisations/{organisation_id}/unmask", response_model=OrganisationPii)
def unmask_organisation(
    session: SessionDep,
    actor: Annotated[Actor, allow(UNMASK)],
    organisation_id: OrganisationId,
    body: UnmaskRequest,
) -> OrganisationPii:
    """The responsible person's clear phone, for a stated reason (logged)."""
    phone = orgs.unmask_organisation_phone(
        session, actor=actor, organisation_id=organisation_id, reason=body.reason
    )
    return OrganisationPii(organisation_id=organisation_id, responsible_phone=phone)


@router.get("/organisations/{organisation_id}/history", response_model=list[ChangeRead])
def organisation_history(
    session: SessionDep, actor: Reader, organisation_id: OrganisationId
) -> list[ChangeRead]:
    """Every recorded change of an organisation in my scope (变更记录), oldest first."""
    return orgs.organisation_history(session, actor=actor, organisation_id=organisation_id)
