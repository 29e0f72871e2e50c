"""Supervision orders (督办单) over HTTP: list, read, issue, reply, lift; sanctions; KPIs.

Thin: the rules (who may reply, what may be lifted, whose orders one sees) are in
`events.supervision` and `events.sanctions`; every refusal comes back as a sentence.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status

from api.http.auth import allow
from api.http.bodies import SubmissionDep, body_doc, text_body
from api.http.deps import ReadSessionDep, SessionDep
from events import sanctions as sanction_service
from events import supervision
from events.kpis import period_bounds, supervision_kpis
from events.schemas import (
    SanctionInput,
    SanctionRead,
    SupervisionFilter,
    SupervisionIssue,
    SupervisionKpiRow,
    SupervisionLift,
    SupervisionOrderRead,
    SupervisionReply,
)
from events.workflow import SYSTEM
from people.access import Actor

router = APIRouter(prefix="/api/supervision", tags=["supervision 督办"])

# Units read their own orders, the command centre and leaders those of their area.
Reader = Annotated[Actor, allow(supervision.READERS)]
Command = Annotated[Actor, allow(SYSTEM)]
OrderId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the order's number")]


@router.get("", response_model=list[SupervisionOrderRead])
def list_orders(
    session: SessionDep, actor: Reader, filters: Annotated[SupervisionFilter, Query()]
) -> list[SupervisionOrderRead]:
    """The orders I may see (my unit's, or my area's), open ones first by reply deadline."""
    return supervision.list_orders(session, actor=actor, filters=filters)


@router.post(
    "",
    response_model=SupervisionOrderRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=body_doc(SupervisionIssue, required=True),
)
def issue_order(
    session: SessionDep, actor: Command, submission: SubmissionDep
) -> SupervisionOrderRead:
    """Issue a supervision order (督办单): 一般督办, 重点督办 or 挂牌督办. JSON or form."""
    entry = text_body(SupervisionIssue, submission, what="supervision", send="the text fields only")
    return supervision.issue_by_hand(session, actor=actor, entry=entry)


@router.get("/sanctions", response_model=list[SanctionRead])
def list_sanctions(
    session: SessionDep,
    actor: Reader,
    unit_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[SanctionRead]:
    """约谈 and 通报 recorded against units I may see, newest first."""
    return sanction_service.sanctions(session, actor=actor, unit_id=unit_id)


@router.post(
    "/sanctions",
    response_model=SanctionRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=body_doc(SanctionInput, required=True),
)
def record_sanction(session: SessionDep, actor: Command, submission: SubmissionDep) -> SanctionRead:
    """Record 约谈 (interview) or 通报 (public notice) against a unit. JSON or form."""
    entry = text_body(SanctionInput, submission, what="supervision", send="the text fields only")
    return sanction_service.record_sanction(session, actor=actor, entry=entry)


@router.get("/kpis", response_model=list[SupervisionKpiRow])
def kpis(
    session: ReadSessionDep,
    actor: Reader,
    by: Literal["unit", "department"] = "unit",
    period: Annotated[
        str | None,
        Query(description="2026, 2026-Q4, 2026-11 or 2026-11-23 (China time); default this month"),
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="first day")] = None,
    to: Annotated[date | None, Query(description="last day (included)")] = None,
) -> list[SupervisionKpiRow]:
    """督办回复率 and 督办按时率 of the orders issued in a period, by unit or department."""
    start, end = period_bounds(period, start=from_, end=to)
    return supervision_kpis(session, actor=actor, start=start, end=end, by=by)


@router.get("/{order_id}", response_model=SupervisionOrderRead)
def get_order(session: SessionDep, actor: Reader, order_id: OrderId) -> SupervisionOrderRead:
    """One order, if it is my unit's or in my area."""
    return supervision.get_order(session, actor=actor, order_id=order_id)


@router.post(
    "/{order_id}/reply",
    response_model=SupervisionOrderRead,
    openapi_extra=body_doc(SupervisionReply, required=True),
)
def reply(
    session: SessionDep,
    actor: Annotated[Actor, allow(supervision.REPLIERS)],
    order_id: OrderId,
    submission: SubmissionDep,
) -> SupervisionOrderRead:
    """The unit's reply (督办回复); after the deadline it is recorded late. JSON or form."""
    entry = text_body(SupervisionReply, submission, what="supervision", send="the text fields only")
    return supervision.reply(session, actor=actor, order_id=order_id, text=entry.reply)


@router.post(
    "/{order_id}/lift",
    response_model=SupervisionOrderRead,
    openapi_extra=body_doc(SupervisionLift, required=True),
)
def lift(
    session: SessionDep, actor: Command, order_id: OrderId, submission: SubmissionDep
) -> SupervisionOrderRead:
    """Lift a listed order (摘牌) with the reason; it leaves the leader's map. JSON or form."""
    entry = text_body(SupervisionLift, submission, what="supervision", send="the text fields only")
    return supervision.lift(session, actor=actor, order_id=order_id, reason=entry.reason)
