"""考评 (evaluation): a score per closed case from its timeline and the caller's satisfaction,
and its roll-ups per unit, department, tier, street, community, grid and grid worker.

A case is evaluated when it closes (closed 已结案 or self_resolved 自行处置), again when the
caller's satisfaction is recorded at the callback (回访), and again each time it closes after
being reopened (重办); while a reopened case is open it has no evaluation. `evaluate_closed`
evaluates every case closed in a period again (the `gridgov evaluate` command): idempotent.

The scoring rule (SCORING_RULE, version 1). Every case starts at 100 points and loses:

- 10 per late stage: each deadline stage of its history (受理/核实, 立案, 派遣, 签收, 处置, 核查,
  答复) that ended after its deadline;
- 3 per approved extension (批准延期): the time was granted, but the case took longer than its
  category allows;
- 5 per return (退回) by a unit: the case lost time on the way to the right unit;
- 15 per rework (核查不通过): the fix did not hold on site;
- 5 per supervision step (督办, action `supervise`, automatic or by hand);
- 10 per reopening (重办) after the caller said 不满意;

and, where the caller was reached at the callback of its latest closing, the satisfaction
counts: 满意 +5, 基本满意 0, 不满意 −20. The result is kept within 0–100 (the bonus makes up for
deductions, it never lifts a case above 100). A case with no timeline (fixed on the spot) scores
100. The components (each deduction, the bonus, the rule's version) are stored with the score.

Attribution (as the case stood when it closed): the lead unit holding it and that unit's
department, the tier holding it (event.tier), its street, community and grid, and the grid
worker who reported it (the reporter, when their account is a grid worker's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from sqlalchemy import ColumnElement, delete, func, select, text, true
from sqlalchemy.orm import Session

from events.models import (
    Callback,
    DepartmentUnit,
    Event,
    EventEvaluation,
    EventStage,
    EventStatus,
    EventStep,
    Satisfaction,
)
from people.models import Staff, StaffRole

CLOSED_STATES: Final = frozenset({EventStatus.CLOSED, EventStatus.SELF_RESOLVED})
RULE_VERSION: Final = 1
BASE: Final = 100.0
# Points taken off per occurrence of each timeline fact (the module docstring says why).
DEDUCTIONS: Final = {
    "late_stages": 10.0,
    "extensions": 3.0,
    "returns": 5.0,
    "reworks": 15.0,
    "supervisions": 5.0,
    "reopens": 10.0,
}
# Points added (or taken off) for the caller's satisfaction at the latest callback.
SATISFACTION_POINTS: Final = {
    Satisfaction.SATISFIED: 5.0,
    Satisfaction.FAIRLY_SATISFIED: 0.0,
    Satisfaction.DISSATISFIED: -20.0,
}
SCORING_RULE: Final = {
    "version": RULE_VERSION,
    "base": BASE,
    "deductions": DEDUCTIONS,
    "satisfaction": {s.value: p for s, p in SATISFACTION_POINTS.items()},
    "range": [0, 100],
}
# The steps counted, by the fact they count.
STEP_FACTS: Final = {
    "extensions": "approve-extension",
    "returns": "return",
    "reworks": "rework",
    "supervisions": "supervise",
    "reopens": "reopen",
}
_BATCH: Final = 2_000


@dataclass(frozen=True)
class CaseFacts:
    """What the score of one closed case is computed from."""

    stages: int = 0
    late_stages: int = 0
    extensions: int = 0
    returns: int = 0
    reworks: int = 0
    supervisions: int = 0
    reopens: int = 0
    satisfaction: Satisfaction | None = None


def score_case(facts: CaseFacts) -> tuple[float, dict[str, Any]]:
    """The score (0–100) of a case with these facts, and its components (SCORING_RULE)."""
    deductions = {
        name: getattr(facts, name) * points
        for name, points in DEDUCTIONS.items()
        if getattr(facts, name)
    }
    bonus = SATISFACTION_POINTS[facts.satisfaction] if facts.satisfaction else 0.0
    raw = BASE - sum(deductions.values()) + bonus
    score = round(min(100.0, max(0.0, raw)), 2)
    return score, {
        "rule_version": RULE_VERSION,
        "base": BASE,
        "deductions": deductions,
        "satisfaction": facts.satisfaction.value if facts.satisfaction else None,
        "satisfaction_points": bonus,
        "raw": raw,
    }


def _facts_query(where: ColumnElement[bool]) -> Any:
    """Per closed event matching `where`: its attribution and timeline facts (index probes on
    event_stage, event_step and callback by event id)."""
    stages = (
        select(
            func.count().filter(EventStage.ended_at.is_not(None)).label("stages"),
            func.count().filter(EventStage.on_time.is_(False)).label("late_stages"),
        )
        .where(EventStage.event_id == Event.id)
        .lateral("stages")
    )
    steps = (
        select(
            *(
                func.count().filter(EventStep.action == action).label(name)
                for name, action in STEP_FACTS.items()
            )
        )
        .where(EventStep.event_id == Event.id, EventStep.action.in_(list(STEP_FACTS.values())))
        .lateral("steps")
    )
    latest_callback = (
        select(Callback.satisfaction)
        .where(Callback.event_id == Event.id)
        .order_by(Callback.round.desc(), Callback.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            Event.id,
            Event.district_code,
            Event.status,
            func.coalesce(Event.closed_at, Event.updated_at).label("closed_at"),
            Event.unit_id,
            DepartmentUnit.department_id,
            Event.tier,
            Event.street_code,
            Event.community_code,
            Event.grid_code,
            Staff.id.label("worker_id"),
            Event.category_code,
            *stages.c,
            *steps.c,
            latest_callback.label("satisfaction"),
        )
        .select_from(Event)
        .join(stages, true())
        .join(steps, true())
        .outerjoin(DepartmentUnit, DepartmentUnit.id == Event.unit_id)
        .outerjoin(Staff, (Staff.id == Event.reporter_id) & (Staff.role == StaffRole.GRID_WORKER))
        .where(Event.status.in_(sorted(CLOSED_STATES)), where)
    )


def _rows(session: Session, where: ColumnElement[bool], at: datetime) -> list[dict[str, Any]]:
    """The evaluation rows of the closed events matching `where`."""
    rows = []
    for r in session.execute(_facts_query(where)):
        facts = CaseFacts(
            stages=r.stages,
            late_stages=r.late_stages,
            **{name: getattr(r, name) for name in STEP_FACTS},
            satisfaction=r.satisfaction,
        )
        score, components = score_case(facts)
        rows.append(
            {
                "event_id": r.id,
                "district_code": r.district_code,
                "score": score,
                "closed_at": r.closed_at,
                "evaluated_at": at,
                "status": r.status,
                "stages": facts.stages,
                "late_stages": facts.late_stages,
                **{name: getattr(facts, name) for name in STEP_FACTS},
                "satisfaction": facts.satisfaction,
                "unit_id": r.unit_id,
                "department_id": r.department_id,
                "tier": r.tier,
                "street_code": r.street_code,
                "community_code": r.community_code,
                "grid_code": r.grid_code,
                "worker_id": r.worker_id,
                "category_code": r.category_code,
                "components": components,
            }
        )
    return rows


def _store(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace evaluation rows (one per event).

    The rows travel as one JSON array expanded by `jsonb_populate_recordset`: a single bind
    parameter, where a multi-row VALUES would bind 24 per row and an executemany would make a
    round trip per row (seconds per thousand cases).
    """
    if not rows:
        return
    table = EventEvaluation.__tablename__
    names = [c.name for c in EventEvaluation.__table__.c]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in _KEY)
    session.execute(
        text(
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"SELECT {', '.join(names)} FROM jsonb_populate_recordset(NULL::{table}, "
            f"CAST(:rows AS jsonb)) ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}"
        ),
        {"rows": json.dumps([_json_row(row) for row in rows], ensure_ascii=False)},
    )


