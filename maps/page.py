"""A map page: the folium map, its side panel, local assets, rendered to one HTML string."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import folium
from branca.element import Element, Figure
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from maps.assets import localise
from maps.layers import Raw
from maps.model import TrendDay, View

TEMPLATES: Final = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=False,
)


def num(value: int | float | None) -> str:
    """A count with thousands separators."""
    return "—" if value is None else f"{value:,}"


def pct(value: float | None) -> str:
    """A 0..1 rate as a percentage with one decimal."""
    return "—" if value is None else f"{100 * value:.1f}%"


def score(value: float | None) -> str:
    """A 0–100 score with one decimal."""
    return "—" if value is None else f"{value:.1f}"


def area_link(path: str, params: dict[str, Any]) -> Callable[[str | None], str]:
    """A function giving the URL of the same page for another area (None: the whole city)."""

    def link(code: str | None) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        if code:
            query["area"] = code
        else:
            query.pop("area", None)
        return f"{path}?{urlencode(query)}" if query else path

    return link


def trend_svg(days: list[TrendDay], width: int = 350, height: int = 120) -> Markup:
    """Reported and closed events per day as an inline SVG line chart (no chart library)."""
    if not days:
        return Markup("")
    left, right, top, bottom = 28, 6, 8, 18
    top_value = max(1, *(max(d.reported, d.closed) for d in days))
    step = (width - left - right) / max(1, len(days) - 1)

    def xy(i: int, v: int) -> str:
        x = left + i * step
        y = top + (height - top - bottom) * (1 - v / top_value)
        return f"{x:.1f},{y:.1f}"

    reported = " ".join(xy(i, d.reported) for i, d in enumerate(days))
    closed = " ".join(xy(i, d.closed) for i, d in enumerate(days))
    base = height - bottom
    return Markup(
        f'<svg class="gg-trend" width="{width}" height="{height}" role="img" '
        f'aria-label="近{len(days)}天每日上报与结案">'
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#bbb"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#bbb"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{top_value}</text>'
        f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{height - 4}">{days[0].day[5:]}</text>'
        f'<text x="{width - right}" y="{height - 4}" text-anchor="end">{days[-1].day[5:]}</text>'
        f'<polyline fill="none" stroke="#1559b7" stroke-width="1.6" points="{reported}">'
        "<title>上报</title></polyline>"
        f'<polyline fill="none" stroke="#1a9641" stroke-width="1.6" points="{closed}">'
        "<title>结案</title></polyline></svg>"
    )


def panel(template: str, **context: Any) -> str:
    """A side panel rendered from maps/templates with the number formatters."""
    return TEMPLATES.get_template(template).render(num=num, pct=pct, score=score, **context)


def render(m: folium.Map, view: View, *, title: str, panel_html: str) -> str:
    """The whole page: map, panel, assets (linked or inlined per `view.mode`)."""
    figure = Figure(title=title)
    figure.header.add_child(Element('<meta name="robots" content="noindex">'), name="robots")
    # Without it a phone lays the page out 980 px wide and shrinks it: the phone layout in
    # gridgov-maps.css (panel under the map) never applies and the map is a sliver beside it.
    figure.header.add_child(
        Element('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        name="viewport",
    )
    # No favicon request: an exported file has nowhere to fetch one from.
    figure.header.add_child(Element('<link rel="icon" href="data:,">'), name="favicon")
    m.add_to(figure)
    figure.html.add_child(Raw(panel_html), name="gridgov_panel")
    localise(figure, view)
    if view.mode == "export":
        figure.script.add_child(Element("gridgov.exported = true;"), name="gg_export", index=1)
    html: str = figure.render()
    return html.replace("<html>", '<html lang="zh-CN">', 1)


__all__ = ["area_link", "num", "panel", "pct", "render", "score", "trend_svg"]
