"""The 受理 (intake) panel of /console, the inspector's patrol form on /worker and the leader's
instruction on /maps/leader, driven in headless Chromium against a real server.

A command-centre operator takes a hotline call, taps the place on the map and files it; files a
second call with an address only and finds it in the 待定位 list, then locates it there; takes a
third from what the caller says (address search), and once the fix is verified answers the caller
and records the callback. Screenshots at phone and desktop widths are kept in
var/test-artefacts/pages/.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from shapely import box
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from events.actions import act
from events.models import Callback, Event, EventSource, EventStatus, EventStep, Satisfaction
from events.schemas import ActionInput
from grid.models import Building
from people.access import load_actor
from people.models import Staff
from tests.api.browser import (
    DESKTOP,
    PHONE,
    Watch,
    open_context,
    shoot,
    sign_in,
)
from tests.api.console_city import EAST, WEST, add_b_w1, two_grids
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    add_staff,
    add_unit,
)


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> None:
    """Two grids, a police station, a command centre and the accounts that take calls."""
    with Session(own_engine) as session:
        two_grids(session)
        add_b_w1(session, address="湖北省宜昌市西陵区夷陵路12号")
        add_unit(
            session, "PS-W", "police", geom=box(111.27, 30.69, 111.31, 30.73), name="西陵派出所"
        )
        add_unit(session, "CC", "command_centre", location=(111.29, 30.71), name="西陵区指挥中心")
        add_staff(session, "worker1", "grid_worker", grid_codes=[WEST, EAST])
        add_staff(session, "inspector1", "inspector", area_code=COMMUNITY)
        add_staff(session, "operator1", "command", area_code=DISTRICT + "000000")
        add_staff(session, "leader1", "leader", area_code=DISTRICT + "000000")
        session.commit()


def stored(engine: Engine, description: str) -> Event:
    with Session(engine) as session:
        event = session.scalars(select(Event).where(Event.description == description)).one()
        session.expunge(event)
    return event


def take_call(page: Any, words: str, *, ticket: str, category: str = "暴露垃圾") -> None:
    """Fill the intake form as for a 12345 call (category 0601 暴露垃圾 unless named)."""
    form = page.locator("#intake-form")
    form.locator("select[name=source]").select_option("hotline")
    form.locator("select[name=appeal_type]").select_option("complaint")
    form.locator("input[name=caller_name]").fill("李四")
    form.locator("input[name=caller_phone]").fill("13912345678")
    form.locator("input[name=ticket]").fill(ticket)
    page.fill("#intake-category-search", category)
    expect(page.locator("#intake-category option")).to_have_count(1)
    form.locator("textarea[name=description]").fill(words)


def test_an_operator_files_a_call_with_a_tapped_point_and_one_without_then_locates_it(
    server, browser, own_engine
):
    watch = Watch()
    desk = open_context(browser, watch, viewport=DESKTOP)
    page = watch.page(desk.new_page())
    sign_in(page, server, "/console", "operator1")
    page.wait_for_selector("#intake[data-ready=true]")
    expect(page.locator("#intake-map path").first).to_be_attached()  # the grids drawn

    words = "小区门口垃圾堆了三天没人清运（浏览器测试）"
    take_call(page, words, ticket="12345-B-1")
    page.fill("#intake-address", "夷陵路99号")  # no such door plate: nothing to confirm
    page.click("#intake-find")
    expect(page.locator("#intake-match-note")).to_contain_text("没有匹配的地址")
    expect(page.locator("#intake-candidates button")).to_have_count(0)
    # Tap the map right of its centre (the map is fitted to the two grids: grid EAST).
    box_ = page.locator("#intake-map").bounding_box()
    assert box_ is not None
    page.mouse.click(box_["x"] + box_["width"] * 0.6, box_["y"] + box_["height"] * 0.5)
    expect(page.locator("#intake-where")).to_contain_text("地图点选")
    shoot(page, "intake-call-desktop")
    page.click("#intake-submit")
    result = page.locator("#intake-result")
    expect(result).to_contain_text("已受理")
    event = stored(own_engine, words)
    assert event.source is EventSource.HOTLINE and event.geom is not None
    assert event.contact_masked == "139****5678" and event.external_ref == "12345-B-1"
    assert event.grid_code == EAST
    expect(result).to_contain_text(event.code)

    # A second call with an address only: filed without a point, waiting in 待定位.
    words2 = "某某小区东门路灯不亮（浏览器测试，无坐标）"
    take_call(page, words2, ticket="12345-B-2")
    page.fill("#intake-address", "西陵区某某小区东门")
    page.click("#intake-submit")
    expect(result).to_contain_text("待定位")
    unlocated = stored(own_engine, words2)
    assert unlocated.geom is None and unlocated.locate_match == "none"
    row = page.locator(f"#unlocated-list li.event[data-code='{unlocated.code}']")
    expect(row).to_be_visible()
    expect(page.locator("#unlocated-count")).to_have_text("1")
    shoot(page, "intake-unlocated-desktop")

    # Locate it: pick it, tap the map, press 定位.
    row.locator("button.row-button").click()
    locate = row.locator("button.locate")
    expect(locate).to_be_disabled()
    # The page may have scrolled to the list: tap the map where it is now.
    page.locator("#intake-map").scroll_into_view_if_needed()
    box_ = page.locator("#intake-map").bounding_box()
    assert box_ is not None
    page.mouse.click(box_["x"] + box_["width"] * 0.4, box_["y"] + box_["height"] * 0.5)
    expect(locate).to_be_enabled()
    locate.click()
    expect(result).to_contain_text("已定位")
    expect(page.locator("#unlocated-list")).to_contain_text("没有待定位")
    located = stored(own_engine, words2)
    assert located.geom is not None and located.grid_code in (WEST, EAST)
    watch.check()

    phone = open_context(browser, watch, viewport=PHONE)
    small = watch.page(phone.new_page())
    sign_in(small, server, "/console", "operator1")
    small.wait_for_selector("#intake[data-ready=true]")
    shoot(small, "intake-phone")
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the console scrolls sideways on a phone ({width} px)"
    watch.check()


def test_an_inspector_files_a_patrol_finding_from_the_worker_page(server, browser, own_engine):
    watch = Watch()
    phone = open_context(
        browser,
        watch,
        viewport=PHONE,
        geolocation={"longitude": 111.295, "latitude": 30.705},
        permissions=["geolocation"],
        service_workers="block",
    )
    page = watch.page(phone.new_page())
    sign_in(page, server, "/worker", "inspector1")
    expect(page.locator("#report-form h2")).to_have_text("巡查发现 Patrol finding")
    expect(page.locator("input[name=self_resolved]")).to_be_hidden()
    page.click("#use-gps")
    expect(page.locator("#where-text")).to_contain_text("定位 GPS")
    page.fill("#category-search", "可疑")
    page.select_option("#category", "0101")
    words = "巡查发现有人在楼道反复踩点（浏览器测试）"
    page.fill("textarea[name=description]", words)
    page.click("#report-submit")
    expect(page.locator("#report-result")).to_contain_text("已上报")
    shoot(page, "worker-patrol-phone")
    event = stored(own_engine, words)
    assert event.source is EventSource.INSPECTION and event.grid_code == EAST
    watch.check()


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1400, "height": 900}], ids=["390", "1400"])
def test_a_leader_picks_a_point_on_the_city_map_and_files_an_urgent_instruction(
    server, browser, own_engine, viewport
):
    watch = Watch()
    context = open_context(browser, watch, viewport=viewport)
    page = watch.page(context.new_page())
    page.goto(f"{server}/maps/leader")
    page.fill("input[name=username]", "leader1")
    page.fill("input[name=password]", "test-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#gg-instruct[data-ready='1']")
    # On a phone the layer list starts folded, so it does not hide the map; on a desk it is open.
    layers = page.locator(".leaflet-control-layers-expanded")
    expect(layers).to_have_count(0 if viewport["width"] <= 700 else 1)
    shoot(page, f"leader-before-{viewport['width']}")
    page.click("#gg-instruct-pick")
    the_map = page.locator(".folium-map").bounding_box()
    assert the_map is not None
    # Right of the legend, below the layer list: on the grids.
    page.mouse.click(the_map["x"] + the_map["width"] * 0.6, the_map["y"] + the_map["height"] * 0.75)
    expect(page.locator("#gg-instruct-where")).to_contain_text("已选点")
    page.select_option("#gg-instruct select[name=category]", "0601")
    words = f"请城管局今日内清理（领导批示 {viewport['width']}）"
    page.fill("#gg-instruct textarea[name=description]", words)
    page.click("#gg-instruct button[type=submit]")
    expect(page.locator("#gg-instruct-result")).to_contain_text("已批示")
    shoot(page, f"leader-instruction-{viewport['width']}")
    event = stored(own_engine, words)
    assert event.source is EventSource.LEADER and event.priority.value == "urgent"
    watch.check()


def _work_the_case_on_the_street(engine: Engine, code: str) -> None:
    """What happens away from the console: the grid worker checks the call on site (核实), the
    command centre registers and dispatches it, the unit signs for it and handles it, the grid
    worker verifies."""
    with Session(engine) as session:
        event = session.scalars(select(Event).where(Event.code == code)).one()
        worker = session.scalar(select(Staff.id).where(Staff.username == "worker1"))

        def do(staff_id: int, action: str, **fields: Any) -> None:
            actor = load_actor(session, staff_id=staff_id)
            act(session, actor=actor, code=code, action=action, data=ActionInput(**fields))

        do(worker, "check", note="现场属实")
        operator = session.scalar(select(Staff.id).where(Staff.username == "operator1"))
        do(operator, "register")  # 立案 and 派遣 by the command centre
        do(operator, "dispatch")
        session.refresh(event)
        desk = add_staff(session, "desk-journey", "dispatcher", department_unit_id=event.unit_id)
        do(desk.staff_id, "sign")
        do(desk.staff_id, "handle", note="民警已上门核查处置")
        do(worker, "verify", note="已无人收卡")
        session.commit()


def test_a_call_is_placed_by_its_address_answered_and_called_back_all_in_the_browser(
    server, browser, own_engine
):
    """The operator's whole day with one caller: take the call, find the place from what the
    caller says, file; once the fix is verified, answer the caller and record the callback."""
    watch = Watch()
    desk = open_context(browser, watch, viewport=DESKTOP)
    page = watch.page(desk.new_page())
    sign_in(page, server, "/console", "operator1")
    page.wait_for_selector("#intake[data-ready=true]")

    words = "夷陵路12号有人在收购银行卡（浏览器全程测试）"
    take_call(page, words, ticket="12345-J-1", category="电信诈骗线索")  # 0105: no site photo
    page.fill("#intake-address", "宜昌市夷陵路１２号")  # as typed while the caller speaks
    page.click("#intake-find")
    candidate = page.locator("#intake-candidates button").first
    expect(candidate).to_contain_text("夷陵路12号")
    table_link = page.locator("#intake-candidates a.building-table").first
    expect(table_link).to_have_attribute("href", "/maps/building/B-W1")  # the building's 楼盘表
    candidate.click()
    expect(page.locator("#intake-where")).to_contain_text("B-W1")
    page.click("#intake-submit")
    expect(page.locator("#intake-result")).to_contain_text("已受理")
    event = stored(own_engine, words)
    with Session(own_engine) as session:
        building = session.scalar(select(Building.id).where(Building.code == "B-W1"))
    assert event.building_id == building and event.grid_code == WEST
    assert event.status is EventStatus.REPORTED  # a citizen's call is checked on site first

    _work_the_case_on_the_street(own_engine, event.code)

    page.reload()
    panel = page.locator("#reply-panel")
    waiting = panel.locator(f"li.reply-item[data-code='{event.code}']")
    expect(waiting).to_contain_text(words)
    waiting.locator("textarea[name=reply]").fill("民警已上门处置，感谢您的来电")
    waiting.locator("select[name=reply_channel]").select_option("phone")
    waiting.locator("button[type=submit]").click()
    expect(page.locator("#reply-status")).to_contain_text(event.code)

    page.click("[data-reply-view=callbacks]")
    callback = panel.locator(f"li.reply-item[data-code='{event.code}']")
    expect(callback).not_to_contain_text("13912345678")  # masked until asked for, with a reason
    callback.locator("input[value=satisfied]").check()
    callback.locator("button[type=submit]").click()
    expect(page.locator("#reply-status")).to_contain_text("满意")
    expect(callback).to_have_count(0)
    watch.check()

    with Session(own_engine) as session:
        closed = session.scalars(select(Event).where(Event.code == event.code)).one()
        steps = session.scalars(
            select(EventStep.action).where(EventStep.event_id == closed.id).order_by(EventStep.id)
        ).all()
        satisfaction = session.scalar(
            select(Callback.satisfaction).where(Callback.event_id == closed.id)
        )
    assert closed.status is EventStatus.CLOSED
    assert list(steps) == [
        "report",
        "check",
        "register",
        "dispatch",
        "sign",
        "handle",
        "verify",
        "reply",
    ]
    assert satisfaction is Satisfaction.SATISFIED
