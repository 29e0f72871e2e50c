"""Leaflet, folium's plugins and our own script from this machine, never from a CDN.

folium names each script and stylesheet it needs (`default_js`/`default_css`, pointing at
CDNs). Before a page is rendered every such element in it is given local files instead: links
under the app's `/static/vendor` (the npm packages in `maps/vendor/node_modules`, installed by
`make`) when the page is served, or the files' text inlined — images in stylesheets as data
URIs — when it is exported as one file that must open without any network. An asset this
table does not know stops the render, so a new plugin cannot quietly reach the internet.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from branca.element import Element, Figure
from folium.elements import JSCSSMixin

from maps.layers import Raw
from maps.model import View

VENDOR_DIR: Final = Path(__file__).resolve().parent / "vendor" / "node_modules"
STATIC_DIR: Final = Path(__file__).resolve().parent / "static"

# folium's asset name → file under node_modules; None: not used by our pages, left out.
ASSETS: Final[dict[str, str | None]] = {
    "leaflet": "leaflet/dist/leaflet.js",
    "leaflet_css": "leaflet/dist/leaflet.css",
    "leaflet-heat.js": "leaflet.heat/dist/leaflet-heat.js",
    "vectorGrid": "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js",
    "markerclusterjs": "leaflet.markercluster/dist/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/dist/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/dist/MarkerCluster.Default.css",
    "awesome_markers": "leaflet.awesome-markers/dist/leaflet.awesome-markers.min.js",
    "awesome_markers_css": "leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
    "awesome_markers_font_css": "@fortawesome/fontawesome-free/css/all.min.css",
    "jquery": "jquery/dist/jquery.min.js",
    "bootstrap": "bootstrap/dist/js/bootstrap.bundle.min.js",
    "bootstrap_css": "bootstrap/dist/css/bootstrap.min.css",
    # Bootstrap 3's glyphicons and folium's rotate rule serve awesome-markers icons only.
    "glyphicons_css": None,
    "awesome_rotate_css": None,
}
# folium's Map asks for these by default; our pages draw circle markers and their own
# controls, so they would only add weight (and ~1 MB of fonts to an export).
UNUSED_BY_DEFAULT: Final = frozenset(
    {
        "jquery",
        "bootstrap",
        "bootstrap_css",
        "awesome_markers",
        "awesome_markers_css",
        "awesome_markers_font_css",
        "glyphicons_css",
        "awesome_rotate_css",
    }
)
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")


class MissingAsset(RuntimeError):
    """A script or stylesheet a page needs is not available locally."""


def _elements(root: Element) -> Iterator[Element]:
    yield root
    for child in list(root._children.values()):
        yield from _elements(child)


def _file(name: str) -> Path | None:
    if name not in ASSETS:
        raise MissingAsset(
            f"folium asks for the asset '{name}', which gridgov does not serve locally; add "
            "its npm package to maps/vendor/package.json and its file to maps.assets.ASSETS"
        )
    relative = ASSETS[name]
    return None if relative is None else VENDOR_DIR / relative


def _read(path: Path) -> str:
    if not path.exists():
        raise MissingAsset(
            f"{path} is missing; install the map assets with `make` "
            "(or `npm ci --prefix maps/vendor`)"
        )
    return path.read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def inline_css(path: Path) -> str:
    """A stylesheet's text with the files it points at (images, fonts) as data URIs."""

    def replace(match: re.Match[str]) -> str:
        target = match.group(2).strip()
        if target.startswith(("data:", "#", "http:", "https:", "//")):
            return match.group(0)
        found = (path.parent / target.split("?")[0].split("#")[0]).resolve()
        return f'url("{_data_uri(found)}")' if found.exists() else match.group(0)

    return _CSS_URL.sub(replace, _read(path))


def _script(text: str) -> str:
    # A literal "</script" inside inlined code would end the element early.
    return "<script>" + text.replace("</script", "<\\/script") + "</script>"


def localise(figure: Figure, view: View, drop: frozenset[str] = UNUSED_BY_DEFAULT) -> None:
    """Point every folium asset of `figure` at local files, or inline them for an export.

    Also adds our own stylesheet and script (maps/static), inlined in both modes. Call it
    once, after every layer is added and before `figure.render()`.
    """
    inline = view.mode == "export"
    base = view.vendor_url.rstrip("/")
    seen: set[str] = set()
    for element in _elements(figure):
        if not isinstance(element, JSCSSMixin):
            continue
        local_js: list[tuple[str, str]] = []
        local_css: list[tuple[str, str]] = []
        for wanted, local in ((element.default_js, local_js), (element.default_css, local_css)):
            for name, _cdn in wanted:
                path = _file(name)
                if path is None or name in drop:
                    continue
                relative = path.relative_to(VENDOR_DIR).as_posix()
                if not inline:
                    local.append((name, f"{base}/{relative}"))
                elif name not in seen:
                    seen.add(name)
                    text = inline_css(path) if path.suffix == ".css" else _read(path)
                    markup = f"<style>{text}</style>" if path.suffix == ".css" else _script(text)
                    figure.header.add_child(Raw(markup), name=f"asset_{name}")
        # Instance attributes shadow the class lists, so other maps keep folium's defaults.
        element.default_js = local_js
        element.default_css = local_css
    css = (STATIC_DIR / "gridgov-maps.css").read_text(encoding="utf-8")
    figure.header.add_child(Raw(f"<style>{css}</style>"), name="gridgov_css")
    script = (STATIC_DIR / "gridgov-maps.js").read_text(encoding="utf-8")
    # First in the page's closing script: after every library, before the map is made.
    figure.script.add_child(Raw(script), name="gridgov_js", index=0)


__all__ = ["ASSETS", "VENDOR_DIR", "MissingAsset", "inline_css", "localise"]
