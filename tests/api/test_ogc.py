"""OGC API – Features and Tiles read by real clients (OWSLib, GDAL through pyogrio, httpx)
from a real uvicorn server on the module's own database (tests/api/ogc_city.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import mapbox_vector_tile
import pyogrio
import pytest
from owslib.ogcapi.features import Features
from playwright.sync_api import Browser
from sqlalchemy import Engine

from tests.api.browser import PHONE, WIDE, Watch, assert_fits_phone, open_context, shoot
from tests.api.ogc_city import (
    BUILDINGS,
    EAST,
    OTHER_BUILDING,
    PARTS,
    PERSONAL,
    WEST,
    build_ogc_city,
)
from tests.gis.tile_city import tile_of

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
# Hand-made expectations from ogc_city: buildings by grid, floors and use.
WEST_BUILDINGS = ["B-W1", "B-W2", "B-W3"]
ALL_BUILDINGS = sorted(code for code, *_ in BUILDINGS)
# Events per grid, 大类 and China month, voided and gridless ones left out (see EVENTS).
COUNTS = {
    f"{WEST}-01-2026-10": 2,
    f"{WEST}-02-2026-11": 1,
    f"{EAST}-01-2026-11": 1,
}


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, Any]:
    """This module's city (read by the `server` fixture of tests/api/conftest.py)."""
    return build_ogc_city(own_engine)


@pytest.fixture(scope="module")
def ogc(server: str) -> str:
    """The OGC API root of the running server."""
    return f"{server}/ogc"


@pytest.fixture(scope="module")
def http(page_city: dict[str, Any]) -> Iterator[httpx.Client]:
    """An httpx client sending the district's API key in the X-Api-Key header."""
    with httpx.Client(headers={"X-Api-Key": page_city["key"]}, timeout=30) as client:
        yield client


def owslib_features(ogc: str, key: str) -> Features:
    """OWSLib on the API root with the key in the X-Api-Key header.

    (OWSLib 0.35 reads the landing page without a URL's query string, so it cannot carry the
    key as `?api_key=`; the query-string key is exercised with httpx below.)
    """
    return Features(f"{ogc}/", headers={"X-Api-Key": key})


def ids(collection: dict[str, Any]) -> list[str]:
    return [f["id"] for f in collection["features"]]


# -- landing, conformance, collections -----------------------------------------------------------


def test_owslib_reads_landing_conformance_and_collections(ogc: str, page_city: dict) -> None:
    api = owslib_features(ogc, page_city["key"])
    rels = {link["rel"] for link in api.links}
    assert {"self", "conformance", "data", "service-desc"} <= rels
    conforms = api.conformance()["conformsTo"]
    assert CORE in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conforms
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conforms
    assert sorted(api.feature_collections()) == sorted(
        ["districts", "streets", "communities", "grids", "buildings", "city_parts", "event_counts"]
    )
    grids = api.collection("grids")
    assert grids["crs"] == [CRS84, EPSG4490]
    assert grids["storageCrs"] == EPSG4490
    # The district outline of 西陵区 is the community square 111.28..111.30, 30.70..30.72.
    assert grids["extent"]["spatial"]["bbox"] == [[111.28, 30.7, 111.3, 30.72]]


def test_links_carry_the_query_key_so_clients_can_follow_them(ogc: str, page_city: dict) -> None:
    key = page_city["key"]
    landing = httpx.get(f"{ogc}?key={key}").json()
    assert all(f"key={key}" in link["href"] for link in landing["links"] if "/ogc" in link["href"])
    by_header = httpx.get(ogc, headers={"X-Api-Key": key}).json()
    assert not any(key in link["href"] for link in by_header["links"])


def test_queryables_declare_the_property_filters(ogc: str, page_city: dict) -> None:
    api = owslib_features(ogc, page_city["key"])
    queryables = api.collection_queryables("buildings")
    assert queryables["type"] == "object"
    assert queryables["properties"]["floors"]["type"] == "integer"
    assert set(queryables["properties"]) == {"code", "grid_code", "use", "floors"}


