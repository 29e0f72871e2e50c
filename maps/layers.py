"""folium layers of the dashboards, each drawn by `gridgov-maps.js` from compact data.

A layer here is a folium `Layer` (so it sits in the layer control like any other) whose
script hands one JSON object to a function of our script: `gridgov.outlines`,
`gridgov.choropleth`, `gridgov.events`, `gridgov.duplicates`, `gridgov.heat`. The data is
columnar (one array per property, short keys) with polyline-encoded geometry
(`maps.encode`), so a city's grids fit in a page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from branca.element import Element, Figure
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import VectorGridProtobuf
from folium.template import Template

from maps import encode
from maps.model import (
    DeviceMarker,
    DuplicatePair,
    GridFigure,
    HeatPoint,
    ListedMarker,
    Marker,
    Shape,
    View,
)

# The measures of the choropleth: key, label, unit, and whether high values are good.
MEASURES: Final = (
    ("open", "在办事件", "件", False),
    ("overdue", "超期事件", "件", False),
    ("on_time_rate", "按期结案率", "%", True),
    ("events_per_1000", "每千人事件数", "件/千人", False),
    ("special_density", "特殊人群密度", "人/千人", False),
    ("appeals", "诉求热点", "件", False),
)
MEASURE_KEYS: Final = tuple(m[0] for m in MEASURES)
# Measures go to the page as integers: counts as they are, rates and densities times 10.
MEASURE_SCALES: Final = {
    "open": 1,
    "overdue": 1,
    "on_time_rate": 10,
    "events_per_1000": 10,
    "special_density": 10,
    "appeals": 1,
}


def compact_json(value: Any) -> str:
    """JSON without spaces, safe inside a <script> element."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


