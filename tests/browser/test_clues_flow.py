"""Clues find families, in the browser: an interview's clues → a description candidate → review → a verified
family pickup; a follow-up call that is due; the alert when someone sent home is back on the street."""
from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from service.models import CandidateMatch
from service.models.types import utcnow
from service.services import clues, followups
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD
from tests.support.casefactory import make_case

pytestmark = pytest.mark.browser


def _login(page, base, username):
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/login"))


def _pickup(page):
    page.select_option("#exit-type", "family_pickup")
    page.fill("input[name=collector_name]", "王德明")
    page.fill("input[name=collector_id_number]", "11010519491231002X")
    page.fill("input[name=relation]", "儿子")
    page.get_by_test_id("exit-submit").click()


def _reload_until(page, testid, text, seconds=30):
    """The worker proposes in the background: reload the page until its result shows."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in (page.get_by_test_id(testid).text_content() or ""):
            return
        time.sleep(1)
        page.reload()
    expect(page.get_by_test_id(testid)).to_contain_text(text)


def test_interview_clues_find_the_report_then_a_verified_pickup(page, live_server, users, settings, db):
    report = create_report(users["staff"], {
        "name": "王秀英", "gender": "female", "age_at_missing": "52", "hometown": "河南省周口市沈丘县付井镇",
        "missing_since": (date.today() - timedelta(days=500)).isoformat(), "marks": "左眉有痣",
        "contact_name": "王德明", "contact_phone": "13900000000"}, [], settings).report
    clues.propose_for_report(report.id)  # what the report's own task does: its clues are indexed
    case = register_arrival(users["staff"], {"gender": "female", "age_min": "50", "age_max": "60",
                                             "marks": "左眉毛上有颗黑痣"}, [], settings).case
    _login(page, live_server, "staff1")
    page.goto(f"{live_server}/cases/{case.id}")

    interview = page.locator("tr.stepform", has=page.get_by_test_id("log-interview"))
    interview.locator("summary").click()
    interview.locator("select[name=status]").select_option("in_progress")
    interview.locator("input[name=notes]").fill("老人说老家沈丘，儿子叫王德民，带河南口音")
    interview.locator("input[name=clue_names]").fill("秀银，王德民")
    interview.locator("input[name=clue_places]").fill("周口 沈丘")
    interview.locator("input[name=dialect]").fill("河南话")
    page.get_by_test_id("log-interview").click()
    expect(page.locator(".flash-success")).to_contain_text("已记录")

    # The background worker reads the clues and proposes the report.
    _reload_until(page, "candidates", "王秀英")
    expect(page.get_by_test_id("clue-tag")).to_be_visible()
    page.get_by_test_id("candidates").get_by_role("link", name="审核").first.click()
    signals = page.get_by_test_id("agreement")
    expect(signals).to_contain_text("沈丘")
    expect(signals.locator('tr[data-attr="name"]')).to_contain_text("只有名")
    expect(signals.locator('tr[data-attr="relative"]')).to_contain_text("王德明")
    expect(page.get_by_test_id("description-score")).to_be_visible()
    screenshot(page, "review-description")
    page.locator("body").press("y")
    expect(page.get_by_test_id("review-queue")).to_be_visible()

    page.goto(f"{live_server}/cases/{case.id}")
    expect(page.locator("h1 .identity")).to_have_text("已确认")
    expect(page.get_by_test_id("identified-by")).to_have_text("人工问询")
    # Not handed to an unverified family: the exit is refused until a verification is recorded.
    page.get_by_test_id("exit-link").click()
    expect(page.get_by_test_id("handover-problem")).to_contain_text("尚未记录亲属核实")
    _pickup(page)
    expect(page.get_by_test_id("exit-error")).to_contain_text("verified family")

    page.goto(f"{live_server}/cases/{case.id}#handover")
    page.get_by_test_id("evidence-police_hukou").check()
    page.fill("input[name=detail_police_hukou]", "沈丘县公安局户籍科")
    page.get_by_test_id("evidence-video_call").check()
    page.fill("input[name=family_name]", "王德明")
    page.get_by_test_id("verify-form").locator("input[name=relation]").fill("儿子")
    page.get_by_test_id("verify-submit").click()
    expect(page.get_by_test_id("handover-status")).to_have_text("已核实")
    expect(page.get_by_test_id("verifications")).to_contain_text("公安户籍核实")

    page.get_by_test_id("exit-link").click()
    expect(page.get_by_test_id("handover-verified")).to_be_visible()
    _pickup(page)
    expect(page.get_by_test_id("exit-type")).to_have_text("亲属接领")
    expect(page.get_by_test_id("case-followups")).to_contain_text("1周回访")
    screenshot(page, "verified-pickup")


def test_a_follow_up_that_is_due_is_recorded_from_the_queue(page, live_server, users, db):
    case = make_case(users["staff"].station, utcnow() - timedelta(days=20), name="李桂英", exit_type="family_pickup",
                     closed=utcnow() - timedelta(days=9))
    followups.schedule_after_exit(case)
    db.session.commit()
    _login(page, live_server, "staff1")
    page.get_by_test_id("nav-followups").click()
    rows = page.get_by_test_id("followups")
    expect(rows).to_contain_text(case.case_no)
    expect(rows).to_contain_text("1周回访")
    expect(rows.locator("tr.overdue")).to_have_count(1)
    rows.get_by_test_id("followup-outcome").select_option("needs_support")
    rows.locator("input[name=note]").fill("老人腿脚不便，联系村委会帮扶")
    rows.get_by_test_id("followup-submit").click()
    expect(page.locator(".flash-success")).to_contain_text("回访已记录")
    expect(page.get_by_test_id("followups")).to_contain_text("暂无到期回访")
    page.goto(f"{live_server}/queues/followups?all=1")
    expect(page.get_by_test_id("followups")).to_contain_text("1个月回访")


def test_someone_sent_home_who_is_back_raises_the_supervisors_alert(page, live_server, users, stations, db):
    went_home = make_case(stations["other"], utcnow() - timedelta(days=60), name="赵宝山", exit_type="family_pickup",
                          closed=utcnow() - timedelta(days=40))
    again = make_case(stations["main"], utcnow() - timedelta(days=1), name="赵宝山")
    db.session.add(CandidateMatch(pair_key=f"a:{went_home.id}:{again.id}", kind="previous_arrival", case_id=again.id,
                                  other_case_id=went_home.id, engine="test", face_distance=0.41, score=0.8,
                                  band="likely"))
    db.session.commit()
    returned_on = followups.local_date(went_home.closed_at).isoformat()
    _login(page, live_server, "staff1")
    page.goto(f"{live_server}/review")
    page.get_by_test_id("review-queue").get_by_role("link", name="审核").first.click()
    page.locator("body").press("y")
    expect(page.get_by_test_id("review-queue")).to_be_visible()

    page.context.clear_cookies()
    _login(page, live_server, "super1")
    page.get_by_test_id("nav-re-arrivals").click()
    expect(page.get_by_test_id("re-arrival-text")).to_have_text(f"{returned_on} 已返乡，又回到街头")
    expect(page.get_by_test_id("re-arrivals")).to_contain_text(again.case_no)
    page.get_by_test_id("nav-dashboard").click()
    expect(page.locator('[data-kpi="re_arrivals"]')).to_have_text("1")
    screenshot(page, "re-arrival-alert")
    page.get_by_test_id("nav-re-arrivals").click()
    page.get_by_role("button", name="已阅").click()
    expect(page.get_by_test_id("re-arrivals")).to_contain_text(re.compile("暂无|No open alerts|没有"))
