"""Hot spots (热点分析): local Getis-Ord Gi* of the event counts per grid of one district.

For a period [start, end) every grid of the district gets its count of events reported there
(not voided; of one 大类/小类 or all), zeros included. The spatial weights are binary grid
adjacency (Queen contiguity: grids whose polygons share an edge or a corner, within TOUCH_DEG),
each grid also its own neighbour (the star in Gi*). The z-score is Ord & Getis (1995):

    z_i = (Σ_j w_ij x_j − x̄ W_i) / (S √((n W_i − W_i²) / (n − 1)))

with binary weights (Σ_j w_ij² = W_i), x̄ and S the mean and (population) standard deviation of
the counts over the n grids. p is the two-sided p-value of z under the standard normal (the
analytic p, not a permutation pseudo-p: deterministic, no seed). No correction for testing
many grids at once (as ArcGIS's default): at 95% one grid in twenty of a random pattern shows.

Classes: 热点/冷点 at 99% (p < 0.01), 95% (p < 0.05), 90% (p < 0.10), else 不显著. A grid with
no neighbour (孤立网格, an island) is always 不显著: its Gi* would only compare its own count
with the mean, which says nothing about a cluster. With every count equal (all zero included)
S = 0, nothing is significant and every z is 0.

Emerging hot spots compare the class with the same-length period just before (for a week,
last week): 新出现 (hot now, not before), 持续 (hot in both), 消退 (hot before, not now).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from events.exceptions import Forbidden, InvalidReport, NotFound
from events.kpis import period_bounds
from events.map_stats import area_actor
from events.models import Event, EventCategory, EventStatus
from gis.clock import CHINA_TZ, local_today
from grid.models import AdminUnit, Grid
from people.access import Actor
from people.models import StaffRole

# Leaders, the command centre and admins (as the 考核通报); not units, inspectors or grid workers.
READ_HOTSPOTS: Final = frozenset({StaffRole.LEADER, StaffRole.COMMAND, StaffRole.ADMIN})
MAX_DAYS: Final = 366
# Grids this close (degrees, CGCS2000; about 0.1 m) are neighbours: digitised boundaries that
# should meet often leave slivers of a few centimetres between them.
TOUCH_DEG: Final = 1e-6
# Days an analysis may cover (the period before included): far dates would overflow.
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)
# (confidence, two-sided p below which it holds, label suffix); most confident first.
LEVELS: Final = ((99, 0.01), (95, 0.05), (90, 0.10))
NOT_SIGNIFICANT: Final = "不显著"
TRENDS: Final = ("新出现", "持续", "消退")
# What each class means, for legends (Chinese, as the pages show them).
MEANINGS: Final = {
    **{
        f"热点{c}": f"热点（{c}%置信）：该网格及其相邻网格的事件数显著高于全区平均，"
        f"偶然出现的可能小于{100 - c}%"
        for c, _ in LEVELS
    },
    **{
        f"冷点{c}": f"冷点（{c}%置信）：该网格及其相邻网格的事件数显著低于全区平均，"
        f"偶然出现的可能小于{100 - c}%"
        for c, _ in LEVELS
    },
    NOT_SIGNIFICANT: "不显著：与全区平均的差别可能是偶然的（或孤立网格，无相邻网格可比）",
}


class GridHotspot(BaseModel):
    """One grid's Gi* result: count, z-score, two-sided normal p, class and trend."""

    code: str
    name: str
    count: int
    z: float
    p: float
    hot_class: str  # 热点99/热点95/热点90/冷点99/冷点95/冷点90/不显著
    island: bool  # no neighbouring grid (孤立网格): never significant
    previous_count: int
    previous_class: str
    trend: str | None  # 新出现/持续/消退 (hot spots only), None otherwise


class HotspotReport(BaseModel):
    """Gi* hot spots of one district's grids for a period and category (aggregates only)."""

    district_code: str
    district_name: str
    category: str | None
    category_name: str
    start: datetime
    end: datetime
    previous_start: datetime
    method: str
    grids_total: int
    islands: int
    events_total: int
    mean_count: float
    classes: dict[str, int]
    trends: dict[str, int]
    meanings: dict[str, str]
    grids: list[GridHotspot]


