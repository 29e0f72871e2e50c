"""Callbacks (回访) over HTTP: the operator's queue, recording an attempt, the review list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.http.auth import allow
from api.http.bodies import SubmissionDep, body_doc, text_body
from api.http.deps import SessionDep
from api.http.routers.events import CodePath
from events import callbacks
from events.schemas import CallbackInput, CallbackRead, ReviewInput
from events.workflow import SYSTEM
from people.access import Actor

router = APIRouter(tags=["callbacks 回访"])

# The command centre's operators answer and call back callers (admins too).
Operator = Annotated[Actor, allow(SYSTEM)]


@router.get("/api/callbacks", response_model=list[CallbackRead])
def callback_queue(
    session: SessionDep,
    actor: Operator,
    due: Annotated[
        str,
        Query(
            max_length=10,
            description="all (every open callback), today (due by tonight, overdue included), "
            "overdue, or a day 2026-11-26 (due by its end)",
        ),
    ] = "all",
) -> list[CallbackRead]:
    """The open callbacks (待回访) of my area, soonest due first; callers' phones masked."""
    return callbacks.callback_queue(session, actor=actor, due=due)


@router.get("/api/callbacks/reviews", response_model=list[CallbackRead])
def review_list(session: SessionDep, actor: Operator) -> list[CallbackRead]:
    """Cases whose caller was twice not satisfied, waiting for the command centre's review."""
    return callbacks.review_list(session, actor=actor)


@router.post(
    "/api/callbacks/{callback_id}/review",
    response_model=CallbackRead,
    openapi_extra=body_doc(ReviewInput, required=True),
)
def review_callback(
    session: SessionDep,
    actor: Operator,
    callback_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    submission: SubmissionDep,
) -> CallbackRead:
    """Record the review (复核) of a case twice not satisfied; it leaves the review list."""
    entry = text_body(ReviewInput, submission, what="a callback", send="the outcome and a note")
    return callbacks.review_callback(session, actor=actor, callback_id=callback_id, note=entry.note)


@router.post(
    "/api/events/{code}/callbacks",
    response_model=CallbackRead,
    openapi_extra=body_doc(CallbackInput, required=True),
)
def record_callback(
    session: SessionDep, actor: Operator, code: CodePath, submission: SubmissionDep
) -> CallbackRead:
    """Record a callback attempt: 满意, 基本满意, 不满意 (reopens the case, 重办; a second goes
    to review, 复核) or 未接通 (the third ends the callback). JSON or form."""
    entry = text_body(CallbackInput, submission, what="a callback", send="the outcome and a note")
    return callbacks.record_callback(session, actor=actor, code=code, entry=entry)
