"""The command centre's whole workflow (issue #13's "Done when") as one journey through the
pages, in headless Chromium against a real server: no step of the journey is taken through
the API.

A grid worker reports two 邻里纠纷 (0302: a community matter; 司法所 leads, 公安 assists) on
/worker. The community's 综治工作站 resolves the first on the spot (就地解决). The second is
beyond it: the community escalates it (上报) to the street's 综治中心, the street to the
district's 指挥中心, which registers (立案) and dispatches it as proposed: 西站司法所 leads,
西陵派出所 assists with a sub-task (协办). 西站 returns it; the centre accepts the return on the
退回审核 panel and it goes to 东站, which returns it too: a dispute, ruled on the panel (西站
leads, binding) and made a dispatch rule. A 督办单 on the 督办 panel forces 西站's reply. The
police station reports its sub-task on the 协办 panel; 西站 is not offered 处置完成 until then, and
reports it after. The grid worker checks both fixes on /worker (photo, position); the centres
close them; the 考核通报 page shows 西站's figures. The end state is then read from the
database. Desk steps at 1400 px, the worker's and one dispatcher's at 390 px; screenshots in
var/test-artefacts/pages/journey-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from shapely import box
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from events.models import (
    DispatchRule,
    DisputeRuling,
    Event,
    EventEvaluation,
    EventStatus,
    EventStep,
    EventSubtask,
    SubtaskStatus,
    SupervisionOrder,
    SupervisionStatus,
)
from gis.clock import local_today
from tests.api.browser import PHONE, WIDE, Watch, open_context, shoot, sign_in
from tests.api.console_city import EAST, HERE, WEST, add_b_w1, two_grids
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    STREET,
    add_house,
    add_staff,
    add_unit,
)

DISPUTE = "0302"  # 邻里纠纷: starts at the community, not auto-registered; 司法所 + 公安
RESOLVED = "楼上漏水殃及楼下，双方争执（社区调解）"
JOINT = "邻里因加装电梯长期纠纷，多次冲突（联合调处）"
MONTH = f"{local_today():%Y-%m}"


# -- the city ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, int]:
    """Two grids; two 司法所 split at 111.295 E and a police station over both; centres at the
    community, street and district with their staff; the units' dispatchers; a grid worker."""
    with Session(own_engine) as session:
        two_grids(session)
        add_house(session, add_b_w1(session), room="0101")
        west = add_unit(
            session,
            "SF-W",
            "justice",
            geom=box(111.27, 30.69, 111.295, 30.72),
            location=(111.285, 30.705),
            name="西陵司法所西站",
        )
        east = add_unit(
            session,
            "SF-E",
            "justice",
            geom=box(111.295, 30.69, 111.31, 30.72),
            location=(111.30, 30.705),
            name="西陵司法所东站",
        )
        police = add_unit(
            session, "PS-W", "police", geom=box(111.27, 30.69, 111.31, 30.73), name="西陵派出所"
        )
        district = add_unit(
            session, "CC", "command_centre", location=(111.29, 30.71), name="西陵区指挥中心"
        )
        street = add_unit(
            session, "ZZ-S", "command_centre", location=(111.29, 30.706), name="西陵街道综治中心"
        )
        street.area_code = STREET[:9]
        community = add_unit(
            session, "ZZ-C", "command_centre", location=(111.29, 30.705), name="测试社区综治工作站"
        )
        community.area_code = COMMUNITY
        add_staff(session, "worker1", "grid_worker", grid_codes=[WEST, EAST])
        add_staff(session, "community1", "command", area_code=COMMUNITY)
        add_staff(session, "street1", "command", area_code=STREET)
        add_staff(session, "command1", "command", area_code=DISTRICT + "000000")
        add_staff(session, "west1", "dispatcher", department_unit_id=west.id)
        add_staff(session, "east1", "dispatcher", department_unit_id=east.id)
        add_staff(session, "police1", "dispatcher", department_unit_id=police.id)
        ids = {
            "west": west.id,
            "east": east.id,
            "police": police.id,
            "district": district.id,
            "street": street.id,
            "community": community.id,
        }
        session.commit()
    return ids


# -- steps on the pages -------------------------------------------------------------------------


