"""The console's 督办单 panel driven in headless Chromium: a police station's dispatcher answers
the order addressed to the unit (its reply deadline shown with its light); the command centre
issues a listed order (挂牌督办), records a 约谈 against the unit and lifts the listing. Same
server and database fixtures as the other console tests; screenshots at 390 and 1400 px."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from events.actions import act
from events.models import SupervisionOrder, SupervisionStatus, UnitSanction
from events.schemas import ActionInput, EventReport
from events.service import report_event
from people.access import load_actor
from people.models import Staff
from tests.api.browser import PASSWORD, Watch, open_context, shoot, sign_in
from tests.api.console_city import HERE
from tests.factories import add_staff


def _actor(session: Session, username: str) -> Any:
    staff_id = session.scalar(select(Staff.id).where(Staff.username == username))
    return load_actor(session, staff_id=staff_id)


@pytest.fixture(scope="module")
def supervised(own_engine: Engine, page_city: dict[str, Any]) -> dict[str, str]:
    """Two cases signed for by 西陵派出所; the first has a 重点督办 order waiting for a reply."""
    start = datetime.now(UTC) - timedelta(hours=1)
    codes = {}
    with Session(own_engine) as session:
        worker, police, command = (_actor(session, n) for n in ("worker1", "police1", "command1"))
        for name, words in (("ordered", "楼道堆放杂物堵塞通道"), ("to_list", "小区门口占道经营")):
            report = EventReport(
                category="0101", lon=HERE["longitude"], lat=HERE["latitude"], description=words
            )
            code = report_event(session, actor=worker, report=report, now=start).code
            act(session, actor=police, code=code, action="sign", data=ActionInput(), now=start)
            codes[name] = code
        act(
            session,
            actor=command,
            code=codes["ordered"],
            action="supervise",
            data=ActionInput(level="key", note="请今日内清理并回复"),
            now=start + timedelta(minutes=10),
        )
        add_staff(session, "leader1", "leader", area_code="420502000000")
        session.commit()
    return codes


def test_a_unit_answers_its_order_and_the_centre_lists_sanctions_and_lifts(
    server: str,
    browser: Browser,
    own_engine: Engine,
    supervised: dict[str, str],
):
    watch = Watch()
    # The unit's dispatcher on a phone: the open order with its deadline, answered in place.
    phone = open_context(browser, watch, viewport={"width": 390, "height": 844})
    small = watch.page(phone.new_page())
    sign_in(small, server, "/console", "police1")
    small.wait_for_selector("#supervision-list[data-shown=open]")
    panel = small.locator("#supervision-panel")
    order = panel.locator("li.order[data-level=key]")
    expect(order).to_contain_text("请今日内清理并回复")
    expect(order).to_contain_text("回复时限")
    expect(order.locator(".light")).to_have_count(1)
    expect(panel.locator("#supervision-issue")).to_have_count(0)  # units do not issue
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    panel.scroll_into_view_if_needed()
    shoot(small, "console-supervision-unit-390")
    order.locator("textarea[name=reply]").fill("已组织清理完毕，通道畅通")
    order.locator("button[type=submit]").click()
    expect(small.locator("#supervision-status")).to_contain_text("已回复")
    expect(order).to_have_count(0)
    # The case's detail lists its 督办单 with the reply, after the order left the open list.
    small.locator(f"#queue li.event[data-code='{supervised['ordered']}'] button.row-button").click()
    orders = small.locator("#detail-body .supervision-orders")
    expect(orders).to_contain_text("重点督办")
    expect(orders).to_contain_text("请今日内清理并回复")
    expect(orders).to_contain_text("已组织清理完毕，通道畅通")
    phone.close()

    # The command centre at a desk: issue a listed order, record a 约谈, lift the listing.
    desk = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(desk.new_page())
    sign_in(page, server, "/console", "command1")
    page.wait_for_selector("#supervision-list[data-shown=open]")
    panel = page.locator("#supervision-panel")
    panel.locator("#supervision-issue summary").click()
    form = panel.locator("#supervision-issue-form")
    form.locator("input[name=event]").fill(supervised["to_list"])
    form.locator("select[name=level]").select_option("listed")
    form.locator("textarea[name=demand]").fill("挂牌督办：三日内整改到位")
    form.locator("button[type=submit]").click()
    expect(page.locator("#supervision-status")).to_contain_text("挂牌督办")
    page.click("[data-supervision-view=listed]")
    page.wait_for_selector("#supervision-list[data-shown=listed]")
    listed = panel.locator("li.order[data-level=listed]")
    expect(listed).to_contain_text("挂牌督办：三日内整改到位")
    expect(page.locator("#supervision-count-listed")).to_have_text("1")
    listed.scroll_into_view_if_needed()
    shoot(page, "console-supervision-centre-1400")
    sanction = listed.locator("form.sanction")
    sanction.locator("select[name=kind]").select_option("interview")
    sanction.locator("input[name=reason]").fill("占道经营反复发生")
    sanction.locator("button[type=submit]").click()
    expect(page.locator("#supervision-status")).to_contain_text("已记录")
    lift = listed.locator("form.lift")
    lift.locator("input[name=reason]").fill("已整改到位")
    lift.locator("button[type=submit]").click()
    expect(page.locator("#supervision-status")).to_contain_text("已摘牌")
    expect(panel.locator("li.order[data-level=listed]")).to_have_count(0)
    page.click("[data-supervision-view=sanctions]")
    page.wait_for_selector("#supervision-list[data-shown=sanctions]")
    expect(panel.locator("li.order")).to_contain_text("占道经营反复发生")
    watch.check()
    desk.close()

    with Session(own_engine) as session:
        orders = session.scalars(select(SupervisionOrder).order_by(SupervisionOrder.id)).all()
        sanctions = session.scalars(select(UnitSanction)).all()
    assert [(o.level.value, o.status) for o in orders] == [
        ("key", SupervisionStatus.REPLIED),
        ("listed", SupervisionStatus.LIFTED),
    ]
    assert orders[0].replied_on_time is True and orders[1].lift_reason == "已整改到位"
    assert [(s.kind.value, s.reason) for s in sanctions] == [("interview", "占道经营反复发生")]


def map_sign_in(page: Any, base: str) -> None:
    """Sign in as leader1 on the way to /maps/leader (a map page has no ready flag)."""
    page.goto(f"{base}/maps/leader")
    page.fill("input[name=username]", "leader1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(f"{base}/maps/leader")))


def test_the_leaders_map_flags_a_listed_case_until_it_is_lifted(
    server: str,
    browser: Browser,
    own_engine: Engine,
    supervised: dict[str, str],
):
    with Session(own_engine) as session:
        command = _actor(session, "command1")
        act(
            session,
            actor=command,
            code=supervised["ordered"],
            action="supervise",
            data=ActionInput(level="listed", note="挂牌督办：通道堵塞限期整改"),
        )
        session.commit()
        order_id = session.scalar(
            select(SupervisionOrder.id)
            .where(SupervisionOrder.level == "listed")
            .order_by(SupervisionOrder.id.desc())
        )
    watch = Watch()
    for width, height in ((1400, 900), (390, 844)):
        context = open_context(browser, watch, viewport={"width": width, "height": height})
        page = watch.page(context.new_page())
        map_sign_in(page, server)
        page.wait_for_function("window.gridgov && gridgov.layers && gridgov.layers.listed")
        assert page.evaluate("gridgov.layers.listed.getLayers().length") == 1
        legend = page.locator("#gg-listed-legend")
        expect(legend).to_contain_text("挂牌督办 1 件")
        popup = page.evaluate(
            "(() => { const m = gridgov.layers.listed.getLayers()[0]; m.openPopup();"
            " return m.getPopup().getContent().outerHTML || m.getPopup()._content; })()"
        )
        assert "挂牌督办：通道堵塞限期整改" in popup and "查看事件" not in popup  # no link
        expect(page.locator("#gg-listed")).to_have_text("1")
        shoot(page, f"leader-map-listed-{width}")
        context.close()
    with Session(own_engine) as session:
        from events.supervision import lift

        lift(session, actor=_actor(session, "command1"), order_id=order_id, reason="整改到位")
        session.commit()
    context = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(context.new_page())
    map_sign_in(page, server)
    page.wait_for_function("window.gridgov && gridgov.layers && gridgov.layers.listed")
    assert page.evaluate("gridgov.layers.listed.getLayers().length") == 0
    expect(page.locator("#gg-listed-legend")).to_contain_text("挂牌督办 0 件")
    context.close()
    watch.check()