_KEY: Final = ("event_id", "district_code")


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row's values as JSON: times in ISO 8601, enums by their stored value."""
    return {
        name: value.isoformat()
        if isinstance(value, datetime)
        else value.value
        if isinstance(value, Enum)
        else value
        for name, value in row.items()
    }


def evaluate_event(session: Session, *, event: Event, at: datetime) -> EventEvaluation | None:
    """Evaluate `event` as it stands at `at`: score a closed case (replacing its earlier
    evaluation), or drop the evaluation of a case that is open again (reopened, 重办)."""
    session.flush()
    if event.status not in CLOSED_STATES:
        session.execute(
            delete(EventEvaluation).where(
                EventEvaluation.event_id == event.id,
                EventEvaluation.district_code == event.district_code,
            )
        )
        return None
    _store(
        session,
        _rows(session, (Event.id == event.id) & (Event.district_code == event.district_code), at),
    )
    return session.get(EventEvaluation, event.id, populate_existing=True)


def evaluate_closed(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    at: datetime,
    district_code: str | None = None,
) -> int:
    """Evaluate again every case closed in [start, end) (of one district if given), in
    batches; returns how many. Idempotent: a case's row is replaced, never doubled."""
    closed_at = func.coalesce(Event.closed_at, Event.updated_at)
    where = (closed_at >= start) & (closed_at < end) & Event.status.in_(sorted(CLOSED_STATES))
    if district_code:
        where = where & (Event.district_code == district_code)
    ids = list(session.scalars(select(Event.id).where(where).order_by(Event.id)))
    for batch in _chunks(ids, _BATCH):
        _store(session, _rows(session, Event.id.in_(batch), at))
    return len(ids)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


__all__ = [
    "CLOSED_STATES",
    "DEDUCTIONS",
    "SATISFACTION_POINTS",
    "SCORING_RULE",
    "CaseFacts",
    "evaluate_closed",
    "evaluate_event",
    "score_case",
]
