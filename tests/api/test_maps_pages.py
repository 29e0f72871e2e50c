"""The map dashboards in headless Chromium on the demo city: offline, correct, private.

The pages are served by uvicorn from a committed demo database (tests/demo/demo_city.py);
every test checks that no request leaves 127.0.0.1 and no script fails. Screenshots go to
var/test-artefacts/ for a person to look at.
"""

from __future__ import annotations

import math
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mapbox_vector_tile
import pytest
import uvicorn
from playwright.sync_api import Browser, Page
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.http.auth import SESSION_COOKIE, issue_token
from api.http.deps import get_read_session, get_session
from gis.clock import CHINA_TZ
from gis.config import PROJECT_DIR, get_settings
from gis.db import get_engine, session_scope
from people.access import Actor
from people.pii import get_cipher
from people.service import DOC_CONTEXT, PHONE_CONTEXT
from tests.demo.demo_city import STREET, DemoCity, demo_city
from tests.factories import COMMUNITY, add_grid, add_staff, admin_tree, bearer, square

ARTEFACTS = PROJECT_DIR / "var" / "test-artefacts"
# A 390 px phone (iPhone 12/13/14 width) that honours the viewport meta as a phone does.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
OPEN = (
    "('reported','pending','registered','dispatched','signed','handled','verified','returned',"
    "'suspended')"
)
MEASURES = ("open", "overdue", "on_time_rate", "events_per_1000", "special_density", "appeals")


# --- access (no browser) -------------------------------------------------------------------


@pytest.fixture
def small_city(session):
    admin_tree(session)
    add_grid(session, COMMUNITY + "001", square(111.28, 30.70, 0.01))
    return {
        "worker": add_staff(session, "map.w", "grid_worker", grid_codes=[COMMUNITY + "001"]),
        "leader": add_staff(session, "map.l", "leader", area_code="420502000000"),
    }


def test_a_grid_worker_gets_403_on_the_leader_map(client, small_city):
    response = client.get("/maps/leader", headers=bearer(small_city["worker"]))
    assert response.status_code == 403
    assert "领导 leader" in response.text and 'href="/worker"' in response.text


