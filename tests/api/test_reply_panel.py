"""The console's 答复/回访 panel driven in headless Chromium: the command centre's operator
replies to a caller, records callbacks (a 不满意 without the caller's reason is refused, with it
the case is reopened) and reviews a case twice not satisfied; a dispatcher has no such panel.
Same server and database fixtures as the other console tests; screenshots at 390 and 1400 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from events.actions import act
from events.callbacks import record_callback
from events.models import AppealType, Callback, Event, EventSource, EventStatus
from events.schemas import ActionInput, CallbackInput, EventReport
from events.service import report_event
from people.access import load_actor
from people.models import Staff
from tests.api.browser import Watch, open_context, shoot, sign_in
from tests.api.console_city import HERE


def _actor(session: Session, username: str) -> Any:
    staff_id = session.scalar(select(Staff.id).where(Staff.username == username))
    return load_actor(session, staff_id=staff_id)


def _case(session: Session, words: str, *, until: str, start: datetime) -> str:
    """A 12345 call about a fraud lead (0105: police, no site photo) worked up to `until`:
    "verified" (waits for the reply), "closed" (callback due) or "review" (twice not satisfied)."""
    command, worker, police = (_actor(session, n) for n in ("command1", "worker1", "police1"))
    report = EventReport(
        category="0105",
        lon=HERE["longitude"],
        lat=HERE["latitude"],
        description=words,
        source=EventSource.HOTLINE,
        appeal_type=AppealType.TIP_OFF,
        contact="13912345678",
    )
    code = report_event(session, actor=command, report=report, now=start).code
    moment = start

    def do(actor: Any, action: str, **fields: Any) -> None:
        nonlocal moment
        moment += timedelta(minutes=5)
        act(session, actor=actor, code=code, action=action, data=ActionInput(**fields), now=moment)

    def call(outcome: str, note: str) -> None:
        nonlocal moment
        moment += timedelta(minutes=5)
        entry = CallbackInput(outcome=outcome, note=note)  # type: ignore[arg-type]
        record_callback(session, actor=command, code=code, entry=entry, now=moment)

    do(worker, "check", note="属实")
    do(command, "register")  # 立案 and 派遣 by the command centre
    do(command, "dispatch")
    do(police, "sign")
    do(police, "handle", note="民警已上门处置")
    do(worker, "verify")
    if until == "verified":
        return code
    do(command, "reply", reply="已处置，请放心", reply_channel="phone")
    if until == "review":
        call("dissatisfied", "没人来过")
        do(police, "handle", note="再次处置")
        do(worker, "verify")
        do(command, "reply", reply="已再次处置", reply_channel="phone")
        call("dissatisfied", "还是不满意")
    return code


@pytest.fixture(scope="module")
def cases(own_engine: Engine, page_city: dict[str, Any]) -> dict[str, str]:
    start = datetime.now(UTC) - timedelta(hours=3)
    with Session(own_engine) as session:
        made = {
            "to_reply": _case(session, "来电反映有人收购银行卡", until="verified", start=start),
            "to_call": _case(session, "来电反映冒充客服诈骗", until="closed", start=start),
            "to_review": _case(session, "来电反映涉诈窝点", until="review", start=start),
        }
        session.commit()
    return made


def test_operator_replies_calls_back_and_reviews_in_the_panel(
    server: str,
    browser: Browser,
    own_engine: Engine,
    cases: dict[str, str],
):
    watch = Watch(tolerated=("status of 422",))  # the 不满意 sent without a reason, on purpose
    desk = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(desk.new_page())
    sign_in(page, server, "/console", "command1")
    panel = page.locator("#reply-panel")
    expect(panel).to_be_visible()

    # 待答复: write and send the reply; the case closes and leaves the list.
    item = panel.locator(f"li.reply-item[data-code='{cases['to_reply']}']")
    expect(item).to_contain_text("来电反映有人收购银行卡")
    expect(item).to_contain_text("答复期限")
    shoot(page, "console-reply-1400")
    item.locator("textarea[name=reply]").fill("经核查已处置，感谢您的反映")
    item.locator("select[name=reply_channel]").select_option("sms")
    item.locator("button[type=submit]").click()
    expect(page.locator("#reply-status")).to_contain_text(cases["to_reply"])
    expect(item).to_have_count(0)

    # On a phone: the callbacks waiting, with their forms, fit the screen's width.
    phone = open_context(browser, watch, viewport={"width": 390, "height": 844})
    small = watch.page(phone.new_page())
    sign_in(small, server, "/console", "command1")
    small.click("[data-reply-view=callbacks]")
    expect(small.locator("#reply-list li.reply-item")).to_have_count(2)
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    small.locator("#reply-panel").scroll_into_view_if_needed()
    shoot(small, "console-callbacks-390")
    phone.close()

    # 待回访: the masked phone, never the number; 不满意 needs the caller's reason.
    page.click("[data-reply-view=callbacks]")
    call = panel.locator(f"li.reply-item[data-code='{cases['to_call']}']")
    expect(call).to_contain_text("来电人")
    expect(call).not_to_contain_text("13912345678")
    expect(call.locator("button", has_text="查看号码")).to_have_count(1)
    shoot(page, "console-callbacks-1400")
    call.locator("input[value=dissatisfied]").check()
    call.locator("button[type=submit]").click()
    expect(call.locator(".error")).to_contain_text("不满意")
    call.locator("input[name=note]").fill("夜里仍有人收卡")
    call.locator("button[type=submit]").click()
    expect(page.locator("#reply-status")).to_contain_text("重办")
    expect(call).to_have_count(0)
    replied = panel.locator(f"li.reply-item[data-code='{cases['to_reply']}']")
    replied.locator("input[value=satisfied]").check()
    replied.locator("button[type=submit]").click()
    expect(page.locator("#reply-status")).to_contain_text(f"{cases['to_reply']} 满意")

    # 待复核: the case twice not satisfied; recording the review takes it off the list.
    page.click("[data-reply-view=reviews]")
    review = panel.locator(f"li.reply-item[data-code='{cases['to_review']}']")
    expect(review).to_contain_text("还是不满意")
    review.locator("input[name=note]").fill("复核：处置到位，已向来电人说明")
    review.locator("button[type=submit]").click()
    expect(review).to_have_count(0)
    watch.check()

    with Session(own_engine) as session:
        statuses = {
            code: session.scalar(select(Event.status).where(Event.code == code))
            for code in cases.values()
        }
        reviewed = session.scalars(select(Callback.review_note).where(Callback.round == 2)).all()
    assert statuses[cases["to_reply"]] is EventStatus.CLOSED
    assert statuses[cases["to_call"]] is EventStatus.SIGNED  # reopened to the unit
    assert "复核：处置到位，已向来电人说明" in reviewed

    watch.check()


def test_a_dispatcher_has_no_reply_panel(
    server: str,
    browser: Browser,
    cases: dict[str, str],
):
    watch = Watch()
    page = watch.page(open_context(browser, watch).new_page())
    sign_in(page, server, "/console", "police1")
    expect(page.locator("#queue")).to_be_visible()
    expect(page.locator("#reply-panel")).to_have_count(0)
    watch.check()
