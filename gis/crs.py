"""Coordinate systems: input validation, GCJ-02/BD-09 removal, metric projections for China.

Storage is CGCS2000 (EPSG:4490) longitude/latitude. WGS84 input is taken as equal to
CGCS2000: the two datums differ by centimetres, far below phone GPS accuracy.
All functions take and return ``(lon, lat)`` in decimal degrees, longitude first.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable
from typing import Final

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from gis.errors import DomainError

STORAGE_SRID: Final = 4490  # CGCS2000 geographic; WGS84 input is taken as equal (cm apart)

FloatArray = NDArray[np.float64]
_LonLatFn = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]


class Crs(enum.StrEnum):
    """Coordinate system a client says its longitude/latitude are in."""

    CGCS2000 = "cgcs2000"
    WGS84 = "wgs84"
    GCJ02 = "gcj02"  # 火星坐标 (Mars coordinates): Gaode/AMap, Tencent
    BD09 = "bd09"  # 百度坐标: Baidu


class CoordinateError(DomainError, ValueError):
    """A coordinate or coordinate system the caller must fix; the message is shown to users."""


# --- validation ---------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{float(value):.10g}"


def check_lon_lat(lon: float, lat: float) -> None:
    """Raise CoordinateError unless lon is in -180..180 and lat in -90..90, both finite."""
    for name, value in (("lon", lon), ("lat", lat)):
        if not math.isfinite(value):
            raise CoordinateError(
                f"{name} {_fmt(value)} is not a finite number; send decimal degrees such as "
                "111.29, 30.71."
            )
    lat_ok = -90.0 <= lat <= 90.0
    lon_ok = -180.0 <= lon <= 180.0
    if lat_ok and lon_ok:
        return
    swapped_ok = -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0
    if not lat_ok:
        message = f"lat {_fmt(lat)} is outside -90..90"
        bad = lat
    else:
        message = f"lon {_fmt(lon)} is outside -180..180"
        bad = lon
    if swapped_ok:
        raise CoordinateError(f"{message}; did you swap lat and lon?")
    if abs(bad) > 1000:
        # Values this large are almost always projected metres (Web Mercator, Gauss-Krüger).
        raise CoordinateError(
            f"{message}; it looks like projected metres, send longitude/latitude in degrees."
        )
    raise CoordinateError(f"{message}; send longitude/latitude in decimal degrees.")


def _check_many(lons: FloatArray, lats: FloatArray) -> None:
    """Raise CoordinateError for the first invalid pair so the message names real values."""
    bad = ~(
        np.isfinite(lons) & np.isfinite(lats) & (np.abs(lons) <= 180.0) & (np.abs(lats) <= 90.0)
    )
    if bad.any():
        i = int(np.argmax(bad))
        check_lon_lat(float(lons.flat[i]), float(lats.flat[i]))


_ALIASES: Final[dict[str, Crs]] = {
    "cgcs2000": Crs.CGCS2000,
    "epsg:4490": Crs.CGCS2000,
    "4490": Crs.CGCS2000,
    "wgs84": Crs.WGS84,
    "epsg:4326": Crs.WGS84,
    "4326": Crs.WGS84,
    "gcj02": Crs.GCJ02,
    "gaode": Crs.GCJ02,
    "amap": Crs.GCJ02,
    "tencent": Crs.GCJ02,
    "bd09": Crs.BD09,
    "bd09ll": Crs.BD09,  # the name Baidu's SDK reports for its lon/lat
    "baidu": Crs.BD09,
}


def parse_crs(value: str | Crs) -> Crs:
    """Return the Crs for a name or alias, ignoring case, spaces, '-' and '_' ("GCJ-02")."""
    if isinstance(value, Crs):
        return value
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
        if key in _ALIASES:
            return _ALIASES[key]
    accepted = ", ".join(c.value for c in Crs)
    aliases = ", ".join(k for k in _ALIASES if k not in {c.value for c in Crs})
    raise CoordinateError(
        f"Unknown coordinate system {value!r}; use one of {accepted} (aliases: {aliases})."
    )


# --- GCJ-02 -------------------------------------------------------------------------------
# GCJ-02 (国测局坐标, "Mars coordinates") is the offset the State Bureau of Surveying and
# Mapping imposed on civilian maps in 2002. Its formula is unpublished officially; the one
# below is the widely circulated reconstruction used by every open implementation
# (eviltransform, coordtransform, gcoord). It is defined on the Krasovsky 1940 ellipsoid.

_KRASOVSKY_A: Final = 6378245.0  # semi-major axis, metres
_KRASOVSKY_EE: Final = 0.00669342162296594323  # first eccentricity squared
_GCJ_ORIGIN_LON: Final = 105.0
_GCJ_ORIGIN_LAT: Final = 35.0
# The offset is applied only inside this rough box, not China's real border; every public
# implementation uses the same box, so matching it matters more than geographic truth.
_CHINA_MIN_LON: Final = 72.004
_CHINA_MAX_LON: Final = 137.8347
_CHINA_MIN_LAT: Final = 0.8293
_CHINA_MAX_LAT: Final = 55.8271

# Inverses are solved to this many degrees (about 0.1 mm); the offsets change so slowly that
# fixed-point iteration gains roughly three digits per step, so the cap is never reached.
_INVERSE_TOLERANCE_DEG: Final = 1e-9
_INVERSE_MAX_STEPS: Final = 30


def _in_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    return (
        (lon >= _CHINA_MIN_LON)
        & (lon <= _CHINA_MAX_LON)
        & (lat >= _CHINA_MIN_LAT)
        & (lat <= _CHINA_MAX_LAT)
    )


def _gcj_offset_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    pi = math.pi
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    return ret


def _gcj_offset_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    pi = math.pi
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    return ret


def _wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - _GCJ_ORIGIN_LON
    y = lat - _GCJ_ORIGIN_LAT
    rad_lat = np.radians(lat)
    # The offset polynomials are in metres; turn them into degrees with the Krasovsky
    # ellipsoid's meridian and prime-vertical radii of curvature at this latitude.
    w2 = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (w2 * np.sqrt(w2))
    parallel_radius = _KRASOVSKY_A / np.sqrt(w2) * np.cos(rad_lat)
    d_lat = np.degrees(_gcj_offset_lat(x, y) / meridian_radius)
    d_lon = np.degrees(_gcj_offset_lon(x, y) / parallel_radius)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def _invert(
    forward: _LonLatFn,
    lon: FloatArray,
    lat: FloatArray,
    start: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Solve forward(src) == (lon, lat) for src by fixed-point iteration."""
    src_lon, src_lat = start if start is not None else (lon, lat)
    for _ in range(_INVERSE_MAX_STEPS):
        fwd_lon, fwd_lat = forward(src_lon, src_lat)
        err_lon, err_lat = fwd_lon - lon, fwd_lat - lat
        src_lon, src_lat = src_lon - err_lon, src_lat - err_lat
        worst = max(np.max(np.abs(err_lon), initial=0.0), np.max(np.abs(err_lat), initial=0.0))
        if worst < _INVERSE_TOLERANCE_DEG:
            break
    return src_lon, src_lat