# -- items -----------------------------------------------------------------------------------------


def test_items_page_with_limit_offset_and_next_prev_links(ogc: str, page_city: dict) -> None:
    api = owslib_features(ogc, page_city["key"])
    first = api.collection_items("buildings", limit=2)
    assert ids(first) == ALL_BUILDINGS[:2]
    assert (first["numberMatched"], first["numberReturned"]) == (5, 2)
    rels = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in rels
    second = httpx.get(rels["next"], headers={"X-Api-Key": page_city["key"]}).json()
    assert ids(second) == ALL_BUILDINGS[2:4]
    last = api.collection_items("buildings", limit=2, offset=4)
    assert ids(last) == ALL_BUILDINGS[4:]
    last_rels = {link["rel"] for link in last["links"]}
    assert "next" not in last_rels and "prev" in last_rels


def test_limit_above_the_maximum_is_served_at_the_maximum_with_a_sentence(
    ogc: str, http: httpx.Client
) -> None:
    at_max = http.get(f"{ogc}/collections/buildings/items", params={"limit": 1000}).json()
    assert "notice" not in at_max
    over = http.get(f"{ogc}/collections/buildings/items", params={"limit": 1001}).json()
    assert "1000" in over["notice"] and over["numberReturned"] == 5
    assert "limit=1000" in next(link["href"] for link in over["links"] if link["rel"] == "self")
    zero = http.get(f"{ogc}/collections/buildings/items", params={"limit": 0})
    assert zero.status_code == 400 and "limit" in zero.json()["error"]["message"]


def test_bbox_selects_what_it_touches_in_either_crs(ogc: str, page_city: dict) -> None:
    api = owslib_features(ogc, page_city["key"])
    # The west grid's half: B-W1..B-W3 (B-E1 starts at 111.291, one step east of the box).
    west = api.collection_items("buildings", bbox=[111.28, 30.70, 111.2905, 30.71])
    assert ids(west) == WEST_BUILDINGS
    # The same box, EPSG:4490 latitude first.
    flipped = api.collection_items(
        "buildings", bbox=[30.70, 111.28, 30.71, 111.2905], **{"bbox-crs": EPSG4490}
    )
    assert ids(flipped) == WEST_BUILDINGS
    # A box ending just before B-W3 (111.285) leaves it out.
    assert ids(api.collection_items("buildings", bbox=[111.28, 30.70, 111.2849, 30.71])) == [
        "B-W1",
        "B-W2",
    ]


def test_property_filters_match_exactly(ogc: str, page_city: dict) -> None:
    api = owslib_features(ogc, page_city["key"])
    assert ids(api.collection_items("buildings", floors=6)) == ["B-E1", "B-W1", "B-W2"]
    assert ids(api.collection_items("buildings", floors=18)) == ["B-W3"]
    assert ids(api.collection_items("buildings", use="commercial")) == ["B-W3"]
    assert ids(api.collection_items("buildings", grid_code=EAST)) == ["B-E1", "B-E2"]
    assert ids(api.collection_items("buildings", use="castle")) == []
    assert ids(api.collection_items("city_parts", state="damaged")) == [PARTS[1][0]]


