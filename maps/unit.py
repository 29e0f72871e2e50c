"""A department unit's map (部门地图) for its dispatchers: jurisdiction, open events by light,
duplicates, the sensors it owns."""

from __future__ import annotations

from collections import Counter

import folium

from maps import layers
from maps.basemap import new_map
from maps.encode import decimals_for, shift_bbox
from maps.model import UnitMap, View
from maps.page import panel, render


def unit_map(data: UnitMap, view: View, *, tolerance: float) -> folium.Map:
    """The folium map of a unit: its area, its open events coloured by light, duplicates."""
    m = new_map(view, shift_bbox(data.bbox, view.shift_gcj02))
    if data.jurisdiction is not None:
        layers.outlines(
            [data.jurisdiction],
            view=view,
            decimals=decimals_for(tolerance),
            name="辖区",
            layer_id="jurisdiction",
            style={"color": "#1559b7", "weight": 2.5, "fillOpacity": 0.05},
        ).add_to(m)
    layers.duplicates(data.duplicates, view=view, name="疑似重复").add_to(m)
    layers.events(data.events, view=view, name="在办事件 (按时限灯)", layer_id="events").add_to(m)
    if data.devices:
        layers.devices(
            data.devices, view=view, name="物联设备 (报警红·离线灰)", layer_id="devices"
        ).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def render_unit(data: UnitMap, view: View, *, tolerance: float) -> str:
    """The unit map page as HTML."""
    lights = Counter(e.light or "none" for e in data.events)
    red = sorted(
        (e for e in data.events if e.light == "red"),
        key=lambda e: -(e.hours_overdue or 0.0),
    )
    html = panel(
        "unit_panel.html",
        map=data,
        lights={k: lights.get(k, 0) for k in ("red", "yellow", "green", "none")},
        red=red,
        served=view.mode == "served",
        link=view.event_link,
    )
    m = unit_map(data, view, tolerance=tolerance)
    return render(m, view, title=f"{data.unit_name} · 部门地图 gridgov", panel_html=html)


__all__ = ["render_unit", "unit_map"]
