"""The /worker and /console pages driven in headless Chromium against a real server.

A grid worker files an event with GPS and a photo, the police station's dispatcher signs for it
on the console, and the worker sees it being handled; a report made offline is queued in the
browser and sent once when the connection returns. The server is a real uvicorn process on
loopback serving the app on a database of its own (the pages commit), and no request may leave
127.0.0.1. Screenshots of each page are kept in var/test-artefacts/pages/.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from events.actions import act
from events.models import Attachment, Event
from events.schemas import ActionInput, EventReport
from events.service import report_event
from gis.clock import CHINA_TZ
from people.access import load_actor
from people.models import Staff
from tests.api.browser import (
    DESKTOP,
    PASSWORD,
    PHONE,
    Watch,
    api_client,
    open_context,
    shoot,
    sign_in,
)
from tests.api.console_city import HERE


def events_described(engine: Engine, description: str) -> int:
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(Event).where(Event.description == description)
        )
    return int(count or 0)


def photos_of(engine: Engine, description: str) -> int:
    with Session(engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(Attachment)
            .join(Event, Event.id == Attachment.event_id)
            .where(Event.description == description)
        )
    return int(count or 0)


def file_report(page: Page, description: str, *, photo: Path | None = None) -> None:
    """Fill the report form at the phone's position (category 0101 可疑人员) and send it."""
    page.click("#use-gps")
    expect(page.locator("#where-text")).to_contain_text("定位 GPS")
    page.fill("#category-search", "可疑")
    expect(page.locator("#category option")).to_have_count(1)
    page.select_option("#category", "0101")
    page.fill("textarea[name=description]", description)
    if photo is not None:
        page.set_input_files("#photos", str(photo))
        expect(page.locator("#photo-preview img")).to_have_count(1)
    page.click("#report-submit")


# -- the journeys ----------------------------------------------------------------------------------


