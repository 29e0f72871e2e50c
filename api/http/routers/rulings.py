"""Return review and dispute rulings over HTTP (退回审核, 争议裁定): the command centre's queue of
returned cases, its rulings, and one click that turns a ruling into a dispatch rule. The
review actions themselves (accept-return, reject-return, rule) are event actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.http.auth import allow
from api.http.bodies import SubmissionDep, body_doc, text_body
from api.http.deps import SessionDep
from events import rulings
from events.schemas import ReturnedCase, RuleFromRuling, RulingRead, RulingRule
from events.workflow import SYSTEM
from people.access import Actor

router = APIRouter(tags=["review 退回审核/争议裁定"])

# The command centre reviews returns and rules disputes (admins too).
Reviewer = Annotated[Actor, allow(SYSTEM)]
RulingId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/api/returns", response_model=list[ReturnedCase])
def review_queue(session: SessionDep, actor: Reviewer) -> list[ReturnedCase]:
    """Returned cases of my area waiting for review (退回审核), with every unit's return and its
    reason; disputes (two units returned the case, 争议) flagged."""
    return rulings.review_queue(session, actor=actor)


@router.get("/api/rulings", response_model=list[RulingRead])
def list_rulings(session: SessionDep, actor: Reviewer) -> list[RulingRead]:
    """Rulings (裁定) on disputes in my area, newest first."""
    return rulings.list_rulings(session, actor=actor)


@router.post(
    "/api/rulings/{ruling_id}/dispatch-rule",
    response_model=RulingRule,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=body_doc(RuleFromRuling, required=False),
)
def dispatch_rule_from_ruling(
    session: SessionDep, actor: Reviewer, ruling_id: RulingId, submission: SubmissionDep
) -> RulingRule:
    """Make the ruling a dispatch rule, tried before every other: the case's category in its
    community (area=community, default), street or district goes to the unit ruled to lead.
    A second call says the rule exists (409)."""
    data = text_body(
        RuleFromRuling,
        submission,
        what="a dispatch rule",
        send="area (community, street or district)",
    )
    return rulings.make_dispatch_rule(session, actor=actor, ruling_id=ruling_id, data=data)
