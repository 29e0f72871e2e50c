"""The 考核通报 (evaluation bulletin) through a real server: the JSON and xlsx routes for the
command centre, a month badly written refused with a sentence, and the printable page driven
in headless Chromium for a leader at 390 and 1400 px (screenshots in var/test-artefacts/pages/);
a unit's dispatcher gets the refusal page. Same server and database fixtures as the other
console tests; the cases are 12345 calls worked up to closing through the services."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.clock import local_today
from tests.api.browser import PASSWORD, Watch, api_client, open_context, shoot
from tests.api.test_reply_panel import _case
from tests.factories import DISTRICT, add_staff

MONTH = f"{local_today():%Y-%m}"


@pytest.fixture(scope="module")
def closed_cases(own_engine: Engine, page_city: dict[str, Any]) -> list[str]:
    """Two 12345 cases closed by the reply this month (evaluated: 100 each) and a leader."""
    start = datetime.now(UTC) - timedelta(hours=3)
    with Session(own_engine) as session:
        codes = [
            _case(session, "来电反映楼道堆物", until="closed", start=start),
            _case(session, "来电反映噪音扰民", until="closed", start=start),
        ]
        add_staff(session, "leader1", "leader", area_code=DISTRICT + "000000")
        session.commit()
    return codes


def sign_in_to(page: Page, server: str, path: str, username: str) -> None:
    """Open `path` (no query), get sent to /login, sign in and land back on it."""
    page.goto(f"{server}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server}{path}")


def test_bulletin_json_and_workbook_for_the_command_centre(server, closed_cases):
    with api_client(server, "command1") as command:
        answer = command.get(f"/api/bulletins/{MONTH}", params={"by": "unit"})
        assert answer.status_code == 200
        body = answer.json()
        assert body["area"] == "西陵区" and body["month"] == MONTH
        (row,) = body["rows"]
        assert (row["rank"], row["name"], row["cases"], row["score"], row["grade"]) == (
            1,
            "西陵派出所",
            2,
            100.0,
            "优",
        )
        workbook = command.get(f"/api/bulletins/{MONTH}.xlsx")
        assert workbook.status_code == 200
        assert workbook.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert f"bulletin-{MONTH}.xlsx" in workbook.headers["content-disposition"]
        book = openpyxl.load_workbook(io.BytesIO(workbook.content))
        assert book["按承办单位"]["B4"].value == "西陵派出所"
        for bad in ("2026-13", "2026-Q4", "latest"):
            refused = command.get(f"/api/bulletins/{bad}")
            assert refused.status_code in (400, 422), bad
            assert "YYYY-MM" in refused.json()["error"]["message"]
        wrong_by = command.get(f"/api/bulletins/{MONTH}", params={"by": "grid"})
        assert wrong_by.status_code == 422
    with api_client(server, "police1") as police:
        assert police.get(f"/api/bulletins/{MONTH}").status_code == 403
        assert police.get(f"/api/bulletins/{MONTH}.xlsx").status_code == 403


def test_leader_reads_and_prints_the_bulletin_on_a_desk_and_a_phone(
    server: str,
    browser: Browser,
    closed_cases: list[str],
):
    watch = Watch()
    desk = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(desk.new_page())
    sign_in_to(page, server, "/reports/bulletin", "leader1")
    page.goto(f"{server}/reports/bulletin?month={MONTH}")
    year, month = MONTH.split("-")
    expect(page.locator("h1")).to_have_text(f"西陵区 {year}年{int(month)}月 考核通报")
    first = page.locator("#ranking tbody tr").first
    expect(first).to_contain_text("西陵派出所")
    expect(first).to_contain_text("100.00")
    expect(first).to_contain_text("优")
    expect(page.locator("a[href='/reports/bulletin']").first).to_be_visible()  # in the nav
    xlsx = page.locator(f"a[href='/api/bulletins/{MONTH}.xlsx']")
    expect(xlsx).to_be_visible()
    shoot(page, "bulletin-1400")
    # Printing shows the bulletin alone: no bar, no form.
    page.emulate_media(media="print")
    expect(page.locator("header.bar")).to_be_hidden()
    expect(page.locator("form.no-print")).to_be_hidden()
    expect(page.locator("#ranking")).to_be_visible()
    shoot(page, "bulletin-print")
    page.emulate_media(media="screen")
    # By grid worker: nobody's (the cases came by the hotline), listed unranked.
    page.select_option("select[name=by]", "worker")
    page.click("form.no-print button[type=submit]")
    expect(page).to_have_url(re.compile(r"by=worker"))
    expect(page.locator("#ranking tbody tr").first).to_contain_text("非网格员上报")
    expect(page.locator("#ranking tbody tr td").first).to_have_text("—")

    phone = open_context(browser, watch, viewport={"width": 390, "height": 844})
    small = watch.page(phone.new_page())
    sign_in_to(small, server, "/reports/bulletin", "leader1")
    small.goto(f"{server}/reports/bulletin?month={MONTH}")
    expect(small.locator("#ranking")).to_be_visible()
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    expect(small.locator("#ranking td.name").first).to_be_in_viewport()
    shoot(small, "bulletin-390")
    phone.close()
    desk.close()
    watch.check()


def test_a_dispatcher_gets_the_refusal_page(server, browser, closed_cases):
    watch = Watch(tolerated=("status of 403",))
    context = open_context(browser, watch, viewport={"width": 1400, "height": 900})
    page = watch.page(context.new_page())
    page.goto(f"{server}/reports/bulletin")
    page.fill("input[name=username]", "police1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("考核通报")
    assert page.locator("#ranking").count() == 0
    context.close()
    watch.check()


@pytest.mark.parametrize("by", ["tier", "street", "community", "category"])
def test_kpis_by_the_new_groupings_carry_the_new_indicators(server, closed_cases, by):
    with api_client(server, "leader1") as leader:
        answer = leader.get("/api/stats/kpis", params={"by": by, "period": MONTH})
        assert answer.status_code == 200, answer.text
        (row,) = answer.json()["rows"]  # one tier, street, community and category here
        assert row["reported"] == 2 and row["evaluated"] == 2
        assert row["evaluation_score"] == 100.0
        assert row["registration_accuracy"] == 1.0
        assert row["proactive_rate"] == 0.0  # both came by the hotline
        assert row["extension_rate"] == 0.0
    assert {"tier": "district", "street": "420502001000", "category": "0105"}.get(
        by, row["key"]
    ) == row["key"]


def test_the_leader_panel_links_to_the_bulletin(server, closed_cases):
    with api_client(server, "leader1") as leader:
        panel = leader.get("/maps/leader/panel")
        assert panel.status_code == 200
        assert 'href="/reports/bulletin"' in panel.text


def test_a_mistyped_month_in_the_address_shows_last_month_with_a_sentence(server, closed_cases):
    with api_client(server, "leader1") as leader:
        page = leader.get("/reports/bulletin", params={"month": "2026-13"})
        assert page.status_code == 200
        assert "月份格式不对" in page.text and "YYYY-MM" in page.text