def test_anonymous_visitors_are_sent_to_login_with_the_map_as_next(client):
    response = client.get("/maps/leader?area=420502003", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/maps/leader%3Farea%3D420502003"


def test_a_leader_cannot_open_an_area_outside_their_own(client, small_city):
    response = client.get("/maps/leader?area=420503", headers=bearer(small_city["leader"]))
    assert response.status_code == 403
    assert "outside your area" in response.json()["error"]["message"]


# --- the demo city in a browser --------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(database_url: str) -> Iterator[DemoCity]:
    with demo_city(database_url) as city:
        yield city


@pytest.fixture(scope="module")
def server(demo: DemoCity) -> Iterator[str]:
    """The real app on a free loopback port, reading the demo database."""
    app = create_app()

    def demo_session() -> Iterator[Session]:
        with session_scope(demo.engine) as session:
            yield session

    for dependency in (get_session, get_read_session):  # the dashboards' reads too
        app.dependency_overrides[dependency] = demo_session
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@dataclass
class Visit:
    """A page opened as an account, with what it requested and what went wrong."""

    page: Page
    requested: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outside(self) -> set[str | None]:
        return {
            urlparse(u).hostname for u in self.requested if not u.startswith(("data:", "file:"))
        } - {"127.0.0.1"}

    def check_clean(self) -> None:
        assert not self.outside(), f"requests left the machine: {sorted(map(str, self.outside()))}"
        assert not self.errors, f"script errors: {self.errors}"


def open_page(
    browser: Browser, url: str, actor: Actor | None, *, map_page: bool = True, **context: Any
) -> Visit:
    """Open `url` signed in as `actor` (a page session cookie), recording requests and errors;
    a desk-sized window unless `context` gives a viewport (PHONE)."""
    ctx = browser.new_context(**({"viewport": {"width": 1400, "height": 900}} | context))
    if actor is not None:
        token, _ = issue_token(actor)
        origin = urlparse(url)
        ctx.add_cookies(
            [{"name": SESSION_COOKIE, "value": token, "url": f"{origin.scheme}://{origin.netloc}"}]
        )
    page = ctx.new_page()
    visit = Visit(page)
    page.on("request", lambda request: visit.requested.append(request.url))
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on(
        "response",
        lambda r: visit.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on(
        "console",
        lambda message: visit.errors.append(message.text) if message.type == "error" else None,
    )
    page.goto(url)
    if map_page:
        page.wait_for_function("window.gridgov && window.gridgov.map !== undefined", timeout=20_000)
    return visit


def wait_for_panel(page: Page) -> None:
    page.wait_for_function(
        "document.getElementById('gg-kpi-panel').dataset.loaded === '1'", timeout=60_000
    )


def screenshot(page: Page, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def grid_count(demo: DemoCity, prefix: str) -> int:
    with demo.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM grid WHERE code LIKE :p"), {"p": prefix + "%"}
            ).scalar_one()
        )


def expected_measures(demo: DemoCity, now: datetime, days: int = 30) -> dict[str, dict[str, Any]]:
    """Every choropleth measure per grid, computed here in plain SQL."""
    start = datetime.combine(
        now.astimezone(CHINA_TZ).date() - timedelta(days=days - 1), clock(), CHINA_TZ
    )
    closed = "e.status IN ('closed','self_resolved')"
    period = "e.reported_at >= :start AND e.reported_at < :now"
    sql = f"""
        SELECT g.code,
          (SELECT count(*) FROM event e WHERE e.grid_code = g.code AND e.status IN {OPEN}),
          (SELECT count(*) FROM event e WHERE e.grid_code = g.code AND e.status IN {OPEN}
             AND e.suspended_at IS NULL AND e.stage_deadline < :now),
          (SELECT count(*) FROM event e WHERE e.grid_code = g.code AND {period}
             AND e.status <> 'voided'),
          (SELECT count(*) FROM event e WHERE e.grid_code = g.code AND {period} AND {closed}),
          (SELECT count(*) FROM event e WHERE e.grid_code = g.code AND {period} AND {closed}
             AND NOT EXISTS (SELECT 1 FROM event_stage s
                             WHERE s.event_id = e.id AND s.on_time = false)),
          (SELECT count(*) FROM resident r WHERE r.grid_code = g.code AND r.active),
          (SELECT count(*) FROM special_group sg JOIN resident r ON r.id = sg.resident_id
             WHERE r.grid_code = g.code AND r.active AND sg.ended_on IS NULL),
          (SELECT count(*) FROM event e WHERE e.grid_code = g.code AND {period}
             AND e.status <> 'voided'
             AND e.source IN ('hotline', 'mailbox', 'web_app', 'open311'))
        FROM grid g WHERE g.district_code = '420502' ORDER BY g.code
    """
    out: dict[str, dict[str, Any]] = {}
    with demo.engine.connect() as conn:
        for (
            code,
            n_open,
            overdue,
            valid,
            n_closed,
            on_time,
            residents,
            special,
            appeals,
        ) in conn.execute(text(sql), {"now": now, "start": start}):
            out[code] = {
                "open": n_open,
                "overdue": overdue,
                "on_time_rate": 100 * on_time / n_closed if n_closed else None,
                "events_per_1000": 1000 * valid / residents if residents else None,
                "special_density": 1000 * special / residents if residents else None,
                "appeals": appeals,
            }
    return out


def test_leader_overview_draws_every_grid_offline_with_correct_values(server, browser, demo):
    visit = open_page(browser, f"{server}/maps/leader", demo.leader)
    page = visit.page
    wait_for_panel(page)
    assert page.evaluate("gridgov.drawnGrids()") == grid_count(demo, "420502") == 200
    assert page.title().startswith("西陵区")
    layers = page.evaluate("Object.keys(gridgov.layers)")
    assert {"grids", "streets", "communities", "police", "fire", "heat"} <= set(layers)
    assert "overdue" not in layers  # a leader sees how many cases are overdue, not which
    screenshot(page, "maps_leader_overview")

    now = datetime.fromisoformat(page.get_attribute("#gg-panel", "data-now") or "")
    expected = expected_measures(demo, now)
    shown = page.evaluate(
        "(() => { const d = gridgov.data.grids; const out = {};"
        " d.k.forEach((code, i) => { out[code] = {}; Object.keys(d.m).forEach(k => {"
        " out[code][k] = d.m[k][i]; }); }); return out; })()"
    )
    assert set(shown) == set(expected)
    for code, values in expected.items():
        for measure in MEASURES:
            want, got = values[measure], shown[code][measure]
            if want is None:
                assert got is None, (code, measure, got)
            else:
                assert got == pytest.approx(want, abs=0.051), (code, measure, got, want)
    # The legend and the tooltip follow the selector.
    page.select_option("#gg-measure", "on_time_rate")
    assert "按期结案率" in page.inner_text(".gg-legend")
    assert "measure=on_time_rate" in page.url
    visit.check_clean()


def test_overdue_markers_link_to_the_event_and_match_the_count(server, browser, demo):
    # Command staff see the overdue cases one by one; a leader's map has the count only.
    visit = open_page(browser, f"{server}/maps/leader", demo.command)
    page = visit.page
    now = datetime.fromisoformat(page.get_attribute("#gg-panel", "data-now") or "")
    with demo.engine.connect() as conn:
        overdue = conn.execute(
            text(
                f"SELECT count(*) FROM event WHERE status IN {OPEN} AND suspended_at IS NULL "
                "AND stage_deadline < :now AND grid_code IS NOT NULL "
                "AND district_code = '420502'"  # the command centre's district, not 伍家岗区's
            ),
            {"now": now},
        ).scalar_one()
    assert page.evaluate("gridgov.layers.overdue.getLayers().length") == overdue > 0
    html = page.evaluate(
        "(() => { const m = gridgov.layers.overdue.getLayers()[0]; m.openPopup();"
        " return m.getPopup().getContent(); })()"
    )
    code = page.evaluate("gridgov.layers.overdue.getLayers()[0].feature.properties.code")
    assert f"/console?event={code}" in html
    visit.check_clean()


def test_drill_down_from_the_map_to_a_grid_keeps_the_area_in_the_url(server, browser, demo):
    visit = open_page(browser, f"{server}/maps/leader?area=420502003", demo.leader)
    page = visit.page
    assert page.evaluate("gridgov.drawnGrids()") == grid_count(demo, "420502003")
    assert "云集街道" in page.inner_text("#gg-panel h1")
    # Click the first grid: its popup offers the grid, community and street.
    target = page.evaluate(
        "(() => { const p = gridgov.layers.grids.getLayers()[0];"
        " const c = gridgov.map.latLngToContainerPoint(p.getCenter());"
        " const r = gridgov.map.getContainer().getBoundingClientRect();"
        " return {x: r.left + c.x, y: r.top + c.y, code: p.feature.properties.code}; })()"
    )
    page.mouse.click(target["x"], target["y"])
    page.wait_for_selector(".gg-drill a", timeout=5_000)
    grid_link = page.locator(".gg-drill a").first
    grid_code = (grid_link.get_attribute("href") or "").split("area=")[1].split("&")[0]
    assert grid_code.startswith("420502003") and len(grid_code) == 15
    grid_link.click()
    page.wait_for_url(re.compile(rf"area={grid_code}"))
    page.wait_for_function("window.gridgov && window.gridgov.map !== undefined")
    assert page.evaluate("gridgov.drawnGrids()") == 1
    wait_for_panel(page)
    screenshot(page, "maps_leader_grid")
    visit.check_clean()


def test_a_street_leader_sees_their_street_by_default(server, browser, demo):
    visit = open_page(browser, f"{server}/maps/leader", demo.street_leader)
    assert visit.page.evaluate("gridgov.drawnGrids()") == grid_count(demo, STREET[:9])
    visit.check_clean()


def test_unit_map_shows_the_units_open_events_by_light(server, browser, demo):
    visit = open_page(browser, f"{server}/maps/unit", demo.dispatcher)
    page = visit.page
    with demo.engine.connect() as conn:
        held = conn.execute(
            text(f"SELECT count(*) FROM event WHERE unit_id = :u AND status IN {OPEN}"),
            {"u": demo.unit_id},
        ).scalar_one()
    assert page.evaluate("gridgov.layers.events.getLayers().length") == held > 0
    lights = page.evaluate("gridgov.layers.events.getLayers().map(m => m.feature.properties.light)")
    assert set(lights) <= {"green", "yellow", "red", None}
    assert page.evaluate("gridgov.layers.jurisdiction.getLayers().length") == 1
    screenshot(page, "maps_unit")
    visit.check_clean()


def test_grid_map_shows_buildings_and_visit_counts_without_names(server, browser, demo):
    visit = open_page(browser, f"{server}/maps/grid", demo.worker)
    page = visit.page
    with demo.engine.connect() as conn:
        buildings = conn.execute(
            text("SELECT count(*) FROM building WHERE grid_code = :g"), {"g": demo.grid_code}
        ).scalar_one()
    drawn = page.evaluate(
        "['buildings', 'visits_soon', 'visits_overdue']"
        ".map(k => gridgov.layers[k].getLayers().length).reduce((a, b) => a + b, 0)"
    )
    assert drawn == buildings > 0
    today = datetime.now(CHINA_TZ).date()
    with demo.engine.connect() as conn:
        overdue_visits = conn.execute(
            text(
                "SELECT count(*) FROM special_group sg JOIN resident r ON r.id = sg.resident_id "
                "WHERE r.grid_code = :g AND r.active AND sg.ended_on IS NULL "
                "AND r.house_id IS NOT NULL AND sg.next_visit_due < :today"
            ),
            {"g": demo.grid_code, "today": today},
        ).scalar_one()
    shown = page.inner_text("#gg-panel .gg-kpis .gg-kpi:nth-child(5) b")
    assert int(shown.replace(",", "")) == overdue_visits
    screenshot(page, "maps_grid")
    visit.check_clean()


# --- on a phone ------------------------------------------------------------------------------


def biggest_building(demo: DemoCity) -> str:
    """The code of the grid worker's building with the most houses (ties: lowest code)."""
    with demo.engine.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT b.code FROM building b JOIN house h ON h.building_id = b.id "
                    "WHERE b.grid_code = :g GROUP BY b.code ORDER BY count(*) DESC, b.code LIMIT 1"
                ),
                {"g": demo.grid_code},
            ).scalar_one()
        )


