"""Pages never load anything from a CDN: assets are linked locally or inlined for an export."""

from __future__ import annotations

import re

import folium
import pytest
from branca.element import Figure
from folium.plugins import HeatMap

from maps.assets import ASSETS, VENDOR_DIR, MissingAsset, inline_css, localise
from maps.model import View

EXTERNAL = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["']?(?:https?:)?//""")


def figure_with(*elements: folium.MacroElement) -> Figure:
    figure = Figure()
    m = folium.Map(tiles=None).add_to(figure)
    for element in elements:
        element.add_to(m)
    return figure


def test_every_known_asset_is_installed():
    missing = [name for name, path in ASSETS.items() if path and not (VENDOR_DIR / path).exists()]
    assert missing == [], "run `make` (npm ci --prefix maps/vendor)"


def test_a_served_page_links_local_files_only():
    figure = figure_with(HeatMap([[30.7, 111.3, 1.0]]))
    localise(figure, View(mode="served", vendor_url="/static/vendor"))
    html = figure.render()
    assert not EXTERNAL.search(html)
    assert '/static/vendor/leaflet/dist/leaflet.js"' in html
    assert "/static/vendor/leaflet.heat/dist/leaflet-heat.js" in html
    assert "jquery" not in html and "bootstrap" not in html  # folium defaults we do not use


def test_an_export_inlines_scripts_and_the_images_of_stylesheets():
    figure = figure_with(HeatMap([[30.7, 111.3, 1.0]]))
    localise(figure, View(mode="export", tiles_url=None))
    html = figure.render()
    assert not EXTERNAL.search(html)
    assert "<script src=" not in html and '<link rel="stylesheet"' not in html
    assert "L.heatLayer" in html and "data:image/png;base64," in html


def test_a_plugin_with_an_unknown_asset_stops_the_render():
    heat = HeatMap([[30.7, 111.3, 1.0]])
    heat.default_js = [("mystery", "https://static.example.org/mystery.js")]
    figure = figure_with(heat)
    with pytest.raises(MissingAsset, match="mystery"):
        localise(figure, View())


def test_css_urls_become_data_uris():
    css = inline_css(VENDOR_DIR / "leaflet/dist/leaflet.css")
    assert "images/layers.png" not in css and "data:image/png;base64," in css