def _gcj02_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # Just inside the box edge some GCJ-02 points have no WGS84 preimage (the offset switches
    # off abruptly at the edge); there the solver's last estimate, within the offset, is kept.
    wgs_lon, wgs_lat = _invert(_wgs84_to_gcj02, lon, lat)
    outside = ~_in_china(lon, lat)
    return np.where(outside, lon, wgs_lon), np.where(outside, lat, wgs_lat)


# --- BD-09 --------------------------------------------------------------------------------
# BD-09 is Baidu's second obfuscation on top of GCJ-02: a small polar perturbation plus a
# fixed shift. Unlike GCJ-02 it is applied everywhere, as in the published formulas.

_BD_X_PI: Final = math.pi * 3000.0 / 180.0
_BD_RADIUS_WOBBLE: Final = 0.00002
_BD_ANGLE_WOBBLE: Final = 0.000003
_BD_LON_SHIFT: Final = 0.0065
_BD_LAT_SHIFT: Final = 0.006


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + _BD_RADIUS_WOBBLE * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + _BD_ANGLE_WOBBLE * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + _BD_LON_SHIFT, z * np.sin(theta) + _BD_LAT_SHIFT


def _bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # The published one-step inverse is off by up to ~0.2 m across China; start from the
    # shift-only guess and let the solver remove the wobble exactly.
    return _invert(_gcj02_to_bd09, lon, lat, start=(lon - _BD_LON_SHIFT, lat - _BD_LAT_SHIFT))