def report_dispute(page: Page, description: str, *, previous: str | None = None) -> str:
    """File a 邻里纠纷 at the phone's position on /worker; the code the page answers with (once
    it no longer shows the `previous` report's)."""
    page.click("[data-tab=report]")
    page.click("#use-gps")
    expect(page.locator("#where-text")).to_contain_text("定位 GPS")
    page.fill("#category-search", "邻里纠纷")
    expect(page.locator("#category option")).to_have_count(1)
    page.select_option("#category", DISPUTE)
    page.fill("textarea[name=description]", description)
    page.click("#report-submit")
    result = page.locator("#report-result")
    expect(result).to_contain_text("已上报")
    if previous:
        expect(result.locator("b")).not_to_have_text(f"已上报 Reported: {previous}")
    expect(result).to_contain_text("待立案")  # a dispute waits for the community's judgement
    return re.search(r"Reported: (\S+)", result.inner_text()).group(1)


def tier_row(page: Page, words: str) -> Any:
    return page.locator("#tiers-list li.event", has_text=words)


def open_in_tiers(page: Page, words: str) -> Any:
    """Open the case described `words` from the tier queue; its detail."""
    tier_row(page, words).locator("button.row-button").click()
    detail = page.locator("#tiers-detail")
    expect(detail.locator(".description")).to_have_text(words)
    return detail


def act_with_form(detail: Any, action: str, **fields: str) -> None:
    """Open the action's form in an event view, fill its fields and send it."""
    detail.locator(f"button[data-action={action}]").click()
    form = detail.locator(f"form[data-action={action}]")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()


def escalate(page: Page, words: str, reason: str) -> None:
    page.wait_for_selector("#tiers[data-ready=true]")
    detail = open_in_tiers(page, words)
    act_with_form(detail, "escalate", reason=reason)
    expect(tier_row(page, words)).to_have_count(0)


def open_in_queue(page: Page, code: str) -> Any:
    """Open the case from the console's queue; its detail."""
    page.locator(f"#queue li.event[data-code='{code}'] button.row-button").click()
    detail = page.locator("#detail-body")
    expect(detail.locator("h2")).to_have_text(code)
    return detail


def verify_on_site(page: Page, code: str, photo: Any) -> None:
    """The grid worker's 核查通过 of a handled case on /worker, with a photo, at the spot."""
    page.click("[data-tab=events]")
    page.select_option("#events-filter", "handled")
    page.locator(f"#events-list li.event[data-code='{code}'] button.row-button").click()
    verify = page.locator("#detail-body")
    expect(verify.locator("h2")).to_have_text(code)
    verify.locator("button[data-action=verify]").click()
    form = verify.locator("form[data-action=verify]")
    form.locator("input[name=photos]").set_input_files(str(photo))
    form.locator("textarea[name=note]").fill("现场回访：双方已达成一致")
    form.locator("button[type=submit]").click()
    expect(verify.locator(".event-head .status")).to_have_text("已核查")
    page.click("#detail-back")


def close_from_list(page: Page, code: str) -> None:
    """结案 from the console's 待结案 list."""
    page.click("[data-view=closing]")
    page.wait_for_selector("#queue[data-shown=closing]")
    detail = open_in_queue(page, code)
    detail.locator("button[data-action=close]").click()
    expect(detail.locator(".event-head .status")).to_have_text("已结案")