def test_building_table_on_a_phone_matches_sql_and_opens_a_rooms_residents(server, browser, demo):
    code = biggest_building(demo)
    visit = open_page(
        browser, f"{server}/maps/building/{code}", demo.worker, map_page=False, **PHONE
    )
    page = visit.page
    with demo.engine.connect() as conn:
        houses = dict(
            conn.execute(
                text(
                    "SELECT h.use::text, count(*) FROM house h JOIN building b "
                    "ON b.id = h.building_id WHERE b.code = :c GROUP BY h.use"
                ),
                {"c": code},
            ).all()
        )
        residents = conn.execute(
            text(
                "SELECT count(*) FROM resident r JOIN house h ON h.id = r.house_id "
                "JOIN building b ON b.id = h.building_id WHERE b.code = :c AND r.active"
            ),
            {"c": code},
        ).scalar_one()
        room, in_room = conn.execute(
            text(
                "SELECT b.code || '-' || h.unit || '-' || h.room, count(*) FROM resident r "
                "JOIN house h ON h.id = r.house_id JOIN building b ON b.id = h.building_id "
                "WHERE b.code = :c AND r.active GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
            ),
            {"c": code},
        ).one()
        moved_out = conn.execute(
            text(
                "SELECT count(*) FROM residence s JOIN house h ON h.id = s.house_id "
                "JOIN building b ON b.id = h.building_id "
                "WHERE b.code || '-' || h.unit || '-' || h.room = :room "
                "AND s.moved_out IS NOT NULL"
            ),
            {"room": room},
        ).scalar_one()
    assert page.locator(".bt-room").count() == sum(houses.values()) > 0
    assert int(page.inner_text("#bt-residents").replace(",", "")) == residents
    for use, n in houses.items():
        assert page.inner_text(f".bt-legend b[data-use='{use}']") == str(n)
        assert page.locator(f".bt-room.bt-{use}").count() == n
    # The page itself does not scroll sideways on a phone; the table scrolls in its box, and
    # every room is a thumb-sized target.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    heights = page.eval_on_selector_all(".bt-room", "rs => rs.map(r => r.offsetHeight)")
    assert min(heights) >= 44
    screenshot(page, "building_table_390")
    page.locator(f".bt-room[data-code='{room}']").scroll_into_view_if_needed()
    page.click(f".bt-room[data-code='{room}']")
    page.wait_for_selector("#bt-sheet:not([hidden]) .bt-people")
    rows = page.locator("#bt-sheet-residents .bt-current li")
    assert rows.count() == in_room
    page.wait_for_selector("#bt-sheet-history:not(.bt-note)")
    assert page.locator("#bt-sheet-history .bt-former li").count() == moved_out
    assert all("*" in rows.nth(i).inner_text() for i in range(rows.count()))  # masked
    screenshot(page, "building_table_room_390")
    page.keyboard.press("Escape")
    assert page.locator("#bt-sheet").is_hidden()
    visit.check_clean()


