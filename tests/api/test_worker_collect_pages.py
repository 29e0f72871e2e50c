"""采集 on /worker driven in headless Chromium against a real server: a grid worker opens a
building of their grid, fills the ledger forms (a house, a resident, an organisation, a move
out) with no connection, sees them waiting (待发送), and when the connection returns each
arrives exactly once — also when the first answer is lost and the form is sent again.

The server is a real uvicorn process on loopback on a database of its own (the pages commit);
counts are read back with plain SQL. Screenshots at 390 px and 1400 px are kept in
var/test-artefacts/pages/.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from people import service as people_service
from people.credit_code import make_credit_code
from people.models import TaskKind
from people.schemas import ResidentCreate
from people.tasks import raise_task
from tests.api.browser import Watch, open_context, shoot, sign_in
from tests.api.console_city import EAST, WEST, add_b_w1, two_grids
from tests.factories import (
    add_building,
    add_house,
    add_staff,
    china_today,
    id_number,
    square,
)

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 900}
NEW_RESIDENT = id_number(51, birth=date(1988, 2, 29))
CREDIT_CODE = make_credit_code("420502", 77)


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, Any]:
    """A worker of grid WEST with building B-W1 (six floors, two houses, one resident) and an
    EAST building that is not theirs."""
    with Session(own_engine) as session:
        two_grids(session)
        west = add_b_w1(session, floors=6)
        add_building(session, "B-E1", square(111.2949, 30.7049, 0.0003), EAST, name="东山路1号")
        add_house(session, west, room="0101")
        add_house(session, west, room="0201", floor=2)
        add_staff(session, "worker1", "grid_worker", grid_codes=[WEST])
        admin = add_staff(session, "admin1", "admin")
        for grid, key, title in (
            (WEST, "rental_unregistered:house:w", "出租屋无人登记 夷陵路12号 0101"),
            (EAST, "rental_unregistered:house:e", "出租屋无人登记 东山路1号"),
        ):
            raise_task(
                session,
                kind=TaskKind.RENTAL_UNREGISTERED,
                district_code=grid[:6],
                grid_code=grid,
                subject="house",
                subject_id=None,
                title=title,
                due_on=china_today() + timedelta(days=3),
                key=key,
            )
        people_service.register_resident(
            session,
            actor=admin,
            data=ResidentCreate(
                doc_number=id_number(9),
                name="刘芳",
                house_code="B-W1-1-0201",
                moved_in=date(2019, 5, 1),
            ),
        )
        session.commit()
    return {}


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def open_building(page: Page, name: str = "夷陵路12号") -> None:
    page.click("[data-tab=buildings]")
    row = page.locator("#buildings-list li.building", has_text=name)
    row.locator("button.collect").click()
    expect(page.locator("#detail-body h2")).to_contain_text(name)


def house_row(page: Page, code: str):
    return page.locator(f"li.house[data-house='{code}']")


def no_horizontal_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


def test_forms_filled_offline_arrive_once_when_back_online(server, browser, own_engine):
    watch = Watch(tolerated=("ERR_INTERNET_DISCONNECTED",))
    phone = open_context(browser, watch, viewport=PHONE)
    worker = watch.page(phone.new_page())
    sign_in(worker, server, "/worker", "worker1")
    # The service worker keeps the page itself, so it opens again without a connection.
    worker.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # Only the worker's own building is offered.
    worker.click("[data-tab=buildings]")
    expect(worker.locator("#buildings-list li.building")).to_have_count(1)
    open_building(worker)
    expect(house_row(worker, "B-W1-1-0201")).to_contain_text("刘芳")
    no_horizontal_scroll(worker)
    shoot(worker, "worker-collect-building-390")

    phone.set_offline(True)
    expect(worker.locator("#banner")).to_contain_text("离线")

    # A resident: a wrong ID number is caught in the browser, before anything is kept.
    house_row(worker, "B-W1-1-0101").locator("button.register").click()
    form = worker.locator("form.collect-form")
    form.locator("input[name=doc_number]").fill(
        NEW_RESIDENT[:-1] + ("0" if NEW_RESIDENT[-1] != "0" else "1")
    )
    expect(form.locator(".hint[data-for=doc_number]")).to_contain_text("校验位")
    form.locator("input[name=name]").fill("周敏")
    form.locator("button[type=submit]").click()
    expect(form.locator("p.error")).to_contain_text("校验位")
    form.locator("input[name=doc_number]").fill(NEW_RESIDENT)
    expect(form.locator(".hint[data-for=doc_number]")).to_contain_text("校验通过")
    no_horizontal_scroll(worker)
    shoot(worker, "worker-collect-resident-form-390")
    form.locator("button[type=submit]").click()
    expect(house_row(worker, "B-W1-1-0101")).to_contain_text("待发送")

    # A house.
    worker.click("#add-house")
    form = worker.locator("form.collect-form")
    form.locator("input[name=floor]").fill("3")
    form.locator("input[name=room]").fill("0301")
    form.locator("select[name=use]").select_option("rented")
    form.locator("input[name=area_m2]").fill("72.5")
    form.locator("button[type=submit]").click()
    expect(worker.locator(".collect-slot .queued-note").first).to_contain_text("待发送")

    # An organisation, a fire-safety key unit, its credit code checked as typed.
    worker.click("#add-organisation")
    form = worker.locator("form.collect-form")
    form.locator("input[name=credit_code]").fill(CREDIT_CODE)
    expect(form.locator(".hint[data-for=credit_code]")).to_contain_text("校验通过")
    form.locator("input[name=name]").fill("夷陵路便利店")
    form.locator("select[name=org_type]").select_option("shop")
    form.locator("input[name=fire_key_unit]").check()
    shoot(worker, "worker-collect-organisation-form-390")
    no_horizontal_scroll(worker)
    form.locator("button[type=submit]").click()

    # 刘芳 moves out.
    resident_row = house_row(worker, "B-W1-1-0201").locator("ul.residents li", has_text="刘芳")
    resident_row.locator("button", has_text="搬离").click()
    worker.locator("form.collect-form button[type=submit]").click()

    expect(worker.locator("#queued-banner")).to_contain_text("待发送 4 条")
    expect(worker.locator("#collect-queued li.queued")).to_have_count(4)
    shoot(worker, "worker-collect-queued-390")
    assert scalar(own_engine, "SELECT count(*) FROM resident WHERE name = '周敏'") == 0
    # Kept in the browser: the page opens again offline, the building as last seen, the forms
    # still waiting.
    worker.reload()
    worker.wait_for_selector("body[data-ready=true]")
    open_building(worker)
    expect(worker.locator("#detail-body")).to_contain_text("离线")
    expect(house_row(worker, "B-W1-1-0201")).to_contain_text("刘芳")
    expect(worker.locator("#collect-queued li.queued")).to_have_count(4)
    assert scalar(own_engine, "SELECT count(*) FROM resident WHERE name = '周敏'") == 0

    phone.set_offline(False)
    expect(worker.locator("#queued-banner")).to_be_hidden()
    expect(worker.locator("#banner")).to_contain_text("已发送 4 条")
    expect(house_row(worker, "B-W1-1-0101").locator("ul.residents")).to_contain_text("周敏")
    expect(house_row(worker, "B-W1-1-0301")).to_contain_text("出租")
    expect(worker.locator("li.organisation")).to_contain_text("消防重点")
    shoot(worker, "worker-collect-sent-390")

    def counts() -> tuple[int, ...]:
        return (
            scalar(own_engine, "SELECT count(*) FROM resident WHERE name = '周敏'"),
            scalar(
                own_engine,
                "SELECT count(*) FROM house h JOIN building b ON b.id = h.building_id "
                "WHERE b.code = 'B-W1' AND h.room = '0301' AND h.floor = 3 AND h.use = 'rented'",
            ),
            scalar(
                own_engine,
                "SELECT count(*) FROM organisation WHERE credit_code = :c AND fire_key_unit",
                c=CREDIT_CODE,
            ),
            scalar(
                own_engine,
                "SELECT count(*) FROM residence r JOIN resident p ON p.id = r.resident_id "
                "WHERE p.name = '刘芳' AND r.moved_out IS NOT NULL",
            ),
            # Every write by the page carried its key into the history.
            scalar(
                own_engine,
                "SELECT count(*) FROM ledger_change c JOIN staff s ON s.id = c.staff_id "
                "WHERE s.username = 'worker1' AND c.idempotency_key IS NOT NULL",
            ),
        )

    assert counts() == (1, 1, 1, 1, 4)
    worker.reload()
    worker.wait_for_selector("body[data-ready=true]")
    worker.wait_for_timeout(500)
    assert counts() == (1, 1, 1, 1, 4)
    watch.check()
    phone.close()


def test_a_resident_form_whose_answer_is_lost_is_sent_again_and_registered_once(
    server, browser, own_engine
):
    watch = Watch(tolerated=("ERR_FAILED",))
    phone = open_context(browser, watch, viewport=PHONE, service_workers="block")
    worker = watch.page(phone.new_page())
    sign_in(worker, server, "/worker", "worker1")
    open_building(worker)

    def lose_the_answer(route):
        route.fetch()  # the server registers her …
        route.abort()  # … but the phone never hears back

    worker.route("**/api/residents", lose_the_answer, times=1)
    number = id_number(53, birth=date(1979, 11, 2))
    house_row(worker, "B-W1-1-0101").locator("button.register").click()
    form = worker.locator("form.collect-form")
    form.locator("input[name=doc_number]").fill(number)
    form.locator("input[name=name]").fill("吴静")
    form.locator("select[name=residence_type]").select_option("floating")
    form.locator("button[type=submit]").click()
    # A floating resident needs their origin: said in the browser, nothing kept.
    expect(form.locator("p.error")).to_contain_text("来源地")
    form.locator("input[name=origin]").fill("湖南省长沙市")
    form.locator("button[type=submit]").click()
    expect(worker.locator(".collect-slot .queued-note")).to_contain_text("待发送")
    expect(worker.locator("#collect-queued li.queued")).to_contain_text("吴静")
    assert scalar(own_engine, "SELECT count(*) FROM resident WHERE name = '吴静'") == 1
    worker.reload()  # on load the queue is sent again, with the same Idempotency-Key
    worker.wait_for_selector("body[data-ready=true]")
    expect(worker.locator("#queued-banner")).to_be_hidden()
    open_building(worker)
    expect(house_row(worker, "B-W1-1-0101").locator("ul.residents")).to_contain_text("吴静")
    assert scalar(own_engine, "SELECT count(*) FROM resident WHERE name = '吴静'") == 1
    watch.check()
    phone.close()


def test_the_building_view_reads_at_1400_px(server, browser):
    watch = Watch()
    desk = open_context(browser, watch, viewport=WIDE)
    page = watch.page(desk.new_page())
    sign_in(page, server, "/worker", "worker1")
    open_building(page)
    house_row(page, "B-W1-1-0101").locator("button.register").click()
    no_horizontal_scroll(page)
    shoot(page, "worker-collect-building-1400")
    watch.check()
    desk.close()


def test_changes_and_a_move_in_are_sent_from_the_building_view(server, browser, own_engine):
    watch = Watch()
    phone = open_context(browser, watch, viewport=PHONE)
    page = watch.page(phone.new_page())
    sign_in(page, server, "/worker", "worker1")
    open_building(page)

    # The house 0101 becomes rented; only the use is sent, and recorded.
    house_row(page, "B-W1-1-0101").locator("button.edit-house").click()
    form = page.locator("form.collect-form")
    form.locator("select[name=use]").select_option("rented")
    form.locator("button[type=submit]").click()
    expect(house_row(page, "B-W1-1-0101").locator(".status.use-rented")).to_have_text("出租")
    assert (
        scalar(
            own_engine,
            "SELECT c.after::text FROM ledger_change c JOIN staff s ON s.id = c.staff_id "
            "WHERE s.username = 'worker1' AND c.entity = 'house' AND c.action = 'update' "
            "ORDER BY c.id DESC LIMIT 1",
        )
        == '{"use": "rented"}'
    )
    # Sending the form untouched says so and sends nothing.
    house_row(page, "B-W1-1-0101").locator("button.edit-house").click()
    form = page.locator("form.collect-form")
    form.locator("button[type=submit]").click()
    expect(form.locator("p.error")).to_contain_text("没有修改")
    form.locator("button", has_text="取消").click()

    # 刘芳, moved out in the first journey, moves back into 0301: found by her ID number.
    house_row(page, "B-W1-1-0301").locator("button.move-in").click()
    form = page.locator("form.collect-form")
    form.locator("input[name=doc_number]").fill(id_number(9))
    form.locator("button", has_text="查找").click()
    expect(form.locator("[role=status]")).to_contain_text("刘芳")
    form.locator("input[name=reason]").fill("租住")
    form.locator("button[type=submit]").click()
    expect(house_row(page, "B-W1-1-0301").locator("ul.residents")).to_contain_text("刘芳")
    assert (
        scalar(
            own_engine,
            "SELECT count(*) FROM residence r JOIN resident p ON p.id = r.resident_id "
            "WHERE p.name = '刘芳' AND r.moved_out IS NULL AND r.reason = '租住'",
        )
        == 1
    )

    # The organisation becomes a public-security key unit too.
    org = page.locator("li.organisation", has_text="夷陵路便利店")
    org.locator("button", has_text="修改").click()
    form = page.locator("form.collect-form")
    form.locator("input[name=security_key_unit]").check()
    form.locator("button[type=submit]").click()
    expect(org.locator(".status.key-unit", has_text="治安重点")).to_be_visible()
    assert scalar(
        own_engine,
        "SELECT fire_key_unit AND security_key_unit FROM organisation WHERE credit_code = :c",
        c=CREDIT_CODE,
    )
    no_horizontal_scroll(page)
    watch.check()
    phone.close()


def test_a_task_closed_offline_is_closed_once_when_back_online(server, browser, own_engine):
    watch = Watch(tolerated=("ERR_INTERNET_DISCONNECTED",))
    phone = open_context(browser, watch, viewport=PHONE)
    page = watch.page(phone.new_page())
    sign_in(page, server, "/worker", "worker1")
    page.click("[data-tab=visits]")
    # Only the task of the worker's own grid.
    tasks = page.locator("#tasks-list li.task")
    expect(tasks).to_have_count(1)
    expect(tasks.first).to_contain_text("夷陵路12号")
    no_horizontal_scroll(page)
    phone.set_offline(True)
    tasks.first.locator("button", has_text="处理").click()
    form = page.locator("form.collect-form")
    form.locator("button[type=submit]").click()
    expect(form.locator("p.error")).to_contain_text("核实情况")
    form.locator("input[value=dismissed]").check()
    form.locator("textarea[name=note]").fill("房东自住，未出租")
    form.locator("button[type=submit]").click()
    expect(page.locator("#queued-banner")).to_contain_text("待发送 1 条")
    shoot(page, "worker-tasks-queued-390")
    assert scalar(own_engine, "SELECT count(*) FROM worker_task WHERE status = 'open'") == 2

    phone.set_offline(False)
    expect(page.locator("#queued-banner")).to_be_hidden()
    expect(page.locator("#tasks-list")).to_contain_text("暂无待办任务")
    closed = "SELECT count(*) FROM worker_task WHERE status = 'dismissed' AND note = :n"
    assert scalar(own_engine, closed, n="房东自住，未出租") == 1
    assert scalar(own_engine, "SELECT count(*) FROM worker_task WHERE status = 'open'") == 1
    watch.check()
    phone.close()
