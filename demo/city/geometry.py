"""Geometry helpers for generating the demo city: a metric plane, densities, cells."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np
import shapely

from demo.arrays import Array, FloatArray, IntArray
from demo.city.scales import CityScale

# --------------------------------------------------------------------------- geometry helpers


class Frame:
    """Equirectangular metric plane centred on the scale's bbox (x east, y north, metres)."""

    def __init__(self, bbox: tuple[float, float, float, float]) -> None:
        self.lon0 = (bbox[0] + bbox[2]) / 2
        self.lat0 = (bbox[1] + bbox[3]) / 2
        phi = math.radians(self.lat0)
        # Metres per degree on the CGCS2000/GRS80 ellipsoid at the centre latitude.
        self.ky = 111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
        self.kx = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)

    def xy(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        """Local metres of lon/lat degrees."""
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def to_lon_lat(self, geoms: Array) -> Array:
        """Map local-metre geometries to lon/lat degrees (one affine transform)."""
        scale = np.array([1 / self.kx, 1 / self.ky])
        offset = np.array([self.lon0, self.lat0])
        return cast(Array, shapely.transform(geoms, lambda c: c * scale + offset))


class Density:
    """Relative population density: Gaussian town centres over a rural base."""

    def __init__(
        self, frame: Frame, scale: CityScale, rng: np.random.Generator, outline: shapely.Polygon
    ) -> None:
        cx, cy = frame.xy([c.lon for c in scale.centres], [c.lat for c in scale.centres])
        sigma = [c.sigma_m for c in scale.centres]
        weight = [c.weight for c in scale.centres]
        if scale.towns:
            tx, ty = sample_points(rng, outline, scale.towns)
            cx, cy = np.concatenate([cx, tx]), np.concatenate([cy, ty])
            sigma += list(rng.uniform(500, 1_100, scale.towns))
            weight += list(rng.uniform(0.15, 0.35, scale.towns))
        self.cx, self.cy = np.asarray(cx, float), np.asarray(cy, float)
        self.s2 = 2 * np.asarray(sigma, float) ** 2
        self.w = np.asarray(weight, float)
        self.base = scale.base_density
        self.peak = self.base + float(self.w.sum())

    def __call__(self, x: FloatArray, y: FloatArray) -> FloatArray:
        d = np.full(np.shape(x), self.base)
        for cx, cy, s2, w in zip(self.cx, self.cy, self.s2, self.w, strict=True):
            d += w * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / s2)
        return d

    def urbanity(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """0 in open country, 1 at the densest centre."""
        peak = float(self(self.cx, self.cy).max())
        return np.clip((self(x, y) - self.base) / (peak - self.base), 0.0, 1.0)


def sample_points(
    rng: np.random.Generator,
    polygon: shapely.geometry.base.BaseGeometry,
    n: int,
    density: Callable[[FloatArray, FloatArray], FloatArray] | None = None,
    peak: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """`n` random points inside `polygon`, thinned by `density`/`peak` when given."""
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    got = 0
    while got < n:
        m = max(256, 8 * n)
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        keep = shapely.contains_xy(polygon, x, y)
        if density is not None:
            keep &= rng.uniform(0, peak, m) < density(x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def polygonal(geoms: Array) -> Array:
    """Each geometry as a MultiPolygon of its polygonal parts (drops touching lines/points)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    nested, inner = shapely.get_parts(parts, return_index=True)  # collections of multipolygons
    index = index[inner]
    nested2, inner2 = shapely.get_parts(nested, return_index=True)
    index = index[inner2]
    keep = (shapely.get_type_id(nested2) == 3) & (shapely.area(nested2) > 0)
    out = shapely.multipolygons(nested2[keep], indices=index[keep])
    if len(out) != len(geoms):
        raise AssertionError("a partition cell lost all its area")
    return np.asarray(out)


def voronoi_cells(
    parent: Any, x: FloatArray, y: FloatArray
) -> tuple[Array, FloatArray, FloatArray]:
    """Voronoi cells of the points clipped to `parent`; points in the same order as the cells."""
    diagram = shapely.voronoi_polygons(
        shapely.multipoints(np.column_stack([x, y])), extend_to=parent, ordered=True
    )
    return polygonal(shapely.intersection(shapely.get_parts(diagram), parent)), x, y


def split_cells(
    parent: shapely.geometry.base.BaseGeometry,
    seeds: tuple[FloatArray, FloatArray],
    relax: int = 1,
) -> tuple[Array, FloatArray, FloatArray]:
    """Cut `parent` into Voronoi cells of `seeds` (Lloyd-relaxed `relax` times).

    Returns the cells (MultiPolygons covering `parent` with no gaps or overlaps) and a
    representative point of each.
    """
    x, y = seeds
    if len(x) == 1:
        cells = polygonal(np.array([parent]))
        return cells, x.astype(float), y.astype(float)
    shapely.prepare(parent)
    for step in range(relax + 1):
        cells, x, y = voronoi_cells(parent, x, y)
        if step == relax:
            break
        centre = shapely.centroid(cells)
        cx, cy = shapely.get_x(centre), shapely.get_y(centre)
        outside = ~shapely.contains_xy(parent, cx, cy)
        if outside.any():
            inside = shapely.point_on_surface(cells[outside])
            cx[outside], cy[outside] = shapely.get_x(inside), shapely.get_y(inside)
        x, y = cx, cy
    rep = shapely.point_on_surface(cells)
    return cells, shapely.get_x(rep), shapely.get_y(rep)


def blob_shape(
    rng: np.random.Generator, frame: Frame, bbox: tuple[float, float, float, float]
) -> shapely.Polygon:
    """An irregular, roughly box-shaped outline filling most of `bbox` (local metres)."""
    x0, y0 = frame.xy(bbox[0], bbox[1])
    x1, y1 = frame.xy(bbox[2], bbox[3])
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    # A superellipse (n=4) is a rounded box; low harmonics make the edge wander.
    r = (np.abs(c) ** 4 + np.abs(s) ** 4) ** -0.25
    for k in (2, 3, 5, 7):
        r *= 1 + rng.uniform(0.01, 0.045) * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    ring = np.column_stack([cx + hx * r * c, cy + hy * r * s])
    outline = shapely.intersection(shapely.Polygon(ring), shapely.box(x0, y0, x1, y1))
    if not isinstance(outline, shapely.Polygon):
        raise AssertionError("the outline must be one polygon")
    return outline


def apportion(total: int, weights: FloatArray, minimum: int = 1) -> IntArray:
    """Share `total` out in proportion to `weights` (largest remainder), at least `minimum`."""
    w = np.asarray(weights, float)
    w = w / float(w.sum())
    free = total - minimum * len(w)
    if free <= 0:
        return np.full(len(w), minimum, dtype=np.int64)
    quota = free * w
    counts = np.floor(quota).astype(np.int64)
    left = free - int(counts.sum())
    counts[np.argsort(-(quota - counts), kind="stable")[:left]] += 1
    return counts + minimum


def density_mass(polys: Array, density: Density, spacing: float) -> FloatArray:
    """Population mass of each polygon: density summed over a sampling lattice."""
    minx, miny, maxx, maxy = shapely.total_bounds(polys)
    gx, gy = np.meshgrid(np.arange(minx, maxx, spacing), np.arange(miny, maxy, spacing))
    px, py = gx.ravel(), gy.ravel()
    tree = shapely.STRtree(polys)
    point_idx, poly_idx = tree.query(shapely.points(px, py), predicate="intersects")
    # A point on a shared edge counts once, for the first polygon.
    first = np.unique(point_idx, return_index=True)[1]
    point_idx, poly_idx = point_idx[first], poly_idx[first]
    mass = (
        np.bincount(poly_idx, weights=density(px[point_idx], py[point_idx]), minlength=len(polys))
        * spacing**2
    )
    rep = shapely.point_on_surface(polys)
    fallback = cast(FloatArray, shapely.area(polys)) * density(
        shapely.get_x(rep), shapely.get_y(rep)
    )
    larger: FloatArray = np.maximum(mass, fallback)
    return larger


def reading_order(x: FloatArray, y: FloatArray, band: float) -> IntArray:
    """Indices sorting points north → south in bands of `band` metres, west → east in each."""
    return np.lexsort((x, -np.floor(y / band))).astype(np.int64)


def unique_names(
    rng: np.random.Generator,
    stems: Sequence[str],
    endings: Sequence[str],
    suffix: str,
    n: int,
    taken: Iterable[str] = (),
) -> list[str]:
    """`n` distinct names stem+ending+suffix in random order, avoiding `taken`."""
    pool = [s + e + suffix for e in endings for s in stems]
    avoid = set(taken)
    pool = [p for p in pool if p not in avoid]
    if n > len(pool):
        raise AssertionError(f"only {len(pool)} distinct names for {n} places")
    order = rng.permutation(len(pool))[:n]
    return [pool[i] for i in order]