def test_building_table_at_desk_width_and_for_someone_outside_the_grid(server, browser, demo):
    code = biggest_building(demo)
    visit = open_page(browser, f"{server}/maps/building/{code}", demo.command, map_page=False)
    assert visit.page.locator(".bt-room").count() > 0
    screenshot(visit.page, "building_table_1400")
    visit.check_clean()
    import httpx

    with demo.engine.connect() as conn:
        elsewhere = conn.execute(
            text("SELECT code FROM building WHERE grid_code <> :g ORDER BY code LIMIT 1"),
            {"g": demo.grid_code},
        ).scalar_one()
    refused = httpx.get(f"{server}/maps/building/{elsewhere}", headers=bearer(demo.worker))
    assert refused.status_code == 403
    assert "outside your scope" in refused.json()["error"]["message"]


def test_grid_map_on_a_phone_leaves_the_map_usable_and_links_every_building(server, browser, demo):
    visit = open_page(browser, f"{server}/maps/grid", demo.worker, **PHONE)
    page = visit.page
    # Without it a real phone lays the page out 980 px wide (headless Chromium does not).
    assert page.get_attribute("meta[name=viewport]", "content") == (
        "width=device-width, initial-scale=1"
    )
    box = page.locator(".folium-map").bounding_box()
    assert box is not None and box["width"] >= 389 and box["height"] >= 0.4 * 844
    page.click("#gg-fold")
    page.wait_for_function("document.body.classList.contains('gg-panel-folded')")
    folded = page.locator(".folium-map").bounding_box()
    assert folded is not None and folded["height"] >= 0.9 * 844
    screenshot(page, "maps_grid_390_folded")
    page.click("#gg-fold")
    with demo.engine.connect() as conn:
        codes = set(
            conn.execute(
                text("SELECT code FROM building WHERE grid_code = :g"), {"g": demo.grid_code}
            ).scalars()
        )
    links = page.eval_on_selector_all(
        ".gg-buildings a", "as => as.map(a => a.getAttribute('href'))"
    )
    assert sorted(links) == sorted(f"/maps/building/{c}" for c in codes)
    screenshot(page, "maps_grid_390")
    # A tap on a building (the one nearest the map's centre; events hidden so no marker is on
    # top of it) opens a popup linking to its 楼盘表.
    target = page.evaluate(
        """() => {
          gridgov.map.removeLayer(gridgov.layers.events);
          const centre = gridgov.map.getSize().divideBy(2);
          const all = ['buildings', 'visits_soon', 'visits_overdue']
            .flatMap(k => gridgov.layers[k].getLayers());
          const at = l => gridgov.map.latLngToContainerPoint(l.getCenter());
          all.sort((a, b) => at(a).distanceTo(centre) - at(b).distanceTo(centre));
          const box = gridgov.map.getContainer().getBoundingClientRect();
          const p = at(all[0]);
          return {x: box.left + p.x, y: box.top + p.y, code: all[0].feature.properties.code};
        }"""
    )
    page.touchscreen.tap(target["x"], target["y"])
    popup_link = page.locator(".leaflet-popup a[href^='/maps/building/']")
    popup_link.wait_for()
    assert popup_link.get_attribute("href") == f"/maps/building/{target['code']}"
    page.click(".gg-buildings a >> nth=0")
    page.wait_for_selector(".bt-table, .bt-main")
    assert page.url.startswith(f"{server}/maps/building/")
    visit.check_clean()


