"""The weekly 研判 page and the leader map's hot-spot layer in headless Chromium through a real
server: a district leader reads last week's report at 1400 and 390 px and prints it; the map's
hot-spot layer colours the centre grid of the lattice city hot and its legend says what
significant means; a unit's dispatcher is refused. Screenshots in var/test-artefacts/pages/."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.clock import CHINA_TZ, local_today
from tests.api.browser import PASSWORD, Watch, assert_fits_phone, open_context, shoot
from tests.api.test_bulletin_pages import sign_in_to
from tests.events.hotspot_city import build_hotspot_city, code

LAST_MONDAY = local_today() - timedelta(days=local_today().weekday() + 7)
YEAR, WEEK_NO, _ = LAST_MONDAY.isocalendar()
LAST_WEEK = f"{YEAR}-W{WEEK_NO:02d}"


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, Any]:
    """The hot-spot lattice with its cluster last week, committed for the server."""
    with Session(own_engine) as session:
        monday = datetime.combine(LAST_MONDAY, time(10), CHINA_TZ)
        city = build_hotspot_city(session, grid_name="中心网格", monday=monday)
        session.commit()
    return {k: v for k, v in city.items() if k != "session"}


def test_a_leader_reads_and_prints_last_weeks_report_on_a_desk_and_a_phone(
    server: str, browser: Browser
):
    watch = Watch()
    desk = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(desk.new_page())
    sign_in_to(page, server, "/reports/weekly", "leader1")
    expect(page.locator("h1")).to_have_text("西陵区 每周研判")
    expect(page.locator(".sheet-head p")).to_contain_text(LAST_WEEK)
    expect(page.locator(".sheet-head p")).to_contain_text("上报事件 10 件，上周 1 件")
    first = page.locator("#categories tbody tr").first
    expect(first).to_contain_text("治安隐患")
    expect(first).to_contain_text("+8")
    expect(first).to_contain_text("+800.0%")
    centre = page.locator("#hotspots tbody tr", has_text="中心网格")
    expect(centre).to_contain_text("热点 99%")
    expect(centre).to_contain_text("新出现")
    expect(page.locator("#hotspots ul.legend")).to_contain_text(
        "热点（95%置信）：该网格及其相邻网格的事件数显著高于全区平均，偶然出现的可能小于5%"
    )
    expect(page.locator("#recurrence")).to_be_visible()
    expect(page.locator("a[href='/reports/weekly']").first).to_be_visible()  # in the nav
    xlsx = page.locator("a[download]")
    expect(xlsx).to_have_attribute(
        "href", f"/api/analysis/weekly.xlsx?district=420502&week={LAST_WEEK}"
    )
    shoot(page, "weekly-1400")
    page.emulate_media(media="print")
    expect(page.locator("header.bar")).to_be_hidden()
    expect(page.locator("form.no-print")).to_be_hidden()
    expect(page.locator("#hotspots")).to_be_visible()
    shoot(page, "weekly-print")
    page.emulate_media(media="screen")
    # A week written wrongly: a sentence, and last week's report all the same.
    page.goto(f"{server}/reports/weekly?district=420502&week=2026-W77")
    expect(page.locator("p.banner.error")).to_contain_text("week")
    expect(page.locator("h1")).to_have_text("西陵区 每周研判")

    phone = open_context(browser, watch, viewport={"width": 390, "height": 844})
    small = watch.page(phone.new_page())
    sign_in_to(small, server, "/reports/weekly", "leader1")
    expect(small.locator("#hotspots tbody tr", has_text="中心网格")).to_be_visible()
    assert_fits_phone(small)
    shoot(small, "weekly-390")
    phone.close()
    desk.close()
    watch.check()


def test_a_street_leader_is_told_the_district_is_outside_their_area(server, browser):
    watch = Watch(tolerated=("status of 403",))
    context = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(context.new_page())
    sign_in_to(page, server, "/reports/weekly", "leader2")
    page.goto(f"{server}/reports/weekly?district=420502")
    expect(page.locator("p.banner.error")).to_contain_text("outside your area")
    expect(page.locator("#weekly")).to_have_count(0)
    context.close()


def test_the_leader_map_has_a_hot_spot_layer_with_a_legend(server, browser):
    watch = Watch()
    for width, height in ((1400, 900), (390, 844)):
        context = open_context(browser, watch, viewport={"width": width, "height": height})
        page = watch.page(context.new_page())
        page.goto(f"{server}/maps/leader")  # to /login, and back once signed in
        page.fill("input[name=username]", "leader1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_function("window.gridgov && gridgov.layers.hotspots")
        classes = page.evaluate(
            "(() => { const out = {}; gridgov.layers.hotspots.eachLayer(l => {"
            " out[l.feature.properties.code] = l.feature.properties.hot_class; }); return out; })()"
        )
        assert len(classes) == 25 and classes[code(2, 2)] == "热点 99%置信"
        legend = page.locator("#gg-hotspot-legend")
        expect(legend).to_have_count(0)  # the layer starts hidden, its legend with it
        box = page.locator(".leaflet-control-layers label", has_text="热点分析").locator("input")
        if width >= 1000:
            box.check()
        else:  # the layer control is folded away on a phone (the page's own layout)
            box.dispatch_event("click")
        expect(legend).to_be_visible()
        expect(legend).to_contain_text("显著高于全区平均，偶然出现的可能小于5%")
        expect(legend).to_contain_text("冷点 99%置信")
        shoot(page, f"leader-hotspots-{width}")
        context.close()
    watch.check()


def test_a_dispatcher_gets_the_refusal_page(server, browser):
    watch = Watch(tolerated=("status of 403",))
    context = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(context.new_page())
    page.goto(f"{server}/reports/weekly")
    page.fill("input[name=username]", "disp")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text(re.compile("每周研判"))
    expect(page.locator("#weekly")).to_have_count(0)
    context.close()
