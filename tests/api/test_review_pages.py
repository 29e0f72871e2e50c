"""The console's 退回审核/争议 panel driven in headless Chromium against a real server: the
district command centre accepts a police station's return, sees the second station's return
flagged as a dispute, rules who leads, and turns the ruling into a dispatch rule with one click;
the next such case is routed by it. On a phone, a return is rejected with the ruling.
Screenshots of each step are kept in var/test-artefacts/pages/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from shapely import box
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.api.browser import (
    PHONE,
    WIDE,
    Watch,
    api_client,
    open_context,
    shoot,
    sign_in,
)
from tests.api.console_city import EAST, WEST, two_grids
from tests.factories import (
    DISTRICT,
    add_staff,
    add_unit,
)

SPOT = (111.285, 30.705)  # grid WEST, police station 西站's area


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, Any]:
    """Two police stations split at 111.295 E, a command centre and their accounts."""
    with Session(own_engine) as session:
        two_grids(session)
        west = add_unit(
            session,
            "PS-W",
            "police",
            geom=box(111.27, 30.69, 111.295, 30.72),
            location=(111.285, 30.705),
            name="西陵派出所西站",
        )
        east = add_unit(
            session,
            "PS-E",
            "police",
            geom=box(111.295, 30.69, 111.31, 30.72),
            location=(111.30, 30.705),
            name="西陵派出所东站",
        )
        add_unit(session, "CC", "command_centre", location=(111.29, 30.71), name="西陵区指挥中心")
        add_staff(session, "worker1", "grid_worker", grid_codes=[WEST, EAST])
        add_staff(session, "west1", "dispatcher", department_unit_id=west.id)
        add_staff(session, "east1", "dispatcher", department_unit_id=east.id)
        add_staff(session, "command1", "command", area_code=DISTRICT + "000000")
        ids = {"west": west.id, "east": east.id}
        session.commit()
    return ids


def report(server: str, description: str) -> dict[str, Any]:
    with api_client(server, "worker1") as worker:
        filed = worker.post(
            "/api/events",
            json={"category": "0101", "lon": SPOT[0], "lat": SPOT[1], "description": description},
        )
    assert filed.status_code == 201, filed.text
    return filed.json()


def give_back(server: str, who: str, code: str, reason: str) -> None:
    with api_client(server, who) as unit:
        back = unit.post(f"/api/events/{code}/return", json={"reason": reason})
    assert back.json()["status"] == "returned", back.text


def test_the_centre_accepts_rules_a_dispute_and_makes_it_a_dispatch_rule(server, browser):
    code = report(server, "小区门口有可疑人员反复踩点（争议测试）")["code"]
    give_back(server, "west1", code, "事发地属东站辖区")
    watch = Watch()
    desk = open_context(browser, watch, viewport=WIDE)
    page = watch.page(desk.new_page())
    sign_in(page, server, "/console", "command1")
    panel = page.locator("#review-panel")
    item = panel.locator(f"li.review-item[data-code='{code}']")
    expect(item).to_contain_text("西陵派出所西站 退回")
    expect(item).to_contain_text("事发地属东站辖区")
    expect(item.locator("form[data-action=rule]")).to_have_count(0)
    expect(panel.locator("#review-count-returns")).to_have_text("1")
    shoot(page, "review-returned-1400")
    item.locator("form[data-action=accept-return] button[type=submit]").click()
    expect(panel.locator("#review-status")).to_contain_text("西陵派出所东站")
    expect(item).to_have_count(0)

    give_back(server, "east1", code, "事发地不在本站辖区")
    panel.locator("#review-refresh").click()
    expect(item.locator(".dispute")).to_contain_text("争议待裁定")
    page.click("[data-view=unrouted]")  # the console's list flags the dispute too
    expect(page.locator(f"#queue li.event[data-code='{code}'] .dispute")).to_have_text(
        "争议 Disputed"
    )
    rule = item.locator("form[data-action=rule]")
    rule.locator("button[type=submit]").click()  # nothing chosen: the browser asks for a unit
    expect(panel.locator("#review-status")).not_to_contain_text("已裁定")
    west = rule.locator("select[name=unit_id] option", has_text="西陵派出所西站")
    expect(west).to_contain_text("曾退回")
    rule.locator("select[name=unit_id]").select_option(west.get_attribute("value"))
    rule.locator("input[name=reason]").fill("事发地位于西站辖区，依职责由西站主办")
    shoot(page, "review-dispute-1400")
    rule.locator("button[type=submit]").click()
    expect(panel.locator("#review-status")).to_contain_text("已裁定")
    expect(panel.locator("#review-status")).to_contain_text("西陵派出所西站")

    panel.locator("[data-review-view=rulings]").click()
    ruling = panel.locator("li.review-item").first
    expect(ruling).to_contain_text("事发地位于西站辖区")
    ruling.locator("select[name=area]").select_option("community")
    ruling.locator("button[type=submit]").click()
    expect(panel.locator("#review-status")).to_contain_text("已生成派遣规则")
    expect(panel.locator("li.review-item").first).to_contain_text("已生成派遣规则")
    shoot(page, "review-ruling-1400")

    with api_client(server, "west1") as west_unit:
        again = west_unit.post(f"/api/events/{code}/return", json={"reason": "仍不属本站"})
    assert again.status_code == 409 and "裁定" in again.json()["error"]["message"]
    # A fresh case of the category in the community, inside 东站's area, goes to 西站.
    with api_client(server, "worker1") as worker:
        fresh = worker.post(
            "/api/events",
            json={"category": "0101", "lon": 111.30, "lat": 30.705, "description": "又有可疑人员"},
        ).json()
    assert fresh["unit"]["name"] == "西陵派出所西站"
    watch.check()
    desk.close()


def test_on_a_phone_a_return_is_rejected_with_the_ruling(server, browser):
    code = report(server, "楼下有可疑人员（驳回测试）")["code"]
    give_back(server, "west1", code, "不属于本站")
    watch = Watch()
    phone = open_context(browser, watch, viewport=PHONE)
    page = watch.page(phone.new_page())
    sign_in(page, server, "/console", "command1")
    item = page.locator(f"#review-panel li.review-item[data-code='{code}']")
    reject = item.locator("form[data-action=reject-return]")
    expect(reject).to_contain_text("西陵派出所西站")
    reject.locator("input[name=reason]").fill("经核实属西站辖区，请签收")
    item.scroll_into_view_if_needed()
    shoot(page, "review-returned-390")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"
    reject.locator("button[type=submit]").click()
    expect(page.locator("#review-status")).to_contain_text("已驳回退回")
    expect(item).to_have_count(0)
    with api_client(server, "west1") as west_unit:
        detail = west_unit.get(f"/api/events/{code}").json()
    assert (detail["status"], detail["steps"][-1]["note"]) == (
        "dispatched",
        "经核实属西站辖区，请签收",
    )
    watch.check()
    phone.close()
