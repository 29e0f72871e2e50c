"""locate_point: which grid, which admin units and which building a street point belongs to."""

from __future__ import annotations

import pytest
from shapely import MultiPolygon, Polygon, box

from gis.crs import from_storage
from grid.exceptions import InvalidQuery
from grid.service import locate_point
from tests.factories import COMMUNITY, METRE_LON, add_building, add_grid, admin_tree, square


@pytest.fixture
def four_grids(session):
    """Community 111.28–111.30 E × 30.70–30.72 N cut into four grids; grid 004 has a hole."""
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    add_grid(session, COMMUNITY + "002", square(111.29, 30.70, 0.01))
    add_grid(session, COMMUNITY + "003", square(111.28, 30.71, 0.01))
    shell = box(111.29, 30.71, 111.30, 30.72).exterior.coords
    hole = box(111.294, 30.714, 111.296, 30.716).exterior.coords
    add_grid(session, COMMUNITY + "004", MultiPolygon([Polygon(shell, [hole])]))
    return session


def test_interior_point_is_inside_its_grid_with_full_admin_chain(four_grids):
    result = locate_point(four_grids, lon=111.285, lat=30.705, crs="cgcs2000")
    assert result.match == "inside"
    assert result.grid is not None and result.grid.code == COMMUNITY + "001"
    assert result.distance_to_grid_m == 0
    assert result.community is not None and result.community.code == COMMUNITY
    assert result.street is not None and result.street.code == "420502001000"
    assert result.district is not None and result.district.name == "西陵区"


def test_point_on_shared_edge_goes_to_lower_grid_code(four_grids):
    result = locate_point(four_grids, lon=111.295, lat=30.71)
    assert result.match == "boundary"
    assert result.grid is not None and result.grid.code == COMMUNITY + "002"
    assert result.grid_candidates == [COMMUNITY + "002", COMMUNITY + "004"]


def test_point_on_vertex_shared_by_four_grids_goes_to_lowest_code(four_grids):
    result = locate_point(four_grids, lon=111.29, lat=30.71)
    assert result.match == "boundary"
    assert result.grid is not None and result.grid.code == COMMUNITY + "001"
    assert len(result.grid_candidates) == 4


def test_point_10m_outside_every_grid_goes_to_nearest_grid_flagged_nearby(four_grids):
    result = locate_point(four_grids, lon=111.30 + 10 * METRE_LON, lat=30.705)
    assert result.match == "nearby"
    assert result.grid is not None and result.grid.code == COMMUNITY + "002"
    assert result.distance_to_grid_m == pytest.approx(10, abs=0.5)
    assert result.district is not None


def test_point_200m_outside_is_a_valid_outside_answer_not_an_error(four_grids):
    result = locate_point(four_grids, lon=111.30 + 200 * METRE_LON, lat=30.705)
    assert result.match == "outside"
    assert result.grid is None and result.distance_to_grid_m is None
    assert result.community is None and result.district is None


def test_point_inside_a_grid_hole_is_outside_grids_but_keeps_its_community(four_grids):
    result = locate_point(four_grids, lon=111.295, lat=30.715)
    assert result.match == "outside"
    assert result.grid is None
    assert result.community is not None and result.community.code == COMMUNITY
    assert result.district is not None and result.district.code == "420502000000"


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_phone_coordinates_are_converted_before_locating(four_grids, crs):
    # 50 m inside grid 001's eastern edge: the phone's offset (~600 m east) would put it
    # in grid 002 or outside the community if it were taken as WGS84.
    lon, lat = 111.29 - 50 * METRE_LON, 30.705
    phone_lon, phone_lat = from_storage(lon, lat, crs)
    unconverted = locate_point(four_grids, lon=phone_lon, lat=phone_lat, crs="wgs84")
    assert unconverted.grid is None or unconverted.grid.code != COMMUNITY + "001"
    result = locate_point(four_grids, lon=phone_lon, lat=phone_lat, crs=crs)
    assert result.grid is not None and result.grid.code == COMMUNITY + "001"
    assert result.lon == pytest.approx(lon, abs=1e-7)
    assert result.input_crs.value == crs


def test_nearest_building_within_50m_is_attached_with_its_distance(four_grids):
    add_building(
        four_grids,
        "B-NEAR",
        square(111.285, 30.705, 0.0002),
        COMMUNITY + "001",
        name="1号楼",
        address="西陵区测试路1号",
    )
    add_building(four_grids, "B-FAR", square(111.2855, 30.7055, 0.0002), COMMUNITY + "001")
    inside = locate_point(four_grids, lon=111.2851, lat=30.7051)
    assert inside.building is not None
    assert (inside.building.code, inside.building.distance_m) == ("B-NEAR", 0)
    near = locate_point(four_grids, lon=111.285 - 20 * METRE_LON, lat=30.7051)
    assert near.building is not None and near.building.code == "B-NEAR"
    assert near.building.distance_m == pytest.approx(20, abs=0.5)
    assert locate_point(four_grids, lon=111.285 - 80 * METRE_LON, lat=30.7051).building is None


@pytest.mark.parametrize(
    ("lon", "lat", "crs", "message"),
    [
        (30.705, 130.2, "wgs84", "did you swap lat and lon"),
        (181, 30.7, "wgs84", "outside -180..180"),
        (float("nan"), 30.7, "wgs84", "lon"),
        (111.28, 30.7, "mars", "use one of cgcs2000, wgs84, gcj02, bd09"),
    ],
)
def test_malformed_coordinate_is_refused_with_a_sentence(four_grids, lon, lat, crs, message):
    with pytest.raises(InvalidQuery, match=message):
        locate_point(four_grids, lon=lon, lat=lat, crs=crs)
