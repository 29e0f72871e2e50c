"""The pages: the index, /worker for grid workers, /console for dispatchers and the command centre.

The pages are shells rendered on the server; their scripts (api/pages/static) call the JSON API with
the page session. Each page (the map dashboards too) declares a `page_gate` with the roles it is
for, and `refuse_visitor` sends an anonymous visitor (or one whose session expired) to
/login?next=… rather than answering a JSON 401, and gives a signed-in account of another role a
403 page that links to its own page.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.http.auth import PUBLIC, SESSION_COOKIE, actor_of, allow, clear_session_cookies, page_gate
from api.http.deps import SessionDep
from api.http.errors import ApiError
from api.http.routers.auth import ROLE_HOME
from api.pages.templating import STATIC_DIR, templates
from people.access import Actor
from people.models import StaffRole

router = APIRouter(include_in_schema=False)


WORKER_ROLES = frozenset({StaffRole.GRID_WORKER, StaffRole.INSPECTOR})
CONSOLE_ROLES = frozenset({StaffRole.DISPATCHER, StaffRole.COMMAND, StaffRole.ADMIN})
WorkerVisitor = Annotated[Actor | None, page_gate(WORKER_ROLES)]
ConsoleVisitor = Annotated[Actor | None, page_gate(CONSOLE_ROLES)]

# Map dashboards each role may open (built by the maps router).
DASHBOARDS: dict[StaffRole, list[tuple[str, str]]] = {
    StaffRole.GRID_WORKER: [("/maps/grid", "网格地图 Grid map")],
    StaffRole.INSPECTOR: [("/maps/grid", "网格地图 Grid map")],
    StaffRole.DISPATCHER: [("/maps/unit", "部门地图 Unit map")],
    StaffRole.COMMAND: [
        ("/maps/leader", "指挥大屏 City map"),
        ("/maps/unit", "部门地图 Unit map"),
        ("/maps/grid", "网格地图 Grid map"),
        ("/reports/bulletin", "考核通报 Bulletin"),
        ("/reports/weekly", "每周研判 Weekly"),
    ],
    StaffRole.ADMIN: [
        ("/maps/leader", "指挥大屏 City map"),
        ("/maps/unit", "部门地图 Unit map"),
        ("/maps/grid", "网格地图 Grid map"),
        ("/reports/bulletin", "考核通报 Bulletin"),
        ("/admin/sharing", "共享授权 Sharing"),
        ("/reports/weekly", "每周研判 Weekly"),
    ],
    StaffRole.LEADER: [
        ("/maps/leader", "指挥大屏 City map"),
        ("/reports/bulletin", "考核通报 Bulletin"),
        ("/reports/weekly", "每周研判 Weekly"),
    ],
}


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(
        f"/login?next={quote(target, safe='/')}", status_code=status.HTTP_303_SEE_OTHER
    )
    if SESSION_COOKIE in request.cookies:
        clear_session_cookies(response)  # it has expired or its account is gone
    return response


def visitor_context(actor: Actor) -> dict[str, Any]:
    return {
        "role": actor.role.value,
        "role_label": actor.role.label,
        "username": actor.username,
        "home": ROLE_HOME[actor.role],
        "dashboards": DASHBOARDS.get(actor.role, []),
    }


def admit_visitor(
    request: Request, actor: Actor | None, *, roles: frozenset[StaffRole], page_name: str
) -> Actor | Response:
    """The visitor if the page is for them, else the answer: to /login, or a 403 page."""
    if actor is None:
        return _to_login(request)
    if actor.role in roles:
        return actor
    allowed = "、".join(f"{r.label} {r.value}" for r in sorted(roles, key=lambda r: r.value))
    context = visitor_context(actor) | {"page_name": page_name, "allowed": allowed}
    return templates.TemplateResponse(
        request, "page_forbidden.html", context, status_code=status.HTTP_403_FORBIDDEN
    )


def _page(
    request: Request,
    actor: Actor | None,
    *,
    roles: frozenset[StaffRole],
    template: str,
    page_name: str,
) -> Response:
    """Render `template` for `roles`; others go to /login or get a 403 page."""
    visitor = admit_visitor(request, actor, roles=roles, page_name=page_name)
    if isinstance(visitor, Response):
        return visitor
    return templates.TemplateResponse(
        request, template, visitor_context(visitor), headers={"Cache-Control": "private, no-cache"}
    )


@router.get("/", dependencies=[PUBLIC])
def index(request: Request, session: SessionDep) -> Response:
    """The start page: where each user group works, and the API documentation."""
    try:
        actor = actor_of(request, session)
    except ApiError:
        actor = None
    context: dict[str, Any] = {
        "home": ROLE_HOME[actor.role] if actor else None,
        "username": actor.username if actor else None,
    }
    return templates.TemplateResponse(request, "index.html", context)


@router.get("/worker")
def worker_page(request: Request, actor: WorkerVisitor) -> Response:
    """The grid worker's page (网格员): report, my events, verification, visits."""
    return _page(
        request,
        actor,
        roles=WORKER_ROLES,
        template="worker.html",
        page_name="网格员工作台 Grid worker page",
    )


@router.get("/console")
def console_page(request: Request, actor: ConsoleVisitor) -> Response:
    """The console of department dispatchers and the command centre (处置/指挥)."""
    return _page(
        request,
        actor,
        roles=CONSOLE_ROLES,
        template="console.html",
        page_name="处置工作台 Dispatcher console",
    )


@router.get("/worker/sw.js", dependencies=[allow(WORKER_ROLES)])
def worker_service_worker() -> Response:
    """The worker page's service worker; its header lets it control /worker itself."""
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/worker"},
    )
