"""Compact geometry: polylines that decode to the simplified rings, GCJ-02 when asked."""

from __future__ import annotations

import shapely
from shapely import MultiPolygon, Polygon

from gis.crs import wgs84_to_gcj02
from maps.encode import (
    decimals_for,
    decode_polyline,
    delta_codes,
    encode_geometries,
    encode_points,
    number_list,
)

RING = [(111.30, 30.70), (111.31, 30.70), (111.31, 30.71), (111.30, 30.70)]
HOLE = [(111.302, 30.701), (111.305, 30.701), (111.305, 30.703), (111.302, 30.701)]


def rings(text: str, decimals: int) -> list[list[list[tuple[float, float]]]]:
    return [[decode_polyline(r, decimals) for r in p.split(" ")] for p in text.split(",")]


def test_points_encode_as_googles_polyline_example():
    # developers.google.com/maps/documentation/utilities/polylinealgorithm
    text = encode_points([(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)], decimals=5)
    assert text == "_p~iF~ps|U_ulLnnqC_mqNvxq`@"


def test_polygon_with_a_hole_and_a_second_part_round_trips_without_closing_vertices():
    second = Polygon([(111.4, 30.8), (111.41, 30.8), (111.41, 30.81)])
    geometry = MultiPolygon([Polygon(RING, [HOLE]), second])
    (text,) = encode_geometries([shapely.to_wkb(geometry)], decimals=6)
    decoded = rings(text, 6)
    assert len(decoded) == 2 and len(decoded[0]) == 2  # two polygons, the first with a hole
    assert decoded[0][0] == [(lat, lon) for lon, lat in RING[:-1]]
    assert decoded[0][1] == [(lat, lon) for lon, lat in HOLE[:-1]]
    assert decoded[1][0] == [(30.8, 111.4), (30.8, 111.41), (30.81, 111.41)]


def test_many_geometries_keep_their_order_and_precision():
    squares = [shapely.box(111.3 + i / 1000, 30.7, 111.3005 + i / 1000, 30.7005) for i in range(50)]
    texts = encode_geometries([shapely.to_wkb(s) for s in squares], decimals=5)
    for i, text in enumerate(texts):
        (ring,) = rings(text, 5)[0]
        assert ring[0] == (30.7, round(111.3 + i / 1000 + 0.0005, 5))


def test_gcj02_moves_every_vertex_as_the_crs_module_does():
    (text,) = encode_geometries([shapely.to_wkb(Polygon(RING))], decimals=6, gcj02=True)
    first = rings(text, 6)[0][0][0]
    lon, lat = wgs84_to_gcj02(*RING[0])
    assert first == (round(lat, 6), round(lon, 6))
    assert abs(first[1] - RING[0][0]) > 0.003  # hundreds of metres in Yichang


def test_precision_follows_the_pixel_size_and_numbers_stay_compact():
    assert decimals_for(5e-4) == 4 and decimals_for(7e-5) == 5 and decimals_for(1e-5) == 6
    assert delta_codes(["420502001001001", "420502001001002", "420502001002001"]) == [
        420502001001001,
        1,
        999,
    ]
    assert number_list([3, None, 87.54], scale=10) == "30,,875"
