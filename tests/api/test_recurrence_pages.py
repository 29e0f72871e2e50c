"""The recurrence layer (重复发生 · 源头治理) on the leader map: drawn for an unfinished task
with its count and popup, gone once the task is closed, no personal data; in headless Chromium
at 390 and 1400 px (screenshots in var/test-artefacts/pages/ to look at)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pyproj
import pytest
from playwright.sync_api import Browser
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from api.http.auth import SESSION_COOKIE, issue_token
from events import recurrence
from events.recurrence import ClusterClose
from gis import local_pg
from gis.clock import CHINA_TZ
from people.access import Actor
from people.models import StaffRole
from tests.api.browser import PHONE, WIDE, Watch, open_context, serving, shoot
from tests.events.workflow_city import SPOT, add_person, build_city, file
from tests.factories import add_grid, admin_tree, bearer, fresh_database, square

GEOD = pyproj.Geod(ellps="GRS80")
LAYER = "重复发生 · 源头治理"
NEXT_COMMUNITY = "420502001002"


def layer_named(count: int) -> str:
    """The layer control's entry as folium writes it into the page (JSON, ASCII-escaped)."""
    return json.dumps(f"{LAYER} ({count})")[1:-1]


def add_cluster(city: dict[str, Any]) -> int:
    """Three 可疑人员 events 0, 60 and 95 m north of SPOT in the last days, detected now."""
    now = datetime.now(CHINA_TZ)
    for days, north in ((3, 0), (2, 60), (1, 95)):
        lon, lat, _ = GEOD.fwd(SPOT[0], SPOT[1], 0, north)
        file(city, lon=lon, lat=lat, now=now - timedelta(days=days))
    (cluster_id,) = recurrence.detect(city["session"], district_code="420502").created
    return cluster_id


def test_the_leader_map_carries_the_cluster_and_drops_it_once_closed(client, city):
    cluster_id = add_cluster(city)
    page = client.get("/maps/leader", headers=bearer(city["leader"]))
    assert page.status_code == 200
    assert layer_named(1) in page.text
    assert "可疑人员" in page.text and "待接收" in page.text and "3件" in page.text
    assert city["police_w"].name in page.text
    # No single event, reporter or description on a leader's map.
    assert "楼道里有可疑人员" not in page.text and "worker1" not in page.text
    session = city["session"]
    recurrence.accept(session, actor=city["disp_w"], cluster_id=cluster_id)
    recurrence.close(
        session,
        actor=city["disp_w"],
        cluster_id=cluster_id,
        entry=ClusterClose(report="加装门禁和监控，物业落实夜间巡查，源头已消除"),
    )
    after = client.get("/maps/leader", headers=bearer(city["leader"]))
    assert layer_named(0) in after.text


def test_a_leader_of_the_next_community_sees_no_cluster_of_this_one(client, city):
    add_cluster(city)
    next_door = square(111.3, 30.7, 0.01)
    admin_tree(city["session"], community=NEXT_COMMUNITY, community_geom=next_door)
    add_grid(city["session"], NEXT_COMMUNITY + "001", next_door)
    other = add_person(city["session"], "leader.other", StaffRole.LEADER, area=NEXT_COMMUNITY)
    page = client.get("/maps/leader", headers=bearer(other))
    assert page.status_code == 200 and layer_named(0) in page.text


# --- in a browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_city(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The workflow city with one detected cluster, committed, served by uvicorn."""
    url = fresh_database(database_url, "_recurrence_pages")
    engine = create_engine(url)
    with Session(engine) as session:
        city = build_city(session)
        add_cluster({**city, "session": session})
        leader = city["leader"]
        session.commit()
    engine.dispose()
    with serving(url, tmp_path_factory.mktemp("recurrence")) as base:
        yield base, leader
    local_pg.drop_database(url)


def _open(browser: Browser, base: str, leader: Actor, viewport: dict[str, int]) -> Any:
    watch = Watch()
    context = open_context(browser, watch, viewport=viewport)
    token, _ = issue_token(leader)
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": token, "url": f"http://{urlparse(base).netloc}"}]
    )
    page = watch.page(context.new_page())
    page.goto(f"{base}/maps/leader")
    page.wait_for_function("window.gridgov && window.gridgov.map !== undefined", timeout=20_000)
    return page, watch


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["390", "1400"])
def test_the_cluster_shows_as_a_circle_with_its_count_and_popup(browser, page_city, viewport):
    base, leader = page_city
    page, watch = _open(browser, base, leader, viewport)
    badge = page.locator(".gg-recurrence")
    badge.wait_for(state="attached", timeout=10_000)
    assert badge.count() == 1 and badge.inner_text() == "3"
    page.evaluate("() => { gridgov.map.setView([30.7054, 111.292], 17); }")
    page.wait_for_timeout(500)
    page.locator(".gg-recurrence").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    for word in ("重复发生", "可疑人员", "3件", "待接收", "办结期限"):
        assert word in text
    # The map draws on a canvas: ask Leaflet for the circle. Its radius covers the farthest
    # event (the first, 155/3 m from the centroid of 0, 60 and 95 m) plus a 15 m margin.
    radii = page.evaluate(
        "() => { const r = []; gridgov.map.eachLayer(l => { if (l instanceof L.Circle"
        " && l.options.color === '#7b2cbf') r.push(l.getRadius()); }); return r; }"
    )
    assert len(radii) == 1 and abs(radii[0] - (155 / 3 + 15)) < 0.6
    shoot(page, f"recurrence_leader_{viewport['width']}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    watch.check()
