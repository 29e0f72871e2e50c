"""The hot-spot layer of the leader map (热点分析): grids coloured by their Gi* class, a legend
saying in Chinese what significant means, drawn by `gridgov.hotspots`
(maps/static/gridgov-hotspots.js) from compact data like the other layers."""

from __future__ import annotations

from typing import Any, Final

from branca.element import Figure

from maps import encode
from maps.assets import STATIC_DIR
from maps.layers import DataLayer, Raw
from maps.model import HotspotLayer, View

# Classes in legend order with their colours (ArcGIS's hot-spot palette: red hot, blue cold).
CLASSES: Final = ("热点99", "热点95", "热点90", "冷点90", "冷点95", "冷点99", "不显著")
COLOURS: Final = ("#d62f27", "#ed7551", "#fab984", "#c0ccbe", "#849eba", "#4575b5", "#f7f7f7")
LABELS: Final = (
    "热点 99%置信",
    "热点 95%置信",
    "热点 90%置信",
    "冷点 90%置信",
    "冷点 95%置信",
    "冷点 99%置信",
    "不显著",
)


class HotspotDataLayer(DataLayer):
    """A DataLayer that also puts its drawing script into the page (once)."""

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Add gridgov-hotspots.js to the page's script before the layer's data and code."""
        figure = self.get_root()
        assert isinstance(figure, Figure), "render a layer inside a Figure"
        if "gridgov_hotspots_js" not in figure.script._children:
            script = (STATIC_DIR / "gridgov-hotspots.js").read_text(encoding="utf-8")
            figure.script.add_child(Raw(script), name="gridgov_hotspots_js")
        super().render(**kwargs)


def hotspot_layer(layer: HotspotLayer, *, view: View, decimals: int) -> DataLayer:
    """The grids in view coloured by Gi* class, with tooltips and a legend (shown with it)."""
    index = {name: i for i, name in enumerate(CLASSES)}
    cells = layer.cells
    data = {
        "p": decimals,
        "k": [c.code for c in cells],
        "n": [c.name for c in cells],
        "c": [index.get(c.hot_class, len(CLASSES) - 1) for c in cells],
        "z": [round(c.z, 2) for c in cells],
        "x": [c.count for c in cells],
        "t": [c.trend or "" for c in cells],
        "g": encode.encode_geometries(
            [c.wkb for c in cells], decimals=decimals, gcj02=view.shift_gcj02
        ),
    }
    options = {
        "id": "hotspots",
        "title": layer.title,
        "colours": list(COLOURS),
        "labels": list(LABELS),
        "meanings": [layer.meanings.get(name, "") for name in CLASSES],
    }
    hot = sum(1 for c in cells if c.hot_class.startswith("热点"))
    return HotspotDataLayer(
        "hotspots", data, options, name=f"热点分析 Gi* ({hot}个热点网格)", show=False
    )


__all__ = ["CLASSES", "COLOURS", "hotspot_layer"]
