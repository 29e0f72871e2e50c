"""Demo city scales: the districts each scale covers, and the default seed."""

from __future__ import annotations

from dataclasses import dataclass

from grid.exceptions import GridError

DEFAULT_SEED = 42


class DemoSeedError(GridError):
    """The demo city could not be (re)seeded; the message says why and what to do."""


# --------------------------------------------------------------------------- scales


@dataclass(frozen=True)
class DistrictSpec:
    """A district (区) of the demo city: code, name, where it lies and its real streets."""

    code: str  # 6-digit county code
    name: str
    anchors: tuple[tuple[float, float], ...]  # lon/lat seeds of the district's Voronoi cells
    streets: tuple[str, ...]  # real street/town names, coded 001, 002 … in this order
    # Where each real street lies, as fractions (x, y) of the district's bounding box;
    # streets without one are placed by population density.
    street_anchors: tuple[tuple[float, float], ...] = ()
    # Street count when fixed (西陵区 has exactly its 7 streets); else shared out by density.
    fixed_streets: bool = False
    # lon/lat box the district's own irregular outline fills; without one the district is
    # what its anchors' Voronoi cells leave of the city.
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class UrbanCentre:
    """A Gaussian bump of population density: lon/lat, spread in metres, peak weight."""

    lon: float
    lat: float
    sigma_m: float
    weight: float


@dataclass(frozen=True)
class CityScale:
    """Target counts, extent and character of one demo scale."""

    name: str
    bbox: tuple[float, float, float, float]  # lon/lat min_lon, min_lat, max_lon, max_lat
    districts: tuple[DistrictSpec, ...]
    streets: int
    communities: int
    grids: int
    buildings: int
    centres: tuple[UrbanCentre, ...]
    base_density: float  # density far from every centre, relative to the centres' peaks
    towns: int  # extra small random density bumps (market towns)
    lowrise_share: float  # share of rural low-rise (1–4 floor) houses among residential, at u=0
    tower_share: float  # share of high-rise (11–33 floor) towers among residential, at u=1
    # Buildings per grid fall with urbanity u (dense grids have fewer, taller buildings):
    # weight = 1 / (1 + urban_thinning * u).
    urban_thinning: float
    dedicated_share: float = 0.06  # share of dedicated grids (专属网格: schools, hospitals …)

    @property
    def district_codes(self) -> tuple[str, ...]:
        """The 6-digit codes of the districts this scale seeds."""
        return tuple(d.code for d in self.districts)


_XILING = DistrictSpec(
    code="420502",
    name="西陵区",
    anchors=(),  # its outline is its own (bbox below), the same at every scale
    streets=(
        "西陵街道",
        "学院街道",
        "云集街道",
        "西坝街道",
        "葛洲坝街道",
        "夜明珠街道",
        "窑湾街道",
    ),
    street_anchors=(
        (0.50, 0.30),
        (0.55, 0.58),
        (0.78, 0.22),
        (0.12, 0.30),
        (0.28, 0.60),
        (0.45, 0.86),
        (0.84, 0.62),
    ),
    fixed_streets=True,
    bbox=(111.26, 30.68, 111.33, 30.75),
)

_WUJIAGANG_STREETS = ("大公桥街道", "万寿桥街道", "宝塔河街道", "伍家岗街道", "伍家乡")

# The demo's second district: what the demo box leaves east and south of 西陵区, so the two
# share their border exactly; its five real streets, river side first.
_WUJIAGANG = DistrictSpec(
    code="420503",
    name="伍家岗区",
    anchors=((111.350, 30.668), (111.378, 30.645), (111.360, 30.700)),
    streets=_WUJIAGANG_STREETS,
    street_anchors=((0.25, 0.75), (0.45, 0.60), (0.30, 0.35), (0.65, 0.45), (0.80, 0.20)),
    fixed_streets=True,
)

_CITY_DISTRICTS = (
    _XILING,
    DistrictSpec(
        code="420503",
        name="伍家岗区",
        anchors=((111.350, 30.668), (111.378, 30.640), (111.345, 30.700), (111.405, 30.670)),
        streets=_WUJIAGANG_STREETS,
    ),
    DistrictSpec(
        code="420504",
        name="点军区",
        anchors=((111.240, 30.660), (111.180, 30.600), (111.100, 30.640), (111.260, 30.560)),
        streets=("点军街道", "艾家镇", "桥边镇", "联棚乡", "土城乡"),
    ),
    DistrictSpec(
        code="420505",
        name="猇亭区",
        anchors=((111.430, 30.560), (111.470, 30.510), (111.380, 30.520)),
        streets=("古老背街道", "云池街道", "虎牙街道"),
    ),
    DistrictSpec(
        code="420506",
        name="夷陵区",
        anchors=(
            (111.330, 30.790),
            (111.200, 30.780),
            (111.080, 30.840),
            (111.300, 30.900),
            (111.480, 30.820),
            (111.520, 30.740),
            (111.120, 30.730),
        ),
        streets=(
            "小溪塔街道",
            "樟村坪镇",
            "雾渡河镇",
            "分乡镇",
            "太平溪镇",
            "三斗坪镇",
            "乐天溪镇",
            "龙泉镇",
            "鸦鹊岭镇",
            "黄花镇",
            "下堡坪乡",
            "邓村乡",
        ),
    ),
)

SCALES: dict[str, CityScale] = {
    # 西陵区 (its own box, 111.26–111.33 E, 30.68–30.75 N) and 伍家岗区 beside it: the box
    # below, less 西陵区. About 200 grids each.
    "demo": CityScale(
        name="demo",
        bbox=(111.30, 30.62, 111.41, 30.715),
        districts=(_XILING, _WUJIAGANG),
        streets=12,
        communities=75,
        grids=390,
        buildings=11_000,
        centres=(
            UrbanCentre(111.300, 30.700, 2_000, 1.0),
            UrbanCentre(111.288, 30.728, 1_500, 0.6),
            UrbanCentre(111.318, 30.718, 1_300, 0.5),
            UrbanCentre(111.355, 30.665, 1_800, 0.7),
        ),
        base_density=0.25,
        towns=3,
        lowrise_share=0.0,
        tower_share=0.10,
        urban_thinning=0.4,
    ),
    "city": CityScale(
        name="city",
        bbox=(111.0, 30.45, 111.6, 30.95),
        districts=_CITY_DISTRICTS,
        streets=100,
        communities=1_000,
        grids=20_000,
        buildings=600_000,
        centres=(
            UrbanCentre(111.300, 30.705, 2_600, 1.0),
            UrbanCentre(111.355, 30.660, 2_000, 0.7),
            UrbanCentre(111.330, 30.780, 1_600, 0.45),
            UrbanCentre(111.440, 30.535, 1_600, 0.4),
            UrbanCentre(111.245, 30.665, 1_200, 0.3),
        ),
        base_density=0.12,
        towns=14,
        lowrise_share=0.95,
        tower_share=0.12,
        urban_thinning=2.5,
    ),
}


def city_scale(name: str) -> CityScale:
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}; choose demo or city") from None
