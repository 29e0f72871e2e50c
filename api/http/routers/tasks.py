"""Grid workers' tasks (网格员任务) over HTTP: the list of my grids' tasks and closing one with
what was found. Tasks are raised by the ledger rules and departments' cross-checks, never here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.http.auth import allow
from api.http.bodies import SubmissionDep, body_doc, text_body
from api.http.deps import SessionDep
from api.http.paging import LedgerPageSize, PageQuery
from api.schemas import MAX_ID
from people import tasks
from people.access import READ_PERSONS, Actor
from people.models import TaskKind, TaskStatus
from people.schemas import TaskClose, TaskPage, TaskRead

router = APIRouter(prefix="/api", tags=["tasks 网格员任务"])

Reader = Annotated[Actor, allow(READ_PERSONS)]


@router.get("/tasks", response_model=TaskPage)
def list_tasks(
    session: SessionDep,
    actor: Reader,
    status: Annotated[
        TaskStatus | None, Query(description="open 待办 (default), done, dismissed")
    ] = TaskStatus.OPEN,
    kind: TaskKind | None = None,
    grid: Annotated[str | None, Query(max_length=15, description="15-digit grid code")] = None,
    page: PageQuery = 1,
    page_size: LedgerPageSize = 50,
) -> TaskPage:
    """The tasks of my grids (my area for the command centre and inspectors), the nearest due
    date first."""
    return tasks.list_tasks(
        session,
        actor=actor,
        status=status,
        kind=kind,
        grid_code=grid,
        page=page,
        page_size=page_size,
    )


@router.post(
    "/tasks/{task_id}/close",
    response_model=TaskRead,
    openapi_extra=body_doc(TaskClose, required=True),
)
def close_task(
    session: SessionDep,
    actor: Reader,
    task_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    submission: SubmissionDep,
) -> TaskRead:
    """Close a task of my grids as done or dismissed, saying what was found. JSON or form."""
    body = text_body(TaskClose, submission, what="closing a task", send="outcome and note")
    return tasks.close_task(
        session,
        actor=actor,
        task_id=task_id,
        outcome=TaskStatus(body.outcome),
        note=body.note,
    )