@dataclass(frozen=True)
class Adjacency:
    """The grids of a district in code order and, per grid, its neighbours' positions."""

    codes: list[str]
    names: list[str]
    neighbours: list[list[int]]
    seconds: float  # how long building it took (for the benchmark and the CLI)


def grid_adjacency(session: Session, *, district_code: str) -> Adjacency:
    """Queen contiguity of the district's grids: pairs whose polygons meet (edge, corner or
    overlap; within TOUCH_DEG), found with one indexed self-join."""
    started = time.perf_counter()
    rows = session.execute(
        select(Grid.code, Grid.name).where(Grid.district_code == district_code).order_by(Grid.code)
    ).all()
    codes = [r.code for r in rows]
    position = {code: i for i, code in enumerate(codes)}
    a, b = aliased(Grid), aliased(Grid)
    pairs = session.execute(
        select(a.code, b.code)
        .join(
            b,
            (b.district_code == a.district_code)
            & (a.code < b.code)
            & func.ST_DWithin(a.geom, b.geom, TOUCH_DEG),
        )
        .where(a.district_code == district_code)
    ).all()
    neighbours: list[list[int]] = [[] for _ in codes]
    for left, right in pairs:
        i, j = position[left], position[right]
        neighbours[i].append(j)
        neighbours[j].append(i)
    return Adjacency(codes, [r.name for r in rows], neighbours, time.perf_counter() - started)


# The adjacency of each district last built in this process, with the signature of the grids it
# was built from: rebuilt only when a grid is added, removed, renamed or reshaped (a recut).
_ADJACENCY: dict[str, tuple[str, Adjacency]] = {}


def grid_signature(session: Session, *, district_code: str) -> str:
    """An md5 of the district's grid codes, names and geometries, in code order (about 85 ms
    for 20,000 grids, against seconds for the adjacency self-join)."""
    row = func.concat(Grid.code, "|", Grid.name, "|", func.md5(func.ST_AsBinary(Grid.geom)))
    signature = session.scalar(
        select(
            func.md5(func.string_agg(row, aggregate_order_by(literal_column("','"), Grid.code)))
        ).where(Grid.district_code == district_code)
    )
    return str(signature or "")


def cached_adjacency(session: Session, *, district_code: str) -> Adjacency:
    """The district's adjacency, from this process's memory while its grids are unchanged."""
    signature = grid_signature(session, district_code=district_code)
    hit = _ADJACENCY.get(district_code)
    if hit is not None and hit[0] == signature:
        return hit[1]
    adjacency = grid_adjacency(session, district_code=district_code)
    _ADJACENCY[district_code] = (signature, adjacency)
    return adjacency


