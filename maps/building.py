"""The 楼盘表 page (building household table): a building as units across and floors down, one
cell per room coloured by its use, phone-first. Renders the table the API answers
(`GET /api/buildings/{code}/households`, as a dict); a room's residents are fetched from the
residents route when the room is opened, so no name is ever in the page source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from maps.assets import STATIC_DIR
from maps.page import TEMPLATES, num

# One short mark per special group (特殊人群), shown on the room; the legend spells them out.
GROUP_MARKS: Final = {
    "elderly_alone": "独",
    "disabled": "残",
    "low_income": "低",
    "left_behind": "留",
    "entitled": "优",
    "released_prisoner": "释",
    "community_correction": "矫",
    "mental_disorder": "精",
    "drug_user": "毒",
    "key_youth": "青",
}


def render_building(
    table: Mapping[str, Any], *, grid_link: str | None, event_link: str | None
) -> str:
    """The 楼盘表 page of one building as HTML (CSS and script inline, no network needed)."""
    marks_used = sorted(
        {
            (g["type"], g["label"])
            for row in table["rows"]
            for unit in row["units"]
            for room in unit["rooms"]
            for g in room["special_groups"]
        }
    )
    return TEMPLATES.get_template("building.html").render(
        t=table,
        num=num,
        marks=GROUP_MARKS,
        marks_used=marks_used,
        grid_link=grid_link,
        event_link=event_link,
        css=(STATIC_DIR / "gridgov-building.css").read_text(encoding="utf-8"),
        script=(STATIC_DIR / "gridgov-building.js").read_text(encoding="utf-8"),
    )


__all__ = ["GROUP_MARKS", "render_building"]