@pytest.mark.parametrize("which", ["leader", "unit"])
def test_leader_and_unit_maps_leave_the_map_usable_on_a_phone(server, browser, demo, which):
    actor = demo.leader if which == "leader" else demo.dispatcher
    visit = open_page(browser, f"{server}/maps/{which}", actor, **PHONE)
    box = visit.page.locator(".folium-map").bounding_box()
    assert box is not None and box["width"] >= 389 and box["height"] >= 0.4 * 844
    screenshot(visit.page, f"maps_{which}_390")
    visit.check_clean()


# --- export ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(demo: DemoCity, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`gridgov map export leader` run against the demo database."""
    out = tmp_path_factory.mktemp("export") / "leader.html"
    patch = pytest.MonkeyPatch()
    patch.setenv("DATABASE_URL", demo.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli, ["map", "export", "leader", "--area", "420502", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert "written to" in result.output
    finally:
        get_engine(demo.url).dispose()
        patch.undo()
        get_settings.cache_clear()
    yield out


def test_exported_file_opens_with_the_network_off_and_draws_the_grids(browser, exported):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_offline(True)
    blocked: list[str] = []

    def refuse(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(exported.as_uri())
    page.wait_for_function("window.gridgov && window.gridgov.map !== undefined")
    assert page.evaluate("gridgov.drawnGrids()") == 200
    assert page.evaluate("gridgov.exported") is True
    assert "按期结案率" in page.inner_text("#gg-kpi-panel")  # KPIs inlined, nothing fetched
    screenshot(page, "maps_leader_export")
    assert blocked == [] and errors == []
    source = exported.read_text(encoding="utf-8")
    assert "/static/vendor" not in source and "cdn." not in source
    assert "tiles/buildings" not in source  # vector tiles cannot be inlined: left out


# --- privacy ---------------------------------------------------------------------------------


def _cjk_substrings(source: str) -> set[str]:
    """Every run of 2–4 Chinese characters that occurs in `source`."""
    out: set[str] = set()
    for run in re.findall(r"[\u3400-\u9fff]+", source):
        for size in (2, 3, 4):
            out.update(run[i : i + size] for i in range(len(run) - size + 1))
    return out


def test_no_resident_name_phone_or_id_number_in_any_page_source(server, demo, exported):
    import httpx

    sources = {"export": exported.read_text(encoding="utf-8")}
    for path, actor in (
        ("/maps/leader", demo.leader),
        ("/maps/leader/panel", demo.leader),
        ("/maps/leader?area=420502003", demo.street_leader),
        ("/maps/unit", demo.dispatcher),
        ("/maps/grid", demo.worker),
        (f"/maps/building/{biggest_building(demo)}", demo.worker),
    ):
        response = httpx.get(server + path, headers=bearer(actor), timeout=60)
        assert response.status_code == 200, (path, response.text[:300])
        sources[path] = response.text

    cipher = get_cipher()
    with demo.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, doc_enc, phone_enc FROM resident")).all()
        public = " ".join(
            conn.execute(
                text(
                    "SELECT string_agg(name, ' ') FROM (SELECT name FROM grid UNION ALL "
                    "SELECT name FROM admin_unit UNION ALL SELECT name FROM department_unit "
                    "UNION ALL SELECT name FROM department UNION ALL SELECT name FROM "
                    "event_category UNION ALL SELECT major_name FROM event_category UNION ALL "
                    "SELECT coalesce(name, '') FROM building UNION ALL "
                    "SELECT name FROM organisation) n"
                )
            ).scalar_one()
            or ""
        )
    names = {r.name for r in rows}
    phones = {cipher.decrypt(r.phone_enc, context=PHONE_CONTEXT) for r in rows if r.phone_enc}
    documents = {cipher.decrypt(r.doc_enc, context=DOC_CONTEXT) for r in rows}
    assert len(names) > 1000 and len(phones) > 1000 and len(documents) == len(rows)
    public_words = _cjk_substrings(public)
    for where, source in sources.items():
        words = _cjk_substrings(source) - public_words
        assert not names & words, f"{where} shows resident names: {sorted(names & words)[:5]}"
        digit_runs = set(re.findall(r"\d{11,18}X?", source))
        assert not phones & digit_runs, f"{where} shows phone numbers"
        assert not documents & digit_runs, f"{where} shows ID numbers"
        # Not inside inlined base64 assets, the decimals of a float (a rate, a coordinate) or
        # the hex ids folium gives its elements (a digit run there is chance, not a phone).
        text_only = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", source)
        phone_like = re.search(r"(?<![\da-fA-F.])1[3-9]\d{9}(?![\da-fA-F])", text_only)
        assert not phone_like, f"{where}: a phone-like number {phone_like}"


@pytest.mark.parametrize("width", [390, 1400])
def test_city_parts_show_on_the_leader_map_from_zoom_16(server, browser, demo, width):
    with demo.engine.connect() as conn:
        code, lon, lat = conn.execute(
            text(
                "SELECT code, ST_X(geom), ST_Y(geom) FROM city_part "
                "WHERE district_code = '420502' ORDER BY code LIMIT 1"
            )
        ).one()
    visit = open_page(
        browser, f"{server}/maps/leader", demo.command, viewport={"width": width, "height": 844}
    )
    page = visit.page
    wait_for_panel(page)
    label = page.locator(".leaflet-control-layers label", has_text="城市部件")
    assert label.count() == 1
    page.evaluate(f"() => {{ gridgov.map.setView([{lat}, {lon}], 17); }}")
    box = label.locator("input")
    # Leaflet enables the entry only from the layer's zoom on.
    page.wait_for_function(
        "[...document.querySelectorAll('.leaflet-control-layers label')]"
        ".some(l => l.textContent.includes('城市部件') && !l.querySelector('input').disabled)",
        timeout=10_000,
    )
    with page.expect_response(lambda r: "/tiles/parts/17/" in r.url, timeout=20_000):
        if width >= 1000:
            box.check()
        else:  # the layer control is folded away on a phone (the page's own layout)
            box.dispatch_event("click")
    page.wait_for_timeout(800)
    tiles = [u for u in visit.requested if "/tiles/parts/17/" in u]
    assert tiles
    screenshot(page, f"maps_leader_parts_{width}")
    # The tile under the part holds it (decoded independently of the page).
    z, n = 17, 2**17
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    body = page.request.get(f"{server}/tiles/parts/{z}/{x}/{y}.mvt").body()
    decoded = mapbox_vector_tile.decode(body)
    assert code in {f["properties"]["code"] for f in decoded["parts"]["features"]}
    visit.check_clean()