def test_event_counts_per_grid_category_and_china_month(ogc: str, page_city: dict) -> None:
    api = owslib_features(ogc, page_city["key"])
    counts = api.collection_items("event_counts")
    assert {f["id"]: f["properties"]["events"] for f in counts["features"]} == COUNTS
    west_nov = api.collection_item("event_counts", f"{WEST}-02-2026-11")
    assert west_nov["properties"]["category_name"] == "消防隐患"
    assert west_nov["properties"]["period_start"] == "2026-10-31T16:00:00+00:00"
    assert west_nov["geometry"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(
    ("datetime_", "expected"),
    [
        ("2026-11-01T00:00:00+08:00/..", [f"{WEST}-02-2026-11", f"{EAST}-01-2026-11"]),
        ("../2026-10-31T23:59:59+08:00", [f"{WEST}-01-2026-10"]),
        ("2026-10-20T12:00:00Z", [f"{WEST}-01-2026-10"]),
        ("2026-10-01/2026-10-31", [f"{WEST}-01-2026-10"]),
    ],
)
def test_datetime_instants_and_open_intervals_on_event_counts(
    ogc: str, page_city: dict, datetime_: str, expected: list[str]
) -> None:
    api = owslib_features(ogc, page_city["key"])
    assert ids(api.collection_items("event_counts", datetime_=datetime_)) == expected


def test_datetime_on_city_parts_filters_their_update_time(ogc: str, page_city: dict) -> None:
    api = owslib_features(ogc, page_city["key"])
    first, second = (code for code, *_ in PARTS)
    assert ids(api.collection_items("city_parts", datetime_="../2026-11-15")) == [first]
    assert ids(api.collection_items("city_parts", datetime_="2026-11-20T02:00:00Z")) == [second]
    assert ids(api.collection_items("city_parts", datetime_="2026-11-20T02:00:01Z")) == []


def test_crs_4490_answers_latitude_first_with_content_crs(ogc: str, http: httpx.Client) -> None:
    url = f"{ogc}/collections/buildings/items/B-W1"
    default = http.get(url)
    assert default.headers["content-crs"] == f"<{CRS84}>"
    assert default.headers["content-type"].startswith("application/geo+json")
    corners = {(111.281, 30.701), (111.2815, 30.701), (111.2815, 30.7015), (111.281, 30.7015)}
    assert set(map(tuple, default.json()["geometry"]["coordinates"][0][0])) == corners
    cgcs = http.get(url, params={"crs": EPSG4490})
    assert cgcs.headers["content-crs"] == f"<{EPSG4490}>"
    ring = cgcs.json()["geometry"]["coordinates"][0][0]
    assert set(map(tuple, ring)) == {(lat, lon) for lon, lat in corners}
    listed = http.get(f"{ogc}/collections/buildings/items", params={"crs": EPSG4490})
    assert listed.headers["content-crs"] == f"<{EPSG4490}>"


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}, "不支持的坐标系"),
        ({"bbox-crs": "EPSG:2000", "bbox": "1,2,3,4"}, "bbox-crs"),
        ({"bbox": "111.28,30.70,111.29"}, "4 numbers"),
        ({"bbox": "111.28,30.71,111.29,30.70"}, "south edge"),
        ({"bbox": "30.70,111.28,30.71,111.29"}, "-90..90"),
        ({"bbox": "a,b,c,d"}, "not a number"),
        ({"datetime": "2026-13-01T00:00:00Z"}, "RFC 3339"),
        ({"datetime": "2026-11-01T00:00:00"}, "time zone"),
        ({"datetime": "../.."}, "both ends"),
        ({"datetime": "2026-11-02/2026-11-01"}, "starts after"),
        ({"floors": "six"}, "whole number"),
        ({"owner": "x"}, "未知参数"),
        ({"offset": "-1"}, "offset"),
        ({"f": "xml"}, "f 参数错误"),
    ],
)
def test_bad_parameters_are_400_with_a_sentence(
    ogc: str, http: httpx.Client, params: dict[str, str], says: str
) -> None:
    response = http.get(f"{ogc}/collections/buildings/items", params=params)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]


def test_missing_collection_and_feature_are_404(ogc: str, http: httpx.Client) -> None:
    assert http.get(f"{ogc}/collections/residents/items").status_code == 404
    missing = http.get(f"{ogc}/collections/buildings/items/B-NONE")
    assert missing.status_code == 404 and "B-NONE" in missing.json()["error"]["message"]


# -- who sees what ---------------------------------------------------------------------------------


