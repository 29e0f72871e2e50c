"""Tasks for grid workers (网格员任务): raised by ledger rules and departments' cross-checks,
listed for the workers of the grid, closed by them with what they found.

A rule names each task by a `key` (the rule and the record, plus a period where the rule may
fire again, e.g. `permit_expiring:resident:9:2027-01-31`). While a task of that key is open,
raising it again returns it: a rule run every night raises one task, not one a night. Once
closed, the same key may open a new task (the problem came back).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.clock import local_today
from people.access import READ_PERSONS, Actor, grid_scope, require_grid, require_role
from people.exceptions import AlreadyClosed, InvalidRecord, NotFound
from people.models import TaskKind, TaskStatus, WorkerTask
from people.schemas import TaskPage, TaskRead
from people.service import MAX_PAGE_SIZE

MAX_NOTE_CHARS = 1000


def _values(
    *,
    kind: TaskKind,
    district_code: str,
    grid_code: str,
    subject: str,
    subject_id: int | None,
    title: str,
    due_on: date,
    key: str,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "district_code": district_code,
        "grid_code": grid_code,
        "kind": kind,
        "subject": subject,
        "subject_id": subject_id,
        "title": title[:300],
        "detail": detail,
        "key": key,
        "due_on": due_on,
        "status": TaskStatus.OPEN,
    }


def _insert_open() -> Any:
    """INSERT of task rows that leaves alone each whose key is already open in its district."""
    return insert(WorkerTask).on_conflict_do_nothing(
        index_elements=["district_code", "key"], index_where=WorkerTask.status == "open"
    )


def raise_task(
    session: Session,
    *,
    kind: TaskKind,
    district_code: str,
    grid_code: str,
    subject: str,
    subject_id: int | None,
    title: str,
    due_on: date,
    key: str,
    detail: dict[str, Any] | None = None,
) -> WorkerTask:
    """The open task of `key` in the district: raised now, or the one already open."""
    values = _values(
        kind=kind,
        district_code=district_code,
        grid_code=grid_code,
        subject=subject,
        subject_id=subject_id,
        title=title,
        due_on=due_on,
        key=key,
        detail=detail,
    )
    session.execute(_insert_open(), [values])
    task = session.scalars(
        select(WorkerTask).where(
            WorkerTask.district_code == district_code,
            WorkerTask.key == key,
            WorkerTask.status == TaskStatus.OPEN,
        )
    ).one()
    return task


def raise_tasks(session: Session, tasks: Sequence[dict[str, Any]]) -> int:
    """Raise many tasks at once (a rule's nightly run), each given as raise_task's keyword
    arguments; a key already open in its district is left as it is. Returns how many tasks
    this call raised."""
    districts = {task["district_code"] for task in tasks}
    if not districts:
        return 0
    # Keys already open are dropped before the insert (a nightly re-run finds most of them
    # open); ON CONFLICT still covers one raised meanwhile.
    open_keys = {
        (district, key)
        for district, key in session.execute(
            select(WorkerTask.district_code, WorkerTask.key).where(
                WorkerTask.district_code.in_(districts), WorkerTask.status == TaskStatus.OPEN
            )
        )
    }
    rows = [
        _values(**task) for task in tasks if (task["district_code"], task["key"]) not in open_keys
    ]
    if not rows:
        return 0
    # One statement compiled once, its rows sent in batches (SQLAlchemy's insertmanyvalues).
    return len(session.execute(_insert_open().returning(WorkerTask.id), rows).all())


def _read(task: WorkerTask, today: date) -> TaskRead:
    return TaskRead(
        id=task.id,
        kind=task.kind,
        kind_label=task.kind.label,
        grid_code=task.grid_code,
        subject=task.subject,
        subject_id=task.subject_id,
        title=task.title,
        detail=task.detail,
        due_on=task.due_on,
        overdue=task.status is TaskStatus.OPEN and task.due_on < today,
        status=task.status,
        status_label=task.status.label,
        created_at=task.created_at,
        closed_at=task.closed_at,
        note=task.note,
    )


def list_tasks(
    session: Session,
    *,
    actor: Actor,
    status: TaskStatus | None = TaskStatus.OPEN,
    kind: TaskKind | None = None,
    grid_code: str | None = None,
    page: int = 1,
    page_size: int = 50,
    today: date | None = None,
) -> TaskPage:
    """The tasks of the actor's grids (area for command staff and inspectors), open ones by
    due date first, then the most recently closed."""
    require_role(actor, READ_PERSONS, "list grid workers' tasks")
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"page must be ≥ 1 and page_size 1..{MAX_PAGE_SIZE}")
    stmt = select(WorkerTask).where(grid_scope(actor, WorkerTask.grid_code))
    if status is not None:
        stmt = stmt.where(WorkerTask.status == status)
    if kind is not None:
        stmt = stmt.where(WorkerTask.kind == kind)
    if grid_code:
        require_grid(actor, grid_code, f"grid {grid_code}")
        stmt = stmt.where(WorkerTask.grid_code == grid_code)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    tasks = session.scalars(
        stmt.order_by(
            case((WorkerTask.status == TaskStatus.OPEN, 0), else_=1),
            WorkerTask.due_on,
            WorkerTask.closed_at.desc(),
            WorkerTask.id,
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    today = today or local_today()
    return TaskPage(
        total=total,
        page=page,
        page_size=page_size,
        items=[_read(task, today) for task in tasks],
    )


def task_not_visible(task_id: int) -> NotFound:
    """One answer for a task that does not exist or lies outside the actor's grids."""
    return NotFound(
        f"task {task_id} does not exist or is outside your scope (该任务不存在或不在您的管辖范围内)"
    )


def close_task(
    session: Session,
    *,
    actor: Actor,
    task_id: int,
    outcome: TaskStatus,
    note: str,
    now: datetime | None = None,
) -> TaskRead:
    """Close an open task as done (已核实处理: the ledger was put right) or dismissed (核实无问题:
    checked on site, nothing wrong), with a note of what was found."""
    require_role(actor, READ_PERSONS, "close a grid worker's task")
    if outcome is TaskStatus.OPEN:
        raise InvalidRecord(
            "a task is closed as done (已核实处理) or dismissed (核实无问题), not open"
        )
    note = note.strip()
    if not note:
        raise InvalidRecord("say what was found on site (核实情况) to close a task")
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidRecord(f"the note has {len(note)} characters; at most {MAX_NOTE_CHARS}")
    task = session.scalars(
        select(WorkerTask).where(WorkerTask.id == task_id).with_for_update()
    ).one_or_none()
    if task is None or not actor.can_see_grid(task.grid_code):
        raise task_not_visible(task_id)
    if task.status is not TaskStatus.OPEN:
        raise AlreadyClosed(
            f"task {task_id} was already closed ({task.status.label}) at "
            f"{task.closed_at:%Y-%m-%d %H:%M}"
        )
    task.status = outcome
    task.note = note
    task.closed_by = actor.staff_id
    task.closed_at = now or func.now()
    session.flush()
    session.refresh(task)
    return _read(task, local_today())


__all__ = ["close_task", "list_tasks", "raise_task", "raise_tasks", "task_not_visible"]
