"""出租登记 on /worker's 采集 view, driven in headless Chromium against a real server: a grid
worker finds the landlord by ID number, fills the rental form with no connection, sees it
waiting (待发送), and when the connection returns it arrives exactly once; the house then shows
its rental with its risk grade, and 退租 moves the tenants out.

The server is a real uvicorn process on loopback on a database of its own (the pages commit);
counts are read back with plain SQL. Screenshots at 390 px and 1400 px are kept in
var/test-artefacts/pages/.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from people import organisations as organisation_service
from people import rentals as rental_service
from people import service as people_service
from people.credit_code import make_credit_code
from people.schemas import OrganisationCreate, RentalCreate, ResidentCreate
from tests.api.browser import Watch, assert_fits_phone, open_context, shoot, sign_in
from tests.api.console_city import WEST, add_b_w1, two_grids
from tests.factories import add_house, add_staff, china_today, id_number

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 900}
LANDLORD = id_number(61, birth=date(1962, 3, 8))
TENANTS = ("陈一", "陈二", "陈三")


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, Any]:
    """A worker of grid WEST with building B-W1: house 0101 where three people live, house
    0201 where the landlord 王强 lives, and a shop registered in the building."""
    with Session(own_engine) as session:
        two_grids(session)
        west = add_b_w1(session, floors=6)
        add_house(session, west, room="0101")
        add_house(session, west, room="0201", floor=2)
        add_staff(session, "worker1", "grid_worker", grid_codes=[WEST])
        # An inspector (督查员) given a grid as well as its area sees that grid's buildings.
        add_staff(session, "inspector1", "inspector", area_code=WEST[:12], grid_codes=[WEST])
        admin = add_staff(session, "admin1", "admin")
        people = [("王强", LANDLORD, "B-W1-1-0201")] + [
            (name, id_number(70 + i), "B-W1-1-0101") for i, name in enumerate(TENANTS)
        ]
        for name, number, house in people:
            people_service.register_resident(
                session,
                actor=admin,
                data=ResidentCreate(
                    doc_number=number, name=name, house_code=house, moved_in=date(2024, 3, 1)
                ),
            )
        organisation_service.register_organisation(
            session,
            actor=admin,
            data=OrganisationCreate(
                credit_code=make_credit_code("420502", 91),
                name="夷陵路物业公司",
                org_type="enterprise",
                building_code="B-W1",
            ),
        )
        session.commit()
    return {}


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def open_building(page: Page) -> None:
    page.click("[data-tab=buildings]")
    page.locator("#buildings-list li.building", has_text="夷陵路12号").locator(
        "button.collect"
    ).click()
    expect(page.locator("#detail-body h2")).to_contain_text("夷陵路12号")


def house_row(page: Page, code: str):
    return page.locator(f"li.house[data-house='{code}']")


RENTALS_OF_0101 = (
    "SELECT count(*) FROM rental r JOIN house h ON h.id = r.house_id "
    "JOIN building b ON b.id = h.building_id WHERE b.code = 'B-W1' AND h.room = '0101'"
)


def test_a_rental_registered_offline_arrives_once_shows_its_grade_and_closes(
    server, browser, own_engine
):
    watch = Watch(tolerated=("ERR_INTERNET_DISCONNECTED",))
    phone = open_context(browser, watch, viewport=PHONE)
    page = watch.page(phone.new_page())
    sign_in(page, server, "/worker", "worker1")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    open_building(page)
    row = house_row(page, "B-W1-1-0101")
    expect(row.locator("ul.residents li")).to_have_count(3)
    expect(row.locator(".rental")).to_have_count(0)

    row.locator("button.register-rental").click()
    form = page.locator("form.collect-form")
    # The organisations of the building are offered as landlords too.
    form.locator("select[name=landlord_kind]").select_option("organisation")
    expect(form.locator("select[name=landlord_organisation_id]")).to_contain_text("夷陵路物业公司")
    form.locator("select[name=landlord_kind]").select_option("resident")
    # The landlord is found by ID number while online (as for a move-in) …
    form.locator("input[name=doc_number]").fill(LANDLORD)
    form.locator("button", has_text="查找").click()
    expect(form.locator(".landlord-resident [role=status]")).to_contain_text("王强")

    # … and the form is sent with no connection.
    phone.set_offline(True)
    expect(page.locator("#banner")).to_contain_text("离线")
    form.locator("input[name=lease_end]").fill("2026-01-01")
    form.locator("input[name=lease_start]").fill("2026-06-01")
    form.locator("input[name=rooms]").fill("1")
    form.locator("button[type=submit]").click()
    expect(form.locator("p.error")).to_contain_text("租期止不能早于租期起")
    lease_start = china_today().replace(day=1).isoformat()
    form.locator("input[name=lease_start]").fill(lease_start)
    form.locator("input[name=lease_end]").fill("")
    form.locator("input[name=responsibility_signed_on]").fill(lease_start)
    assert_fits_phone(page)
    shoot(page, "worker-rental-form-390")
    form.locator("button[type=submit]").click()
    expect(row).to_contain_text("待发送")
    expect(page.locator("#collect-queued li.queued")).to_have_count(1)
    expect(page.locator("#collect-queued li.queued")).to_contain_text("出租登记")
    expect(page.locator("#collect-queued li.queued")).not_to_contain_text(LANDLORD)
    shoot(page, "worker-rental-queued-390")
    assert scalar(own_engine, RENTALS_OF_0101) == 0

    phone.set_offline(False)
    expect(page.locator("#queued-banner")).to_be_hidden()
    expect(page.locator("#banner")).to_contain_text("已发送 1 条")
    # Three tenants in the one room let: more than 2 a room, 群租 suspected, so 高.
    rental = row.locator(".rental")
    expect(rental.locator(".status.risk")).to_have_text("风险 高 High")
    expect(rental.locator(".risk-reasons")).to_contain_text("群租")
    expect(rental.locator(".tenants")).to_contain_text("租客 3 人")
    expect(rental).to_contain_text("王强")
    expect(row.locator("button.register-rental")).to_have_count(0)
    assert_fits_phone(page)
    shoot(page, "worker-rental-sent-390")
    assert scalar(own_engine, RENTALS_OF_0101) == 1
    assert (
        scalar(
            own_engine,
            "SELECT count(*) FROM rental_tenant t JOIN resident p ON p.id = t.resident_id "
            "WHERE p.name IN ('陈一', '陈二', '陈三') AND t.moved_out IS NULL",
        )
        == 3
    )
    # Sent once: a reload sends nothing again.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_timeout(500)
    assert scalar(own_engine, RENTALS_OF_0101) == 1

    # At 1400 px the rental reads on one line with its reasons.
    desk = open_context(browser, watch, viewport=WIDE)
    wide = watch.page(desk.new_page())
    sign_in(wide, server, "/worker", "worker1")
    open_building(wide)
    expect(house_row(wide, "B-W1-1-0101").locator(".rental")).to_contain_text("高")
    house_row(wide, "B-W1-1-0201").locator("button.register-rental").click()
    shoot(wide, "worker-rental-1400")
    overflow = wide.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    desk.close()

    # 退租: the rental closes and its tenants move out that day.
    open_building(page)
    row.locator("button.close-rental").click()
    form = page.locator("form.collect-form")
    expect(form).to_contain_text("租客 3 人")
    shoot(page, "worker-rental-close-390")
    form.locator("button[type=submit]").click()
    expect(row.locator(".rental")).to_have_count(0)
    expect(row.locator("button.register-rental")).to_be_visible()
    assert (
        scalar(
            own_engine,
            RENTALS_OF_0101.replace("count(*)", "r.status::text"),
        )
        == "closed"
    )
    moved_out = (
        "SELECT count(*) FROM rental_tenant t JOIN resident p ON p.id = t.resident_id "
        "WHERE p.name IN ('陈一', '陈二', '陈三') AND t.moved_out {}"
    )
    assert scalar(own_engine, moved_out.format("= :d"), d=china_today()) == 3
    assert scalar(own_engine, moved_out.format("IS NULL")) == 0
    watch.check()
    phone.close()


def test_an_inspector_sees_rentals_but_no_rental_buttons(server, browser, own_engine):
    with Session(own_engine) as session:
        admin = add_staff(session, "admin2", "admin")
        organisation_id = scalar(own_engine, "SELECT id FROM organisation LIMIT 1")
        rental_service.register_rental(
            session,
            actor=admin,
            data=RentalCreate(
                house_code="B-W1-1-0201",
                landlord_organisation_id=organisation_id,
                lease_start=china_today(),
            ),
        )
        session.commit()
    watch = Watch()
    for viewport, name in ((PHONE, "390"), (WIDE, "1400")):
        context = open_context(browser, watch, viewport=viewport)
        page = watch.page(context.new_page())
        sign_in(page, server, "/worker", "inspector1")
        open_building(page)
        row = house_row(page, "B-W1-1-0201")
        # The rental and its grade are shown; 督查员 cannot register or close rentals.
        expect(row.locator(".rental")).to_contain_text("夷陵路物业公司")
        expect(page.locator("button.close-rental")).to_have_count(0)
        expect(page.locator("button.register-rental")).to_have_count(0)
        shoot(page, f"worker-rental-inspector-{name}")
        context.close()
    # The grid worker next to them keeps both buttons.
    context = open_context(browser, watch, viewport=PHONE)
    page = watch.page(context.new_page())
    sign_in(page, server, "/worker", "worker1")
    open_building(page)
    expect(house_row(page, "B-W1-1-0201").locator("button.close-rental")).to_have_count(1)
    expect(house_row(page, "B-W1-1-0101").locator("button.register-rental")).to_have_count(1)
    context.close()
