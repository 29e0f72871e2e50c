"""The recurrence layer (重复发生) of the leader map: one circle per unfinished 源头治理 task,
its event count in the middle and a popup (category, count, task status, deadline, lead unit).

Built from plain `RecurrenceMark`s the api layer passes in; never who reported what. Drawn by a
few lines of Leaflet in the layer's own script (folium's popups need jQuery, which the pages do
not load).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Final

from branca.element import Figure
from folium.map import Layer
from folium.template import Template

from maps import encode
from maps.layers import Raw, compact_json
from maps.model import RecurrenceMark, View

OPEN_COLOUR: Final = "#7b2cbf"  # purple: unlike the choropleth's reds and the events' blue
OVERDUE_COLOUR: Final = "#d7191c"
# A circle never smaller than this (metres), so a tight cluster is still seen at street zoom.
MIN_RADIUS_M: Final = 40.0
# Beyond the farthest event, so the circle encloses every event's marker.
MARGIN_M: Final = 15.0


def _popup(mark: RecurrenceMark) -> str:
    rows = (
        ("类别", mark.category),
        ("事件数", f"{mark.count}件"),
        ("任务状态", mark.status + (" (已超期)" if mark.overdue else "")),
        ("办结期限", mark.deadline),
        ("牵头单位", mark.unit),
    )
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<b>重复发生 · 源头治理</b><table>{cells}</table>"


class RecurrenceLayer(Layer):
    """Circles (L.circle, metres) with a count badge (L.divIcon) and a popup each."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function (items) {
                var group = L.featureGroup();
                // Pan the popup clear of the measure selector and zoom buttons (top left).
                var opts = {maxWidth: 280, autoPanPaddingTopLeft: [10, 130]};
                items.forEach(function (c) {
                    L.circle([c.y, c.x], {radius: c.r, color: c.k, weight: 2, fillColor: c.k,
                                          fillOpacity: 0.18})
                        .bindPopup(c.p, opts).bindTooltip(c.t).addTo(group);
                    var badge = document.createElement('div');
                    badge.className = 'gg-recurrence';
                    badge.textContent = String(c.n);
                    badge.style.cssText = 'background:' + c.k + ';color:#fff;'
                        + 'border:2px solid #fff;border-radius:12px;min-width:20px;height:20px;'
                        + 'line-height:20px;text-align:center;font:bold 12px sans-serif;'
                        + 'box-shadow:0 0 2px #000';
                    L.marker([c.y, c.x], {icon: L.divIcon({html: badge, className:
                        'gg-recurrence-icon', iconSize: [24, 24], iconAnchor: [12, 12]})})
                        .bindPopup(c.p, opts).addTo(group);
                });
                return group;
            })(gridgov.data[{{ this.get_name()|tojson }}]);
        {% endmacro %}
        """
    )

    def __init__(self, items: list[dict[str, Any]], *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GridgovRecurrence"
        self.data_json = compact_json(items)

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Put the data into the page's script just before the layer's own code."""
        figure = self.get_root()
        assert isinstance(figure, Figure), "render a layer inside a Figure"
        assignment = f"gridgov.data[{compact_json(self.get_name())}] = {self.data_json};"
        figure.script.add_child(Raw(assignment), name=self.get_name() + "_data")
        super().render(**kwargs)  # type: ignore[no-untyped-call]


def recurrence_layer(
    marks: Sequence[RecurrenceMark], *, view: View, name: str, show: bool = True
) -> RecurrenceLayer:
    """Circles covering each cluster's events with the count on top; red when overdue."""
    lats, lons = encode.points([(m.lon, m.lat) for m in marks], gcj02=view.shift_gcj02)
    items = [
        {
            "y": lat,
            "x": lon,
            "r": round(max(mark.spread_m + MARGIN_M, MIN_RADIUS_M), 1),
            "k": OVERDUE_COLOUR if mark.overdue else OPEN_COLOUR,
            "n": mark.count,
            "t": f"{mark.category} {mark.count}件",
            "p": _popup(mark),
        }
        for mark, lat, lon in zip(marks, lats, lons, strict=True)
    ]
    return RecurrenceLayer(items, name=name, show=show)


__all__ = ["RecurrenceLayer", "recurrence_layer"]
