"""Printable reports: the monthly 考核通报 (evaluation bulletin) page for leaders and the command
centre (their area; admins everywhere). Rendered on the server; its print style leaves out the
navigation and the form, so the browser's print gives the bulletin alone."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRouter

from api.http.auth import page_gate
from api.http.deps import ReadSessionDep
from api.pages.routes import admit_visitor, visitor_context
from api.pages.templating import templates
from events.bulletin import (
    BULLETIN_GROUPINGS,
    GRADE_BANDS,
    GROUPING_LABELS,
    READ_BULLETIN,
    BulletinGrouping,
    monthly_bulletin,
)
from events.exceptions import InvalidReport
from gis.clock import local_today
from people.access import Actor

router = APIRouter(include_in_schema=False)


def _last_month() -> str:
    today = local_today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year}-{month:02d}"


@router.get("/reports/bulletin")
def bulletin_page(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor | None, page_gate(READ_BULLETIN)],
    month: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None,
    by: BulletinGrouping = "unit",
) -> Response:
    """考核通报: the month's evaluation bulletin of my area, ranked by 综合得分, printable."""
    visitor = admit_visitor(
        request, actor, roles=READ_BULLETIN, page_name="考核通报 Evaluation bulletin"
    )
    if isinstance(visitor, Response):
        return visitor
    chosen = (month or "").strip() or _last_month()
    error = None
    try:
        b = monthly_bulletin(session, actor=visitor, month=chosen, by=by)
    except InvalidReport as exc:  # a month mistyped in the address: say so, show last month
        error = f"月份格式不对，已显示上月 ({exc})"
        b = monthly_bulletin(session, actor=visitor, month=_last_month(), by=by)
    context: dict[str, Any] = visitor_context(visitor) | {
        "b": b,
        "error": error,
        "groupings": [(g, GROUPING_LABELS[g]) for g in BULLETIN_GROUPINGS],
        "bands": GRADE_BANDS,
    }
    return templates.TemplateResponse(
        request, "bulletin.html", context, headers={"Cache-Control": "private, no-store"}
    )
