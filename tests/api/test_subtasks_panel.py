"""The console's 协办 panel driven in headless Chromium: the assisting unit's dispatcher signs for
and reports their sub-task from the queue; the lead's dispatcher sees the assisting units on the
case with no step of theirs; the command centre waives one with a reason (refused without) and
adds an assisting unit. Same server and database fixtures as the other console tests;
screenshots at 390 and 1400 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from events.schemas import EventReport
from events.service import report_event
from people.access import load_actor
from people.models import Staff
from tests.api.browser import Watch, open_context, shoot, sign_in
from tests.api.console_city import HERE
from tests.events.joint_city import NOISE
from tests.factories import add_staff, add_unit

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def joint_case(own_engine: Engine, page_city: dict[str, Any]) -> str:
    """A noise complaint led by 城管 (UM-1) with 派出所 (PS-W) and 生态环境 (ECO-1) assisting."""
    with Session(own_engine) as session:
        um = add_unit(
            session, "UM-1", "urban_management", location=(111.286, 30.706), name="西陵城管中队"
        )
        eco = add_unit(session, "ECO-1", "ecology", location=(111.29, 30.70), name="西陵生态环境所")
        add_staff(session, "um1", "dispatcher", department_unit_id=um.id)
        add_staff(session, "eco1", "dispatcher", department_unit_id=eco.id)
        worker = session.scalar(select(Staff.id).where(Staff.username == "worker1"))
        report = EventReport(
            category=NOISE,
            lon=HERE["longitude"],
            lat=HERE["latitude"],
            description="深夜KTV噪声扰民",
        )
        code = report_event(
            session,
            actor=load_actor(session, staff_id=worker),
            report=report,
            now=datetime.now(UTC) - timedelta(minutes=30),
        ).code
        session.commit()
    return code


def statuses(engine: Engine, code: str) -> dict[str, str]:
    """Unit code → status of the case's latest sub-task per unit, by SQL."""
    with Session(engine) as session:
        return {
            unit: status
            for unit, status in session.execute(
                text(
                    "SELECT u.code, s.status::text FROM event_subtask s "
                    "JOIN department_unit u ON u.id = s.unit_id "
                    "JOIN event e ON e.id = s.event_id WHERE e.code = :code ORDER BY s.id"
                ),
                {"code": code},
            )
        }


def test_a_joint_case_in_the_console(
    server: str,
    browser: Browser,
    own_engine: Engine,
    joint_case: str,
):
    code = joint_case
    watch = Watch(tolerated=("status of 422", "status of 409"))  # refusals sent on purpose

    # The assisting unit's dispatcher: the sub-task in the queue, signed for, then reported.
    desk = open_context(browser, watch, viewport=DESKTOP)
    page = watch.page(desk.new_page())
    sign_in(page, server, "/console", "eco1")
    panel = page.locator("#subtasks-panel")
    expect(panel).to_contain_text("本单位协办任务")
    item = panel.locator("li.subtask").filter(has_text=code)
    expect(item).to_contain_text("深夜KTV噪声扰民")
    expect(item).to_contain_text("主办 lead: 西陵城管中队")
    expect(item).to_contain_text("签收期限")
    item.get_by_role("button", name="签收 Sign for").click()
    expect(page.locator("#subtasks-status-line")).to_contain_text("签收")
    expect(item).to_contain_text("处置中")
    item.locator("summary", has_text="协办完成").click()
    item.locator("textarea[name=note]").fill("已到场监测，噪声超标，已责令整改")
    shoot(page, "console-subtasks-assisting-1400")
    item.get_by_role("button", name="协办完成 Report our part").click()
    expect(page.locator("#subtasks-list")).to_contain_text("没有协办任务")
    assert statuses(own_engine, code)["ECO-1"] == "done"
    # The case itself: read-only for them, with the assisting units' block.
    page.select_option("#subtasks-status", "done")
    panel.locator("li.subtask").filter(has_text=code).get_by_role("button", name=code).click()
    block = page.locator("#detail-body .joint-block")
    expect(block).to_contain_text("主办 Lead: 西陵城管中队")
    expect(block).to_contain_text("已完成")
    expect(block).to_contain_text("已到场监测")

    # On a phone: the queue and its forms fit the width.
    phone = open_context(browser, watch, viewport=PHONE)
    small = watch.page(phone.new_page())
    sign_in(small, server, "/console", "police1")
    expect(small.locator("#subtasks-panel li.subtask").filter(has_text=code)).to_be_visible()
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    small.locator("#subtasks-panel").scroll_into_view_if_needed()
    shoot(small, "console-subtasks-390")
    phone.close()

    # The lead's dispatcher: the open sub-task named on the case, no step on it for them.
    lead = open_context(browser, watch, viewport=DESKTOP)
    lead_page = watch.page(lead.new_page())
    sign_in(lead_page, server, "/console", "um1")
    lead_page.locator(f"#queue li.event[data-code='{code}'] button").click()
    lead_block = lead_page.locator("#detail-body .joint-block")
    expect(lead_block).to_contain_text("西陵派出所")
    expect(lead_block).to_contain_text("待签收")
    expect(lead_block.locator(".subtask-actions")).to_have_count(0)
    lead.close()

    # The command centre: waive the police's part (a reason is required), add a unit again.
    centre = open_context(browser, watch, viewport=DESKTOP)
    cc = watch.page(centre.new_page())
    sign_in(cc, server, "/console", "command1")
    cc.locator("#subtasks-panel li.subtask").filter(has_text=code).get_by_role(
        "button", name=code
    ).click()
    joint = cc.locator("#detail-body .joint-block")
    police = joint.locator("li.subtask").filter(has_text="西陵派出所")
    waive = police.locator("details").filter(has_text="免除")
    waive.locator("summary").click()
    waive.locator("form").evaluate("form => form.noValidate = true")
    waive.get_by_role("button", name="免除 Waive").click()
    expect(waive.locator(".error")).to_contain_text("reason")
    waive.locator("textarea[name=reason]").fill("城管已劝停，无需公安到场")
    waive.get_by_role("button", name="免除 Waive").click()
    expect(cc.locator("#subtasks-status-line")).to_contain_text("免除")
    assert statuses(own_engine, code)["PS-W"] == "waived"
    joint = cc.locator("#detail-body .joint-block")
    expect(joint).to_contain_text("已免除")
    joint.locator("select[name=unit_id]").select_option(label="西陵派出所（公安）")
    joint.locator("input[name=note]").fill("请派员夜间巡查")
    shoot(cc, "console-subtasks-command-1400")
    joint.get_by_role("button", name="增加协办 Add assisting unit").click()
    expect(cc.locator("#subtasks-status-line")).to_contain_text("增加协办")
    assert statuses(own_engine, code)["PS-W"] == "dispatched"
    expect(cc.locator("#detail-body .joint-block")).to_contain_text("请派员夜间巡查")
    centre.close()
    desk.close()
    watch.check()
