"""The leader overview (领导驾驶舱 一张图): grids as a choropleth, heat, overdue events, KPIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import folium

from maps import layers
from maps.basemap import new_map
from maps.encode import decimals_for, shift_bbox
from maps.hotspots import hotspot_layer
from maps.model import LeaderMap, LeaderPanel, View
from maps.page import area_link, panel, render, trend_svg
from maps.recurrence import recurrence_layer

PERIODS: Final = ((7, "近7天"), (30, "近30天"), (90, "近90天"), (365, "近一年"))
CHILD_LABELS: Final = {"city": "区县", "district": "街道", "street": "社区", "community": "网格"}
# Buildings and events come as vector tiles from this zoom on (a few hundred per screen).
TILE_MIN_ZOOM: Final = 15
# City parts (lamps, covers, bins …) are denser still: from zoom 16 (gis.tiles' parts layer).
PART_MIN_ZOOM: Final = 16
_METRES_PER_DEGREE: Final = 111_320


def leader_map(data: LeaderMap, view: View, *, tolerance: float) -> folium.Map:
    """The folium map of the overview, layers in drawing order."""
    gcj = view.shift_gcj02
    m = new_map(view, shift_bbox(data.area.bbox, gcj))
    decimals = decimals_for(tolerance)
    admin_names = {s.code: s.name for s in (*data.streets, *data.communities)}
    layers.choropleth(
        data.grids, view=view, decimals=decimals, measure=data.measure, admin_names=admin_names
    ).add_to(m)
    dashed = {"weight": 2, "fill": False, "dashArray": "8 4"}
    outlines = (  # boundaries, name, layer id, style, shown at first
        (
            data.communities,
            "社区",
            "communities",
            {"color": "#3d4752", "weight": 1.2, "fill": False, "dashArray": "3 3"},
            data.area.level in ("street", "community", "grid"),
        ),
        (data.streets, "街道", "streets", {"color": "#1f2933", "weight": 2.4, "fill": False}, True),
        (data.police, "派出所辖区", "police", {"color": "#1559b7", **dashed}, False),
        (data.fire, "消防救援辖区", "fire", {"color": "#d9480f", **dashed}, False),
    )
    for boundaries, name, layer_id, style, show in outlines:
        layers.outlines(
            boundaries,
            view=view,
            decimals=decimals,
            name=name,
            layer_id=layer_id,
            style=style,
            show=show,
        ).add_to(m)
    category = dict(data.categories).get(data.category or "", "全部类别")
    layers.heat(
        data.heat,
        view=view,
        cell_deg=data.heat_cell_deg,
        name=f"事件热力 ({category}, 近{data.days}天)",
        show=False,
    ).add_to(m)
    if data.hotspots is not None:
        hotspot_layer(data.hotspots, view=view, decimals=decimals).add_to(m)
    buildings = layers.vector_tiles(
        view,
        layer="buildings",
        name="建筑 (放大至15级显示)",
        min_zoom=TILE_MIN_ZOOM,
        style={"color": "#6b7280", "weight": 0.6, "fill": True, "fillOpacity": 0.25},
    )
    if buildings is not None:
        buildings.add_to(m)
    city_parts = layers.vector_tiles(
        view,
        layer="parts",
        name="城市部件 (放大至16级显示)",
        min_zoom=PART_MIN_ZOOM,
        # Teal with a white ring: seen on every class of the red-yellow choropleth.
        style={
            "radius": 5,
            "weight": 1.5,
            "color": "#ffffff",
            "fill": True,
            "fillColor": "#0e9f9f",
            "fillOpacity": 1,
        },
        show=False,
    )
    if city_parts is not None:
        city_parts.add_to(m)
    open_events = layers.vector_tiles(
        view,
        layer="events",
        name="在办事件 (放大至15级显示)",
        min_zoom=TILE_MIN_ZOOM,
        style_js=(
            "function(p){return {radius:4,weight:1,color:'#fff',fill:true,fillOpacity:0.9,"
            "fillColor:p.overdue?'#d7191c':'#1559b7'};}"
        ),
        show=False,
    )
    if data.single_events:  # never for leaders: aggregates only
        if open_events is not None:
            open_events.add_to(m)
        layers.events(
            data.overdue, view=view, name="超期事件 (红灯)", layer_id="overdue", color="#d7191c"
        ).add_to(m)
    # 挂牌督办 stays on the map until the command centre lifts it, for leaders too.
    layers.listed(
        data.listed,
        view=view,
        name=f"挂牌督办 ({len(data.listed)})",
        link=data.single_events,
    ).add_to(m)
    # 重复发生: unfinished 源头治理 tasks as circles with their event count (leaders too).
    recurrence_layer(
        data.recurrences, view=view, name=f"重复发生 · 源头治理 ({len(data.recurrences)})"
    ).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def _link(data: LeaderMap) -> Callable[[str | None], str]:
    return area_link(
        "/maps/leader",
        {
            "area": data.area.code,
            "days": data.days,
            "category": data.category,
            "measure": data.measure,
        },
    )


def render_leader_kpis(
    kpis: LeaderPanel, *, link: Callable[[str | None], str] | None = None
) -> str:
    """The KPI part of the panel as an HTML fragment (what a served page fetches)."""
    return panel(
        "leader_kpis.html",
        p=kpis,
        served=link is not None,
        link=link,
        trend_svg=trend_svg(kpis.trend),
    )


def render_leader(data: LeaderMap, view: View, *, tolerance: float) -> str:
    """The overview page as HTML: served by the app, or one standalone file to export."""
    m = leader_map(data, view, tolerance=tolerance)
    category_name = dict(data.categories).get(data.category or "", "全部类别")
    html = panel(
        "leader_panel.html",
        map=data,
        area=data.area,
        p=data.panel,
        served=view.mode == "served",
        link=_link(data),
        periods=PERIODS,
        category_name=category_name,
        open_now=sum(g.open for g in data.grids),
        trend_svg=trend_svg(data.panel.trend) if data.panel else "",
        child_label=CHILD_LABELS.get(data.area.level, "下级"),
        cell_m=int(round(data.heat_cell_deg * _METRES_PER_DEGREE, -1)),
        # Map taps are in the basemap's system: GCJ-02 when overlays are shifted onto it.
        instruct_crs="gcj02" if view.shift_gcj02 else "cgcs2000",
    )
    return render(m, view, title=f"{data.area.name} · 领导驾驶舱 gridgov", panel_html=html)


__all__ = ["leader_map", "render_leader", "render_leader_kpis"]
