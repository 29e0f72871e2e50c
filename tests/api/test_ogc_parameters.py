"""The OGC API's parameter rules, on the framework-free core (gis.ogc): each at its limit and
one past it; every refusal is a 400 sentence, never an exception the server turns into a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gis import ogc

CHINA = timezone(timedelta(hours=8))


def test_crs_defaults_to_crs84_and_takes_only_what_is_served() -> None:
    assert ogc.parse_crs(None) == ogc.CRS84
    assert ogc.parse_crs("[EPSG:4490]") == ogc.CGCS2000
    assert ogc.parse_crs("http://www.opengis.net/def/crs/EPSG/0/4490") == ogc.CGCS2000
    with pytest.raises(ogc.OgcError, match="不支持的坐标系") as refused:
        ogc.parse_crs("http://www.opengis.net/def/crs/EPSG/0/4326")
    assert refused.value.status == 400


def test_bbox_axis_order_follows_the_crs() -> None:
    assert ogc.parse_bbox("111.28,30.70,111.29,30.71") == ogc.Box(111.28, 30.70, 111.29, 30.71)
    flipped = ogc.parse_bbox("30.70,111.28,30.71,111.29", ogc.CGCS2000)
    assert flipped == ogc.Box(111.28, 30.70, 111.29, 30.71)
    # Six numbers: the heights are dropped.
    assert ogc.parse_bbox("111.28,30.70,0,111.29,30.71,50") == ogc.Box(111.28, 30.70, 111.29, 30.71)


@pytest.mark.parametrize(
    ("bbox", "ok"),
    [
        ("-180,-90,180,90", True),
        ("-180.0001,-90,180,90", False),
        ("-180,-90.0001,180,90", False),
        ("170,0,-170,10", True),  # across the antimeridian
        ("0,10,1,10", True),  # a line of latitude: south = north
        ("0,10.1,1,10", False),
        ("1,2,3,4,5", False),
        ("nan,1,2,3", False),
        ("inf,1,2,3", False),
    ],
)
def test_bbox_limits(bbox: str, ok: bool) -> None:
    if ok:
        ogc.parse_bbox(bbox)
    else:
        with pytest.raises(ogc.OgcError) as refused:
            ogc.parse_bbox(bbox)
        assert refused.value.status == 400 and "bbox" in str(refused.value)


def test_datetime_forms() -> None:
    instant = ogc.parse_datetime("2026-11-01T00:00:00Z")
    assert instant.start == instant.end == datetime(2026, 11, 1, tzinfo=UTC)
    day = ogc.parse_datetime("2026-11-01")  # the day in China time
    assert day.start == datetime(2026, 11, 1, tzinfo=CHINA)
    assert day.end == datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=CHINA)
    assert ogc.parse_datetime("../2026-11-01T00:00:00+08:00").start is None
    assert ogc.parse_datetime("2026-11-01T00:00:00+08:00/").end is None
    # The last day there is does not overflow.
    assert ogc.parse_datetime("9999-12-31").end is not None
    same = ogc.parse_datetime("2026-11-01T00:00:00Z/2026-11-01T00:00:00Z")
    assert same.start == same.end


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-11-01T00:00:00", "time zone"),
        ("2026-11-31", "not a date"),
        ("yesterday", "RFC 3339"),
        ("../..", "both ends"),
        ("/", "both ends"),
        ("2026-11-01T00:00:01Z/2026-11-01T00:00:00Z", "starts after"),
    ],
)
def test_bad_datetimes_are_refused_with_a_sentence(value: str, says: str) -> None:
    with pytest.raises(ogc.OgcError, match=says) as refused:
        ogc.parse_datetime(value)
    assert refused.value.field == "datetime"


def test_limit_is_capped_at_the_maximum_and_offset_bounded() -> None:
    buildings = ogc.collection("buildings")
    assert ogc.parse_items_query(buildings, {}).limit == ogc.DEFAULT_LIMIT
    at_max = ogc.parse_items_query(buildings, {"limit": str(ogc.MAX_LIMIT)})
    assert at_max.limit == at_max.requested_limit == ogc.MAX_LIMIT
    past = ogc.parse_items_query(buildings, {"limit": str(ogc.MAX_LIMIT + 1)})
    assert (past.limit, past.requested_limit) == (ogc.MAX_LIMIT, ogc.MAX_LIMIT + 1)
    assert (
        ogc.parse_items_query(buildings, {"offset": str(ogc.MAX_OFFSET)}).offset == ogc.MAX_OFFSET
    )
    for params in ({"limit": "0"}, {"offset": str(ogc.MAX_OFFSET + 1)}, {"limit": "9" * 5000}):
        with pytest.raises(ogc.OgcError):
            ogc.parse_items_query(buildings, params)


def test_only_declared_queryables_filter_and_integers_are_checked() -> None:
    buildings = ogc.collection("buildings")
    query = ogc.parse_items_query(buildings, {"floors": "6", "use": "office"})
    assert dict(query.filters) == {"floors": 6, "use": "office"}
    with pytest.raises(ogc.OgcError, match="未知参数: address"):
        ogc.parse_items_query(buildings, {"address": "夷陵大道"})
    with pytest.raises(ogc.OgcError, match="whole number"):
        ogc.parse_items_query(buildings, {"floors": "6.5"})
    with pytest.raises(ogc.OgcError, match="without a bbox"):
        ogc.parse_items_query(buildings, {"bbox-crs": ogc.CGCS2000})


def test_no_collection_declares_a_personal_property() -> None:
    words = (
        "reporter",
        "caller",
        "contact",
        "phone",
        "description",
        "photo",
        "resident",
        "id_number",
    )
    for collection in ogc.COLLECTIONS.values():
        named = (*collection.properties, *(q.name for q in collection.queryables))
        assert not [n for n in named for w in words if w in n], collection.id


def test_unknown_collection_is_404_naming_the_ones_there_are() -> None:
    with pytest.raises(ogc.OgcError, match="grids") as refused:
        ogc.collection("residents")
    assert refused.value.status == 404
