"""A reviewer opens the queue, compares the faces side by side and confirms with the keyboard."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from service.models import Photo
from service.matching import candidates, photos as pipeline
from service.services.intake import Upload, register_arrival
from service.services.reports import create_report
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _seed(users, settings, faces_dir):
    candidates.reset_indexes()
    pic = lambda ident, n: Upload(f"{n}.jpg", (faces_dir / ident / f"{n}.jpg").read_bytes())  # noqa: E731
    report = create_report(users["staff"], {"name": "鲍某", "gender": "male", "missing_place": "天津市河西区",
                                            "hometown": "河南省"}, [pic("Barack_Obama", 1)], settings).report
    case = register_arrival(users["staff"], {"gender": "male", "age_min": "40", "age_max": "55", "dialect": "河南话"},
                            [pic("Barack_Obama", 3)], settings).case
    for pid in [p.id for p in Photo.query.filter_by(status="pending")]:
        pipeline.process_photo(pid, settings)
    candidates.match_case(case.id, settings)
    candidates.reset_indexes()
    return report, case


def test_review_side_by_side_and_confirm(page, live_server, users, settings, faces_dir):
    report, case = _seed(users, settings, faces_dir)
    page.goto(live_server + "/login")
    page.fill("input[name=username]", "staff1")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.click("nav >> text=待审核")
    queue = page.get_by_test_id("review-queue")
    expect(queue).to_contain_text(case.case_no)
    queue.get_by_role("link", name="审核").first.click()

    expect(page.get_by_test_id("crop")).to_have_count(2)  # the two faces, side by side
    expect(page.get_by_test_id("agreement")).to_contain_text("河南")
    screenshot(page, "review")
    page.locator("body").press("y")  # keyboard: Y confirms
    expect(page.get_by_test_id("review-queue")).to_contain_text("没有待审核")
    page.goto(f"{live_server}/cases/{case.id}")
    expect(page.locator("h1 .identity")).to_have_text("已确认")
    expect(page.get_by_test_id("candidates")).to_contain_text(re.compile("已确认"))
