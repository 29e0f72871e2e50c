"""Generating the demo city (`generate_city`): pure, from a scale and a seed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from demo.arrays import Array, FloatArray, IntArray
from demo.city.geometry import (
    Density,
    Frame,
    apportion,
    blob_shape,
    density_mass,
    polygonal,
    reading_order,
    sample_points,
    split_cells,
    unique_names,
    voronoi_cells,
)
from demo.city.scales import DEFAULT_SEED, CityScale, DistrictSpec, city_scale
from grid.models import AdminLevel, BuildingUse, GridType, HouseUse

# --------------------------------------------------------------------------- names


def words(text: str) -> tuple[str, ...]:
    """The space-separated words of `text`."""
    return tuple(text.split())


_COMMUNITY_STEMS = words(
    "东山 西山 南湖 北门 桃花 樵湖 铁路 石板 云集 珍珠 胜利 解放 民主 团结 和平 朝阳 绿萝 "
    "福绥 环城 沿江 滨江 葛洲 明珠 窑湾 土门 桔城 平湖 宝塔 长江 红星 光明 幸福 白龙 杨岔 "
    "常刘 东湖 西湖 金缇 黄河 万寿 大公 夷陵 峡州 柏临 隆康 港窑 三江 西坝 学院 体育 文化 "
    "建设 新华 振兴 东风 前进 五一 红旗 青年 育才 映山 黄柏 桃源 梅岭 杏林 松林 竹园 荷花 "
    "兰亭 菊园 丁家 李家 王家 刘家 张家 陈家 周家 赵家 谭家 孙家 何家 向家 覃家 望洲 清江 "
    "紫阳 龙盘 凤凰 金湖 银杏 枫林 柳湖 芦苇 双龙 九码 十里 八一 三峡 天然 磨基"
)
_COMMUNITY_ENDINGS = ("", "路", "里", "岗", "坪", "湾", "园", "苑", "桥", "街", "口", "岭", "坡")
_STREET_STEMS = words(
    "白洋 红花 官庄 王畈 新坪 梅子垭 金竹 三坪 长岭 石门 大堰 峡口 孙家河 马鞍 柳林 高坪 峰山 "
    "清溪 龙潭 汤渡 罗河 土桥 响水 栗林 殷家坪 百里荒 晓峰 仙女 鹿苑 黄牛 百花 双莲 河口 白河 "
    "花林 普溪 安福 郭家 潘家 杨林 江南 东岳 西塞 雷家 陈湾 古镇 碧水 松柏 栖霞 青龙 白鹤 金盆 "
    "玉泉 龙门 凤山 桂花 茶园 竹林 梨园 柑橘 石牌 望家 龙王 观音 天柱 朱家 余家 易家 付家 车溪 "
    "五龙 七里 九湾 秀水 明月 清泉 泉水 高岚 黄陵 平善 莲沱 偏岩 丁字 临江 宋家 徐家 萧家 覃溪 "
    "甘家 秦家 椿树 花溪 罗田 长坪 官渡 曹家 邓家 骆家 鲁家 严家"
)
_ROADS = words(
    "夷陵大道 东山大道 沿江大道 发展大道 城东大道 西陵一路 西陵二路 解放路 云集路 珍珠路 "
    "胜利一路 胜利二路 胜利三路 胜利四路 体育场路 隆康路 港窑路 西坝路 三江路 夜明珠路 "
    "桃花岭路 铁路坝路 学院街 绿萝路 北山坡路 峡州路 樵湖一路 樵湖二路 东湖路 西湖路 南湖路 "
    "环城北路 环城南路 环城东路 一马路 二马路 滨江路 杨岔路 白龙岗路 得胜街 陶珠路 南正街 "
    "文化路 红星路 果园一路 果园二路 黄河路 长江路 西陵后路 葛洲坝路 常刘路 磨基山路 "
    "大公桥路 万寿桥路 宝塔河路 伍临路 桔城路 中南路 城站路 花艳路 合益路 柏临河路 白沙路 "
    "江城大道 献福路 建设路 青岛路 四新路"
)
_ROAD_ENDINGS = ("路", "街", "大道", "一路", "二路", "巷", "东路", "西路")

# Dedicated grid kinds (专属网格) and how likely each is in town (u=1) vs country (u=0).
_KINDS = ("学校", "医院", "农贸市场", "商圈", "工业园区", "景区")
_KIND_URBAN = np.array([3.0, 2.0, 2.0, 2.0, 0.4, 0.6])
_KIND_RURAL = np.array([2.0, 1.0, 1.5, 0.3, 3.0, 1.2])

# --------------------------------------------------------------------------- building classes

_RES_LOW, _RES_MID, _TOWER, _MIXED, _SHOP, _OFFICE, _PUBLIC, _INDUSTRIAL, _OTHER = range(9)
_CLASS_USE = (
    BuildingUse.RESIDENTIAL,
    BuildingUse.RESIDENTIAL,
    BuildingUse.RESIDENTIAL,
    BuildingUse.MIXED,
    BuildingUse.COMMERCIAL,
    BuildingUse.OFFICE,
    BuildingUse.PUBLIC,
    BuildingUse.INDUSTRIAL,
    BuildingUse.OTHER,
)
# Long side, short side (metres) and floors (min, max at full urbanity) per class.
_CLASS_LONG = np.array(
    [[10, 16], [18, 42], [22, 34], [20, 46], [15, 60], [25, 50], [25, 60], [30, 60], [8, 20]],
    dtype=float,
)
_CLASS_SHORT = np.array(
    [[8, 12], [11, 15], [17, 24], [12, 18], [12, 45], [18, 30], [15, 40], [20, 45], [6, 14]],
    dtype=float,
)
_CLASS_FLOORS = np.array(
    [[1, 4], [6, 9], [11, 33], [3, 16], [1, 8], [5, 28], [1, 6], [1, 4], [1, 2]]
)
# Class mix of each dedicated kind (rows follow _KINDS, columns the classes above).
_KIND_MIX = np.array(
    [
        [0, 0.10, 0, 0, 0, 0, 0.75, 0, 0.15],  # 学校
        [0, 0.05, 0, 0, 0.05, 0, 0.80, 0, 0.10],  # 医院
        [0, 0, 0, 0.20, 0.65, 0, 0, 0, 0.15],  # 农贸市场
        [0, 0, 0, 0.20, 0.50, 0.30, 0, 0, 0],  # 商圈
        [0, 0, 0, 0, 0, 0.10, 0, 0.80, 0.10],  # 工业园区
        [0, 0, 0, 0, 0.30, 0, 0.40, 0, 0.30],  # 景区
    ]
)
_KIND_BUILDINGS = np.array([0.35, 0.35, 0.6, 0.6, 0.5, 0.25])  # relative to a basic grid

_HOUSE_USES = (HouseUse.SELF_OCCUPIED, HouseUse.RENTED, HouseUse.VACANT, HouseUse.COMMERCIAL)

# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class AdminUnitTable:
    """Districts, streets and communities: parallel arrays, geometries in lon/lat (4490)."""

    code: Array
    name: Array
    level: Array  # AdminLevel values
    parent_code: list[str | None]
    district_code: Array
    geom: Array  # shapely MultiPolygons

    def __len__(self) -> int:
        return len(self.code)


@dataclass(frozen=True, eq=False)
class GridTable:
    """Grids: parallel arrays, geometries in lon/lat (4490)."""

    code: Array
    name: Array
    community_code: Array
    district_code: Array
    grid_type: Array  # GridType values
    households: IntArray
    geom: Array

    def __len__(self) -> int:
        return len(self.code)


@dataclass(frozen=True, eq=False)
class BuildingTable:
    """Buildings: parallel arrays, footprints in lon/lat (4490)."""

    code: Array
    name: list[str | None]  # 前进里社区12栋 for homes; None for shops, schools, works …
    address: Array
    floors: IntArray
    use: Array  # BuildingUse values
    grid_code: Array
    district_code: Array
    geom: Array

    def __len__(self) -> int:
        return len(self.code)


@dataclass(frozen=True, eq=False)
class HouseTable:
    """Houses (flats, shops): `building` indexes BuildingTable rows."""

    building: IntArray
    unit: Array
    floor: IntArray
    room: Array
    use: Array  # HouseUse values
    area_m2: FloatArray

    def __len__(self) -> int:
        return len(self.building)


@dataclass(frozen=True, eq=False)
class DemoCity:
    """Everything `generate_city` made, ready to be copied into the database."""

    scale: str
    seed: int
    admin_units: AdminUnitTable
    grids: GridTable
    buildings: BuildingTable
    houses: HouseTable
    district_codes: tuple[str, ...] = field(default=())

    def count(self, level: AdminLevel) -> int:
        """How many admin units of `level` the city has."""
        return int(np.count_nonzero(self.admin_units.level == level.value))


@dataclass(frozen=True)
class SeedSummary:
    """What `seed_demo_city` wrote, or found already there."""

    scale: str
    seed: int
    districts: int
    streets: int
    communities: int
    grids: int
    buildings: int
    houses: int
    already_present: bool


# --------------------------------------------------------------------------- generation


@dataclass
class _Units:
    """Codes, names and parents of the admin units, in the order the tree adds them."""

    code: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    parent: list[str | None] = field(default_factory=list)

    def add(self, code: str, name: str, level: AdminLevel, parent: str | None) -> None:
        self.code.append(code)
        self.name.append(name)
        self.level.append(level.value)
        self.parent.append(parent)


def _districts(
    rng: np.random.Generator,
    scale: CityScale,
    frame: Frame,
    outline: shapely.Polygon,
    carved: dict[int, shapely.Polygon],
) -> Array:
    """District polygons (local metres).

    Districts with their own box (`carved`) keep their outline; the others share what is left
    of the city outline: the union of the Voronoi cells of each district's anchors.
    """
    shapes: list[Any] = [carved.get(i) for i in range(len(scale.districts))]
    rest = [i for i in range(len(scale.districts)) if i not in carved]
    if rest:
        remainder = shapely.difference(outline, shapely.union_all(list(carved.values())))
        lon = [a[0] for i in rest for a in scale.districts[i].anchors]
        lat = [a[1] for i in rest for a in scale.districts[i].anchors]
        owner = np.repeat(rest, [len(scale.districts[i].anchors) for i in rest])
        x, y = frame.xy(lon, lat)
        x = x + rng.normal(0, 300, len(x))
        y = y + rng.normal(0, 300, len(y))
        cells, _, _ = voronoi_cells(remainder, x, y)
        for i in rest:
            shapes[i] = shapely.union_all(cells[owner == i])
    return polygonal(np.array(shapes))


def _street_seeds(
    rng: np.random.Generator, spec: DistrictSpec, district: Any, n: int, density: Density
) -> tuple[FloatArray, FloatArray]:
    """Seeds of a district's streets: at the real streets' places where known, else by density."""
    minx, miny, maxx, maxy = district.bounds
    fixed = np.array(spec.street_anchors[:n], float).reshape(-1, 2)
    x = minx + fixed[:, 0] * (maxx - minx) + rng.normal(0, 120, len(fixed))
    y = miny + fixed[:, 1] * (maxy - miny) + rng.normal(0, 120, len(fixed))
    inside = shapely.contains_xy(district, x, y)
    if not inside.all():  # an anchor fell outside an irregular outline: move it in
        rep = shapely.get_coordinates(shapely.point_on_surface(district))[0]
        x[~inside] = rep[0] + rng.normal(0, 50, int((~inside).sum()))
        y[~inside] = rep[1] + rng.normal(0, 50, int((~inside).sum()))
    extra = n - len(fixed)
    if extra > 0:
        ex, ey = sample_points(rng, district, extra, density, density.peak)
        x, y = np.concatenate([x, ex]), np.concatenate([y, ey])
    return x, y


def _build_tree(
    rng: np.random.Generator,
    frame: Frame,
    scale: CityScale,
    density: Density,
    outline: shapely.Polygon,
    carved: dict[int, shapely.Polygon],
) -> tuple[_Units, dict[str, Any]]:
    """Districts → streets → communities → grid cells, all in local metres.

    Each level is cut top-down: Voronoi cells of density-weighted seeds clipped to the parent.
    Returns the units (districts, then streets, then communities) and the grid cells with
    their codes and the index links between levels.
    """
    units = _Units()
    spacing = math.sqrt(outline.area / 60_000)  # density sampling lattice for the masses
    districts = _districts(rng, scale, frame, outline, carved)
    for spec in scale.districts:
        units.add(spec.code + "000000", spec.name, AdminLevel.DISTRICT, None)

    # Streets: real names first; other districts share out the remaining count by mass.
    mass = density_mass(districts, density, spacing)
    counts = np.array([len(d.streets) for d in scale.districts], dtype=np.int64)
    flexible = np.array([not d.fixed_streets for d in scale.districts])
    if flexible.any():
        spare = scale.streets - int(counts[~flexible].sum())
        counts[flexible] = np.maximum(counts[flexible], apportion(spare, mass[flexible], minimum=1))
    used_names = {n for d in scale.districts for n in d.streets}
    needed = sum(
        max(0, int(n) - len(d.streets)) for n, d in zip(counts, scale.districts, strict=True)
    )
    extra_names = iter(unique_names(rng, _STREET_STEMS, ("",), "", needed, used_names))
    street_geoms: list[Any] = []
    street_district: list[int] = []
    street_names: list[str] = []
    for i, (spec, geom) in enumerate(zip(scale.districts, districts, strict=True)):
        n = int(counts[i])
        seeds = _street_seeds(rng, spec, geom, n, density)
        cells, rx, ry = split_cells(geom, seeds, relax=1 if len(spec.street_anchors) < n else 0)
        names = list(spec.streets[:n])
        for j in range(len(names), n):
            u = float(density.urbanity(rx[j : j + 1], ry[j : j + 1])[0])
            names.append(next(extra_names) + ("街道" if u > 0.25 else "镇"))
        for j in range(n):
            code = f"{spec.code}{j + 1:03d}000"
            units.add(code, names[j], AdminLevel.STREET, spec.code + "000000")
        street_geoms.extend(cells)
        street_district.extend([i] * n)
        street_names.extend(names)
    streets = np.array(street_geoms)
    street_codes = [
        c for c, lv in zip(units.code, units.level, strict=True) if lv == AdminLevel.STREET.value
    ]

    # Communities, numbered in reading order within their street.
    per_street = apportion(scale.communities, density_mass(streets, density, spacing))
    community_names = iter(
        unique_names(rng, _COMMUNITY_STEMS, _COMMUNITY_ENDINGS, "社区", int(per_street.sum()))
    )
    community_geoms: list[Any] = []
    community_codes: list[str] = []
    community_street: list[int] = []
    for s, (code, geom) in enumerate(zip(street_codes, streets, strict=True)):
        n = int(per_street[s])
        seeds = sample_points(rng, geom, n, density, density.peak)
        cells, rx, ry = split_cells(geom, seeds)
        order = reading_order(rx, ry, 800.0)
        for j, k in enumerate(order):
            ccode = f"{code[:9]}{j + 1:03d}"
            units.add(ccode, next(community_names), AdminLevel.COMMUNITY, code)
            community_geoms.append(cells[k])
            community_codes.append(ccode)
            community_street.append(s)
    communities = np.array(community_geoms)

    # Grid cells, numbered in reading order within their community.
    per_community = apportion(scale.grids, density_mass(communities, density, spacing))
    grid_geoms: list[Any] = []
    grid_codes: list[str] = []
    grid_seq: list[int] = []
    grid_community: list[int] = []
    for c, (ccode, geom) in enumerate(zip(community_codes, communities, strict=True)):
        n = int(per_community[c])
        seeds = sample_points(rng, geom, n, density, density.peak)
        cells, rx, ry = split_cells(geom, seeds)
        order = reading_order(rx, ry, 250.0)
        for j, k in enumerate(order):
            grid_geoms.append(cells[k])
            grid_codes.append(f"{ccode}{j + 1:03d}")
            grid_seq.append(j + 1)
            grid_community.append(c)
    grid_array = np.array(grid_geoms)
    tree = {
        "street_names": street_names,
        "street_district": np.array(street_district),
        "community_codes": community_codes,
        "community_street": np.array(community_street),
        "grid_geoms": grid_array,
        "grid_codes": np.array(grid_codes),
        "grid_seq": np.array(grid_seq),
        "grid_community": np.array(grid_community),
    }
    return units, tree


def _repaired(geoms: Array) -> Array:
    """MultiPolygons, repairing any that mapping to lon/lat left invalid (rounding only)."""
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    return polygonal(geoms)


def _union_by(children: Array, parent: IntArray, n: int) -> Array:
    """The union of the children of each of `n` parents, as MultiPolygons."""
    order = np.argsort(parent, kind="stable")
    bounds = np.searchsorted(parent[order], np.arange(n + 1))
    merged = [
        shapely.coverage_union_all(children[order[bounds[i] : bounds[i + 1]]]) for i in range(n)
    ]
    return polygonal(np.array(merged))


def _cumulative(p: FloatArray) -> FloatArray:
    p = np.clip(p, 0, None)
    return np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)


def _class_mix(scale: CityScale, u: FloatArray, kind: IntArray) -> FloatArray:
    """Per-grid probability of each building class (rows: grids, columns: classes)."""
    low = scale.lowrise_share * (1 - u)
    tower = scale.tower_share * u
    residential = 0.58 + 0.12 * (1 - u)  # villages are mostly houses
    mix = np.zeros((len(u), 9))
    mix[:, _RES_LOW] = residential * low
    mix[:, _TOWER] = residential * tower
    mix[:, _RES_MID] = residential * (1 - low - tower)
    mix[:, _MIXED] = 0.08
    mix[:, _SHOP] = 0.09
    mix[:, _OFFICE] = 0.05 * u
    mix[:, _PUBLIC] = 0.05
    mix[:, _INDUSTRIAL] = 0.01 + 0.05 * (1 - u)
    mix[:, _OTHER] = np.clip(1 - mix.sum(axis=1), 0.02, None)
    dedicated = kind >= 0
    mix[dedicated] = _KIND_MIX[kind[dedicated]]
    totals: FloatArray = mix.sum(axis=1, keepdims=True)
    return mix / totals


def _buildings(
    rng: np.random.Generator, scale: CityScale, grids: Array, u: FloatArray, kind: IntArray
) -> dict[str, Any]:
    """Building footprints on a jittered lattice per grid (local metres), strictly inside it.

    Each grid gets its own square lattice (random orientation and phase) sized so it offers
    about twice the buildings wanted; every footprint stays inside its lattice cell with a gap,
    so footprints never touch, and only those clear of the grid edge by a setback are kept.
    """
    g_count = len(grids)
    weight = np.where(kind >= 0, _KIND_BUILDINGS[np.maximum(kind, 0)], 1.0)
    weight = weight / (1 + scale.urban_thinning * u)
    want = np.maximum(1, np.round(scale.buildings * weight / weight.sum())).astype(np.int64)
    area = shapely.area(grids)
    spacing = np.clip(np.sqrt(area / (2.2 * want)), 22.0, 400.0)
    theta = rng.uniform(-np.pi / 4, np.pi / 4, g_count)

    # Lattice extent in each grid's rotated frame.
    centre = shapely.centroid(grids)
    gx, gy = shapely.get_x(centre), shapely.get_y(centre)
    coords, owner = shapely.get_coordinates(grids, return_index=True)
    cos, sin = np.cos(theta[owner]), np.sin(theta[owner])
    dx, dy = coords[:, 0] - gx[owner], coords[:, 1] - gy[owner]
    ru, rv = dx * cos + dy * sin, -dx * sin + dy * cos
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    umin, umax = np.minimum.reduceat(ru, starts), np.maximum.reduceat(ru, starts)
    vmin, vmax = np.minimum.reduceat(rv, starts), np.maximum.reduceat(rv, starts)
    umin -= rng.uniform(0, 1, g_count) * spacing
    vmin -= rng.uniform(0, 1, g_count) * spacing
    nu = np.ceil((umax - umin) / spacing).astype(np.int64) + 1
    nv = np.ceil((vmax - vmin) / spacing).astype(np.int64) + 1

    # All lattice cells of all grids at once.
    cells = nu * nv
    gid = np.repeat(np.arange(g_count), cells)
    k = np.arange(int(cells.sum())) - np.repeat(np.cumsum(cells) - cells, cells)
    cu = umin[gid] + (k % nu[gid] + 0.5) * spacing[gid]
    cv = vmin[gid] + (k // nu[gid] + 0.5) * spacing[gid]
    c, s = np.cos(theta[gid]), np.sin(theta[gid])
    x = gx[gid] + cu * c - cv * s
    y = gy[gid] + cu * s + cv * c
    shapely.prepare(grids)
    hit = shapely.contains_xy(grids[gid], x, y)
    gid, cu, cv, x, y = gid[hit], cu[hit], cv[hit], x[hit], y[hit]
    n = len(gid)

    # Class, size, small extra rotation; then shrink to fit the cell with a gap.
    cum = _cumulative(_class_mix(scale, u, kind))
    klass = (rng.uniform(0, 1, n)[:, None] > cum[gid]).sum(axis=1)
    klass = np.minimum(klass, 8)
    long_ = rng.uniform(_CLASS_LONG[klass, 0], _CLASS_LONG[klass, 1])
    short = rng.uniform(_CLASS_SHORT[klass, 0], _CLASS_SHORT[klass, 1])
    short = np.minimum(short, long_)
    phi = rng.uniform(-0.12, 0.12, n) + np.where(rng.uniform(0, 1, n) < 0.3, np.pi / 2, 0.0)
    room = spacing[gid] - np.maximum(6.0, 0.15 * spacing[gid])
    ext_u = long_ * np.abs(np.cos(phi)) + short * np.abs(np.sin(phi))
    ext_v = long_ * np.abs(np.sin(phi)) + short * np.abs(np.cos(phi))
    shrink = np.minimum(1.0, np.minimum(room / ext_u, room / ext_v))
    long_, short, ext_u, ext_v = long_ * shrink, short * shrink, ext_u * shrink, ext_v * shrink
    ok = short >= 6.0
    du = rng.uniform(-0.5, 0.5, n) * (room - ext_u)
    dv = rng.uniform(-0.5, 0.5, n) * (room - ext_v)

    # Corners: rectangle → extra rotation phi → lattice rotation theta → world.
    corner = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    lu = corner[None, :, 0] * long_[:, None]
    lv = corner[None, :, 1] * short[:, None]
    cp, sp = np.cos(phi)[:, None], np.sin(phi)[:, None]
    pu = cu[:, None] + du[:, None] + lu * cp - lv * sp
    pv = cv[:, None] + dv[:, None] + lu * sp + lv * cp
    ct, st = np.cos(theta[gid])[:, None], np.sin(theta[gid])[:, None]
    wx = gx[gid][:, None] + pu * ct - pv * st
    wy = gy[gid][:, None] + pu * st + pv * ct
    footprints = shapely.polygons(np.stack([wx, wy], axis=-1))

    # Keep footprints clear of the grid edge (setback), then draw up to `want` per grid.
    inner = shapely.buffer(grids, -3.0, join_style="mitre")
    shapely.prepare(inner)
    ok &= shapely.contains_properly(inner[gid], footprints)
    idx = np.flatnonzero(ok)
    key = rng.uniform(0, 1, len(idx))
    order = np.lexsort((key, gid[idx]))
    idx = idx[order]
    g_sorted = gid[idx]
    first = np.searchsorted(g_sorted, g_sorted, side="left")
    rank = np.arange(len(idx)) - first
    idx = idx[rank < want[g_sorted]]
    # Number buildings in reading order within each grid (rows of the lattice).
    idx = idx[np.lexsort((cu[idx], -cv[idx], gid[idx]))]
    g_sel = gid[idx]
    seq = np.arange(len(idx)) - np.searchsorted(g_sel, g_sel, side="left") + 1

    klass = klass[idx]
    lo, hi = _CLASS_FLOORS[klass, 0], _CLASS_FLOORS[klass, 1]
    # Mixed, commercial and office buildings rise with urbanity: lower tops in the country.
    ug = u[g_sel]
    top = np.where(
        np.isin(klass, (_RES_MID, _TOWER, _RES_LOW, _PUBLIC, _INDUSTRIAL, _OTHER)),
        hi,
        lo + np.round((hi - lo) * np.maximum(ug, 0.2)),
    )
    skew = rng.uniform(0, 1, len(idx)) ** np.where(klass == _TOWER, 1.6, 1.0)
    floors = lo + np.floor(skew * (top - lo + 1)).astype(np.int64)
    return {
        "geom": footprints[idx],
        "grid": g_sel,
        "seq": seq,
        "klass": klass,
        "floors": np.minimum(floors, hi).astype(np.int64),
        "long": long_[idx],
        "short": short[idx],
    }


def _houses(rng: np.random.Generator, b: dict[str, Any], u: FloatArray) -> dict[str, Any]:
    """Houses of residential and mixed buildings: unit × floor × room, with their use.

    A village house (农村自建房) is one house whatever its floors; a village shop-house has
    one room per floor; town blocks have 1–2 units (单元) of 2–4 rooms per floor.
    """
    klass, floors, long_ = b["klass"], b["floors"], b["long"]
    nb = len(klass)
    town = u[b["grid"]] >= 0.3
    units = np.ones(nb, dtype=np.int64)
    rooms = np.ones(nb, dtype=np.int64)
    mid = klass == _RES_MID
    units[mid] = np.clip(np.round(long_[mid] / 26), 1, 2)
    rooms[mid] = 2
    tower = klass == _TOWER
    units[tower] = np.where(long_[tower] > 28, 2, 1)
    rooms[tower] = rng.integers(2, 5, int(tower.sum()))
    mixed = klass == _MIXED
    town_mixed = mixed & town
    units[town_mixed] = np.clip(np.round(long_[town_mixed] / 24), 1, 2)
    rooms[town_mixed] = 2
    levels = np.where(klass == _RES_LOW, 1, floors)  # floors that hold separate houses
    has_houses = np.isin(klass, (_RES_LOW, _RES_MID, _TOWER, _MIXED))
    per_floor = units * rooms
    count = np.where(has_houses, per_floor * levels, 0)
    shop_floors = np.where(mixed, np.where((floors >= 6) & (rng.uniform(0, 1, nb) < 0.4), 2, 1), 0)

    total = int(count.sum())
    building = np.repeat(np.arange(nb), count)
    k = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    fr = (levels * rooms)[building]
    unit = k // fr + 1
    rest = k % fr
    floor = rest // rooms[building] + 1
    room_no = rest % rooms[building] + 1

    # Tenure: more renting in town, more vacancy in the country.
    ub = u[b["grid"]][building]
    p_rent = 0.12 + 0.22 * ub
    p_vacant = 0.14 - 0.06 * ub
    draw = rng.uniform(0, 1, total)
    use = np.where(draw < p_rent, 1, np.where(draw < p_rent + p_vacant, 2, 0))
    use[floor <= shop_floors[building]] = 3

    # Floor area: the footprint's usable share, split among a floor's rooms; a village
    # house has all its floors.
    footprint = (b["long"] * b["short"])[building]
    village = klass[building] == _RES_LOW
    usable = np.where(village, 0.85 * floors[building], 0.78)
    area = footprint * usable / per_floor[building] * rng.uniform(0.9, 1.1, total)
    return {
        "building": building.astype(np.int64),
        "unit": unit,
        "floor": floor.astype(np.int64),
        "room_no": room_no,
        "use": use,
        "area": np.round(area, 1),
    }


def _building_names(
    b: dict[str, Any], grid_community: IntArray, community_codes: Array, unit_name: dict[str, str]
) -> list[str | None]:
    """Homes as residents name them: community + building number (前进里社区12栋), numbered
    through the community in grid order and reading order within each grid (no randomness)."""
    homes = np.isin(b["klass"], (_RES_LOW, _RES_MID, _TOWER, _MIXED))
    community = grid_community[b["grid"]]
    order = np.lexsort((b["seq"], b["grid"], community))
    order = order[homes[order]]
    number = np.zeros(len(homes), dtype=np.int64)
    ranked = community[order]
    number[order] = np.arange(len(order)) - np.searchsorted(ranked, ranked) + 1
    community_of = community_codes[b["grid"]]
    return [
        f"{unit_name[c]}{n}栋" if home else None
        for c, n, home in zip(community_of.tolist(), number.tolist(), homes.tolist(), strict=True)
    ]


def _roads(rng: np.random.Generator, n_streets: int, per_street: int) -> list[list[str]]:
    """Road names for each street: real Yichang roads first, then made-up ones."""
    made_up = unique_names(
        rng, _STREET_STEMS + _COMMUNITY_STEMS, _ROAD_ENDINGS, "", n_streets * per_street, _ROADS
    )
    pool = list(_ROADS) + made_up
    return [pool[i * per_street : (i + 1) * per_street] for i in range(n_streets)]


def generate_city(*, scale: str = "demo", seed: int = DEFAULT_SEED) -> DemoCity:
    """Generate the demo city of `scale` from `seed` in memory (no database)."""
    spec = city_scale(scale)
    streams = [np.random.default_rng([seed, i]) for i in range(8)]
    frame = Frame(spec.bbox)
    # Districts with a box of their own (西陵区) get the same outline at every scale.
    carved = {
        i: blob_shape(np.random.default_rng([seed, 100, int(d.code)]), frame, d.bbox)
        for i, d in enumerate(spec.districts)
        if d.bbox is not None
    }
    if len(spec.districts) == 1 and carved:
        outline = carved[0]
    else:
        outline = shapely.union_all([blob_shape(streams[0], frame, spec.bbox), *carved.values()])
        if not isinstance(outline, shapely.Polygon):
            raise AssertionError("the city outline must be one polygon")
    density = Density(frame, spec, streams[1], outline)
    units, tree = _build_tree(streams[2], frame, spec, density, outline, carved)

    # Grids: type, households, names.
    rng = streams[3]
    grid_geoms = tree["grid_geoms"]
    rep = shapely.point_on_surface(grid_geoms)
    u = density.urbanity(shapely.get_x(rep), shapely.get_y(rep))
    g_count = len(grid_geoms)
    dedicated = rng.uniform(0, 1, g_count) < spec.dedicated_share
    kind_p = _cumulative(u[:, None] * _KIND_URBAN + (1 - u[:, None]) * _KIND_RURAL)
    kind = np.where(dedicated, (rng.uniform(0, 1, g_count)[:, None] > kind_p).sum(axis=1), -1)
    kind = np.minimum(kind, len(_KINDS) - 1)
    households = np.where(dedicated, rng.integers(0, 151, g_count), rng.integers(300, 501, g_count))
    unit_name = dict(zip(units.code, units.name, strict=True))
    community_codes = np.array(tree["community_codes"])[tree["grid_community"]]
    grid_names = [
        f"{unit_name[c]}第{n}网格" + (f"（{_KINDS[kd]}）" if kd >= 0 else "")
        for c, n, kd in zip(community_codes, tree["grid_seq"], kind.tolist(), strict=True)
    ]
    district_of_grid = np.array([c[:6] for c in tree["grid_codes"]])

    # Buildings and houses.
    b = _buildings(streams[4], spec, grid_geoms, u, kind)
    h = _houses(streams[5], b, u)

    # Addresses: each grid fronts one or two roads of its street; numbers run along each road.
    rng = streams[6]
    street_of_grid = tree["community_street"][tree["grid_community"]]
    n_streets = len(tree["street_names"])
    roads = _roads(rng, n_streets, 8)
    road_pick = rng.integers(0, 8, (g_count, 2))
    side = rng.integers(0, 2, len(b["grid"]))
    road_local = road_pick[b["grid"], side]
    road_key = street_of_grid[b["grid"]] * 8 + road_local
    order = np.lexsort((b["seq"], b["grid"], road_key))
    number = np.empty(len(order), dtype=np.int64)
    sorted_key = road_key[order]
    number[order] = np.arange(len(order)) - np.searchsorted(sorted_key, sorted_key) + 1
    district_names = {d.code: d.name for d in spec.districts}
    street_name = tree["street_names"]
    addresses = [
        f"{district_names[d]}{street_name[s]}{roads[s][r]}{num}号"
        for d, s, r, num in zip(
            district_of_grid[b["grid"]].tolist(),
            street_of_grid[b["grid"]].tolist(),
            road_local.tolist(),
            number.tolist(),
            strict=True,
        )
    ]
    names = _building_names(b, tree["grid_community"], community_codes, unit_name)
    grid_codes = tree["grid_codes"]
    building_codes = np.char.add(
        np.char.add(grid_codes[b["grid"]], "B"), np.char.zfill(b["seq"].astype(str), 4)
    )

    # Grids to lon/lat; every parent is then the union of its children in lon/lat, so a
    # child's edges are exactly its parent's and "covered by" holds without rounding doubt.
    grid_ll = polygonal(shapely.coverage_clean(_repaired(frame.to_lon_lat(grid_geoms))))
    community_ll = _union_by(grid_ll, tree["grid_community"], len(tree["community_codes"]))
    street_ll = _union_by(community_ll, tree["community_street"], len(tree["street_names"]))
    district_ll = _union_by(street_ll, tree["street_district"], len(spec.districts))
    admin_geoms = np.concatenate([district_ll, street_ll, community_ll])
    building_ll = np.asarray(shapely.multipolygons(frame.to_lon_lat(b["geom"])[:, None]))
    for what, geoms in (("admin unit", admin_geoms), ("grid", grid_ll), ("building", building_ll)):
        if not shapely.is_valid(geoms).all():
            raise AssertionError(f"generated an invalid {what} polygon")

    room_label = np.char.add(
        np.char.zfill(h["floor"].astype(str), 2), np.char.zfill(h["room_no"].astype(str), 2)
    )
    return DemoCity(
        scale=spec.name,
        seed=seed,
        district_codes=spec.district_codes,
        admin_units=AdminUnitTable(
            code=np.array(units.code),
            name=np.array(units.name),
            level=np.array(units.level),
            parent_code=units.parent,
            district_code=np.array([c[:6] for c in units.code]),
            geom=admin_geoms,
        ),
        grids=GridTable(
            code=grid_codes,
            name=np.array(grid_names),
            community_code=community_codes,
            district_code=district_of_grid,
            grid_type=np.where(kind >= 0, GridType.DEDICATED.value, GridType.BASIC.value),
            households=households.astype(np.int64),
            geom=grid_ll,
        ),
        buildings=BuildingTable(
            code=building_codes,
            name=names,
            address=np.array(addresses),
            floors=b["floors"],
            use=np.array([u_.value for u_ in _CLASS_USE])[b["klass"]],
            grid_code=grid_codes[b["grid"]],
            district_code=district_of_grid[b["grid"]],
            geom=building_ll,
        ),
        houses=HouseTable(
            building=h["building"],
            unit=h["unit"].astype(str),
            floor=h["floor"],
            room=room_label,
            use=np.array([u_.value for u_ in _HOUSE_USES])[h["use"]],
            area_m2=h["area"],
        ),
    )
