"""The basemap under every map page, chosen in settings: none, OpenStreetMap, Tianditu or XYZ.

`none` (the default) draws no tiles at all: a clean outline map of districts, streets and
grids that needs no network. Tianditu (天地图) is CGCS2000 and lines up with our data as it
is; a self-hosted XYZ source may be GCJ-02 (Gaode/Tencent tiles), and then the pages move
every overlay to GCJ-02 (`View.shift_gcj02`) so the two line up.
"""

from __future__ import annotations

from typing import Final

import folium

from maps.model import View

OSM_URL: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION: Final = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
)
# Tianditu's web-mercator (TILEMATRIXSET=w) vector map and its Chinese labels.
TIANDITU_URL: Final = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
TIANDITU_ATTRIBUTION: Final = "&copy; 天地图 Tianditu (国家地理信息公共服务平台)"
OUTLINE_BACKGROUND: Final = "#eef1f4"


class BasemapError(ValueError):
    """The basemap settings are incomplete; the message says which setting to add."""


def add_basemap(m: folium.Map, view: View) -> None:
    """Add the configured basemap's tile layers to `m` (nothing for `none`)."""
    if view.basemap == "none":
        return
    if view.basemap == "osm":
        folium.TileLayer(OSM_URL, attr=OSM_ATTRIBUTION, name="OpenStreetMap", max_zoom=19).add_to(m)
        return
    if view.basemap == "tianditu":
        if not view.tianditu_key:
            raise BasemapError(
                "BASEMAP=tianditu needs TIANDITU_KEY (a browser key from the Tianditu console)"
            )
        for layer, name, overlay in (("vec", "天地图 矢量", False), ("cva", "天地图 注记", True)):
            url = TIANDITU_URL.replace("{layer}", layer).replace("{key}", view.tianditu_key)
            folium.TileLayer(
                url,
                attr=TIANDITU_ATTRIBUTION,
                name=name,
                subdomains="01234567",
                max_zoom=18,
                overlay=overlay,
                control=False,
            ).add_to(m)
        return
    if not view.basemap_url:
        raise BasemapError("BASEMAP=xyz needs BASEMAP_URL, a tile template with {z}/{x}/{y}")
    folium.TileLayer(
        view.basemap_url,
        attr="basemap: " + view.basemap_url.split("/")[2],
        name="底图",
        max_zoom=19,
    ).add_to(m)


def new_map(view: View, bbox: tuple[float, float, float, float]) -> folium.Map:
    """A canvas-rendered folium map fitted to `bbox` (already in the basemap's CRS)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    m = folium.Map(
        location=[(min_lat + max_lat) / 2, (min_lon + max_lon) / 2],
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        zoom_snap=0.25,
        max_zoom=19,
    )
    add_basemap(m, view)
    m.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])
    return m


__all__ = ["BasemapError", "add_basemap", "new_map"]
