"""Basemaps from settings, and overlays moved to GCJ-02 for a Gaode/Tencent basemap."""

from __future__ import annotations

import pytest
import shapely
from branca.element import Figure
from pydantic import ValidationError

from gis.config import Settings
from gis.crs import wgs84_to_gcj02
from maps import layers
from maps.basemap import BasemapError, new_map
from maps.encode import decode_polyline
from maps.model import Shape, View

BBOX = (111.26, 30.68, 111.33, 30.75)


def rendered(view: View) -> str:
    figure = Figure()
    new_map(view, BBOX).add_to(figure)
    return figure.render()


def test_no_basemap_by_default_draws_no_tiles():
    assert Settings().basemap == "none"
    assert "L.tileLayer" not in rendered(View())


def test_tianditu_uses_the_key_and_adds_its_labels():
    html = rendered(View(basemap="tianditu", tianditu_key="abc123"))
    assert "tianditu.gov.cn/vec_w/wmts" in html and "tianditu.gov.cn/cva_w/wmts" in html
    assert "tk=abc123" in html
    with pytest.raises(BasemapError, match="TIANDITU_KEY"):
        rendered(View(basemap="tianditu"))


def test_settings_refuse_an_incomplete_basemap():
    with pytest.raises(ValidationError, match="TIANDITU_KEY"):
        Settings(basemap="tianditu")
    with pytest.raises(ValidationError, match="BASEMAP_URL"):
        Settings(basemap="xyz", basemap_url="https://tiles.example.cn/tile.png")
    ok = Settings(basemap="xyz", basemap_url="https://t.example.cn/{z}/{x}/{y}.png")
    assert ok.basemap_crs == "wgs84"


def test_a_gcj02_basemap_moves_overlays_and_drops_vector_tiles():
    square = Shape(
        "420502001001001", "第1网格", shapely.to_wkb(shapely.box(111.3, 30.7, 111.31, 30.71))
    )
    view = View(basemap="xyz", basemap_url="https://t.example.cn/{z}/{x}/{y}.png", shift_gcj02=True)
    layer = layers.outlines([square], view=view, decimals=6, name="网格", layer_id="g", style={})
    ring = layer.data_json.split('"g":["')[1].split('"')[0]
    lat, lon = decode_polyline(ring, 6)[0]
    first = shapely.box(111.3, 30.7, 111.31, 30.71).exterior.coords[0]
    moved_lon, moved_lat = wgs84_to_gcj02(*first)
    assert (lat, lon) == (round(moved_lat, 6), round(moved_lon, 6))
    assert layers.vector_tiles(view, layer="buildings", name="建筑", min_zoom=15) is None
    plain = View()
    assert layers.vector_tiles(plain, layer="buildings", name="建筑", min_zoom=15) is not None


def test_vector_tiles_style_each_feature_by_a_function_or_all_alike_by_a_dict():
    """The leader map's open events are red when overdue, blue otherwise: the style function
    reaches the page as code; a plain style stays a JSON object."""
    import folium

    red_or_blue = "function(p){return {fillColor:p.overdue?'#d7191c':'#1559b7'};}"
    m = folium.Map()
    events = layers.vector_tiles(
        View(), layer="events", name="在办", min_zoom=15, style_js=red_or_blue
    )
    grey = {"color": "#6b7280"}
    buildings = layers.vector_tiles(View(), layer="buildings", name="建筑", min_zoom=15, style=grey)
    assert events is not None and buildings is not None
    events.add_to(m)
    buildings.add_to(m)
    page = m.get_root().render()
    assert '"vectorTileLayerStyles":{"events":' + red_or_blue + "}" in page
    assert '"vectorTileLayerStyles":{"buildings":{"color":"#6b7280"}}' in page
