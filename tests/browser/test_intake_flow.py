"""A clerk logs in, registers an arrival with a photo, and finds it in the list."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_register_arrival_and_find_it(page, live_server, faces_dir):
    page.goto(live_server + "/cases")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=username]", "staff1")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("案件"))).to_be_visible()

    page.click("text=入站登记")
    expect(page.locator("#f-name")).to_be_focused()  # the first field is ready for typing
    page.keyboard.type("陈小明")
    page.check("input[name=gender][value=male]")
    page.fill("#f-age_min", "12")
    page.fill("#f-age_max", "14")
    expect(page.locator("#minor-hint")).to_be_visible()
    page.fill("#f-found_place", "天津西站候车室")
    page.select_option("#f-referral", "police")
    page.fill("#f-dialect", "河南话")
    page.set_input_files("#f-photos", str(faces_dir / "Jackie_Chan" / "2.jpg"))
    expect(page.locator("#photo-preview img")).to_have_count(1)
    screenshot(page, "intake-form")
    page.locator("#f-dialect").press("Control+Enter")

    expect(page.get_by_test_id("case-no")).to_contain_text("TJHX-")
    case_no = page.get_by_test_id("case-no").inner_text().split()[0]
    expect(page.locator(".tag-minor").first).to_be_visible()
    # The worker processes the photo; the page refreshes its status by itself.
    expect(page.get_by_test_id("photo-status")).to_have_text("已处理", timeout=30000)
    screenshot(page, "case-page")

    page.click("nav >> text=案件")
    page.fill("input[name=q]", case_no)
    page.keyboard.press("Enter")
    table = page.get_by_test_id("case-table")
    expect(table).to_contain_text(case_no)
    expect(table).to_contain_text("陈小明")
    screenshot(page, "case-list")

    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", name=re.compile("Cases"))).to_be_visible()
