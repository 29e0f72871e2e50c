"""Specification of polygon intake: what is accepted, and what each rejection says."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from gis.geometry import (
    GeometryError,
    explain,
    parse_geometry,
    to_multipolygon,
    validate_lon_lat_bounds,
    validate_polygonal,
)

# A small block in Xiling district, Yichang (around 111.29 E, 30.71 N).
YICHANG = [(111.29, 30.71), (111.30, 30.71), (111.30, 30.72), (111.29, 30.72), (111.29, 30.71)]


def ring(points: list[tuple[float, float]]) -> list[list[float]]:
    """GeoJSON positions from (lon, lat) tuples."""
    return [[x, y] for x, y in points]


def polygon_wkt(points: list[tuple[float, float]]) -> str:
    """WKT for a one-ring polygon."""
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in points) + "))"


def rejected(call: Any, *args: Any, **kwargs: Any) -> GeometryError:
    """Run a call that must raise GeometryError and return the error."""
    with pytest.raises(GeometryError) as info:
        call(*args, **kwargs)
    return info.value


def test_valid_yichang_polygon_passes_unchanged_as_multipolygon() -> None:
    polygon = shapely.Polygon(YICHANG)
    result = validate_polygonal(polygon, label="grid G1")
    assert isinstance(result, shapely.MultiPolygon)
    assert len(result.geoms) == 1
    assert result.geoms[0].equals_exact(polygon, 0)
    assert explain(polygon) is None


def test_bow_tie_is_rejected_naming_the_crossing_point() -> None:
    bow_tie = shapely.Polygon([(111.29, 30.71), (111.31, 30.73), (111.31, 30.71), (111.29, 30.73)])
    error = rejected(validate_polygonal, bow_tie, label="grid G1")
    assert error.reason == "self_intersection"
    assert "grid G1 is not a valid polygon: self-intersection at (111.3, 30.72)" in str(error)
    assert explain(bow_tie) == "self-intersection at (111.3, 30.72)"


def test_unclosed_geojson_ring_is_rejected_naming_both_end_points() -> None:
    open_ring = ring(YICHANG[:-1])
    error = rejected(parse_geometry, {"type": "Polygon", "coordinates": [open_ring]})
    assert error.reason == "ring_not_closed"
    message = str(error)
    assert "ring 0 of polygon 0 is not closed" in message
    assert "first point (111.29, 30.71) differs from last point (111.29, 30.72)" in message


def test_unclosed_ring_in_second_multipolygon_part_is_located() -> None:
    coords = [[ring(YICHANG)], [ring(YICHANG), ring(YICHANG)[:-1]]]
    error = rejected(parse_geometry, {"type": "MultiPolygon", "coordinates": coords})
    assert error.reason == "ring_not_closed"
    assert "ring 1 of polygon 1 is not closed" in str(error)


def test_same_geojson_ring_closed_is_accepted() -> None:
    geom = parse_geometry({"type": "Polygon", "coordinates": [ring(YICHANG)]})
    assert geom.equals(shapely.Polygon(YICHANG))


def test_geojson_ring_with_three_points_is_too_few() -> None:
    short = ring([(111.29, 30.71), (111.30, 30.71), (111.29, 30.71)])
    error = rejected(parse_geometry, {"type": "Polygon", "coordinates": [short]})
    assert error.reason == "too_few_points"
    assert "ring 0 of polygon 0 has only 3 point(s)" in str(error)
    assert "at least 4" in str(error)


def test_unclosed_wkt_ring_is_rejected_as_not_closed() -> None:
    error = rejected(parse_geometry, polygon_wkt(YICHANG[:-1]))
    assert error.reason == "ring_not_closed"
    assert "not closed" in str(error)


def test_garbage_text_is_a_parse_error_naming_accepted_formats() -> None:
    error = rejected(parse_geometry, "POLYGON((111.29 30.71, 111.3")
    assert error.reason == "parse_error"
    assert "GeoJSON, WKT, EWKT or WKB" in str(error)


@pytest.mark.parametrize(
    ("geom", "type_name"),
    [
        (shapely.LineString(YICHANG), "LineString"),
        (shapely.Point(111.29, 30.71), "Point"),
    ],
)
def test_non_polygon_is_rejected_as_wrong_type_naming_the_type(
    geom: shapely.Geometry, type_name: str
) -> None:
    error = rejected(validate_polygonal, geom, label="grid G1")
    assert error.reason == "wrong_type"
    assert f"grid G1 is a {type_name}; a Polygon or MultiPolygon is needed" in str(error)


def test_swapped_lat_lon_is_rejected_with_swap_hint() -> None:
    swapped = shapely.Polygon([(y, x) for x, y in YICHANG])
    error = rejected(validate_polygonal, swapped, label="grid G1")
    assert error.reason == "lon_lat_swapped"
    assert "look like lat/lon (first point 30.71, 111.29)" in str(error)
    assert "swap them to lon/lat" in str(error)


def test_lon_200_is_rejected_as_out_of_range() -> None:
    polygon = shapely.Polygon([(200, 30.7), (200.01, 30.7), (200.01, 30.71), (200, 30.7)])
    error = rejected(validate_lon_lat_bounds, polygon)
    assert error.reason == "out_of_range"
    assert "lon 200 at point (200, 30.7), outside -180..180" in str(error)


def test_lat_beyond_90_outside_china_is_out_of_range_not_swapped() -> None:
    polygon = shapely.Polygon([(10, 95), (10.1, 95), (10.1, 95.1), (10, 95)])
    error = rejected(validate_lon_lat_bounds, polygon)
    assert error.reason == "out_of_range"
    assert "lat 95 at point (10, 95), outside -90..90" in str(error)


def test_gauss_kruger_metres_are_detected_as_projected() -> None:
    # Yichang in EPSG:4546 (CGCS2000 3-degree GK, central meridian 111 E).
    metres = shapely.box(527_000, 3_398_000, 528_000, 3_399_000)
    error = rejected(validate_polygonal, metres, label="grid G1")
    assert error.reason == "projected_coordinates"
    assert "projected metres" in str(error)
    assert "EPSG:4490" in str(error)


def test_hole_outside_shell_is_rejected_with_its_location() -> None:
    hole = [(111.31, 30.71), (111.311, 30.71), (111.311, 30.711), (111.31, 30.71)]
    polygon = shapely.Polygon(YICHANG, [hole])
    error = rejected(validate_polygonal, polygon, label="grid G1")
    assert error.reason == "hole_outside_shell"
    expected = "grid G1 is not a valid polygon: hole lies outside its outer ring at (111.31, 30.71)"
    assert expected in str(error)


def test_polygon_with_two_point_ring_is_too_few_points() -> None:
    polygon = shapely.from_wkt("POLYGON((111.29 30.71, 111.3 30.71, 111.29 30.71))")
    error = rejected(validate_polygonal, polygon, label="grid G1")
    assert error.reason == "too_few_points"
    assert "too few distinct points at (111.29, 30.71)" in str(error)


def test_empty_polygon_is_rejected_as_empty() -> None:
    error = rejected(validate_polygonal, shapely.Polygon(), label="grid G1")
    assert error.reason == "empty"
    assert "grid G1 is empty" in str(error)


def test_z_dimension_is_dropped() -> None:
    polygon = shapely.Polygon([(x, y, 60.0) for x, y in YICHANG])
    result = validate_polygonal(polygon)
    assert not result.has_z
    assert result.equals(shapely.MultiPolygon([shapely.Polygon(YICHANG)]))


def test_wkt_parses() -> None:
    assert parse_geometry(polygon_wkt(YICHANG)).equals(shapely.Polygon(YICHANG))


def test_ewkt_srid_prefix_is_stripped() -> None:
    geom = parse_geometry("SRID=4490;" + polygon_wkt(YICHANG))
    assert geom.equals(shapely.Polygon(YICHANG))


def test_wkb_hex_and_bytes_parse_including_postgis_ewkb() -> None:
    polygon = shapely.Polygon(YICHANG)
    ewkb_hex = shapely.to_wkb(shapely.set_srid(polygon, 4490), hex=True, include_srid=True)
    assert parse_geometry(ewkb_hex).equals(polygon)
    assert parse_geometry(shapely.to_wkb(polygon)).equals(polygon)


def test_geojson_feature_yields_its_geometry() -> None:
    feature = {
        "type": "Feature",
        "properties": {"grid_code": "420502001001001"},
        "geometry": {"type": "Polygon", "coordinates": [ring(YICHANG)]},
    }
    assert parse_geometry(feature).equals(shapely.Polygon(YICHANG))


def test_geojson_text_parses() -> None:
    text = '{"type": "Polygon", "coordinates": [' + str(ring(YICHANG)) + "]}"
    assert parse_geometry(text).equals(shapely.Polygon(YICHANG))


def test_feature_without_geometry_is_empty() -> None:
    error = rejected(parse_geometry, {"type": "Feature", "properties": {}, "geometry": None})
    assert error.reason == "empty"
    assert "no geometry" in str(error)


def test_polygon_is_promoted_to_multipolygon() -> None:
    result = to_multipolygon(shapely.Polygon(YICHANG))
    assert isinstance(result, shapely.MultiPolygon)
    assert result.geoms[0].equals(shapely.Polygon(YICHANG))


def test_to_multipolygon_refuses_a_point() -> None:
    error = rejected(to_multipolygon, shapely.Point(111.29, 30.71))
    assert error.reason == "wrong_type"
    assert "is a Point" in str(error)
