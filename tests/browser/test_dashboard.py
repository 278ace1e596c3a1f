"""A supervisor opens the dashboard (real Chart.js under the real CSP) and every queue of a demo station."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from service.demo import load_demo
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CHARTS = ("arrivals", "outcomes", "channels", "stranded", "precision", "coverage")


def test_dashboard_charts_and_queues(page, live_server, users, db):
    load_demo("TJHX")  # the supervisor's station
    problems = []
    # Errors only: a CSP violation (inline script or style) or a failed fetch shows here. The app has no favicon.
    page.on("console", lambda msg: problems.append(f"{msg.text} {msg.location.get('url')}")
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    page.goto(live_server + "/login")
    page.fill("input[name=username]", "super1")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cases$"))
    page.get_by_test_id("nav-dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#dashboard-charts")).to_have_attribute("data-ready", "1", timeout=15000)
    for name in CHARTS:
        drawn = page.evaluate("id => !!window.Chart.getChart(document.getElementById(id))", f"chart-{name}")
        assert drawn, name
    identified = int(page.locator('[data-kpi="identified"]').inner_text())
    assert identified > 0
    expect(page.locator('[data-kpi="return_rate_identified"]')).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(page.get_by_test_id("charts-status")).to_have_text("")
    screenshot(page, "dashboard")

    queues = (("stranded", "滞留人员"), ("identified", "已确认身份未返乡"), ("minors", "未成年人"))
    for name, title in queues:
        page.get_by_test_id("supervisor-nav").get_by_role("link", name=title, exact=True).click()
        expect(page.locator("h1")).to_contain_text(title)
        expect(page.get_by_test_id(f"queue-{name}").locator("tbody tr[data-case-id]").first).to_be_visible()
        with page.expect_download() as download:
            page.get_by_test_id("export-xlsx").click()
        assert download.value.suggested_filename.endswith(".xlsx")
    # The stranded queue is longest stay first, and its filter narrows it.
    page.goto(live_server + "/queues/stranded")
    days = [int(t) for t in page.locator("td.days").all_inner_texts()]
    assert days == sorted(days, reverse=True) and len(days) > 1
    page.fill("input[name=min_days]", "30")
    page.get_by_test_id("queue-filters").locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"min_days=30"))
    assert all(int(t) >= 30 for t in page.locator("td.days").all_inner_texts())
    screenshot(page, "queue-stranded")

    # The queues that came before (review, overdue, approvals) are one click away from the supervisor pages.
    for link, marker in (("待审核", "review-queue"), ("逾期事项", "overdue"), ("待审批", "approvals-extension")):
        page.goto(live_server + "/queues/minors")
        page.get_by_test_id("supervisor-nav").get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_test_id(marker)).to_be_visible()
        expect(page.get_by_test_id(marker).locator("tbody tr").first).not_to_have_class("empty")
    page.goto(live_server + "/exchange")
    with page.expect_download() as download:
        page.get_by_test_id("export-cases").get_by_role("link", name="PFIF 1.4 XML").click()
    assert download.value.suggested_filename.endswith(".xml")
    assert problems == [], "\n".join(problems)
