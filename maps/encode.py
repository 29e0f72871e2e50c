"""Compact geometry for pages: Google's encoded-polyline algorithm over quantised coordinates.

A city of 20,000 grids as GeoJSON is tens of megabytes of 15-digit numbers. Here every ring is
one polyline string (lat/lon scaled by 10^decimals, delta-coded, zig-zagged, 5 bits per
character, characters 63–126), closing vertex dropped; rings of a polygon are joined by a space
and polygons of a multipolygon by a comma (neither is a polyline character). The browser side
(`gridgov.decodeGeom`) turns them back into Leaflet lat/lng arrays. All encoding is vectorised
over every vertex of every geometry at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import MultiPoint

from gis.crs import Crs, from_storage_geometry

_CHUNKS = 7  # 35 bits: enough for any zig-zagged delta of a coordinate at 10^7


def decimals_for(tolerance_deg: float) -> int:
    """Decimals to keep for a view simplified to `tolerance_deg` (about a screen pixel):
    4 (≈11 m) for a city, 5 (≈1 m) for a district or street, 6 (≈0.1 m) closer in — always
    well under a pixel."""
    if tolerance_deg >= 2e-4:
        return 4
    return 5 if tolerance_deg >= 2e-5 else 6


def shift_lon_lat(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    """CGCS2000/WGS84 lon/lat rows moved to GCJ-02, for Gaode/Tencent basemaps."""
    if len(xy) == 0:
        return xy
    moved = from_storage_geometry(MultiPoint(xy), Crs.GCJ02)
    return np.asarray(shapely.get_coordinates(moved), dtype=np.float64)


def _encode_values(values: NDArray[np.int64]) -> tuple[bytes, NDArray[np.int64]]:
    """Polyline characters of signed integers and how many characters each took."""
    zigzag = ((values << 1) ^ (values >> 63)).astype(np.uint64)
    shifts = np.arange(_CHUNKS, dtype=np.uint64) * np.uint64(5)
    chunks = (zigzag[:, None] >> shifts[None, :]) & np.uint64(31)
    rest = zigzag[:, None] >> (shifts[None, :] + np.uint64(5))
    lengths = 1 + (rest > 0).sum(axis=1)
    used = np.arange(_CHUNKS)[None, :] < lengths[:, None]
    chars = chunks + np.where(rest > 0, np.uint64(32), np.uint64(0)) + np.uint64(63)
    return chars[used].astype(np.uint8).tobytes(), lengths.astype(np.int64)


def encode_geometries(wkbs: Sequence[bytes], *, decimals: int, gcj02: bool = False) -> list[str]:
    """Polygonal WKB geometries (CGCS2000 lon/lat) as compact polyline strings."""
    if not wkbs:
        return []
    geoms = shapely.from_wkb(list(wkbs))
    polygons, polygon_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_polygon = shapely.get_rings(polygons, return_index=True)
    xy, ring_of_vertex = shapely.get_coordinates(rings, return_index=True)
    # Drop each ring's closing vertex: Leaflet closes polygons itself.
    counts = np.bincount(ring_of_vertex, minlength=len(rings))
    last = np.cumsum(counts) - 1
    keep = np.ones(len(xy), dtype=bool)
    keep[last[counts > 0]] = False
    xy, ring_of_vertex = xy[keep], ring_of_vertex[keep]
    if gcj02:
        xy = shift_lon_lat(xy)
    scaled = np.rint(xy[:, ::-1] * 10**decimals).astype(np.int64)  # lat, lon
    deltas = scaled.copy()
    same_ring = np.zeros(len(scaled), dtype=bool)
    same_ring[1:] = ring_of_vertex[1:] == ring_of_vertex[:-1]
    deltas[1:][same_ring[1:]] -= scaled[:-1][same_ring[1:]]
    chars, lengths = _encode_values(deltas.reshape(-1))
    per_vertex = lengths.reshape(-1, 2).sum(axis=1)
    per_ring = np.bincount(ring_of_vertex, weights=per_vertex, minlength=len(rings))
    ends = np.cumsum(per_ring).astype(np.int64)
    starts = ends - per_ring.astype(np.int64)
    text = chars.decode("ascii")
    ring_text = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    out: list[list[list[str]]] = [[] for _ in range(len(wkbs))]
    polygon_rings: list[list[str]] = [[] for _ in range(len(polygons))]
    for ring, polygon in zip(ring_text, ring_polygon.tolist(), strict=True):
        polygon_rings[polygon].append(ring)
    for rings_of_polygon, owner in zip(polygon_rings, polygon_owner.tolist(), strict=True):
        out[owner].append(rings_of_polygon)
    return [",".join(" ".join(p) for p in polys) for polys in out]


def encode_points(
    lon_lat: Sequence[tuple[float, float]], *, decimals: int, gcj02: bool = False
) -> str:
    """Points as one polyline string (delta-coded in the order given)."""
    if not lon_lat:
        return ""
    xy = np.asarray(lon_lat, dtype=np.float64).reshape(-1, 2)
    if gcj02:
        xy = shift_lon_lat(xy)
    scaled = np.rint(xy[:, ::-1] * 10**decimals).astype(np.int64)
    deltas = scaled.copy()
    deltas[1:] -= scaled[:-1]
    chars, _ = _encode_values(deltas.reshape(-1))
    return chars.decode("ascii")


def delta_codes(codes: Sequence[str]) -> list[int]:
    """Sorted digit codes (≤ 15 digits, exact in a JavaScript number) as first value and
    differences: consecutive grids of a community differ by 1."""
    values = [int(c) for c in codes]
    return values[:1] + [b - a for a, b in itertools.pairwise(values)]


def number_list(values: Sequence[float | int | None], scale: int = 1) -> str:
    """Numbers times `scale` as integers joined by commas, empty for None: far shorter than
    JSON arrays with `null` and decimals."""
    return ",".join("" if v is None else str(round(v * scale)) for v in values)


def decode_polyline(text: str, decimals: int) -> list[tuple[float, float]]:
    """(lat, lon) pairs of one polyline string (for tests and tools)."""
    values: list[int] = []
    result = shift = 0
    for char in text:
        b = ord(char) - 63
        result |= (b & 31) << shift
        shift += 5
        if b < 32:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            result = shift = 0
    lat = lon = 0
    points = []
    for i in range(0, len(values), 2):
        lat += values[i]
        lon += values[i + 1]
        points.append((lat / 10**decimals, lon / 10**decimals))
    return points


def points(
    lon_lat: Sequence[tuple[float, float]], *, decimals: int = 6, gcj02: bool = False
) -> tuple[list[float], list[float]]:
    """Rounded (lats, lons) of points, moved to GCJ-02 when asked."""
    xy = np.asarray(lon_lat, dtype=np.float64).reshape(-1, 2)
    if gcj02:
        xy = shift_lon_lat(xy)
    rounded = np.round(xy, decimals)
    return rounded[:, 1].tolist(), rounded[:, 0].tolist()


def shift_bbox(
    bbox: tuple[float, float, float, float], gcj02: bool
) -> tuple[float, float, float, float]:
    """A bbox moved to GCJ-02 when asked (corner by corner)."""
    if not gcj02:
        return bbox
    (x0, y0), (x1, y1) = shift_lon_lat(np.array([[bbox[0], bbox[1]], [bbox[2], bbox[3]]]))
    return float(x0), float(y0), float(x1), float(y1)
