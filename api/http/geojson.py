"""GeoJSON (RFC 7946) features built from service results."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def feature(item: BaseModel, *, id_field: str = "code") -> dict[str, Any]:
    """A Feature whose geometry is the item's `geometry` and properties the rest."""
    properties = item.model_dump(exclude={"geometry"})
    return {
        "type": "Feature",
        "id": properties[id_field],
        "geometry": getattr(item, "geometry", None),
        "properties": properties,
    }


def feature_collection(items: list[Any], **members: Any) -> dict[str, Any]:
    """A FeatureCollection; `members` (total, page …) are foreign members beside features."""
    return {"type": "FeatureCollection", **members, "features": [feature(i) for i in items]}
