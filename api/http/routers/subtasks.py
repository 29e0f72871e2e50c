"""Joint cases (主办/协办) over HTTP: a case's sub-tasks, adding an assisting unit, the steps on a
sub-task (sign, report, waive, cancel), a unit's sub-task queue and the sub-task KPIs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.http.auth import allow
from api.http.bodies import SubmissionDep, body_doc, photos_of, text_body, validated
from api.http.deps import ReadSessionDep, SessionDep
from api.http.routers.events import EVENT_READERS, CodePath
from events import joint
from events.kpis import READ_KPIS, SubtaskGrouping, period_bounds, subtask_kpis
from events.schemas import SubtaskAdd, SubtaskInput, SubtaskKpiRow, SubtaskRead
from events.subtasks import SUBTASK_ACTIONS
from events.workflow import SYSTEM
from people.access import Actor

router = APIRouter(tags=["subtasks 协办"])

SubtaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the sub-task's id")]
# What each step reads from the body.
STEP_FIELDS = {
    "sign": "nothing; note optional",
    "report": "note (what your unit did, required), photos (multipart) optional",
    "waive": "reason (why the unit's part is no longer needed, required)",
    "cancel": "reason (why the unit is removed from the case, required)",
}
assert set(STEP_FIELDS) == set(SUBTASK_ACTIONS), "every sub-task step is documented"


@router.get("/api/events/{code}/subtasks", response_model=list[SubtaskRead])
def event_subtasks(
    session: SessionDep, actor: Annotated[Actor, allow(EVENT_READERS)], code: CodePath
) -> list[SubtaskRead]:
    """The case's sub-tasks (协办任务): each assisting unit's state, deadlines, light, report."""
    return joint.event_subtasks(session, actor=actor, code=code)


@router.post(
    "/api/events/{code}/subtasks",
    response_model=SubtaskRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=body_doc(SubtaskAdd, required=True),
)
def add_subtask(
    session: SessionDep,
    actor: Annotated[Actor, allow(SYSTEM)],
    code: CodePath,
    submission: SubmissionDep,
) -> SubtaskRead:
    """Add an assisting unit (增加协办单位) to a dispatched case: unit_id, note. JSON or form."""
    entry = text_body(
        SubtaskAdd, submission, what="adding an assisting unit", send="unit_id and a note"
    )
    return joint.add_subtask(
        session, actor=actor, code=code, unit_id=entry.unit_id, note=entry.note
    )


def _step_route(action: str) -> Callable[..., SubtaskRead]:
    rule = SUBTASK_ACTIONS[action]

    def run(
        session: SessionDep,
        actor: Actor,
        code: CodePath,
        subtask_id: SubtaskId,
        submission: SubmissionDep,
    ) -> SubtaskRead:
        entry = validated(SubtaskInput, submission.fields)
        return joint.act_on_subtask(
            session,
            actor=actor,
            code=code,
            subtask_id=subtask_id,
            action=action,
            note=entry.note,
            reason=entry.reason,
            photos=photos_of(submission),
        )

    run.__annotations__["actor"] = Annotated[Actor, allow(rule.roles)]
    run.__name__ = f"subtask_{action}"
    roles = ", ".join(sorted(r.value for r in rule.roles))
    run.__doc__ = f"{rule.label} {action}: reads {STEP_FIELDS[action]}. For: {roles}."
    return run


for _action, _rule in SUBTASK_ACTIONS.items():
    router.add_api_route(
        f"/api/events/{{code}}/subtasks/{{subtask_id}}/{_action}",
        _step_route(_action),
        methods=["POST"],
        response_model=SubtaskRead,
        summary=f"{_rule.label} {_action}",
        openapi_extra=body_doc(SubtaskInput, required=False),
    )


@router.get("/api/subtasks", response_model=list[SubtaskRead])
def subtask_queue(
    session: SessionDep,
    actor: Annotated[Actor, allow(joint.QUEUE_READERS)],
    status_: Annotated[
        str,
        Query(
            alias="status",
            max_length=12,
            description="open (待签收 and 处置中, the default), all, dispatched, signed, done, "
            "waived or cancelled",
        ),
    ] = "open",
) -> list[SubtaskRead]:
    """My unit's sub-tasks (a dispatcher), or those of the cases in my area (the command
    centre), the running deadline first, with their lights."""
    return joint.subtask_queue(session, actor=actor, status=status_)


@router.get("/api/stats/subtasks", response_model=list[SubtaskKpiRow])
def subtask_indicators(
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(READ_KPIS)],
    by: SubtaskGrouping = "unit",
    period: Annotated[
        str | None,
        Query(description="2026, 2026-Q4, 2026-11 or 2026-11-23 (China time); default this month"),
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="first day")] = None,
    to: Annotated[date | None, Query(description="last day (included)")] = None,
) -> list[SubtaskKpiRow]:
    """Sub-task counts and 协办按时率 per assisting unit or its department, for the cases
    reported in a period, in my scope (a dispatcher: my unit's sub-tasks)."""
    start, end = period_bounds(period, start=from_, end=to)
    return subtask_kpis(session, actor=actor, start=start, end=end, by=by)
