"""The tier queues of /console (分级流转), driven in headless Chromium against a real server: a
street's dispatcher registers (立案) a patrol finding held at the street, reads the automatic
dispatch proposal, dispatches one case as proposed and another to a unit of their choosing
(refused until they say why), and refuses a third with a reason. Screenshots at phone (390 px)
and desktop (1400 px) widths are kept in var/test-artefacts/pages/.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from shapely import box
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from events.models import Event, EventSource, EventStatus, EventStep
from events.schemas import EventReport
from events.service import report_event
from tests.api.browser import (
    PHONE,
    WIDE,
    Watch,
    open_context,
    shoot,
    sign_in,
)
from tests.api.console_city import two_grids
from tests.factories import (
    COMMUNITY,
    DISTRICT,
    STREET,
    add_staff,
    add_unit,
)

WORDS = ("巡查发现路口暴露垃圾（一）", "巡查发现路口暴露垃圾（二）", "巡查发现路口暴露垃圾（三）")


@pytest.fixture(scope="module")
def page_city(own_engine: Engine) -> dict[str, int]:
    """Two grids; an urban-management squad and a police station; centres at the community,
    street and district; the street's dispatcher; three patrol findings of 暴露垃圾 (0601, a
    street matter) pending at the street."""
    with Session(own_engine) as session:
        two_grids(session)
        squad = add_unit(
            session,
            "UM-1",
            "urban_management",
            geom=box(111.27, 30.69, 111.31, 30.73),
            name="西陵街道城管执法中队",
        )
        police = add_unit(
            session, "PS-W", "police", geom=box(111.27, 30.69, 111.31, 30.73), name="西陵派出所"
        )
        add_unit(session, "CC", "command_centre", location=(111.29, 30.71), name="西陵区指挥中心")
        street = add_unit(
            session, "ZZ-S", "command_centre", location=(111.29, 30.706), name="西陵街道综治中心"
        )
        street.area_code = STREET[:9]
        community = add_unit(
            session, "ZZ-C", "command_centre", location=(111.29, 30.705), name="测试社区综治工作站"
        )
        community.area_code = COMMUNITY
        add_staff(session, "street1", "command", area_code=STREET)
        add_staff(session, "command1", "command", area_code=DISTRICT + "000000")
        inspector = add_staff(session, "inspector1", "inspector", area_code=COMMUNITY)
        for words in WORDS:
            filed = report_event(
                session,
                actor=inspector,
                report=EventReport(
                    category="0601",
                    lon=111.285,
                    lat=30.705,
                    description=words,
                    source=EventSource.INSPECTION,
                ),
            )
            assert filed.status is EventStatus.PENDING and filed.tier.value == "street"
        ids = {"squad": squad.id, "police": police.id}
        session.commit()
    return ids


def stored(engine: Engine, words: str) -> tuple[Event, list[EventStep]]:
    with Session(engine) as session:
        event = session.scalars(select(Event).where(Event.description == words)).one()
        steps = list(
            session.scalars(
                select(EventStep).where(EventStep.event_id == event.id).order_by(EventStep.id)
            )
        )
        session.expunge_all()
    return event, steps


def row(page: Any, words: str) -> Any:
    return page.locator("#tiers-list li.event", has_text=words)


def test_the_tier_queues_fit_a_phone(server, browser, own_engine):
    watch = Watch()
    phone = open_context(browser, watch, viewport=PHONE, is_mobile=True, has_touch=True)
    page = watch.page(phone.new_page())
    sign_in(page, server, "/console", "street1")
    page.wait_for_selector("#tiers[data-ready=true]")
    expect(page.locator("#tiers-count-pending")).to_have_text("3")
    row(page, WORDS[0]).locator("button.row-button").click()
    expect(page.locator("#tiers-detail button[data-action=register]")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the console is {width} px wide on a 390 px phone"
    shoot(page, "tiers-street-390")
    watch.check()


def test_a_street_dispatcher_registers_dispatches_and_refuses_from_the_tier_queues(
    server, browser, own_engine, page_city
):
    watch = Watch(tolerated=("status of 422",))  # the other unit sent without a reason, on purpose
    desk = open_context(browser, watch, viewport=WIDE)
    page = watch.page(desk.new_page())
    sign_in(page, server, "/console", "street1")
    page.wait_for_selector("#tiers[data-ready=true]")
    expect(page.locator("#tiers-count-pending")).to_have_text("3")
    expect(page.locator("#tiers-tier")).to_contain_text("街道")

    # 立案 the first two
    for words in WORDS[:2]:
        row(page, words).locator("button.row-button").click()
        expect(page.locator("#tiers-detail .description")).to_have_text(words)
        offered = page.locator("#tiers-detail .buttons button")
        for action in ("register", "refuse", "escalate", "delegate", "resolve"):
            expect(offered.and_(page.locator(f"[data-action={action}]"))).to_have_count(1)
        expect(offered.and_(page.locator("[data-action=dispatch]"))).to_have_count(0)
        page.locator("#tiers-detail button[data-action=register]").click()
        expect(page.locator("#tiers-detail")).to_contain_text("已立案")
        expect(row(page, words)).to_have_count(0)
    shoot(page, "tiers-street-registered-1400")

    # 派遣: the first as proposed
    page.click("[data-tier-view=registered]")
    expect(page.locator("#tiers-count-registered")).to_have_text("2")
    row(page, WORDS[0]).locator("button.row-button").click()
    expect(page.locator("#tiers-detail .description")).to_have_text(WORDS[0])
    proposal = page.locator("#tiers-proposal")
    expect(proposal).to_contain_text("西陵街道城管执法中队")
    expect(proposal).to_contain_text("covers the location")
    shoot(page, "tiers-street-proposal-1400")
    proposal.locator("button[data-action=accept-proposal]").click()
    expect(page.locator("#tiers-detail")).to_contain_text("已派遣")

    # the second to a unit of their choosing: refused without a reason, then sent with one
    row(page, WORDS[1]).locator("button.row-button").click()
    expect(page.locator("#tiers-detail .description")).to_have_text(WORDS[1])
    expect(page.locator("#tiers-proposal")).to_contain_text("西陵街道城管执法中队")
    page.locator("#tiers-detail button[data-action=dispatch]").click()
    form = page.locator("#tiers-detail form[data-action=dispatch]")
    expect(
        form.locator(f"select[name=unit_id] option[value='{page_city['police']}']")
    ).to_be_attached()
    form.locator("select[name=unit_id]").select_option(str(page_city["police"]))
    form.locator("button[type=submit]").click()
    expect(page.locator("#tiers-detail .error")).to_contain_text("reason")
    form.locator("input[name=reason]").fill("占道堆放涉及交通安全，由派出所主办")
    form.locator("button[type=submit]").click()
    expect(page.locator("#tiers-detail")).to_contain_text("西陵派出所")
    expect(page.locator("#tiers-detail")).to_contain_text("已派遣")

    # 不予立案 the third, with the reason the inspector reads
    page.click("[data-tier-view=pending]")
    row(page, WORDS[2]).locator("button.row-button").click()
    expect(page.locator("#tiers-detail .description")).to_have_text(WORDS[2])
    page.locator("#tiers-detail button[data-action=refuse]").click()
    refuse = page.locator("#tiers-detail form[data-action=refuse]")
    refuse.locator("input[name=reason]").fill("已由环卫当日清运，无需立案")
    refuse.locator("button[type=submit]").click()
    expect(page.locator("#tiers-detail")).to_contain_text("不予立案")
    expect(page.locator("#tiers-detail")).to_contain_text("已由环卫当日清运，无需立案")
    expect(page.locator("#tiers-count-pending")).to_have_text("")
    shoot(page, "tiers-street-refused-1400")
    watch.check()

    first, _ = stored(own_engine, WORDS[0])
    second, steps = stored(own_engine, WORDS[1])
    third, _ = stored(own_engine, WORDS[2])
    assert (first.status, first.unit_id) == (EventStatus.DISPATCHED, page_city["squad"])
    assert (second.status, second.unit_id) == (EventStatus.DISPATCHED, page_city["police"])
    chosen = steps[-1].data["dispatch"]
    assert chosen["reason"] == "占道堆放涉及交通安全，由派出所主办"
    assert chosen["proposal"]["unit_id"] == page_city["squad"]
    assert [s.action for s in steps] == ["report", "register", "dispatch"]
    assert (third.status, third.void_reason) == (EventStatus.REFUSED, "已由环卫当日清运，无需立案")
