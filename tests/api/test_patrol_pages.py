"""巡查 on /worker in headless Chromium against a real server: a grid worker starts a patrol,
the page takes a fix every 20 s from the (faked) GPS while the phone is offline, keeps the
batches and the end in its queue, and sends them once when the connection returns. The page's
clock is Playwright's fake clock, so minutes pass in an instant; it starts 20 minutes behind
the server's so that no fix is in the server's future. Counts are read back with plain SQL;
screenshots at 390 px and 1400 px are kept in var/test-artefacts/pages/.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests.api.browser import Watch, assert_fits_phone, open_context, shoot, sign_in
from tests.api.console_city import WEST, add_b_w1, two_grids
from tests.factories import add_staff

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 900}
HERE = {"latitude": 30.7052, "longitude": 111.2852}


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, Any]:
    """A worker of grid WEST with building B-W1, and an inspector (who does not patrol)."""
    with Session(own_engine) as session:
        two_grids(session)
        add_b_w1(session, floors=6)
        add_staff(session, "walker1", "grid_worker", grid_codes=[WEST])
        add_staff(session, "inspector1", "inspector", area_code=WEST[:6] + "000000")
        session.commit()
    return {}


def scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def eventually(engine: Engine, sql: str, expected: Any, seconds: float = 15.0) -> None:
    """Wait until `sql` gives `expected` (the page sends in the background)."""
    deadline = time.monotonic() + seconds
    while (found := scalar(engine, sql)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert found == expected, sql


def test_a_patrol_recorded_offline_is_sent_once_when_back_online(server, browser, own_engine):
    watch = Watch(tolerated=("ERR_INTERNET_DISCONNECTED",))
    phone = open_context(
        browser, watch, viewport=PHONE, geolocation=HERE, permissions=["geolocation"]
    )
    page = watch.page(phone.new_page())
    page.clock.install(time=datetime.now(UTC) - timedelta(minutes=20))
    sign_in(page, server, "/worker", "walker1")
    expect(page.locator("#patrol")).to_contain_text("未在巡查")
    expect(page.locator("#patrol-grid")).to_have_value(WEST)
    shoot(page, "worker-patrol-idle-390")

    page.click("#patrol-start")
    expect(page.locator("#patrol-status")).to_contain_text("巡查中")
    # The start goes out at once.
    eventually(own_engine, "SELECT count(*) FROM patrol WHERE ended_at IS NULL", 1)
    expect(page.locator("#queued-banner")).to_be_hidden()

    phone.set_offline(True)
    for step in range(1, 8):  # seven more fixes, 20 s apart, walking north-east
        phone.set_geolocation(
            {
                "latitude": HERE["latitude"] + 0.0002 * step,
                "longitude": HERE["longitude"] + 0.0002 * step,
            }
        )
        page.clock.run_for(20_000)
        expect(page.locator("#patrol-status")).to_contain_text(f"已记录 {step + 1} 个点")
    expect(page.locator("#queued-banner")).to_contain_text("待发送 1 条")  # one batch of six
    assert_fits_phone(page)
    shoot(page, "worker-patrol-running-offline-390")

    page.click("#patrol-end")
    expect(page.locator("#patrol-status")).to_contain_text("未在巡查")
    expect(page.locator("#queued-banner")).to_contain_text("待发送 3 条")  # + 2 fixes, + the end
    assert scalar(own_engine, "SELECT count(*) FROM patrol_point") == 0
    page.click("[data-tab=events]")
    expect(page.locator("#queued-list li.queued")).to_have_count(3)
    expect(page.locator("#queued-list")).to_contain_text("巡查轨迹 6 个点")
    shoot(page, "worker-patrol-queued-390")

    phone.set_offline(False)
    expect(page.locator("#queued-banner")).to_be_hidden()
    expect(page.locator("#banner")).to_contain_text("已发送 3 条")
    assert scalar(own_engine, "SELECT count(*) FROM patrol_point") == 8
    # Eight places: the phone walked, and every fix was a fresh one.
    assert scalar(own_engine, "SELECT count(DISTINCT ST_AsText(geom)) FROM patrol_point") == 8
    assert scalar(own_engine, "SELECT count(*) FROM patrol WHERE ended_at IS NOT NULL") == 1
    # The fixes are stored where the (WGS84) GPS put them, as CGCS2000.
    assert scalar(own_engine, "SELECT min(ST_Y(geom)) FROM patrol_point") == pytest.approx(
        30.7052, abs=1e-7
    )
    # The week's figures come back: the track passed B-W1, the grid's one building, 0.2 km.
    expect(page.locator("#patrol-coverage")).to_contain_text("楼栋覆盖 100% · 0.2 km")
    shoot(page, "worker-patrol-sent-390")
    watch.check()
    phone.close()


def test_the_patrol_box_at_1400_px_and_not_for_inspectors(server, browser):
    watch = Watch()
    wide = open_context(
        browser, watch, viewport=WIDE, geolocation=HERE, permissions=["geolocation"]
    )
    page = watch.page(wide.new_page())
    sign_in(page, server, "/worker", "walker1")
    expect(page.locator("#patrol-start")).to_be_visible()
    box = page.locator("#patrol").bounding_box()
    assert box is not None and box["height"] < 200  # one band above the tabs, not a wall
    shoot(page, "worker-patrol-1400")
    inspector = watch.page(open_context(browser, watch, viewport=WIDE).new_page())
    sign_in(inspector, server, "/worker", "inspector1")
    expect(inspector.locator("#patrol")).to_have_count(0)
    watch.check()
    wide.close()