def test_worker_files_an_event_the_dispatcher_signs_and_the_worker_sees_it_handled(
    server, browser, own_engine, photo
):
    watch = Watch()
    phone = open_context(
        browser,
        watch,
        viewport=PHONE,
        geolocation=HERE,
        permissions=["geolocation"],
        service_workers="block",
    )
    worker = watch.page(phone.new_page())
    sign_in(worker, server, "/worker", "worker1")
    expect(worker.locator("#report-map path.leaflet-interactive").first).to_be_visible()
    # Every tab in sight on the phone: none scrolled out of the tab bar or past the screen.
    for tab in worker.locator("nav.tabs [role=tab]").all():
        box = tab.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    page_text = "楼道里有可疑人员反复踩点（浏览器测试）"
    file_report(worker, page_text, photo=photo)
    result = worker.locator("#report-result")
    expect(result).to_contain_text("已上报")
    expect(result).to_contain_text("西陵派出所")
    code = re.search(r"Reported: (\S+)", result.inner_text()).group(1)
    shoot(worker, "worker-report")

    desk = open_context(browser, watch, viewport=DESKTOP)
    console = watch.page(desk.new_page())
    sign_in(console, server, "/console", "police1")
    row = console.locator(f"#queue li.event[data-code='{code}']")
    expect(row).to_contain_text("已派遣")
    expect(row.locator(".light.green")).to_have_count(1)
    expect(console.locator("#count-green")).to_have_text("1")
    row.locator("button.row-button").click()
    detail = console.locator("#detail-body")
    expect(detail.locator("h2")).to_have_text(code)
    expect(detail).to_contain_text(page_text)
    expect(detail.locator(".history")).to_contain_text("派遣")
    # The building is named; a dispatcher gets no link to its 楼盘表 (who lives there is not
    # theirs to see), the grid worker below does.
    expect(detail.locator("dl.facts")).to_contain_text("B-W1")
    expect(detail.locator("a[href='/maps/building/B-W1']")).to_have_count(0)
    thumbnail = detail.locator(".thumbs img").first
    expect(thumbnail).to_be_visible()
    loaded = "img => img.complete && img.naturalWidth > 0"
    console.wait_for_function(loaded, arg=thumbnail.element_handle())
    expect(detail.locator(".map .leaflet-interactive").first).to_be_visible()
    shoot(console, "console-event")
    detail.locator("button[data-action=sign]").click()
    expect(detail.locator(".event-head .status")).to_have_text("处置中")
    expect(detail.locator("button[data-action=handle]")).to_be_visible()
    shoot(console, "console-signed")

    worker.click("[data-tab=events]")
    mine = worker.locator(f"#events-list li.event[data-code='{code}']")
    expect(mine.locator(".status")).to_have_text("处置中")
    mine.locator("button.row-button").click()
    expect(worker.locator("#detail-body .history")).to_contain_text("签收")
    expect(worker.locator("#detail-body a[href='/maps/building/B-W1']")).to_be_visible()
    shoot(worker, "worker-event")
    worker.click("[data-tab=buildings]")  # the grid's buildings, each linked to its 楼盘表
    expect(worker.locator("#buildings-list a[href='/maps/building/B-W1']")).to_have_text(
        "夷陵路12号"
    )
    shoot(worker, "worker-buildings")
    worker.click("[data-tab=events]")
    worker.locator(f"#events-list li.event[data-code='{code}'] button.row-button").click()

    # The unit reports the fix; the worker verifies it on site with a photo, and the command
    # centre closes it (结案) from its 待结案 list.
    detail.locator("button[data-action=handle]").click()
    detail.locator("form[data-action=handle] textarea[name=note]").fill("已劝离并加装门禁")
    detail.locator("form[data-action=handle] button[type=submit]").click()
    expect(detail.locator(".event-head .status")).to_have_text("已处置")
    worker.click("#detail-back")
    worker.select_option("#events-filter", "handled")
    worker.locator(f"#events-list li.event[data-code='{code}'] button.row-button").click()
    verify = worker.locator("#detail-body")
    verify.locator("button[data-action=verify]").click()
    form = verify.locator("form[data-action=verify]")
    form.locator("input[name=photos]").set_input_files(str(photo))
    form.locator("textarea[name=note]").fill("现场复核：门禁已装好")
    form.locator("button[type=submit]").click()
    expect(verify.locator(".event-head .status")).to_have_text("已核查")
    expect(verify.locator(".facts .deadline")).to_contain_text("结案 剩余")
    expect(verify.locator(".thumbs img")).to_have_count(2)
    shoot(worker, "worker-verified")

    centre_desk = open_context(browser, watch, viewport=DESKTOP)
    centre = watch.page(centre_desk.new_page())
    sign_in(centre, server, "/console", "command1")
    centre.click("[data-view=closing]")
    waiting = centre.locator(f"#queue li.event[data-code='{code}']")
    expect(waiting.locator(".deadline")).to_contain_text("结案 剩余")
    waiting.locator("button.row-button").click()
    centre.locator("#detail-body button[data-action=close]").click()
    expect(centre.locator("#detail-body .event-head .status")).to_have_text("已结案")
    expect(centre.locator("#detail-body table.stages tr[data-stage=close]")).to_contain_text("按时")
    shoot(centre, "console-closed")
    centre.goto(f"{server}/console?event={code}")  # the maps' and the 楼盘表's event links
    expect(centre.locator("#detail-body h2")).to_have_text(code)
    centre_desk.close()

    worker.click("#detail-back")
    worker.click("[data-tab=visits]")
    visit = worker.locator("#visits-list li.visit").first
    expect(visit).to_contain_text("独居")
    expect(visit).to_contain_text("B-W1-1-0101")  # where the resident lives
    expect(visit.locator("a.building-table")).to_have_attribute("href", "/maps/building/B-W1")
    visit.locator("button", has_text="记录走访").click()
    visit.locator("textarea[name=note]").fill("老人身体尚好，已检查燃气")
    visit.locator("button[type=submit]").click()
    expect(worker.locator("#visits-list")).to_contain_text("已记录")
    shoot(worker, "worker-visits")
    # The 楼盘表's event links: /worker?event=CODE opens that case.
    worker.goto(f"{server}/worker?event={code}")
    expect(worker.locator("#detail-body h2")).to_have_text(code)
    watch.check()
    phone.close()
    desk.close()