def narrow(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"


# -- the journey --------------------------------------------------------------------------------


def test_a_case_travels_every_path_of_the_centre_through_the_pages(
    server: str,
    browser: Browser,
    own_engine: Engine,
    page_city: dict[str, int],
    photo: Any,
):
    watch = Watch()

    refused: list[str] = []  # what a page asked for and was refused, to name in a failure

    def watched(context: Any) -> Any:
        context.on("response", lambda r: r.status >= 400 and refused.append(f"{r.status} {r.url}"))
        return context

    def desk(username: str, viewport: dict[str, int] = WIDE) -> Page:
        context = watched(open_context(browser, watch, viewport=viewport))
        page = watch.page(context.new_page())
        sign_in(page, server, "/console", username)
        return page

    # 受理: the grid worker reports both disputes from a phone.
    phone = watched(
        open_context(
            browser,
            watch,
            viewport=PHONE,
            geolocation=HERE,
            permissions=["geolocation"],
            service_workers="block",
        )
    )
    worker = watch.page(phone.new_page())
    sign_in(worker, server, "/worker", "worker1")
    resolved = report_dispute(worker, RESOLVED)
    joint = report_dispute(worker, JOINT, previous=resolved)
    shoot(worker, "journey-worker-report-390")

    # The community's 综治工作站: resolves the first on the spot, escalates the second.
    community = desk("community1")
    community.wait_for_selector("#tiers[data-ready=true]")
    expect(community.locator("#tiers-tier")).to_contain_text("社区")
    expect(community.locator("#tiers-count-pending")).to_have_text("2")
    detail = open_in_tiers(community, RESOLVED)
    act_with_form(detail, "resolve", note="社区调解员上门调解，双方签订调解协议")
    expect(detail.locator(".event-head .status")).to_have_text("已处置")
    escalate(community, JOINT, "涉及加装电梯审批，超出社区调处能力")
    shoot(community, "journey-community-1400")

    # The street's 综治中心 sends it on up to the district.
    street = desk("street1")
    street.wait_for_selector("#tiers[data-ready=true]")
    expect(street.locator("#tiers-tier")).to_contain_text("街道")
    expect(tier_row(street, JOINT)).to_contain_text("待立案")
    escalate(street, JOINT, "需区级部门联合调处")

    # The district's 指挥中心: 立案, then 派遣 as proposed — a joint case.
    centre = desk("command1")
    centre.wait_for_selector("#tiers[data-ready=true]")
    detail = open_in_tiers(centre, JOINT)
    expect(detail.locator(".history")).to_contain_text("涉及加装电梯审批，超出社区调处能力")
    expect(detail.locator(".history")).to_contain_text("需区级部门联合调处")
    detail.locator("button[data-action=register]").click()
    expect(detail).to_contain_text("已立案")
    centre.click("[data-tier-view=registered]")
    open_in_tiers(centre, JOINT)
    proposal = centre.locator("#tiers-proposal")
    expect(proposal).to_contain_text("西陵司法所西站")
    expect(proposal).to_contain_text("协办 Assisting: 西陵派出所")
    shoot(centre, "journey-centre-proposal-1400")
    proposal.locator("button[data-action=accept-proposal]").click()
    expect(centre.locator("#tiers-detail .event-head .status")).to_have_text("已派遣")
    expect(centre.locator("#tiers-detail")).to_contain_text("西陵司法所西站")
    # Registered where the escalations brought it: the district holds it, not the community.
    expect(centre.locator("#tiers-detail .facts")).to_contain_text("区县 district")
    expect(centre.locator("#tiers-detail .history")).to_contain_text("立案 Register")
    shoot(centre, "journey-centre-dispatched-1400")

    # 西站 returns it; on the 退回审核 panel the centre agrees: the rules send it to 东站.
    west = desk("west1")
    detail = open_in_queue(west, joint)
    act_with_form(detail, "return", reason="当事人住所属东站辖区")
    expect(detail.locator(".event-head .status")).to_have_text("已退回")
    expect(detail.locator(".joint-block")).to_have_count(0)  # no longer theirs: nothing asked
    review = centre.locator("#review-panel")
    review.locator("#review-refresh").click()
    item = review.locator(f"li.review-item[data-code='{joint}']")
    expect(item).to_contain_text("西陵司法所西站 退回")
    expect(item).to_contain_text("当事人住所属东站辖区")
    item.locator("form[data-action=accept-return] button[type=submit]").click()
    expect(review.locator("#review-status")).to_contain_text("西陵司法所东站")
    expect(item).to_have_count(0)

    # 东站 returns it too: a jurisdiction dispute, ruled on the panel and made a dispatch rule.
    east = desk("east1")
    detail = open_in_queue(east, joint)
    act_with_form(detail, "return", reason="纠纷发生地在西站辖区")
    expect(detail.locator(".event-head .status")).to_have_text("已退回")
    expect(detail.locator(".joint-block")).to_have_count(0)  # no longer theirs: nothing asked
    review.locator("#review-refresh").click()
    expect(item.locator(".dispute")).to_contain_text("争议待裁定")
    rule = item.locator("form[data-action=rule]")
    lead = rule.locator("select[name=unit_id] option", has_text="西陵司法所西站")
    expect(lead).to_contain_text("曾退回")
    rule.locator("select[name=unit_id]").select_option(lead.get_attribute("value"))
    rule.locator("input[name=reason]").fill("纠纷发生地位于西站辖区，依职责由西站主办")
    shoot(centre, "journey-dispute-1400")
    rule.locator("button[type=submit]").click()
    expect(review.locator("#review-status")).to_contain_text("已裁定")
    expect(review.locator("#review-status")).to_contain_text("西陵司法所西站")
    review.locator("[data-review-view=rulings]").click()
    ruling = review.locator("li.review-item", has_text="依职责由西站主办")
    ruling.locator("select[name=area]").select_option("community")
    ruling.locator("button[type=submit]").click()
    expect(review.locator("#review-status")).to_contain_text("已生成派遣规则")

    # A 督办单 from the centre's 督办 panel; 西站 answers it from a phone.
    supervision = centre.locator("#supervision-panel")
    supervision.locator("#supervision-issue summary").click()
    issue = supervision.locator("#supervision-issue-form")
    issue.locator("input[name=event]").fill(joint)
    issue.locator("select[name=level]").select_option("key")
    issue.locator("textarea[name=demand]").fill("请于今日内签收并书面回复调处安排")
    issue.locator("button[type=submit]").click()
    expect(centre.locator("#supervision-status")).to_contain_text("重点督办")
    west_phone = desk("west1", PHONE)
    west_phone.wait_for_selector("#supervision-list[data-shown=open]")
    order = west_phone.locator("#supervision-panel li.order[data-level=key]")
    expect(order).to_contain_text("请于今日内签收并书面回复调处安排")
    expect(order).to_contain_text("回复时限")
    order.locator("textarea[name=reply]").fill("已签收，定于明日上午组织双方调解")
    narrow(west_phone)
    order.scroll_into_view_if_needed()
    shoot(west_phone, "journey-supervision-reply-390")
    order.locator("button[type=submit]").click()
    expect(west_phone.locator("#supervision-status")).to_contain_text("已回复")
    expect(order).to_have_count(0)

    # 西站 signs for the case; 处置完成 is not offered while the police's sub-task is open.
    west.reload()
    west.wait_for_selector("body[data-ready=true]")
    detail = open_in_queue(west, joint)
    expect(detail.locator(".joint-block")).to_contain_text("西陵派出所")
    expect(detail).to_contain_text("协办 Assisting: 西陵派出所")  # 派遣说明 names the unit
    detail.locator("button[data-action=sign]").click()
    expect(detail.locator(".event-head .status")).to_have_text("处置中")
    expect(detail.locator("button[data-action=extend]")).to_have_count(1)
    expect(detail.locator("button[data-action=handle]")).to_have_count(0)

    # The assisting police station signs for and reports its sub-task on the 协办 panel.
    police = desk("police1")
    task = police.locator("#subtasks-panel li.subtask").filter(has_text=joint)
    expect(task).to_contain_text("主办 lead: 西陵司法所西站")
    task.get_by_role("button", name="签收 Sign for").click()
    expect(police.locator("#subtasks-status-line")).to_contain_text("签收")
    task.locator("summary", has_text="协办完成").click()
    task.locator("textarea[name=note]").fill("民警到场维持秩序，双方情绪稳定")
    task.get_by_role("button", name="协办完成 Report our part").click()
    expect(police.locator("#subtasks-list")).to_contain_text("没有协办任务")

    # Now 西站 reports it handled.
    west.reload()
    west.wait_for_selector("body[data-ready=true]")
    detail = open_in_queue(west, joint)
    act_with_form(detail, "handle", note="双方达成调解协议，电梯加装方案已协商一致")
    expect(detail.locator(".event-head .status")).to_have_text("已处置")

    # 核查 by the grid worker on the phone, for both cases; 结案 by the centres.
    verify_on_site(worker, resolved, photo)
    verify_on_site(worker, joint, photo)
    shoot(worker, "journey-worker-verified-390")
    community.reload()
    community.wait_for_selector("body[data-ready=true]")
    # The community's 待结案 holds its own case, not the one the district holds.
    community.click("[data-view=closing]")
    community.wait_for_selector("#queue[data-shown=closing]")
    expect(community.locator(f"#queue li.event[data-code='{resolved}']")).to_have_count(1)
    expect(community.locator(f"#queue li.event[data-code='{joint}']")).to_have_count(0)
    close_from_list(community, resolved)
    centre.reload()
    centre.wait_for_selector("body[data-ready=true]")
    close_from_list(centre, joint)
    expect(centre.locator("#detail-body table.stages tr[data-stage=close]")).to_contain_text("按时")
    shoot(centre, "journey-closed-1400")

    # 考核通报: the month's ranking shows 西站's figures.
    centre.goto(f"{server}/reports/bulletin?month={MONTH}")
    rows = centre.locator("#ranking tbody tr")
    expect(rows).to_have_count(2)
    community_row = rows.filter(has_text="测试社区综治工作站")
    expect(community_row.locator("td")).to_have_text(
        ["1", "测试社区综治工作站", "100.00", "优", "1", "100.0%", "0", "0", "0.0%", "0", "0", "–"]
    )
    west_row = rows.filter(has_text="西陵司法所西站")
    # 100 − 5 × 2 returns − 5 for the 督办单 = 85 (良); on time throughout.
    expect(west_row.locator("td")).to_have_text(
        ["2", "西陵司法所西站", "85.00", "良", "1", "100.0%", "0", "2", "0.0%", "1", "0", "–"]
    )
    shoot(centre, "journey-bulletin-1400")
    assert refused == []
    watch.check()

    # -- the end state, read from the database ------------------------------------------------
    with Session(own_engine) as session:
        first = session.scalars(select(Event).where(Event.code == resolved)).one()
        case = session.scalars(select(Event).where(Event.code == joint)).one()
        steps = session.scalars(
            select(EventStep).where(EventStep.event_id == case.id).order_by(EventStep.id)
        ).all()
        first_steps = session.scalars(
            select(EventStep.action).where(EventStep.event_id == first.id).order_by(EventStep.id)
        ).all()
        subtasks = session.scalars(
            select(EventSubtask).where(EventSubtask.event_id == case.id).order_by(EventSubtask.id)
        ).all()
        rulings = session.scalars(select(DisputeRuling)).all()
        rules = session.scalars(
            select(DispatchRule).where(DispatchRule.category_code == DISPUTE)
        ).all()
        orders = session.scalars(select(SupervisionOrder)).all()
        scores = dict(
            session.execute(
                select(EventEvaluation.event_id, EventEvaluation.score).where(
                    EventEvaluation.event_id.in_([first.id, case.id])
                )
            ).all()
        )
        session.expunge_all()

    assert (first.status, first.tier.value, first.unit_id) == (
        EventStatus.CLOSED,
        "community",
        page_city["community"],
    )
    assert first_steps == ["report", "resolve", "verify", "close"]
    assert (case.status, case.tier.value, case.unit_id) == (
        EventStatus.CLOSED,
        "district",
        page_city["west"],
    )
    assert [s.action for s in steps] == [
        "report",
        "escalate",
        "escalate",
        "register",
        "dispatch",
        "return",
        "accept-return",
        "return",
        "rule",
        "supervise",
        "supervise-reply",
        "sign",
        "subtask-sign",
        "subtask-report",
        "handle",
        "verify",
        "close",
    ]
    (ruled,) = rulings
    assert (ruled.event_id, ruled.unit_ids, ruled.unit_id) == (
        case.id,
        [page_city["west"], page_city["east"]],
        page_city["west"],
    )
    assert ruled.reasoning == "纠纷发生地位于西站辖区，依职责由西站主办"
    assert [(r.area_prefix, r.fixed_unit_id) for r in rules] == [(COMMUNITY, page_city["west"])]
    # Sub-tasks: the first dispatch's and 东站's lapsed with the returns; the ruling's was done.
    assert [(t.unit_id, t.status) for t in subtasks] == [
        (page_city["police"], SubtaskStatus.CANCELLED),
        (page_city["police"], SubtaskStatus.CANCELLED),
        (page_city["police"], SubtaskStatus.DONE),
    ]
    assert subtasks[-1].report == "民警到场维持秩序，双方情绪稳定"
    (order,) = orders
    assert (order.event_id, order.unit_id, order.level.value, order.status) == (
        case.id,
        page_city["west"],
        "key",
        SupervisionStatus.REPLIED,
    )
    assert order.reply == "已签收，定于明日上午组织双方调解" and order.replied_on_time is True
    assert {first.id: 100.0, case.id: 85.0} == {k: float(v) for k, v in scores.items()}
