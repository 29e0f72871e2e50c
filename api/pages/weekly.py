"""The weekly 研判 report page of a district for leaders and the command centre (their area;
admins any district): rendered on the server, printable (the print style leaves out the
navigation and the form), with the same report as xlsx beside it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRouter

from api.http.auth import page_gate
from api.http.deps import ReadSessionDep
from api.http.errors import STATUS_OF
from api.http.routers.analysis import own_district
from api.pages.routes import admit_visitor, visitor_context
from api.pages.templating import templates
from events.hotspots import READ_HOTSPOTS
from events.weekly_report import weekly_report
from gis.errors import DomainError
from people.access import Actor

router = APIRouter(include_in_schema=False)

# Classes in the order the page lists them, with their colours (the map layer's too).
CLASS_COLOURS = {
    "热点99": "#d62f27",
    "热点95": "#ed7551",
    "热点90": "#fab984",
    "冷点90": "#c0ccbe",
    "冷点95": "#849eba",
    "冷点99": "#4575b5",
    "不显著": "#f2f2f2",
}


@router.get("/reports/weekly")
def weekly_page(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor | None, page_gate(READ_HOTSPOTS)],
    district: Annotated[str | None, Query(max_length=12, description="区县代码")] = None,
    week: Annotated[str | None, Query(max_length=10, description="2026-W48")] = None,
) -> Response:
    """每周研判: the week's categories, hot spots, recurrence and weakest units, printable."""
    visitor = admit_visitor(request, actor, roles=READ_HOTSPOTS, page_name="每周研判 Weekly")
    if isinstance(visitor, Response):
        return visitor
    error, status = None, 200
    report = None
    try:
        report = weekly_report(
            session, actor=visitor, district=own_district(visitor, district), week=week
        )
    except DomainError as exc:  # a mistyped week or a district outside the area: say so
        error = str(exc)
        status = next(code for kind, code in STATUS_OF if isinstance(exc, kind))
        if week:  # retry without the week (it may be the mistake): last week's report
            try:
                report = weekly_report(
                    session, actor=visitor, district=own_district(visitor, district)
                )
            except DomainError:
                report = None
    context: dict[str, Any] = visitor_context(visitor) | {
        "r": report,
        "error": error,
        "district": (district or "").strip(),
        "week": (week or "").strip(),
        "colours": CLASS_COLOURS,
    }
    if report is not None:
        status = 200
    return templates.TemplateResponse(
        request,
        "weekly_report.html",
        context,
        status_code=status,
        headers={"Cache-Control": "private, no-store"},
    )