def test_no_credentials_or_a_bad_key_is_401(ogc: str, page_city: dict) -> None:
    for url, headers in (
        (f"{ogc}/collections/buildings/items", {}),
        (f"{ogc}", {}),
        (f"{ogc}/collections/buildings/items", {"X-Api-Key": "g311_not-a-key"}),
        (f"{ogc}/collections/buildings/items?api_key={page_city['revoked']}", {}),
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401, url
        assert response.json()["error"]["message"]


def test_each_way_of_signing_in_is_accepted(ogc: str, page_city: dict) -> None:
    key = page_city["key"]
    url = f"{ogc}/collections/grids/items"
    for params, headers in (
        ({"api_key": key}, {}),
        ({"key": key}, {}),
        ({}, {"X-Api-Key": key}),
        ({}, page_city["leader"]),
    ):
        assert httpx.get(url, params=params, headers=headers).json()["numberMatched"] == 2


def test_a_district_key_never_reads_another_district(ogc: str, page_city: dict) -> None:
    key = {"api_key": page_city["key"]}
    everywhere = "111.27,30.69,111.36,30.72"
    seen = httpx.get(f"{ogc}/collections/buildings/items", params={**key, "bbox": everywhere})
    assert OTHER_BUILDING not in ids(seen.json())
    item = httpx.get(f"{ogc}/collections/buildings/items/{OTHER_BUILDING}", params=key)
    assert item.status_code == 404
    districts = httpx.get(f"{ogc}/collections/districts/items", params=key).json()
    assert ids(districts) == ["420502000000"]
    # The admin sees both districts.
    admin = httpx.get(
        f"{ogc}/collections/buildings/items",
        params={"bbox": everywhere},
        headers=page_city["admin"],
    ).json()
    assert OTHER_BUILDING in ids(admin)


def test_a_grid_worker_counts_only_their_grids_events(ogc: str, page_city: dict) -> None:
    mine = httpx.get(f"{ogc}/collections/event_counts/items", headers=page_city["east_worker"])
    assert ids(mine.json()) == [f"{EAST}-01-2026-11"]
    leader = httpx.get(f"{ogc}/collections/event_counts/items", headers=page_city["leader"])
    assert sorted(ids(leader.json())) == sorted(COUNTS)


def test_no_collection_shows_personal_data(ogc: str, page_city: dict) -> None:
    admin = page_city["admin"]
    collections = httpx.get(f"{ogc}/collections", headers=admin).json()["collections"]
    for collection in collections:
        url = f"{ogc}/collections/{collection['id']}/items"
        text = httpx.get(url, params={"limit": 1000}, headers=admin).text
        assert not any(value in text for value in PERSONAL), collection["id"]
        features = json.loads(text)["features"]
        assert features, collection["id"]
        names = {name for f in features for name in f["properties"]}
        words = ("description", "reporter", "caller", "contact", "phone", "photo", "resident")
        assert not any(w in name for name in names for w in words), names


# -- formats ---------------------------------------------------------------------------------------


def test_html_when_asked(ogc: str, http: httpx.Client) -> None:
    page = http.get(f"{ogc}/collections/buildings/items", params={"f": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "B-W1" in page.text and "共 5 个要素" in page.text
    browser_like = http.get(f"{ogc}/collections", headers={"Accept": "text/html,*/*;q=0.8"})
    assert "建筑 buildings" in browser_like.text and "</ul>" in browser_like.text
    assert http.get(ogc).headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["phone", "wide"])
def test_html_pages_read_offline_on_a_phone_and_a_desktop(
    ogc: str, page_city: dict, browser: Browser, viewport: dict[str, int]
) -> None:
    watch = Watch()
    context = open_context(browser, watch, viewport=viewport)
    page = watch.page(context.new_page())
    page.goto(f"{ogc}?f=html&api_key={page_city['key']}")
    assert page.locator("h1").inner_text().startswith("gridgov 网格化社会治理")
    page.click("text=图层 collections")  # the links carry the key on
    page.click("text=建筑 buildings")
    page.click("text=要素 features (HTML)")
    assert "共 5 个要素" in page.inner_text("body")
    assert page.locator("tbody tr").count() == 5
    shoot(page, f"ogc-items-{viewport['width']}")
    if viewport is PHONE:
        assert_fits_phone(page)
    watch.check()
    context.close()


# -- tiles -----------------------------------------------------------------------------------------


def test_tileset_metadata_and_tile_matrix_set(ogc: str, http: httpx.Client) -> None:
    tilesets = http.get(f"{ogc}/collections/buildings/tiles").json()["tilesets"]
    assert [t["tileMatrixSetURI"] for t in tilesets] == [
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    ]
    tileset = http.get(f"{ogc}/collections/buildings/tiles/WebMercatorQuad").json()
    assert tileset["dataType"] == "vector"
    assert tileset["tileMatrixSetLimits"][0]["tileMatrix"] == "14"  # buildings start at z14
    template = next(link for link in tileset["links"] if link["rel"] == "item")
    assert template["href"].endswith("/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    tms = http.get(f"{ogc}/tileMatrixSets/WebMercatorQuad").json()
    zoom3 = tms["tileMatrices"][3]
    assert (zoom3["matrixWidth"], zoom3["matrixHeight"]) == (8, 8)
    # 559082264.0287178 at zoom 0 (OGC TMS 2.0 annex), halved at each zoom.
    assert zoom3["scaleDenominator"] == pytest.approx(559082264.0287178 / 8)
    assert http.get(f"{ogc}/collections/event_counts/tiles").status_code == 404
    assert http.get(f"{ogc}/tileMatrixSets/WorldCRS84Quad").status_code == 404


def test_tilejson_points_at_the_same_tiles(ogc: str, http: httpx.Client) -> None:
    tilejson = http.get(
        f"{ogc}/collections/grids/tiles/WebMercatorQuad", params={"f": "tilejson"}
    ).json()
    assert tilejson["tilejson"] == "3.0.0"
    assert tilejson["vector_layers"][0]["id"] == "grids"
    assert tilejson["minzoom"] == 10
    assert tilejson["tiles"][0].endswith("/WebMercatorQuad/{z}/{y}/{x}")


def test_ogc_tile_is_the_map_pages_tile(ogc: str, server: str, page_city: dict) -> None:
    x, y = tile_of(111.2812, 30.7012, 16)  # inside B-W1
    ogc_tile = httpx.get(
        f"{ogc}/collections/buildings/tiles/WebMercatorQuad/16/{y}/{x}",
        params={"api_key": page_city["key"]},
    )
    assert ogc_tile.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(ogc_tile.content)
    assert "B-W1" in {f["properties"]["code"] for f in decoded["buildings"]["features"]}
    same = httpx.get(f"{server}/tiles/buildings/16/{x}/{y}.mvt", headers=page_city["leader"])
    assert same.content == ogc_tile.content
    no_key = httpx.get(f"{ogc}/collections/buildings/tiles/WebMercatorQuad/16/{y}/{x}")
    assert no_key.status_code == 401


# -- GDAL ------------------------------------------------------------------------------------------


@pytest.mark.skipif("OGCAPI" not in pyogrio.list_drivers(), reason="GDAL has no OGCAPI driver")
def test_gdal_reads_a_collection(ogc: str, page_city: dict) -> None:
    # API=ITEMS: the features, not the vector tiles GDAL would otherwise prefer.
    frame = pyogrio.read_dataframe(
        f"OGCAPI:{ogc}/collections/buildings?api_key={page_city['key']}", API="ITEMS"
    )
    assert sorted(frame["code"]) == ALL_BUILDINGS
    # GDAL asks for the storage CRS (Part 2: crs=EPSG:4490, latitude first) and turns it back
    # into GIS order: B-W1 lies where it was built, 111.281..111.2815 E, 30.701..30.7015 N.
    assert frame.crs.to_epsg() == 4490
    w1 = frame.set_index("code").loc["B-W1", "geometry"]
    assert w1.bounds == pytest.approx((111.281, 30.701, 111.2815, 30.7015))
    floors = dict(zip(frame["code"], frame["floors"], strict=True))
    assert floors == {code: f for code, _, f, *_ in BUILDINGS}