def test_report_made_offline_is_queued_and_sent_once_when_back_online(
    server, browser, own_engine, photo
):
    watch = Watch(tolerated=("ERR_INTERNET_DISCONNECTED",))
    phone = open_context(
        browser, watch, viewport=PHONE, geolocation=HERE, permissions=["geolocation"]
    )
    worker = watch.page(phone.new_page())
    sign_in(worker, server, "/worker", "worker1")
    # The service worker keeps the page itself, so it opens again without a connection.
    worker.evaluate("navigator.serviceWorker.ready.then(() => true)")
    description = "地下车库消防通道被堵（离线上报）"
    phone.set_offline(True)
    expect(worker.locator("#banner")).to_contain_text("离线")
    file_report(worker, description, photo=photo)  # the photo waits in IndexedDB as a Blob
    expect(worker.locator("#report-result")).to_contain_text("待发送")
    expect(worker.locator("#queued-banner")).to_contain_text("待发送 1 条")
    worker.reload()
    worker.wait_for_selector("body[data-ready=true]")
    worker.click("[data-tab=events]")
    expect(worker.locator("#queued-list li.queued")).to_contain_text("待发送 queued")
    shoot(worker, "worker-offline-queued")
    assert events_described(own_engine, description) == 0

    phone.set_offline(False)
    expect(worker.locator("#queued-list li.queued")).to_have_count(0)
    expect(worker.locator("#banner")).to_contain_text("已发送 1 条")
    expect(worker.locator("#events-list")).to_contain_text(description)
    assert events_described(own_engine, description) == 1
    assert photos_of(own_engine, description) == 1
    worker.reload()
    worker.wait_for_selector("body[data-ready=true]")
    worker.wait_for_timeout(500)
    assert events_described(own_engine, description) == 1
    watch.check()
    phone.close()


def test_a_report_whose_answer_is_lost_is_sent_again_and_counted_once(server, browser, own_engine):
    watch = Watch(tolerated=("ERR_FAILED",))
    phone = open_context(
        browser,
        watch,
        viewport=PHONE,
        geolocation=HERE,
        permissions=["geolocation"],
        service_workers="block",
    )
    worker = watch.page(phone.new_page())
    sign_in(worker, server, "/worker", "worker1")

    def lose_the_answer(route):
        route.fetch()  # the server files it …
        route.abort()  # … but the phone never hears back

    worker.route("**/api/events", lose_the_answer, times=1)
    description = "路灯杆倾斜（应答丢失）"
    file_report(worker, description)
    expect(worker.locator("#report-result")).to_contain_text("待发送")
    assert events_described(own_engine, description) == 1
    worker.reload()  # on load the queue is sent again, with the same Idempotency-Key
    worker.wait_for_selector("body[data-ready=true]")
    worker.click("[data-tab=events]")
    expect(worker.locator("#events-list")).to_contain_text(description)
    expect(worker.locator("#queued-list li.queued")).to_have_count(0)
    assert events_described(own_engine, description) == 1
    watch.check()
    phone.close()


def test_command_centre_sees_returned_cases_and_duplicates_and_can_re_route_them(server, browser):
    with api_client(server, "worker1") as worker, api_client(server, "police1") as police:
        codes = [
            worker.post(
                "/api/events",
                json={
                    "category": "0107",
                    "lon": HERE["longitude"],
                    "lat": HERE["latitude"] + 0.0002 * n,  # about 22 m apart
                    "description": f"群租房消防隐患（第{n + 1}次上报）",
                },
            ).json()["code"]
            for n in range(2)
        ]
        returned = police.post(f"/api/events/{codes[1]}/return", json={"reason": "不属于本辖区"})
        assert returned.json()["status"] == "returned"
    watch = Watch()
    desk = open_context(browser, watch, viewport=DESKTOP)
    console = watch.page(desk.new_page())
    sign_in(console, server, "/console", "command1")
    console.click("[data-view=duplicates]")
    expect(console.locator("#list-title")).to_contain_text("疑似重复")
    for code in codes:
        expect(console.locator(f"#queue li.event[data-code='{code}']")).to_contain_text("附近同类")
    console.click("[data-view=supervision]")
    expect(console.locator("#list-title")).to_contain_text("督办")
    expect(console.locator("#list-error")).to_be_hidden()
    console.click("[data-view=unrouted]")
    row = console.locator(f"#queue li.event[data-code='{codes[1]}']")
    expect(row).to_contain_text("已退回")
    row.locator("button.row-button").click()
    detail = console.locator("#detail-body")
    expect(detail.locator(".history")).to_contain_text("不属于本辖区")
    # Re-routing a returned case is the review of its return (同意退回, accept-return).
    expect(detail.locator("button[data-action=redispatch]")).to_have_count(0)
    detail.locator("button[data-action=accept-return]").click()
    form = detail.locator("form[data-action=accept-return]")
    command_centre = form.locator("select[name=unit_id] option", has_text="西陵区指挥中心")
    expect(command_centre).to_have_count(1)
    form.locator("select[name=unit_id]").select_option(command_centre.get_attribute("value"))
    form.locator("button[type=submit]").click()
    expect(detail.locator(".event-head .status")).to_have_text("已派遣")
    expect(console.locator(f"#queue li.event[data-code='{codes[1]}']")).to_have_count(0)
    shoot(console, "console-command")
    console.click("#signout button")
    expect(console).to_have_url(f"{server}/login")
    console.goto(f"{server}/console")
    expect(console).to_have_url(re.compile(r"/login\?next=/console"))
    watch.check()
    desk.close()