def _wgs84_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat))


def _bd09_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj02_to_wgs84(*_bd09_to_gcj02(lon, lat))


def _scalar(fn: _LonLatFn, lon: float, lat: float) -> tuple[float, float]:
    out_lon, out_lat = fn(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return float(out_lon), float(out_lat)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Apply the GCJ-02 offset (China's 2002 national survey obfuscation); identity outside China.

    GCJ-02 is what Gaode/AMap and Tencent maps and SDKs use; inside China it moves points
    by a few hundred metres.
    """
    return _scalar(_wgs84_to_gcj02, lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Remove the GCJ-02 offset exactly (iterative inverse, sub-mm); identity outside China."""
    return _scalar(_gcj02_to_wgs84, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """Apply Baidu's BD-09 offset to a GCJ-02 coordinate."""
    return _scalar(_gcj02_to_bd09, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Remove Baidu's BD-09 offset exactly (iterative inverse), giving GCJ-02."""
    return _scalar(_bd09_to_gcj02, lon, lat)


# --- storage ------------------------------------------------------------------------------

# None means the numbers are already storage coordinates.
_TO_STORAGE: Final[dict[Crs, _LonLatFn | None]] = {
    Crs.CGCS2000: None,
    Crs.WGS84: None,
    Crs.GCJ02: _gcj02_to_wgs84,
    Crs.BD09: _bd09_to_wgs84,
}
_FROM_STORAGE: Final[dict[Crs, _LonLatFn | None]] = {
    Crs.CGCS2000: None,
    Crs.WGS84: None,
    Crs.GCJ02: _wgs84_to_gcj02,
    Crs.BD09: _wgs84_to_bd09,
}


def to_storage(lon: float, lat: float, crs: Crs | str = Crs.WGS84) -> tuple[float, float]:
    """Validate a lon/lat given in crs and return it as CGCS2000 (SRID 4490) lon/lat."""
    check_lon_lat(lon, lat)
    convert = _TO_STORAGE[parse_crs(crs)]
    if convert is None:
        return float(lon), float(lat)
    return _scalar(convert, lon, lat)


def from_storage(lon: float, lat: float, crs: Crs | str) -> tuple[float, float]:
    """Return a CGCS2000 (SRID 4490) lon/lat as lon/lat in crs, e.g. for a Baidu map client."""
    check_lon_lat(lon, lat)
    convert = _FROM_STORAGE[parse_crs(crs)]
    if convert is None:
        return float(lon), float(lat)
    return _scalar(convert, lon, lat)


def to_storage_many(
    lons: ArrayLike, lats: ArrayLike, crs: Crs | str
) -> tuple[FloatArray, FloatArray]:
    """Vectorised to_storage: validate equal-length lon and lat arrays and convert to CGCS2000."""
    lon_arr = np.array(lons, dtype=np.float64)
    lat_arr = np.array(lats, dtype=np.float64)
    if lon_arr.shape != lat_arr.shape:
        raise CoordinateError(
            f"Got {lon_arr.size} longitudes but {lat_arr.size} latitudes; send one of each "
            "per point."
        )
    _check_many(lon_arr, lat_arr)
    convert = _TO_STORAGE[parse_crs(crs)]
    if convert is None:
        return lon_arr, lat_arr
    return convert(lon_arr, lat_arr)


def _transform_geometry(geom: BaseGeometry, convert: _LonLatFn | None) -> BaseGeometry:
    coords = shapely.get_coordinates(geom)
    _check_many(coords[:, 0], coords[:, 1])
    if convert is None:
        return geom

    def apply(xy: FloatArray) -> FloatArray:
        out = xy.copy()
        out[:, 0], out[:, 1] = convert(xy[:, 0], xy[:, 1])
        return out

    # include_z=None keeps each geometry's dimensionality; z (height) passes through unchanged.
    result: BaseGeometry = shapely.transform(geom, apply, include_z=None)
    return result


def to_storage_geometry(geom: BaseGeometry, crs: Crs | str) -> BaseGeometry:
    """Validate every vertex of a lon/lat geometry in crs and return it in CGCS2000 (SRID 4490)."""
    return _transform_geometry(geom, _TO_STORAGE[parse_crs(crs)])


def from_storage_geometry(geom: BaseGeometry, crs: Crs | str) -> BaseGeometry:
    """Return a CGCS2000 (SRID 4490) geometry with every vertex converted to crs."""
    return _transform_geometry(geom, _FROM_STORAGE[parse_crs(crs)])


# --- metres -------------------------------------------------------------------------------

# EPSG:4534..4554 are "CGCS2000 / 3-degree Gauss-Kruger CM 75E".."CM 135E": the zone
# variants without the zone number prefixed to the easting, which is what we want for
# lengths and areas.
_GK3_FIRST_EPSG: Final = 4534
_GK3_FIRST_CM: Final = 75
_GK3_LAST_CM: Final = 135
_GK3_ZONE_WIDTH: Final = 3

# CGCS2000 uses the GRS80 ellipsoid's shape (it differs only in GM, which does not affect
# geodesics).
_GEOD: Final = pyproj.Geod(ellps="GRS80")


def metric_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Krüger CM zone whose 3° strip contains lon."""
    if not math.isfinite(lon):
        raise CoordinateError(f"lon {_fmt(lon)} is not a finite number; send decimal degrees.")
    # Strips are centred on multiples of 3°; a lon exactly on a strip edge goes east.
    cm = _GK3_ZONE_WIDTH * math.floor((lon + _GK3_ZONE_WIDTH / 2) / _GK3_ZONE_WIDTH)
    if not _GK3_FIRST_CM <= cm <= _GK3_LAST_CM:
        west = _GK3_FIRST_CM - _GK3_ZONE_WIDTH / 2
        east = _GK3_LAST_CM + _GK3_ZONE_WIDTH / 2
        raise CoordinateError(
            f"lon {_fmt(lon)} is outside the CGCS2000 Gauss-Krüger zones ({west:g}..{east:g}E); "
            "metric calculations are only set up for China — check the longitude."
        )
    return _GK3_FIRST_EPSG + (cm - _GK3_FIRST_CM) // _GK3_ZONE_WIDTH


@functools.lru_cache(maxsize=32)
def _storage_to_epsg(epsg: int) -> pyproj.Transformer:
    # Transformers are thread-safe since pyproj 3.1, so one shared instance per zone is fine.
    return pyproj.Transformer.from_crs(STORAGE_SRID, epsg, always_xy=True)


def metric_transformer(lon: float) -> pyproj.Transformer:
    """Cached transformer from CGCS2000 lon/lat to metres (x east, y north) in lon's zone."""
    return _storage_to_epsg(metric_epsg(lon))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres between two CGCS2000 lon/lat points."""
    check_lon_lat(lon1, lat1)
    check_lon_lat(lon2, lat2)
    _, _, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(dist)
