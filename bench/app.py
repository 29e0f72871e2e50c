"""The app the HTTP benchmark serves: the product's app plus its in-run baseline endpoint.

POST /api/bench/insert-event authenticates, parses and checks a report exactly like
POST /api/events, then only inserts the event row: no locating, routing, steps or outbox. Both
are driven by the same clients in the same run, so their ratio is what the product's work per
report costs over HTTP. The product never serves it: `uvicorn bench.app:app` does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, status
from sqlalchemy.orm import Session

from api.app import create_app
from api.http.auth import allow
from api.http.bodies import IdempotencyKey, SubmissionDep, validated
from api.http.deps import SessionDep
from events.exceptions import Forbidden, InvalidReport
from events.models import Event, EventStatus
from events.schemas import EventFiling, EventReport
from events.service import current_category, new_event
from events.sources import DEFAULT_SOURCE, FILERS, refusal
from gis.crs import CoordinateError, to_storage
from people.access import Actor


def insert_event_row(
    session: Session,
    *,
    actor: Actor,
    report: EventReport,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Event:
    """Only insert the event row: no locating, routing, steps or outbox (a benchmark baseline)."""
    at = now or datetime.now(UTC)
    if at.tzinfo is None:
        raise InvalidReport("times must carry a time zone (e.g. +08:00)")
    why = refusal(report.source, actor.role)
    if why is not None:
        raise Forbidden(why)
    category = current_category(session, report.category)
    if report.lon is None or report.lat is None:
        raise InvalidReport("the baseline insert needs lon and lat")
    try:
        lon, lat = to_storage(report.lon, report.lat, report.crs)
    except CoordinateError as exc:
        raise InvalidReport(str(exc)) from exc
    district = actor.log_district
    event = new_event(
        session,
        actor=actor,
        report=report,
        category=category,
        district=district,
        at=at,
        idempotency_key=idempotency_key,
        status=EventStatus.REGISTERED,
        point=(lon, lat),
        input_crs=report.crs.value,
        locate_match="outside",
    )
    session.add(event)
    session.flush()
    return event


def bench_router() -> APIRouter:
    """POST /api/bench/insert-event: parse and check a report like POST /api/events, then only
    insert the row."""
    bench = APIRouter()

    @bench.post(
        "/api/bench/insert-event", status_code=status.HTTP_201_CREATED, include_in_schema=False
    )
    def insert_event(
        session: SessionDep,
        actor: Annotated[Actor, allow(FILERS)],
        submission: SubmissionDep,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Insert the event row only (no locate, dispatch, steps or outbox)."""
        filing = validated(EventFiling, submission.fields)
        event = insert_event_row(
            session,
            actor=actor,
            report=filing.to_report(filing.source or DEFAULT_SOURCE[actor.role]),
            idempotency_key=idempotency_key,
        )
        return {"id": event.id, "code": event.code}

    return bench


def create_bench_app() -> FastAPI:
    """The product's app with the benchmark's baseline endpoint added."""
    app = create_app()
    app.include_router(bench_router())
    return app


app = create_bench_app()
