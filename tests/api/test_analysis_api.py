"""研判 routes: Gi* hot spots and the weekly report (JSON, xlsx) on the hot-spot lattice city;
who may read them, the district scope, and bad dates, categories and weeks answered with a
sentence."""

from __future__ import annotations

import io
import math

import openpyxl
import pytest

from tests.events.hotspot_city import build_hotspot_city, code
from tests.factories import bearer

WEEK = {"from": "2026-11-23", "to": "2026-11-29"}  # ISO week 2026-W48, MONDAY's
FORMULA_NAME = '=HYPERLINK("http://x","中心")'


@pytest.fixture
def city(session):
    return build_hotspot_city(session, grid_name=FORMULA_NAME)


def get(client, actor, path, **params):
    return client.get(path, params=params, headers=bearer(actor))


def test_a_district_leader_reads_the_centre_as_a_new_hot_spot(client, city):
    answer = get(client, city["leader"], "/api/analysis/hotspots", category="01", **WEEK)
    assert answer.status_code == 200
    body = answer.json()
    assert body["district_code"] == "420502" and body["district_name"] == "西陵区"
    assert (body["grids_total"], body["events_total"], body["category_name"]) == (25, 9, "治安隐患")
    centre = next(g for g in body["grids"] if g["code"] == code(2, 2))
    # 5×5 lattice, one event in each of the centre 3×3 block: z = 2√6 (tests/events).
    assert abs(centre["z"] - 2 * math.sqrt(6)) < 1e-9
    assert (centre["hot_class"], centre["trend"], centre["previous_count"]) == (
        "热点99",
        "新出现",
        0,
    )
    assert centre["p"] == pytest.approx(math.erfc(2 * math.sqrt(6) / math.sqrt(2)), rel=1e-9)
    assert "analytic normal" in body["method"]
    # Aggregates only: a grid's code, name, counts and statistics, nothing about anyone.
    assert set(centre) == {
        "code",
        "name",
        "count",
        "z",
        "p",
        "hot_class",
        "island",
        "previous_count",
        "previous_class",
        "trend",
    }
    assert "显著高于全区平均" in body["meanings"]["热点95"]


def test_the_leaders_own_district_is_the_default_and_the_admin_must_name_one(client, city):
    mine = get(client, city["leader"], "/api/analysis/hotspots", **WEEK)
    assert mine.status_code == 200 and mine.json()["events_total"] == 10
    admin = get(client, city["admin"], "/api/analysis/hotspots", **WEEK)
    assert admin.status_code == 422 and "district" in admin.json()["error"]["message"]
    named = get(client, city["admin"], "/api/analysis/hotspots", district="420502", **WEEK)
    assert named.status_code == 200


@pytest.mark.parametrize(
    ("who", "district", "status"),
    [
        ("street_leader", "420502", 403),  # a street's leader: the district is wider
        ("dispatcher", "420502", 403),  # units read no 研判
        ("worker", "420502", 403),
        ("admin", "420599", 404),  # no such district
    ],
)
def test_who_may_read_which_district(client, city, who, district, status):
    answer = get(client, city[who], "/api/analysis/hotspots", district=district, **WEEK)
    assert answer.status_code == status
    assert answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"from": "2026-13-01", "to": "2026-11-29"}, "from"),
        ({"from": "2026-11-29", "to": "2026-11-23"}, "swap"),
        ({"from": "2026-11-23"}, "both"),
        ({"from": "2025-11-28", "to": "2026-11-29"}, "366"),  # 367 days: one past the limit
        ({"category": "1", **WEEK}, "2-digit"),
        ({"category": "99", **WEEK}, "no event category 99"),
        ({"category": "01%", **WEEK}, "2-digit"),
        ({"district": "4205020", **WEEK}, "6-digit"),
        ({"from": "9999-12-25", "to": "9999-12-31"}, "2099-12-31"),  # would overflow a date
        ({"from": "0001-01-01", "to": "0001-01-03"}, "2000-01-01"),
    ],
)
def test_bad_input_gets_a_422_sentence(client, city, params, words):
    answer = get(client, city["leader"], "/api/analysis/hotspots", **params)
    assert answer.status_code == 422
    assert words in str(answer.json()["error"])


def test_a_year_long_period_is_the_limit(client, city):
    period = {"from": "2025-11-29", "to": "2026-11-29"}
    answer = get(client, city["leader"], "/api/analysis/hotspots", **period)
    assert answer.status_code == 200  # 366 days


def test_the_weekly_report_compares_categories_and_lists_the_hot_spots(client, city):
    answer = get(client, city["leader"], "/api/analysis/weekly", week="2026-W48")
    assert answer.status_code == 200
    r = answer.json()
    assert (r["week"], r["total_this_week"], r["total_last_week"]) == ("2026-W48", 10, 1)
    categories = {c["code"]: c for c in r["categories"]}
    # 01: 9 this week against 1 the week before (+8, +800%); 02: 1 against none.
    assert (categories["01"]["change"], categories["01"]["change_pct"]) == (8, 800.0)
    assert (categories["02"]["this_week"], categories["02"]["change_pct"]) == (1, None)
    assert r["categories"][0]["code"] == "01"
    listed = {g["code"]: g for g in r["hotspots"]}
    assert listed[code(2, 2)]["hot_class"].startswith("热点")
    assert all(g["hot_class"] != "不显著" or g["trend"] == "消退" for g in r["hotspots"])
    assert all(u["registered"] >= 3 for u in r["units"])


@pytest.mark.parametrize("week", ["2026-48", "W48", "2026-W54", "2026-W00", "9999-W52", "0001-W01"])
def test_a_badly_written_week_gets_a_422_sentence(client, city, week):
    answer = get(client, city["leader"], "/api/analysis/weekly", week=week)
    assert answer.status_code == 422 and "week" in answer.json()["error"]["message"]


def test_a_week_typed_with_full_width_digits_is_read_as_ascii(client, city):
    answer = get(client, city["leader"], "/api/analysis/weekly", week="２０２６-W４８")
    assert answer.status_code == 200 and answer.json()["week"] == "2026-W48"


def test_the_workbook_keeps_a_formula_looking_grid_name_as_text(client, city):
    answer = get(
        client, city["admin"], "/api/analysis/weekly.xlsx", district="420502", week="2026-W48"
    )
    assert answer.status_code == 200
    assert "weekly-420502-2026-W48.xlsx" in answer.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["类别趋势", "热点网格", "重复发生与源头治理", "承办单位"]
    sheet = book["热点网格"]
    names = [row[1] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert FORMULA_NAME in names
    cell = next(c for c in sheet["B"] if c.value == FORMULA_NAME)
    assert cell.data_type == "s" and cell.quotePrefix
    trend = book["类别趋势"]
    assert [c.value for c in trend[4]][:6] == ["01", "治安隐患", 9, 1, 8, "+800.0%"]
    dispatcher = get(client, city["dispatcher"], "/api/analysis/weekly.xlsx", district="420502")
    assert dispatcher.status_code == 403
