"""共享授权 (/admin/sharing) in headless Chromium against a real server: an admin grants the
police a dataset through the form (one field clear), sees the grant recorded, sees the
police's read of it in the access log with the clear field named, and revokes it; a form
missing its department or naming an unknown category is refused with a sentence and nothing
is granted; a dispatcher gets the refusal page. Screenshots at 390 and 1400 px in
var/test-artefacts/pages/."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from tests.api.browser import (
    PASSWORD,
    Watch,
    api_client,
    assert_fits_phone,
    open_context,
    shoot,
    sign_in,
)
from tests.api.console_city import WEST

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 900}


def scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def police_department(engine: Engine) -> str:
    return str(
        scalar(
            engine,
            "SELECT u.department_id FROM department_unit u JOIN staff s "
            "ON s.department_unit_id = u.id WHERE s.username = 'police1'",
        )
    )


def fill_grant(page: Page, department: str, dataset: str) -> None:
    form = page.locator("#grant-form")
    if department:
        form.locator("select[name=department_id]").select_option(department)
    form.locator("select[name=dataset]").select_option(dataset)
    form.locator("input[name=area_code]").fill(WEST)
    form.locator("input[name=purpose]").fill("重点人员管控")


def test_an_admin_grants_sees_the_read_and_revokes(server, browser, own_engine):
    watch = Watch(tolerated=("status of 4",))
    department = police_department(own_engine)
    desk = open_context(browser, watch, viewport=WIDE)
    page = watch.page(desk.new_page())
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, server, "/admin/sharing", "admin1")
    expect(page.locator("h1")).to_contain_text("共享授权")

    # Refused with a sentence, nothing granted: no department, then an unknown category.
    form = page.locator("#grant-form")
    fill_grant(page, "", "special_groups")
    form.locator("input[value=name]").check()
    form.locator("button[type=submit]").click()
    expect(form.locator("p.error")).to_contain_text("请选择部门")
    fill_grant(page, department, "events_by_category")
    expect(page.locator("#categories-label")).to_be_visible()
    form.locator("input[value=code]").check()
    form.locator("input[name=categories]").fill("99")
    form.locator("button[type=submit]").click()
    expect(form.locator("p.error")).to_contain_text("没有这些事件类别")
    assert scalar(own_engine, "SELECT count(*) FROM share_grant") == 0

    # Granted: the name in clear, the ID number masked.
    fill_grant(page, department, "special_groups")
    expect(page.locator("#categories-label")).to_be_hidden()
    form.locator("input[value=name]").check()
    form.locator("select[name=mode-name]").select_option("clear")
    form.locator("input[value=id_number]").check()
    form.locator("button[type=submit]").click()
    row = page.locator("#grants tr.live")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("特殊人群")
    expect(row.locator(".chip.clear")).to_have_text("name 明文")
    expect(row.locator(".chip.masked")).to_have_text("id_number")

    # The police read it: the read shows with its clear field.
    with api_client(server, "police1") as police:
        assert police.get("/api/shared/special_groups").status_code == 200
    page.reload()
    reads = page.locator("#reads tbody tr")
    expect(reads).to_have_count(1)
    expect(reads.first).to_contain_text("police1")
    expect(reads.first).to_contain_text("name")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shoot(page, "sharing-1400")

    phone = open_context(browser, watch, viewport=PHONE)
    small = watch.page(phone.new_page())
    sign_in(small, server, "/admin/sharing", "admin1")
    assert_fits_phone(small)
    shoot(small, "sharing-390")
    phone.close()

    # Revoked: the row stays, marked 已撤销, and the police read nothing more.
    page.locator("button.revoke").click()
    expect(page.locator("#grants tr.revoked")).to_contain_text("已撤销")
    expect(page.locator("#grants tr.live")).to_have_count(0)
    with api_client(server, "police1") as police:
        assert police.get("/api/shared/special_groups").status_code == 403
    desk.close()
    watch.check()


def test_a_dispatcher_gets_the_refusal_page(server, browser):
    watch = Watch(tolerated=("status of 403",))
    context = open_context(browser, watch, viewport=WIDE)
    page = watch.page(context.new_page())
    page.goto(f"{server}/admin/sharing")
    page.fill("input[name=username]", "police1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("共享授权")
    assert page.locator("#grant-form").count() == 0
    with api_client(server, "police1") as police:
        assert police.get("/api/shared/access-log").status_code == 403
    with api_client(server, "admin1") as admin:
        assert admin.get("/api/shared/access-log?limit=0").status_code == 422
    context.close()
    watch.check()