def gi_star(counts: np.ndarray, neighbours: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided normal p-values of `counts` over binary `neighbours` (each
    grid is also its own neighbour), by esda.G_Local; z 0 and p 1 where there is no variance."""
    n = len(counts)
    y = np.asarray(counts, dtype=float)
    if n < 2 or float(np.ptp(y)) == 0.0:  # every count equal: S = 0, nothing stands out
        return np.zeros(n), np.ones(n)
    from esda.getisord import G_Local
    from libpysal.graph import Graph

    # libpysal's Graph (sparse arrays; 5× faster than a W dict at 20,000 grids); an island is
    # written as a zero-weight self-loop, as Graph expects.
    sizes = [len(js) or 1 for js in neighbours]
    focal = np.repeat(np.arange(n), sizes)
    other = np.concatenate([np.asarray(js or [i], dtype=int) for i, js in enumerate(neighbours)])
    weight = np.concatenate([np.ones(len(js)) if js else np.zeros(1) for js in neighbours])
    graph = Graph.from_arrays(focal, other, weight)
    with warnings.catch_warnings():  # islands: libpysal warns about them; handled by the caller
        warnings.simplefilter("ignore")
        g = G_Local(y, graph, transform="B", star=True, permutations=0)
    z = np.nan_to_num(np.asarray(g.Zs, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    # Two-sided p under the standard normal: P(|Z| ≥ |z|) = erfc(|z| / √2).
    return z, np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in z])


def classify(z: float, p: float, *, island: bool = False) -> str:
    """热点/冷点 at the highest confidence `p` reaches, else 不显著 (always for an island)."""
    if island:
        return NOT_SIGNIFICANT
    for confidence, below in LEVELS:
        if p < below:
            return f"{'热点' if z > 0 else '冷点'}{confidence}"
    return NOT_SIGNIFICANT


def trend(now: str, before: str) -> str | None:
    """新出现/持续/消退 of a grid's hot-spot class against the previous period's."""
    hot_now, hot_before = now.startswith("热点"), before.startswith("热点")
    if hot_now:
        return "持续" if hot_before else "新出现"
    return "消退" if hot_before else None


def check_category(session: Session, category: str | None) -> tuple[str | None, str]:
    """The category filter (a 2-digit 大类 or 4-digit 小类 code that exists) and its name."""
    if not category or not category.strip():
        return None, "全部类别"
    code = category.strip()
    if not code.isdigit() or len(code) not in (2, 4):
        raise InvalidReport(
            f"类别 '{category[:20]}' 不是2位大类或4位小类代码 (category must be a 2-digit major "
            "or 4-digit subcategory code, e.g. 01 or 0102)"
        )
    current = EventCategory.valid_to.is_(None)
    if len(code) == 2:
        name = session.scalar(
            select(EventCategory.major_name).where(EventCategory.major_code == code).limit(1)
        )
    else:
        name = session.scalar(select(EventCategory.name).where(EventCategory.code == code, current))
    if name is None:
        raise InvalidReport(f"没有代码为 {code} 的事件类别 (no event category {code})")
    return code, name


def period_of(first: date | None, last: date | None) -> tuple[datetime, datetime]:
    """[start, end) of the days first..last (China time); default the last 7 days to today."""
    if first is None and last is None:
        last = local_today()
        first = last - timedelta(days=6)
    elif first is None or last is None:
        raise InvalidReport("请同时给出 from 和 to 日期 (give both from and to, YYYY-MM-DD)")
    if not (FIRST_DAY <= first <= LAST_DAY and FIRST_DAY <= last <= LAST_DAY):
        raise InvalidReport(
            f"日期应在 {FIRST_DAY} 至 {LAST_DAY} 之间 (from and to must lie between {FIRST_DAY} "
            f"and {LAST_DAY}; got {first}..{last})"
        )
    start, end = period_bounds(start=first, end=last)
    if (end - start).days > MAX_DAYS:
        raise InvalidReport(
            f"时段最长 {MAX_DAYS} 天 (the period may be at most {MAX_DAYS} days; "
            f"{first}..{last} is {(end - start).days})"
        )
    return start, end


def grid_counts(
    session: Session,
    *,
    district_code: str,
    start: datetime,
    end: datetime,
    category: str | None,
) -> dict[str, int]:
    """Events reported in [start, end) per grid of the district (not voided), of `category`."""
    where = [
        Event.district_code == district_code,
        Event.grid_code.is_not(None),
        Event.reported_at >= start,
        Event.reported_at < end,
        Event.status != EventStatus.VOIDED,
    ]
    if category:
        where.append(Event.category_code.startswith(category, autoescape=True))
    rows = session.execute(
        select(Event.grid_code, func.count()).where(*where).group_by(Event.grid_code)
    ).all()
    return {str(code): int(n) for code, n in rows}


def check_district(session: Session, *, actor: Actor, district: str) -> str:
    """The district's name if the actor may read it: 403 outside their area, 404 unknown."""
    if actor.role not in READ_HOTSPOTS:
        raise Forbidden(
            f"{actor.role.label}账号不能查看热点分析 (a {actor.role.value} account may not read "
            "hot spots; they are for leaders and the command centre)"
        )
    code = (district or "").strip()
    if not code.isdigit() or len(code) not in (6, 12) or (len(code) == 12 and code[6:] != "0" * 6):
        raise InvalidReport(
            f"区县代码 '{district[:20]}' 应为6位数字 (district must be a 6-digit code, e.g. 420502)"
        )
    code = code[:6]
    area_actor(actor, code)  # Forbidden when the district is outside the actor's area
    name = session.scalar(select(AdminUnit.name).where(AdminUnit.code == code + "000000"))
    if name is None:
        raise NotFound(f"没有区县 {code} (no district {code})")
    return str(name)


def hotspots(
    session: Session,
    *,
    actor: Actor,
    district: str,
    start: datetime,
    end: datetime,
    category: str | None = None,
    adjacency: Adjacency | None = None,
) -> HotspotReport:
    """Gi* hot spots of the district's grids for [start, end) and the same-length period just
    before (emerging: 新出现/持续/消退), for an actor whose area holds the district."""
    name = check_district(session, actor=actor, district=district)
    return district_hotspots(
        session,
        district_code=district.strip()[:6],
        district_name=name,
        start=start,
        end=end,
        category=category,
        adjacency=adjacency,
    )


def district_hotspots(
    session: Session,
    *,
    district_code: str,
    district_name: str | None = None,
    start: datetime,
    end: datetime,
    category: str | None = None,
    adjacency: Adjacency | None = None,
) -> HotspotReport:
    """Gi* hot spots of a district (no scope check: the caller decides who reads which grids;
    the leader map of a street shows its own grids' classes)."""
    code = district_code
    if district_name is None:
        found = session.scalar(select(AdminUnit.name).where(AdminUnit.code == code + "000000"))
        district_name = str(found or f"区县 {code}")
    category, category_name = check_category(session, category)
    if end <= start:
        raise InvalidReport("时段为空：to 早于 from (the period is empty; to is before from)")
    adjacency = adjacency or cached_adjacency(session, district_code=code)
    previous_start = start - (end - start)
    now = grid_counts(session, district_code=code, start=start, end=end, category=category)
    before = grid_counts(
        session, district_code=code, start=previous_start, end=start, category=category
    )
    x = np.array([now.get(c, 0) for c in adjacency.codes], dtype=float)
    x0 = np.array([before.get(c, 0) for c in adjacency.codes], dtype=float)
    z, p = gi_star(x, adjacency.neighbours)
    z0, p0 = gi_star(x0, adjacency.neighbours)
    grids = []
    for i, grid_code in enumerate(adjacency.codes):
        island = not adjacency.neighbours[i]
        current = classify(float(z[i]), float(p[i]), island=island)
        previous = classify(float(z0[i]), float(p0[i]), island=island)
        grids.append(
            GridHotspot(
                code=grid_code,
                name=adjacency.names[i],
                count=int(x[i]),
                z=float(z[i]),
                p=float(p[i]),
                hot_class=current,
                island=island,
                previous_count=int(x0[i]),
                previous_class=previous,
                trend=trend(current, previous),
            )
        )
    classes = {label: 0 for label in MEANINGS}
    trends = dict.fromkeys(TRENDS, 0)
    for g in grids:
        classes[g.hot_class] += 1
        if g.trend:
            trends[g.trend] += 1
    return HotspotReport(
        district_code=code,
        district_name=district_name,
        category=category,
        category_name=category_name,
        start=start.astimezone(CHINA_TZ),
        end=end.astimezone(CHINA_TZ),
        previous_start=previous_start.astimezone(CHINA_TZ),
        method=(
            "local Getis-Ord Gi* (esda.G_Local, star=True, binary Queen contiguity of the grids); "
            "p = two-sided analytic normal p of z (no permutations, deterministic)"
        ),
        grids_total=len(grids),
        islands=sum(g.island for g in grids),
        events_total=int(x.sum()),
        mean_count=float(x.mean()) if len(x) else 0.0,
        classes=classes,
        trends=trends,
        meanings=MEANINGS,
        grids=grids,
    )


__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "LEVELS",
    "MEANINGS",
    "READ_HOTSPOTS",
    "Adjacency",
    "GridHotspot",
    "HotspotReport",
    "cached_adjacency",
    "check_category",
    "check_district",
    "classify",
    "district_hotspots",
    "gi_star",
    "grid_adjacency",
    "grid_counts",
    "grid_signature",
    "hotspots",
    "period_of",
    "trend",
]
