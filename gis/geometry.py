"""Checks for every polygon entering the system, with errors that say what to fix in the source."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.errors import DomainError

__all__ = [
    "GeometryError",
    "explain",
    "parse_geometry",
    "to_multipolygon",
    "validate_lon_lat_bounds",
    "validate_polygonal",
]

_EWKT_SRID = re.compile(r"^\s*SRID=\d+\s*;", re.IGNORECASE)
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_GEOS_REASON = re.compile(r"^(?P<what>[^\[]+)\[(?P<x>[^\s\]]+) (?P<y>[^\s\]]+)")

# GEOS is_valid_reason texts -> (reason code, phrase an admin understands).
_VALIDITY: dict[str, tuple[str, str]] = {
    "self-intersection": ("self_intersection", "self-intersection"),
    "ring self-intersection": (
        "self_intersection",
        "ring self-intersection (a ring touches itself)",
    ),
    "too few points in geometry component": ("too_few_points", "ring with too few distinct points"),
    "too few distinct points in geometry component": (
        "too_few_points",
        "ring with too few distinct points",
    ),
    "hole lies outside shell": ("hole_outside_shell", "hole lies outside its outer ring"),
    "holes are nested": ("nested_holes", "hole lies inside another hole"),
    "nested shells": ("nested_shells", "polygon lies inside another part of the same multipolygon"),
    "interior is disconnected": ("disconnected_interior", "holes cut the interior in two"),
    "duplicate rings": ("duplicate_rings", "duplicate rings"),
    "invalid coordinate": ("invalid_coordinate", "invalid coordinate (NaN or infinite)"),
    "ring is not closed": ("ring_not_closed", "ring is not closed"),
    "repeated point": ("repeated_point", "repeated point"),
}

_CHINA_LON, _CHINA_LAT = (73.0, 135.0), (18.0, 54.0)
_PROJECTED_MIN = 1000.0  # no degree value comes near this; GK/Mercator metres are far above it


class GeometryError(DomainError, ValueError):
    """A geometry that cannot be stored: str() is a sentence for the admin, `reason` a code."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _num(value: float) -> str:
    """Format a coordinate to ~1 cm in degrees without trailing zeros."""
    return f"{value:.7f}".rstrip("0").rstrip(".")


def _point(x: float, y: float) -> str:
    return f"({_num(x)}, {_num(y)})"


def _check_geojson_rings(geometry: dict[str, Any]) -> None:
    """Check closure and point count on the raw rings, since shapely silently closes them."""
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    polygons: Any
    if kind == "Polygon":
        polygons = [coords]
    elif kind == "MultiPolygon":
        polygons = coords
    else:
        return
    if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
        raise GeometryError(
            f"GeoJSON {kind} coordinates must be a list of rings of [lon, lat] positions.",
            reason="parse_error",
        )
    for p, rings in enumerate(polygons):
        for r, ring in enumerate(rings):
            where = f"ring {r} of polygon {p}"
            if len(ring) >= 2 and list(ring[0]) != list(ring[-1]):
                raise GeometryError(
                    f"{where} is not closed: first point {_point(*ring[0][:2])} differs from "
                    f"last point {_point(*ring[-1][:2])}; repeat the first point at the end.",
                    reason="ring_not_closed",
                )
            if len(ring) < 4:
                raise GeometryError(
                    f"{where} has only {len(ring)} point(s); a ring needs at least 4 "
                    "(3 corners plus the first point repeated at the end).",
                    reason="too_few_points",
                )


def _from_geojson(value: dict[str, Any]) -> BaseGeometry:
    if value.get("type") == "Feature":
        geometry = value.get("geometry")
        if not geometry:
            raise GeometryError("the GeoJSON Feature has no geometry.", reason="empty")
        value = geometry
    if value.get("type") == "FeatureCollection":
        raise GeometryError(
            "a FeatureCollection holds many geometries; pass its features one at a time.",
            reason="parse_error",
        )
    _check_geojson_rings(value)
    return shape(value)


