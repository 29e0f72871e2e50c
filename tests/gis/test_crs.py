"""Specification of coordinate intake: validation, GCJ-02/BD-09 removal, metric zones."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import shapely

from gis.crs import (
    CoordinateError,
    Crs,
    bd09_to_gcj02,
    check_lon_lat,
    distance_m,
    from_storage,
    from_storage_geometry,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    metric_epsg,
    metric_transformer,
    parse_crs,
    to_storage,
    to_storage_geometry,
    to_storage_many,
    wgs84_to_gcj02,
)

LonLat = tuple[float, float]

# Published test vectors from independent open implementations, as (input, output) lon/lat.
# wandergis/coordtransform, test/app.js (also reused by hutool's CoordinateUtilTest).
WANDERGIS_WGS84_TO_GCJ02: list[tuple[LonLat, LonLat]] = [
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]
WANDERGIS_GCJ02_TO_BD09: list[tuple[LonLat, LonLat]] = [
    ((116.404, 39.915), (116.41036949371029, 39.92133699351021)),
]
# The same file's bd09togcj02 uses the one-step approximate inverse.
WANDERGIS_BD09_TO_GCJ02_ONE_STEP: tuple[LonLat, LonLat] = (
    (116.404, 39.915),
    (116.39762729119315, 39.90865673957631),
)
# googollee/eviltransform, python/test.py and go/transform_test.go (given there as lat, lng).
EVILTRANSFORM_WGS84_TO_GCJ02: list[tuple[LonLat, LonLat]] = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]
# hujiulong/gcoord, test/unit/crs/GCJ02.spec.js (checked there to 5 decimals).
GCOORD_GCJ02_TO_BD09: list[tuple[LonLat, LonLat]] = [
    ((123.0, 45.0), (123.00636499, 45.00636899)),
]
GCOORD_GCJ02_TO_WGS84: list[tuple[LonLat, LonLat]] = [
    ((123.0, 45.0), (122.99395597, 44.99804071)),
]

PUBLISHED_TOLERANCE_DEG = 1e-6  # about 0.1 m
EXACT_TOLERANCE_DEG = 1e-8  # about 1 mm

YICHANG: LonLat = (111.29, 30.71)
OUTSIDE_CHINA: list[LonLat] = [
    (139.6917, 35.6895),  # Tokyo
    (-0.1276, 51.5072),  # London
    (151.2093, -33.8688),  # Sydney
]


def china_grid(n_lon: int = 25, n_lat: int = 20) -> list[LonLat]:
    """A deterministic n_lon x n_lat grid of points over 73-135 E, 18-53 N."""
    lons = np.linspace(73.0, 135.0, n_lon)
    lats = np.linspace(18.0, 53.0, n_lat)
    return [(float(lon), float(lat)) for lon in lons for lat in lats]


def assert_close(actual: LonLat, expected: LonLat, tolerance: float) -> None:
    """Both coordinates agree to within tolerance degrees."""
    assert actual == pytest.approx(expected, abs=tolerance, rel=0)


def rejected(call: object, *args: object) -> str:
    """Run a call that must raise CoordinateError and return its message."""
    assert callable(call)
    with pytest.raises(CoordinateError) as info:
        call(*args)
    return str(info.value)


# --- published vectors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wgs84", "gcj02"), WANDERGIS_WGS84_TO_GCJ02 + EVILTRANSFORM_WGS84_TO_GCJ02
)
def test_wgs84_to_gcj02_matches_published_vectors(wgs84: LonLat, gcj02: LonLat) -> None:
    assert_close(wgs84_to_gcj02(*wgs84), gcj02, PUBLISHED_TOLERANCE_DEG)


@pytest.mark.parametrize(
    ("wgs84", "gcj02"), WANDERGIS_WGS84_TO_GCJ02 + EVILTRANSFORM_WGS84_TO_GCJ02
)
def test_gcj02_to_wgs84_recovers_published_wgs84_to_the_millimetre(
    wgs84: LonLat, gcj02: LonLat
) -> None:
    assert_close(gcj02_to_wgs84(*gcj02), wgs84, EXACT_TOLERANCE_DEG)


@pytest.mark.parametrize(("gcj02", "wgs84"), GCOORD_GCJ02_TO_WGS84)
def test_gcj02_to_wgs84_agrees_with_gcoord(gcj02: LonLat, wgs84: LonLat) -> None:
    assert_close(gcj02_to_wgs84(*gcj02), wgs84, PUBLISHED_TOLERANCE_DEG)


@pytest.mark.parametrize(("gcj02", "bd09"), WANDERGIS_GCJ02_TO_BD09 + GCOORD_GCJ02_TO_BD09)
def test_gcj02_to_bd09_matches_published_vectors(gcj02: LonLat, bd09: LonLat) -> None:
    assert_close(gcj02_to_bd09(*gcj02), bd09, PUBLISHED_TOLERANCE_DEG)


def test_bd09_to_gcj02_is_exact_where_the_published_one_step_inverse_is_not() -> None:
    bd09, one_step_gcj02 = WANDERGIS_BD09_TO_GCJ02_ONE_STEP
    exact = bd09_to_gcj02(*bd09)

    # Within a metre of the published approximation...
    assert_close(exact, one_step_gcj02, 1e-5)
    # ...but only the exact inverse maps back onto the Baidu input.
    assert_close(gcj02_to_bd09(*exact), bd09, 1e-9)
    assert distance_m(*gcj02_to_bd09(*one_step_gcj02), *bd09) > 0.01


# --- behaviour across and outside China ---------------------------------------------------


@pytest.mark.parametrize("point", OUTSIDE_CHINA)
def test_gcj02_is_the_identity_outside_china(point: LonLat) -> None:
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    assert to_storage(*point, crs=Crs.GCJ02) == point


def test_gcj02_offset_in_yichang_is_several_hundred_metres() -> None:
    # Why conversion matters: an unconverted Gaode point lands in the wrong grid.
    offset = distance_m(*YICHANG, *wgs84_to_gcj02(*YICHANG))

    assert 300 < offset < 900


def test_wgs84_gcj02_round_trip_is_under_a_centimetre_across_china() -> None:
    worst = max(
        distance_m(*point, *to_storage(*from_storage(*point, Crs.GCJ02), Crs.GCJ02))
        for point in china_grid()
    )

    assert worst < 0.01


def test_wgs84_bd09_round_trip_is_under_a_centimetre_across_china() -> None:
    worst = max(
        distance_m(*point, *to_storage(*from_storage(*point, Crs.BD09), Crs.BD09))
        for point in china_grid()
    )

    assert worst < 0.01


def test_round_trip_grid_covers_500_points_inside_the_gcj02_box() -> None:
    points = china_grid()

    assert len(points) == 500
    assert all(wgs84_to_gcj02(*p) != p for p in points)


# --- validation ---------------------------------------------------------------------------


def test_latitude_beyond_90_that_would_fit_as_longitude_suggests_a_swap() -> None:
    message = rejected(check_lon_lat, 30.5, 130.2)

    assert message == "lat 130.2 is outside -90..90; did you swap lat and lon?"


def test_yichang_sent_as_lat_lon_is_caught_by_to_storage() -> None:
    message = rejected(to_storage, 30.71, 111.29, Crs.GCJ02)

    assert message == "lat 111.29 is outside -90..90; did you swap lat and lon?"


def test_longitude_beyond_180_is_rejected_without_a_swap_hint() -> None:
    message = rejected(check_lon_lat, 200.5, 30.0)

    assert message.startswith("lon 200.5 is outside -180..180;")
    assert "swap" not in message


def test_projected_metres_are_recognised_as_not_degrees() -> None:
    message = rejected(check_lon_lat, 12_390_000.0, 3_590_000.0)

    assert "projected metres" in message


@pytest.mark.parametrize(
    ("lon", "lat", "start"),
    [
        (math.nan, 30.7, "lon nan is not a finite number"),
        (111.3, math.nan, "lat nan is not a finite number"),
        (math.inf, 30.7, "lon inf is not a finite number"),
    ],
)
def test_non_finite_coordinates_are_rejected(lon: float, lat: float, start: str) -> None:
    assert rejected(check_lon_lat, lon, lat).startswith(start)


def test_coordinates_on_the_valid_boundary_are_stored_unchanged() -> None:
    assert to_storage(180.0, 90.0) == (180.0, 90.0)
    assert to_storage(-180.0, -90.0, "cgcs2000") == (-180.0, -90.0)


# --- parse_crs ----------------------------------------------------------------------------


def test_crs_values_are_the_four_storage_names() -> None:
    assert [c.value for c in Crs] == ["cgcs2000", "wgs84", "gcj02", "bd09"]
    assert Crs("gcj02") is Crs.GCJ02
    assert isinstance(Crs.BD09, str)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cgcs2000", Crs.CGCS2000),
        ("EPSG:4490", Crs.CGCS2000),
        ("4490", Crs.CGCS2000),
        ("wgs84", Crs.WGS84),
        ("WGS-84", Crs.WGS84),
        ("epsg:4326", Crs.WGS84),
        ("4326", Crs.WGS84),
        ("GCJ-02", Crs.GCJ02),
        ("gaode", Crs.GCJ02),
        ("AMap", Crs.GCJ02),
        ("tencent", Crs.GCJ02),
        ("bd09", Crs.BD09),
        ("bd09ll", Crs.BD09),
        (" Baidu ", Crs.BD09),
        (Crs.BD09, Crs.BD09),
    ],
)
def test_parse_crs_accepts_names_and_aliases_in_any_case(name: str | Crs, expected: Crs) -> None:
    assert parse_crs(name) is expected


def test_unknown_crs_error_lists_the_accepted_values() -> None:
    message = rejected(parse_crs, "bd09mc")

    assert message.startswith("Unknown coordinate system 'bd09mc'; use one of")
    assert "cgcs2000, wgs84, gcj02, bd09" in message
    assert "gaode" in message and "baidu" in message


def test_to_storage_rejects_an_unknown_crs_name() -> None:
    assert "Unknown coordinate system 'mars'" in rejected(to_storage, *YICHANG, "mars")


# --- to_storage / from_storage ------------------------------------------------------------


def test_wgs84_and_cgcs2000_are_stored_as_given() -> None:
    assert to_storage(*YICHANG) == YICHANG
    assert to_storage(*YICHANG, crs="cgcs2000") == YICHANG
    assert from_storage(*YICHANG, "wgs84") == YICHANG


def test_bd09_is_stored_by_removing_baidu_then_gcj02_offsets() -> None:
    bd09 = (111.3, 30.72)

    assert to_storage(*bd09, crs="baidu") == gcj02_to_wgs84(*bd09_to_gcj02(*bd09))


def test_from_storage_gives_what_a_gaode_map_expects() -> None:
    assert from_storage(*YICHANG, "gaode") == wgs84_to_gcj02(*YICHANG)


def test_to_storage_many_matches_the_scalar_conversion() -> None:
    points = china_grid(5, 4)
    lons, lats = to_storage_many([p[0] for p in points], [p[1] for p in points], "bd09")

    for (lon, lat), out_lon, out_lat in zip(points, lons, lats, strict=True):
        # The batch iterates until its worst point converges, so singles may differ by < 1e-9.
        assert_close((out_lon, out_lat), to_storage(lon, lat, "bd09"), 1e-9)


def test_to_storage_many_names_the_first_bad_point() -> None:
    message = rejected(to_storage_many, [111.29, 30.71], [30.71, 111.29], "wgs84")

    assert message == "lat 111.29 is outside -90..90; did you swap lat and lon?"


def test_to_storage_many_rejects_unequal_lengths() -> None:
    message = rejected(to_storage_many, [111.29, 111.3], [30.71], "wgs84")

    assert message.startswith("Got 2 longitudes but 1 latitudes")


# --- geometries ---------------------------------------------------------------------------


def yichang_block() -> shapely.Polygon:
    """A small block in Xiling district, Yichang."""
    return shapely.Polygon(
        [(111.29, 30.71), (111.30, 30.71), (111.30, 30.72), (111.29, 30.72), (111.29, 30.71)]
    )


def test_geometry_in_gcj02_has_every_vertex_converted() -> None:
    block = yichang_block()

    stored = to_storage_geometry(block, "gcj02")

    expected = [to_storage(x, y, "gcj02") for x, y in shapely.get_coordinates(block)]
    np.testing.assert_allclose(shapely.get_coordinates(stored), expected, rtol=0, atol=1e-9)
    assert stored.geom_type == "Polygon"


def test_geometry_in_wgs84_is_returned_as_is() -> None:
    block = yichang_block()

    assert to_storage_geometry(block, Crs.WGS84) is block


def test_geometry_round_trips_through_baidu_to_the_millimetre() -> None:
    block = yichang_block()

    back = to_storage_geometry(from_storage_geometry(block, "bd09"), "bd09")

    assert shapely.equals_exact(back, block, tolerance=EXACT_TOLERANCE_DEG)


def test_geometry_heights_pass_through_unchanged() -> None:
    point = shapely.Point(111.29, 30.71, 57.0)

    stored = to_storage_geometry(point, "gcj02")

    assert stored.has_z
    assert shapely.get_coordinates(stored, include_z=True)[0, 2] == 57.0


def test_geometry_with_a_vertex_out_of_range_is_rejected_with_its_values() -> None:
    swapped = shapely.LineString([(111.29, 30.71), (30.72, 111.30)])

    message = rejected(to_storage_geometry, swapped, "wgs84")

    assert message == "lat 111.3 is outside -90..90; did you swap lat and lon?"


# --- metres -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "epsg"),
    [
        (111.3, 4546),  # Yichang
        (114.06, 4547),  # Shenzhen
        (116.4, 4548),  # Beijing
        (117.0, 4548),
        (73.5, 4534),  # westernmost China
        (134.9, 4554),  # easternmost China
        (112.49, 4546),
        (112.5, 4547),  # a strip edge belongs to the eastern zone
    ],
)
def test_metric_epsg_is_the_gauss_kruger_zone_centred_nearest(lon: float, epsg: int) -> None:
    assert metric_epsg(lon) == epsg


@pytest.mark.parametrize("central_meridian", range(75, 136, 3))
def test_metric_epsg_names_the_cgcs2000_cm_zone_in_the_epsg_registry(
    central_meridian: int,
) -> None:
    name = pyproj.CRS.from_epsg(metric_epsg(central_meridian)).name

    assert name == f"CGCS2000 / 3-degree Gauss-Kruger CM {central_meridian}E"


@pytest.mark.parametrize("lon", [73.4, 136.5, 10.0, math.nan])
def test_metric_epsg_refuses_longitudes_outside_chinas_zones(lon: float) -> None:
    assert rejected(metric_epsg, lon).startswith("lon ")


def test_metric_transformer_is_shared_within_a_zone() -> None:
    assert metric_transformer(111.3) is metric_transformer(110.0)
    assert metric_transformer(111.3) is not metric_transformer(114.0)


def test_metric_transformer_puts_the_central_meridian_at_easting_500_km() -> None:
    easting, northing = metric_transformer(111.3).transform(111.0, 30.71)

    assert easting == pytest.approx(500_000.0, abs=1e-6)
    assert 3_390_000 < northing < 3_410_000


def test_metric_transformer_lengths_agree_with_geodesic_distance() -> None:
    a, b = YICHANG, (111.30, 30.72)
    transformer = metric_transformer(a[0])

    (x1, x2), (y1, y2) = transformer.transform([a[0], b[0]], [a[1], b[1]])

    assert math.hypot(x2 - x1, y2 - y1) == pytest.approx(distance_m(*a, *b), abs=0.05)


def test_distance_m_of_one_degree_along_the_equator_is_grs80_a_times_pi_over_180() -> None:
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(6_378_137.0 * math.pi / 180, abs=1e-6)


def test_distance_m_rejects_invalid_coordinates() -> None:
    assert "did you swap" in rejected(distance_m, 111.29, 30.71, 30.71, 111.29)
