"""The admins' page of data sharing (共享交换管理): the grants (live and revoked), a form to
grant a department a dataset and buttons to revoke, and the latest reads of shared data.
Rendered on the server from the same services as the JSON API; the form and the revoke
buttons post to that API (api/pages/static/sharing.js)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRouter

from api.http.auth import page_gate
from api.http.deps import ReadSessionDep
from api.pages.routes import admit_visitor, visitor_context
from api.pages.templating import templates
from events import directory
from people import sharing
from people.access import Actor
from people.sharing import ADMINS

router = APIRouter(include_in_schema=False)


@router.get("/admin/sharing")
def sharing_page(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor | None, page_gate(ADMINS)],
) -> Response:
    """共享授权: every grant, the grant form, and the latest reads of shared data."""
    visitor = admit_visitor(request, actor, roles=ADMINS, page_name="共享授权 Data sharing")
    if isinstance(visitor, Response):
        return visitor
    catalogue = sharing.catalogue()
    departments = directory.list_departments(session)
    context: dict[str, Any] = visitor_context(visitor) | {
        "catalogue": [d.model_dump() for d in catalogue],
        "labels": {d.dataset: d.label for d in catalogue},
        "departments": departments,
        "department_names": {d.id: d.name for d in departments},
        "grants": sharing.list_grants(session, actor=visitor),
        "reads": sharing.recent_reads(session, actor=visitor, limit=30),
    }
    return templates.TemplateResponse(
        request, "sharing.html", context, headers={"Cache-Control": "private, no-store"}
    )