def test_pages_send_strangers_to_login_and_other_roles_to_their_own_page(server):
    anonymous = httpx.get(f"{server}/console", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/console"
    with httpx.Client(base_url=server) as client:
        signed = client.post(
            "/login",
            data={"username": "police1", "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.headers["location"] == "/console"
        refused = client.get("/worker")
    assert refused.status_code == 403
    assert "网格员" in refused.text and 'href="/console"' in refused.text


def test_a_suspended_case_shows_the_time_it_had_left_never_overdue_on_phone_and_desk(
    server, browser, own_engine
):
    """Signed Monday 19 October 10:30 (handle by Tuesday 17:30), suspended (挂账) Tuesday 9:00
    with 6 working hours left, weeks ago: the console shows 挂账 剩余 6小时 and a green light,
    never 超期."""
    monday = datetime(2026, 10, 19, 10, 0, tzinfo=CHINA_TZ)
    with Session(own_engine) as session:
        staff = {name: id_ for name, id_ in session.execute(select(Staff.username, Staff.id))}
        worker, police, command = (
            load_actor(session, staff_id=staff[name]) for name in ("worker1", "police1", "command1")
        )
        report = EventReport(
            category="0101", lon=HERE["longitude"], lat=HERE["latitude"], description="挂账测试"
        )
        code = report_event(session, actor=worker, report=report, now=monday).code
        signed_at, suspended_at = monday.replace(minute=30), monday.replace(day=20, hour=9)
        act(session, actor=police, code=code, action="sign", data=ActionInput(), now=signed_at)
        reason = ActionInput(reason="等待法院判决")
        act(session, actor=command, code=code, action="suspend", data=reason, now=suspended_at)
        # Its twin, never suspended, is weeks overdue: red, 超期 in working days.
        twin = report.model_copy(update={"description": "超期对照"})
        late = report_event(session, actor=worker, report=twin, now=monday).code
        act(session, actor=police, code=late, action="sign", data=ActionInput(), now=signed_at)
        session.commit()
    api = httpx.post(f"{server}/login", data={"username": "command1", "password": PASSWORD}).cookies
    listed = httpx.get(f"{server}/api/events", params={"q": "挂账测试"}, cookies=api).json()
    assert [(i["light"], i["time_left"], i["seconds_left"]) for i in listed["items"]] == [
        ("green", "挂账 剩余 6小时", 6 * 3600)
    ]
    watch = Watch()
    for name, viewport in (("phone", PHONE), ("desk", {"width": 1400, "height": 900})):
        context = open_context(browser, watch, viewport=viewport)
        console = watch.page(context.new_page())
        sign_in(console, server, "/console", "command1")
        row = console.locator(f"#queue li.event[data-code='{code}']")
        expect(row.locator(".deadline")).to_have_text("处置 挂账 剩余 6小时")
        expect(row.locator(".light.green")).to_have_count(1)
        expect(row).not_to_contain_text("超期")
        overdue = console.locator(f"#queue li.event[data-code='{late}']")
        expect(overdue.locator(".deadline.d-red")).to_have_text(re.compile(r"^处置 超期 \d+天"))
        expect(overdue.locator(".light.red")).to_have_count(1)
        row.locator("button.row-button").click()
        detail = console.locator("#detail-body")
        expect(detail.locator(".facts .deadline")).to_have_text("处置 挂账 剩余 6小时")
        expect(detail).not_to_contain_text("超期")
        expect(detail.locator("table.stages tr[data-stage=handle]")).to_contain_text(
            "挂账 suspended"
        )
        shoot(console, f"console-suspended-{name}")
        context.close()
    watch.check()
