"""Map dashboards (一张图): the leader overview, a unit's map and a grid's map, as pages.

Each page is rendered on the server for the area in its URL (`?area=420502003`), so a view
can be shared by its address. A page asked for without signing in sends the browser to
`/login?next=…`; a signed-in account of another role gets 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.households import building_households
from api.http.auth import COMMAND, LEADERS, allow, page_gate
from api.http.deps import ReadSessionDep
from api.map_data import grid_data, leader_data, leader_panel, unit_data
from api.pages.routes import admit_visitor
from api.pages.templating import VENDOR_URL
from gis.config import get_settings
from maps.building import render_building
from maps.grid import render_grid
from maps.leader import render_leader, render_leader_kpis
from maps.model import View
from maps.page import area_link
from maps.unit import render_unit
from people.access import Actor
from people.models import StaffRole

router = APIRouter(tags=["maps 地图"])


LEADER_ROLES = LEADERS
UNIT_ROLES = COMMAND | {StaffRole.DISPATCHER}
GRID_ROLES = COMMAND | {StaffRole.GRID_WORKER, StaffRole.INSPECTOR}


def served_view() -> View:
    """How the app serves map pages: local assets, the configured basemap, vector tiles."""
    settings = get_settings()
    return View(
        mode="served",
        basemap=settings.basemap,
        basemap_url=settings.basemap_url,
        tianditu_key=settings.tianditu_key,
        shift_gcj02=settings.basemap != "none" and settings.basemap_crs == "gcj02",
        vendor_url=VENDOR_URL,
    )


_HTML = {"Cache-Control": "private, no-store"}


@router.get("/maps/leader", response_class=HTMLResponse)
def leader_page(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor | None, page_gate(LEADER_ROLES)],
    area: Annotated[str | None, Query(description="区县/街道/社区/网格代码")] = None,
    days: Annotated[int, Query(ge=1, le=366, description="时段：最近天数")] = 30,
    category: Annotated[str | None, Query(description="事件大类代码，热力图用")] = None,
    measure: Annotated[str, Query(description="专题指标")] = "open",
) -> Response:
    """领导驾驶舱: the leader overview of an area (leader, command and admin roles)."""
    visitor = admit_visitor(request, actor, roles=LEADER_ROLES, page_name="领导驾驶舱 City map")
    if isinstance(visitor, Response):
        return visitor
    query = {"area": area, "days": days}
    panel_url = "/maps/leader/panel?" + urlencode({k: v for k, v in query.items() if v})
    data, tolerance = leader_data(
        session,
        actor=visitor,
        area=area or None,
        days=days,
        category=category or None,
        measure=measure,
        now=datetime.now(UTC),
        panel_url=panel_url,
    )
    return HTMLResponse(render_leader(data, served_view(), tolerance=tolerance), headers=_HTML)


@router.get("/maps/leader/panel", response_class=HTMLResponse)
def leader_panel_fragment(
    session: ReadSessionDep,
    actor: Annotated[Actor, allow(LEADERS)],
    area: Annotated[str | None, Query(description="区县/街道/社区/网格代码")] = None,
    days: Annotated[int, Query(ge=1, le=366, description="时段：最近天数")] = 30,
) -> Response:
    """The KPI part of the leader panel as an HTML fragment (fetched by /maps/leader)."""
    panel = leader_panel(session, actor=actor, area=area or None, days=days, now=datetime.now(UTC))
    link = area_link("/maps/leader", {"days": days})
    return HTMLResponse(render_leader_kpis(panel, link=link), headers=_HTML)


@router.get("/maps/unit", response_class=HTMLResponse)
def unit_page(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor | None, page_gate(UNIT_ROLES)],
    unit: Annotated[int | None, Query(description="承办单位 id (command staff)")] = None,
) -> Response:
    """部门地图: a unit's jurisdiction and open events by light (dispatchers: their unit)."""
    visitor = admit_visitor(request, actor, roles=UNIT_ROLES, page_name="部门地图 Unit map")
    if isinstance(visitor, Response):
        return visitor
    data, tolerance = unit_data(session, actor=visitor, unit_id=unit, now=datetime.now(UTC))
    return HTMLResponse(render_unit(data, served_view(), tolerance=tolerance), headers=_HTML)


@router.get("/maps/grid", response_class=HTMLResponse)
def grid_page(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor | None, page_gate(GRID_ROLES)],
    grid: Annotated[str | None, Query(description="网格代码 (15 digits)")] = None,
) -> Response:
    """网格地图: a grid worker's grid, buildings, open events and visits due per building."""
    visitor = admit_visitor(request, actor, roles=GRID_ROLES, page_name="网格地图 Grid map")
    if isinstance(visitor, Response):
        return visitor
    data = grid_data(session, actor=visitor, grid_code=grid or None, now=datetime.now(UTC))
    return HTMLResponse(render_grid(data, served_view()), headers=_HTML)


@router.get("/maps/building/{code}", response_class=HTMLResponse)
def building_page(
    request: Request,
    session: ReadSessionDep,
    actor: Annotated[Actor | None, page_gate(GRID_ROLES)],
    code: str,
) -> Response:
    """楼盘表: a building's rooms as floors × units by use, residents and special groups per
    room, its organisations and open events (the building's grid worker, command, inspector)."""
    visitor = admit_visitor(request, actor, roles=GRID_ROLES, page_name="楼盘表 Building table")
    if isinstance(visitor, Response):
        return visitor
    table = building_households(session, actor=visitor, code=code, now=datetime.now(UTC))
    grid_link = f"/maps/grid?{urlencode({'grid': table.grid_code})}" if table.grid_code else None
    # Grid workers and inspectors follow cases on their own page; command staff in the console.
    on_site = visitor.role in (StaffRole.GRID_WORKER, StaffRole.INSPECTOR)
    event_link = "/worker?event={code}" if on_site else "/console?event={code}"
    html = render_building(table.model_dump(), grid_link=grid_link, event_link=event_link)
    return HTMLResponse(html, headers=_HTML)
