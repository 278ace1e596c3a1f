"""Staff choose the face of a photo with several faces on case, report and lead pages (and from the waiting queue)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from service.models import Photo
from service.matching import candidates, photos as pipeline
from service.services.intake import register_arrival
from service.services.leads import report_lead
from service.services.reports import create_report
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD
from tests.support.faces import side_by_side

pytestmark = pytest.mark.browser


def _seed(users, settings, faces_dir):
    candidates.reset_indexes()
    two = lambda: side_by_side(faces_dir, "Barack_Obama/3.jpg", "Yao_Ming/2.jpg")  # noqa: E731
    case = register_arrival(users["staff"], {"gender": "male"}, [two()], settings).case
    report = create_report(users["staff"], {"name": "鲍某", "gender": "male"},
                           [side_by_side(faces_dir, "Colin_Powell/1.jpg", "George_W_Bush/1.jpg")], settings).report
    lead = report_lead(users["reporter"], {"place": "南开区鞍山西道天桥下", "lat": "39.1201", "lng": "117.1602"},
                       [side_by_side(faces_dir, "Jackie_Chan/3.jpg", "Tony_Blair/5.jpg")], settings).lead
    for pid in [p.id for p in Photo.query.filter_by(status="pending")]:
        pipeline.process_photo(pid, settings)
    candidates.reset_indexes()
    return case, report, lead


def _login(page, base):
    page.goto(base + "/login")
    page.fill("input[name=username]", "staff1")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")


def _choose_second_face(page):
    photo = page.locator("figure.photo").first
    expect(photo.get_by_test_id("photo-status")).to_have_text("多张人脸")
    expect(photo.get_by_test_id("photo-reason")).to_contain_text("2 张人脸")
    photo.get_by_test_id("choose-face").nth(1).click()
    expect(page.locator(".flash-success")).to_be_visible()
    photo = page.locator("figure.photo").first
    expect(photo.get_by_test_id("photo-status")).to_have_text("已处理")
    expect(photo.get_by_test_id("photo-reason")).to_have_text("人脸由工作人员选定")
    expect(photo.locator("button[aria-pressed=true]")).to_have_attribute("data-face-index", "1")


def test_the_face_chooser_on_case_report_and_lead_pages(page, live_server, users, settings, faces_dir):
    case, report, lead = _seed(users, settings, faces_dir)
    _login(page, live_server)
    expect(page.get_by_test_id("waiting-count")).to_have_text("3")
    page.get_by_test_id("nav-waiting").click()
    expect(page.get_by_test_id("waiting-photos").locator("figure.photo")).to_have_count(3)
    screenshot(page, "faces-waiting")

    page.goto(f"{live_server}/cases/{case.id}")
    _choose_second_face(page)
    page.goto(f"{live_server}/reports/{report.id}")
    _choose_second_face(page)
    page.goto(f"{live_server}/dispatch/{lead.id}")
    _choose_second_face(page)
    screenshot(page, "face-chosen-lead")
    expect(page.get_by_test_id("nav-waiting")).not_to_contain_text("3")
    page.get_by_test_id("nav-waiting").click()
    expect(page.get_by_test_id("waiting-photos")).to_contain_text("没有待选择人脸的照片")
