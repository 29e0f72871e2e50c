"""A grid worker's map (网格地图): the grid, its buildings and houses, open events, and the
special-group visits due per building — counts only, never names."""

from __future__ import annotations

import folium

from gis.text import natural_order
from maps import layers
from maps.basemap import new_map
from maps.encode import shift_bbox
from maps.model import GridMap, Shape, View
from maps.page import panel, render

# Building footprints are small: keep 6 decimals (≈0.1 m).
_DECIMALS = 6
# The 楼盘表 page of a building (served pages only: an exported file has no server behind it).
BUILDING_LINK = "/maps/building/{code}"


def _label(b_name: str | None, code: str, use: str, floors: int | None, houses: int) -> str:
    floors_text = f"{floors}层 · " if floors else ""
    return f"{b_name or code} ({use} · {floors_text}{houses}户)"


def grid_map(data: GridMap, view: View) -> folium.Map:
    """The folium map of one grid."""
    m = new_map(view, shift_bbox(data.bbox, view.shift_gcj02))
    layers.outlines(
        [data.grid],
        view=view,
        decimals=_DECIMALS,
        name="本网格",
        layer_id="grid",
        style={"color": "#1f2933", "weight": 3, "fillOpacity": 0.04},
    ).add_to(m)
    groups = (
        (
            "buildings",
            "建筑",
            "#6b7280",
            [b for b in data.buildings if not b.visits_overdue and not b.visits_due_soon],
        ),
        (
            "visits_soon",
            "7天内待走访",
            "#f08c00",
            [b for b in data.buildings if b.visits_due_soon and not b.visits_overdue],
        ),
        ("visits_overdue", "走访逾期", "#d7191c", [b for b in data.buildings if b.visits_overdue]),
    )
    for layer_id, name, colour, buildings in groups:
        shapes = [
            Shape(
                b.code,
                _label(b.name, b.code, b.use, b.floors, b.houses)
                + (f" 逾期{b.visits_overdue}人" if b.visits_overdue else "")
                + (f" 7天内{b.visits_due_soon}人" if b.visits_due_soon else ""),
                b.wkb,
            )
            for b in buildings
        ]
        layers.outlines(
            shapes,
            view=view,
            decimals=_DECIMALS,
            name=f"{name} ({len(shapes)})",
            layer_id=layer_id,
            style={"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.45},
            link=BUILDING_LINK if view.mode == "served" else None,
        ).add_to(m)
    layers.events(data.events, view=view, name="在办事件", layer_id="events").add_to(m)
    if data.corridors:
        # Polygons within 30 m of this week's tracks: what a patrol passed (巡查覆盖带).
        layers.outlines(
            data.corridors,
            view=view,
            decimals=_DECIMALS,
            name=f"本周巡查覆盖带 ({len(data.corridors)})",
            layer_id="patrols",
            style={"color": "#1a7f37", "weight": 1, "fillColor": "#1a7f37", "fillOpacity": 0.2},
        ).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def render_grid(data: GridMap, view: View) -> str:
    """The grid map page as HTML."""
    due = sorted(
        (b for b in data.buildings if b.visits_overdue or b.visits_due_soon),
        key=lambda b: (-b.visits_overdue, -b.visits_due_soon, b.code),
    )
    html = panel(
        "grid_panel.html",
        map=data,
        houses=sum(b.houses for b in data.buildings),
        overdue_visits=sum(b.visits_overdue for b in data.buildings),
        soon_visits=sum(b.visits_due_soon for b in data.buildings),
        due=due,
        buildings=sorted(data.buildings, key=lambda b: natural_order(b.name or b.code)),
        building_link=BUILDING_LINK,
        served=view.mode == "served",
    )
    return render(
        grid_map(data, view), view, title=f"{data.grid.name} · 网格地图 gridgov", panel_html=html
    )


__all__ = ["grid_map", "render_grid"]