class Raw(Element):
    """Text put into the page as it is: branca would read it as a Jinja template again, and
    polyline strings may contain "{{" or "{#"."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class DataLayer(Layer):
    """A layer drawn by `gridgov.<function>(data, options, map)`."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = gridgov.{{ this.function }}(
                gridgov.data[{{ this.get_name()|tojson }}], {{ this.options_json }},
                {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        function: str,
        data: dict[str, Any],
        options: dict[str, Any],
        *,
        name: str,
        show: bool = True,
        control: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "GridgovLayer"
        self.function = function
        self.data_json = compact_json(data)
        self.options_json = compact_json(options)

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Put the data into the page's script just before the layer's own code."""
        figure = self.get_root()
        assert isinstance(figure, Figure), "render a layer inside a Figure"
        assignment = f"gridgov.data[{compact_json(self.get_name())}] = {self.data_json};"
        figure.script.add_child(Raw(assignment), name=self.get_name() + "_data")
        # folium's Layer.render is unannotated (and a super() call escapes untyped_calls_exclude).
        super().render(**kwargs)  # type: ignore[no-untyped-call]


def outlines(
    shapes: Sequence[Shape],
    *,
    view: View,
    decimals: int,
    name: str,
    layer_id: str,
    style: dict[str, Any],
    drill: bool = False,
    show: bool = True,
    link: str | None = None,
) -> DataLayer:
    """Outlines (streets, communities, jurisdictions …) with their names as tooltips; with
    `link` (a URL with `{code}`) a tap opens a popup linking to that page."""
    data = {
        "p": decimals,
        "k": [s.code for s in shapes],
        "n": [s.name for s in shapes],
        "g": encode.encode_geometries(
            [s.wkb for s in shapes], decimals=decimals, gcj02=view.shift_gcj02
        ),
    }
    options = {"id": layer_id, "style": style, "drill": drill, "link": link}
    return DataLayer("outlines", data, options, name=name, show=show)


def _grid_name(name: str, code: str, community: str | None) -> str | int:
    """0 when the name is the usual `<community>第<n>网格`, rebuilt by the page; else the name."""
    if community and name == f"{community}第{int(code[-3:])}网格":
        return 0
    return name


def choropleth(
    grids: Sequence[GridFigure],
    *,
    view: View,
    decimals: int,
    measure: str,
    admin_names: dict[str, str],
    name: str = "网格 (专题)",
) -> DataLayer:
    """The grids coloured by the selected measure, with the selector and the legend.

    Codes are sorted and delta-coded, names left out when they follow the usual pattern, and
    each measure is one comma-separated string (rates times 10): a city's 20,000 grids stay
    a page, not a download.
    """
    ordered = sorted(grids, key=lambda g: g.code)
    data = {
        "p": decimals,
        "kd": encode.delta_codes([g.code for g in ordered]),
        "n": [_grid_name(g.name, g.code, admin_names.get(g.code[:12])) for g in ordered],
        "g": encode.encode_geometries(
            [g.wkb for g in ordered], decimals=decimals, gcj02=view.shift_gcj02
        ),
        "m": {
            key: encode.number_list([getattr(g, key) for g in ordered], scale)
            for key, scale in MEASURE_SCALES.items()
        },
        "ms": MEASURE_SCALES,
        # Street and community names: drill-down links, and the grid names left out above.
        "a": admin_names,
    }
    options = {
        "id": "grids",
        "measure": measure if measure in MEASURE_KEYS else MEASURE_KEYS[0],
        "measures": [
            {"key": k, "label": label, "unit": unit, "good_high": good}
            for k, label, unit, good in MEASURES
        ],
        "drill": True,
    }
    return DataLayer("choropleth", data, options, name=name)


def _marker_data(markers: Sequence[Marker], view: View) -> dict[str, Any]:
    lats, lons = encode.points([(m.lon, m.lat) for m in markers], gcj02=view.shift_gcj02)
    categories = sorted({m.category for m in markers})
    units = sorted({m.unit or "" for m in markers})
    category_index = {c: i for i, c in enumerate(categories)}
    unit_index = {u: i for i, u in enumerate(units)}
    return {
        "k": [m.code for m in markers],
        "y": lats,
        "x": lons,
        "cl": categories,
        "c": [category_index[m.category] for m in markers],
        "ul": units,
        "u": [unit_index[m.unit or ""] for m in markers],
        "s": [m.status + (f"·{m.stage}" if m.stage else "") for m in markers],
        "d": [m.deadline for m in markers],
        "l": [m.light for m in markers],
        "h": [m.hours_overdue for m in markers],
        "t": [m.time_left for m in markers],
    }


def events(
    markers: Sequence[Marker],
    *,
    view: View,
    name: str,
    layer_id: str,
    color: str | None = None,
    show: bool = True,
) -> DataLayer:
    """Events as circle markers coloured by light (or one `color`), with a popup linking
    to the event."""
    options = {"id": layer_id, "color": color, "link": view.event_link}
    return DataLayer("events", _marker_data(markers, view), options, name=name, show=show)


def listed(markers: Sequence[ListedMarker], *, view: View, name: str, link: bool) -> DataLayer:
    """Cases under 挂牌督办 as flags with a popup (category, unit, demand, reply deadline) and a
    legend entry; `link` to the case for those who may open it (not leaders)."""
    lats, lons = encode.points([(m.lon, m.lat) for m in markers], gcj02=view.shift_gcj02)
    data = {
        "k": [m.code for m in markers],
        "y": lats,
        "x": lons,
        "c": [m.category for m in markers],
        "u": [m.unit for m in markers],
        "m": [m.demand for m in markers],
        "i": [m.issued for m in markers],
        "d": [m.reply_deadline for m in markers],
        "r": [m.replied for m in markers],
        "s": [m.status for m in markers],
    }
    options = {"id": "listed", "link": view.event_link if link else None}
    return DataLayer("listed", data, options, name=name)


def devices(markers: Sequence[DeviceMarker], *, view: View, name: str, layer_id: str) -> DataLayer:
    """Sensors as markers coloured by state (alarm red, offline grey), with a popup naming the
    device, its last value and its open alarm (linked like events)."""
    lats, lons = encode.points([(m.lon, m.lat) for m in markers], gcj02=view.shift_gcj02)
    data = {
        "k": [m.code for m in markers],
        "y": lats,
        "x": lons,
        "n": [m.name for m in markers],
        "t": [m.type_name for m in markers],
        "s": [m.state for m in markers],
        "v": [m.last_value for m in markers],
        "e": [m.alarm_event for m in markers],
    }
    options = {"id": layer_id, "link": view.event_link}
    return DataLayer("devices", data, options, name=name)


def duplicates(pairs: Sequence[DuplicatePair], *, view: View, name: str) -> DataLayer:
    """Dashed lines between events that may be (or were voided as) the same case."""
    a_lat, a_lon = encode.points([(p.lon, p.lat) for p in pairs], gcj02=view.shift_gcj02)
    b_lat, b_lon = encode.points(
        [(p.other_lon, p.other_lat) for p in pairs], gcj02=view.shift_gcj02
    )
    data = {
        "k": [p.code for p in pairs],
        "o": [p.other_code for p in pairs],
        "a": [list(x) for x in zip(a_lat, a_lon, strict=True)],
        "b": [list(x) for x in zip(b_lat, b_lon, strict=True)],
        "v": [p.voided for p in pairs],
    }
    return DataLayer("duplicates", data, {"id": "duplicates"}, name=name)


class HeatLayer(JSCSSMixin, DataLayer):
    """Leaflet.heat over aggregated cells (never the events themselves)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # folium's name for the script, so `maps.assets` serves it from node_modules.
        self.default_js = [("leaflet-heat.js", "leaflet.heat/dist/leaflet-heat.js")]


def heat(
    cells: Sequence[HeatPoint], *, view: View, cell_deg: float, name: str, show: bool = True
) -> HeatLayer:
    """A heat map of event counts per cell (one polyline of cell positions, ~11 m precision,
    and their counts), weighted against the busiest cell."""
    ordered = sorted(cells, key=lambda c: (round(c.lat / cell_deg), c.lon))
    data = {
        "pts": encode.encode_points(
            [(c.lon, c.lat) for c in ordered], decimals=4, gcj02=view.shift_gcj02
        ),
        "p": 4,
        "w": encode.number_list([c.count for c in ordered]),
    }
    return HeatLayer("heat", data, {"id": "heat", "cell": cell_deg}, name=name, show=show)


def vector_tiles(
    view: View,
    *,
    layer: str,
    name: str,
    min_zoom: int,
    style: dict[str, Any] | None = None,
    style_js: str | None = None,  # a JS function(properties) → style, per feature
    show: bool = True,
) -> VectorGridProtobuf | None:
    """Buildings or events as vector tiles from the app's tile endpoint, at high zoom only.

    None when the page has no tile server (an exported file) or when overlays are moved to
    GCJ-02: tiles are cut in CGCS2000 and would not line up with a GCJ-02 basemap.
    """
    if view.tiles_url is None or view.shift_gcj02:
        return None
    url = view.tiles_url.replace("{layer}", layer)
    options = {
        "minZoom": min_zoom,
        "maxZoom": 22,
        "rendererFactory": None,  # replaced below: canvas tiles
        "interactive": False,
        "vectorTileLayerStyles": {layer: None if style_js else style},
    }
    # Functions cannot travel in JSON: spliced in where their placeholder null stands.
    text = compact_json(options).replace(
        '"rendererFactory":null', '"rendererFactory":L.canvas.tile'
    )
    if style_js:
        text = text.replace(f'"{layer}":null', f'"{layer}":{style_js}')
    return VectorGridProtobuf(url, name=name, options=text, show=show)


__all__ = [
    "MEASURES",
    "MEASURE_KEYS",
    "DataLayer",
    "HeatLayer",
    "Raw",
    "choropleth",
    "compact_json",
    "duplicates",
    "events",
    "heat",
    "outlines",
    "vector_tiles",
]