def parse_geometry(value: str | bytes | dict[str, Any] | BaseGeometry) -> BaseGeometry:
    """Parse GeoJSON (geometry or Feature), WKT/EWKT, WKB bytes/hex, or pass a shapely geometry."""
    if isinstance(value, BaseGeometry):
        return value
    try:
        if isinstance(value, dict):
            return _from_geojson(value)
        if isinstance(value, bytes):
            if value[:1] in (b"\x00", b"\x01"):  # WKB byte-order marker
                return shapely.from_wkb(value)
            value = value.decode("utf-8")
        text = value.strip()
        if text.startswith("{"):
            return _from_geojson(json.loads(text))
        if _HEX.match(text):
            return shapely.from_wkb(text)
        return shapely.from_wkt(_EWKT_SRID.sub("", text))
    except GeometryError:
        raise
    except (ShapelyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        if "closed linestring" in str(exc):
            raise GeometryError(
                "a ring is not closed: repeat its first point at the end.",
                reason="ring_not_closed",
            ) from exc
        raise GeometryError(
            f"could not read the geometry ({exc}); give GeoJSON, WKT, EWKT or WKB.",
            reason="parse_error",
        ) from exc


def validate_lon_lat_bounds(geom: BaseGeometry, *, label: str = "geometry") -> None:
    """Check every coordinate is lon -180..180, lat -90..90 degrees (CGCS2000, EPSG:4490)."""
    xy = shapely.get_coordinates(geom)
    if len(xy) == 0:
        return
    x, y = xy[:, 0], xy[:, 1]
    # Written as "not inside" so NaN counts as outside.
    bad_x, bad_y = ~((x >= -180) & (x <= 180)), ~((y >= -90) & (y <= 90))
    if not (bad_x.any() or bad_y.any()):
        return
    first = f"first point {_num(x[0])}, {_num(y[0])}"
    swapped_in_china = (
        (y >= _CHINA_LON[0]).all()
        and (y <= _CHINA_LON[1]).all()
        and (x >= _CHINA_LAT[0]).all()
        and (x <= _CHINA_LAT[1]).all()
    )
    if swapped_in_china:
        raise GeometryError(
            f"{label} coordinates look like lat/lon ({first}): swap them to lon/lat.",
            reason="lon_lat_swapped",
        )
    if (np.maximum(np.abs(x), np.abs(y)) > _PROJECTED_MIN).all():
        raise GeometryError(
            f"{label} coordinates look like projected metres ({first}); they must be CGCS2000 "
            "lon/lat degrees (EPSG:4490): reproject the source before importing.",
            reason="projected_coordinates",
        )
    i = int(np.argmax(bad_x | bad_y))
    axis, value, limit = ("lon", x[i], "-180..180") if bad_x[i] else ("lat", y[i], "-90..90")
    raise GeometryError(
        f"{label} has {axis} {_num(value)} at point {_point(x[i], y[i])}, outside {limit}; "
        "coordinates must be lon/lat degrees (EPSG:4490).",
        reason="out_of_range",
    )


def _diagnose(geom: BaseGeometry) -> tuple[str, str] | None:
    """Translate shapely's validity reason into (reason code, fragment), or None if valid."""
    text = shapely.is_valid_reason(geom)
    if text is None or text == "Valid Geometry":
        return None
    match = _GEOS_REASON.match(text)
    what = (match["what"] if match else text).strip()
    code, phrase = _VALIDITY.get(what.lower(), ("invalid", what.lower()))
    if match is None:
        return code, phrase
    return code, f"{phrase} at {_point(float(match['x']), float(match['y']))}"


def explain(geom: BaseGeometry) -> str | None:
    """Say why a geometry is invalid, e.g. "self-intersection at (x, y)"; None if it is valid."""
    found = _diagnose(geom)
    return found[1] if found else None


def to_multipolygon(geom: BaseGeometry) -> shapely.MultiPolygon:
    """Return a Polygon as a one-part MultiPolygon; a MultiPolygon as is."""
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom]) if not geom.is_empty else shapely.MultiPolygon()
    raise GeometryError(
        f"geometry is a {geom.geom_type}; a Polygon or MultiPolygon is needed.", reason="wrong_type"
    )


def validate_polygonal(
    geom: BaseGeometry, *, label: str = "geometry", drop_z: bool = True
) -> shapely.MultiPolygon:
    """Check type, emptiness, lon/lat bounds and validity; return a 2D MultiPolygon."""
    if not isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
        raise GeometryError(
            f"{label} is a {geom.geom_type}; a Polygon or MultiPolygon is needed.",
            reason="wrong_type",
        )
    if geom.is_empty:
        raise GeometryError(
            f"{label} is empty; it needs at least one polygon with an outline.", reason="empty"
        )
    if drop_z:
        geom = shapely.force_2d(geom)
    validate_lon_lat_bounds(geom, label=label)
    found = _diagnose(geom)
    if found:
        raise GeometryError(f"{label} is not a valid polygon: {found[1]}.", reason=found[0])
    return to_multipolygon(geom)
