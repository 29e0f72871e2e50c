"""HTTP: health, locate, grids and buildings as GeoJSON, and clear 4xx on bad input."""

from __future__ import annotations

import pytest

from tests.factories import COMMUNITY, add_building, add_grid, add_staff, admin_tree, bearer, square


@pytest.fixture(autouse=True)
def signed_in(client, session):
    client.headers.update(bearer(add_staff(session, "viewer", "admin")))


@pytest.fixture
def two_grids(session):
    admin_tree(session, community_geom=square(111.28, 30.70, 0.02))
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01), name="测试社区第1网格")
    add_grid(session, COMMUNITY + "002", square(111.29, 30.70, 0.01))
    add_building(
        session, "B001", square(111.285, 30.705, 0.0002), COMMUNITY + "001", name="1号楼", floors=6
    )
    return session


def test_health_reports_database_and_postgis_version(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["postgis"].startswith("3.")


def test_locate_returns_grid_community_and_building(client, two_grids):
    response = client.get("/api/locate", params={"lon": 111.2851, "lat": 30.7051})
    assert response.status_code == 200
    body = response.json()
    assert body["grid"] == {"code": COMMUNITY + "001", "name": "测试社区第1网格"}
    assert body["community"]["code"] == COMMUNITY
    assert body["building"]["code"] == "B001" and body["building"]["distance_m"] == 0


def test_locate_swapped_coordinates_get_400_with_a_hint(client, two_grids):
    response = client.get("/api/locate", params={"lon": 30.7, "lat": 111.28})
    assert response.status_code == 400
    assert "did you swap lat and lon" in response.json()["error"]["message"]


def test_locate_unknown_crs_and_non_numbers_get_422_sentences(client, two_grids):
    bad_crs = client.get("/api/locate", params={"lon": 111.28, "lat": 30.7, "crs": "mars"})
    assert bad_crs.status_code == 422 and "crs" in bad_crs.json()["error"]["message"]
    not_number = client.get("/api/locate", params={"lon": "east", "lat": 30.7})
    assert not_number.status_code == 422
    assert (
        "lon" in not_number.json()["error"]["message"]
        and "'east'" in not_number.json()["error"]["message"]
    )


def test_grids_are_a_geojson_feature_collection_filtered_by_community_and_bbox(client, two_grids):
    body = client.get("/api/grids", params={"community": COMMUNITY}).json()
    assert body["type"] == "FeatureCollection" and body["total"] == 2
    first = body["features"][0]
    assert first["id"] == COMMUNITY + "001"
    assert first["geometry"]["type"] == "MultiPolygon"
    assert "crs" not in first["geometry"]  # RFC 7946: coordinates are lon/lat, no crs member
    assert first["properties"]["buildings"] == 1
    assert first["properties"]["area_m2"] == pytest.approx(1.07e6, rel=0.05)  # ~1 km × 1.1 km
    east_only = client.get("/api/grids", params={"bbox": "111.295,30.701,111.299,30.709"})
    assert [f["id"] for f in east_only.json()["features"]] == [COMMUNITY + "002"]
    assert client.get("/api/grids", params={"street": "420502002000"}).json()["total"] == 0


def test_one_grid_by_code_and_404_for_an_unknown_code(client, two_grids):
    found = client.get(f"/api/grids/{COMMUNITY}001")
    assert found.status_code == 200
    assert found.json()["properties"]["community"]["name"] == "测试社区"
    missing = client.get("/api/grids/420502001001999")
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]


def test_bad_bbox_and_area_code_get_400_saying_what_is_wrong(client, two_grids):
    swapped = client.get("/api/grids", params={"bbox": "111.3,30.7,111.2,30.8"})
    assert swapped.status_code == 400 and "min_lon must be below max_lon" in swapped.text
    short = client.get("/api/grids", params={"bbox": "111.3,30.7"})
    assert short.status_code == 400 and "four numbers" in short.text
    area = client.get("/api/grids", params={"area": "42"})
    assert area.status_code == 400 and "12-" in area.text


def test_buildings_of_a_grid_as_geojson(client, two_grids):
    body = client.get("/api/buildings", params={"grid": COMMUNITY + "001"}).json()
    assert body["total"] == 1
    assert body["features"][0]["properties"]["use_label"] == "住宅"


def test_docs_pages_serve_their_scripts_locally_without_a_cdn(client):
    for url in ("/docs", "/redoc"):
        page = client.get(url).text
        assert "cdn" not in page.lower() and "https://" not in page
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
