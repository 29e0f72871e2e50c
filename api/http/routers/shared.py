"""Data sharing (共享交换) over HTTP: the catalogue, admins' grants to departments, and
departments' reads of what they were granted (people.sharing holds the rules)."""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

import events.shared_events  # noqa: F401  (offers events by category in the catalogue)
from api.http.auth import allow
from api.http.deps import SessionDep
from api.schemas import MAX_ID
from events.directory import get_unit
from people import crosscheck as crosscheck_service
from people import share_feed, sharing
from people.access import Actor
from people.crosscheck import CrosscheckRead, CrosscheckSummary, run_crosscheck
from people.service import MAX_PAGE_SIZE
from people.share_feed import ChangePage, SubscriptionCreate, SubscriptionRead
from people.sharing import (
    ADMINS,
    DEPARTMENT_STAFF,
    AccessRead,
    DatasetRead,
    GrantCreate,
    GrantRead,
    SharedPage,
)

router = APIRouter(prefix="/api/shared", tags=["sharing 共享交换"])

Admin = Annotated[Actor, allow(ADMINS)]
DepartmentStaff = Annotated[Actor, allow(DEPARTMENT_STAFF)]
DatasetKey = Annotated[
    str, Path(max_length=30, pattern=r"^[a-z_]+$", description="a dataset of the catalogue")
]


def department_of(session: Session, actor: Actor) -> int | None:
    """The department of the actor's unit (None for an account without one)."""
    if actor.department_unit_id is None:
        return None
    return get_unit(session, unit_id=actor.department_unit_id, with_geometry=False).department_id


@router.get("/catalogue", response_model=list[DatasetRead])
def catalogue(actor: Annotated[Actor, allow(ADMINS | DEPARTMENT_STAFF)]) -> list[DatasetRead]:
    """The datasets that can be shared (共享目录) and their fields."""
    return sharing.catalogue()


@router.post("/grants", response_model=GrantRead, status_code=201)
def grant(session: SessionDep, actor: Admin, data: GrantCreate) -> GrantRead:
    """Grant a department a dataset: fields (each masked or clear), area, purpose. JSON."""
    return sharing.grant(session, actor=actor, data=data)


@router.get("/grants", response_model=list[GrantRead])
def list_grants(
    session: SessionDep,
    actor: Admin,
    department_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    dataset: Annotated[str | None, Query(max_length=30)] = None,
    live: Annotated[bool, Query(description="live grants only")] = False,
) -> list[GrantRead]:
    """Every grant and revocation recorded, newest first."""
    return sharing.list_grants(
        session, actor=actor, department_id=department_id, dataset=dataset, live_only=live
    )


@router.get("/access-log", response_model=list[AccessRead])
def access_log(
    session: SessionDep, actor: Admin, limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50
) -> list[AccessRead]:
    """The latest reads of shared data (共享访问记录): who, which grant, which fields clear."""
    return sharing.recent_reads(session, actor=actor, limit=limit)


@router.post("/grants/{grant_id}/revoke", response_model=GrantRead)
def revoke(
    session: SessionDep, actor: Admin, grant_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> GrantRead:
    """Revoke a grant; the department reads nothing more under it."""
    return sharing.revoke(session, actor=actor, grant_id=grant_id)


@router.post("/grants/{grant_id}/subscriptions", response_model=SubscriptionRead, status_code=201)
def subscribe(
    session: SessionDep,
    actor: Admin,
    grant_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    data: SubscriptionCreate,
) -> SubscriptionRead:
    """Push a grant's changes to a webhook, signed; the secret is shown once, here."""
    return share_feed.subscribe(session, actor=actor, grant_id=grant_id, data=data)


@router.get("/subscriptions", response_model=list[SubscriptionRead])
def list_subscriptions(session: SessionDep, actor: Admin) -> list[SubscriptionRead]:
    """Every webhook subscription and how far its delivery got."""
    return share_feed.list_subscriptions(session, actor=actor)


class ReplayFrom(BaseModel):
    """Where to deliver again from: the changes numbered after `after`."""

    after: int = Field(ge=0, le=2**62)


@router.post("/subscriptions/{subscription_id}/replay", response_model=SubscriptionRead)
def replay(
    session: SessionDep,
    actor: Admin,
    subscription_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    data: ReplayFrom,
) -> SubscriptionRead:
    """Deliver a subscription's changes again from a change number."""
    return share_feed.replay(
        session, actor=actor, subscription_id=subscription_id, after=data.after
    )


@router.get("/crosschecks", response_model=list[CrosscheckSummary])
def list_crosschecks(
    session: SessionDep,
    actor: Annotated[Actor, allow(ADMINS | DEPARTMENT_STAFF)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CrosscheckSummary]:
    """My department's cross-checks (every department's for an admin), newest first."""
    return crosscheck_service.list_crosschecks(
        session, actor=actor, department_id=department_of(session, actor), limit=limit
    )


@router.get("/{dataset}", response_model=SharedPage)
def read_shared(
    session: SessionDep,
    actor: DepartmentStaff,
    dataset: DatasetKey,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> SharedPage:
    """A page of a dataset my department was granted: rows in the grant's area, granted
    fields only, masked unless granted clear. Every read is logged."""
    return sharing.read_shared(
        session,
        actor=actor,
        department_id=department_of(session, actor),
        dataset=dataset,
        page=page,
        page_size=page_size,
    )


@router.get("/{dataset}/changes", response_model=ChangePage)
def read_changes(
    session: SessionDep,
    actor: DepartmentStaff,
    dataset: DatasetKey,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="the last change number received; 0 = all")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> ChangePage:
    """Changes to a dataset my department was granted, numbered after `after`, each with the
    record as granted now (or `removed`); replayable from any number. Logged like reads."""
    return share_feed.read_changes(
        session,
        actor=actor,
        department_id=department_of(session, actor),
        dataset=dataset,
        after=after,
        limit=limit,
    )


async def list_body(request: Request) -> bytes:
    """The uploaded list: the raw request body (the body limit applies while it streams)."""
    return await request.body()


@router.post(
    "/crosschecks",
    response_model=CrosscheckRead,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
def crosscheck(
    session: SessionDep,
    actor: DepartmentStaff,
    content: Annotated[bytes, Depends(list_body)],
    area: Annotated[str, Query(max_length=15, description="admin or grid code of the area")],
    filename: Annotated[
        str, Query(max_length=200, pattern=r"(?i)^[^/\\]+\.(csv|xlsx)$", description="list.csv")
    ] = "list.csv",
) -> CrosscheckRead:
    """Compare my department's list (CSV or xlsx: 身份证号, 姓名, 地址) with the ledger of an
    area of my district: the differences become 比对核查 tasks for the grid workers."""
    unit = (
        get_unit(session, unit_id=actor.department_unit_id, with_geometry=False)
        if actor.department_unit_id is not None
        else None
    )
    with tempfile.TemporaryDirectory(prefix="crosscheck-") as folder:
        path = FilePath(folder) / filename
        path.write_bytes(content)
        return run_crosscheck(
            session,
            actor=actor,
            department_id=unit.department_id if unit else None,
            department_district=unit.district_code if unit else None,
            area_code=area,
            path=path,
            filename=filename,
        )
