"""The leader map's hot-spot layer: Gi* over the whole district of the area in view (the
neighbourhood of a grid reaches across street lines), the grids in view drawn."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from events.exceptions import InvalidReport
from events.hotspots import district_hotspots
from grid.generalised import Outline
from maps.model import HotspotCell, HotspotLayer


def leader_hotspots(
    session: Session,
    *,
    prefix: str,
    outlines: list[Outline],
    start: datetime,
    end: datetime,
    days: int,
    category: str | None,
) -> HotspotLayer | None:
    """Hot spots of the district holding `prefix` for [start, end), for the grids in
    `outlines`; None for a city (each district is its own analysis) or an unknown category."""
    if len(prefix) < 6:
        return None
    try:
        report = district_hotspots(
            session, district_code=prefix[:6], start=start, end=end, category=category
        )
    except InvalidReport:  # a category the heat map may take but no such category exists
        return None
    by_code = {g.code: g for g in report.grids}
    cells = [
        HotspotCell(
            code=o.code,
            name=o.name,
            wkb=o.wkb,
            hot_class=g.hot_class,
            z=g.z,
            count=g.count,
            trend=g.trend,
        )
        for o in outlines
        if (g := by_code.get(o.code)) is not None
    ]
    title = f"热点分析（{report.district_name}，近{days}天，{report.category_name}）"
    return HotspotLayer(title=title, cells=cells, meanings=report.meanings)
