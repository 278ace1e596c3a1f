"""A volunteer reports a person from a phone (small viewport, GPS, a photo, a dropped connection), the face
check answers "known" without saying who, and the dispatch desk sees the candidate and the lead on the map."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from service.models import Lead, Photo
from service.matching import candidates, photos as pipeline
from service.services.intake import Upload
from service.services.reports import create_report
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD
from tests.support.procs import child_env, start_worker

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "geolocation": {"latitude": 39.1152, "longitude": 117.2071, "accuracy": 15},
         "permissions": ["geolocation"]}


@pytest.fixture()
def search_worker(test_env, tmp_path):
    """The face check runs in the `search` queue (the index holder); live_server's worker takes `default`."""
    worker = start_worker(child_env(test_env), tmp_path / "search-worker.log", "-c", "1", queues="search")
    yield worker
    worker.stop()


def _log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")


def test_phone_report_resumes_after_a_dropped_connection_and_tells_only_known(browser, live_server, search_worker,
                                                                              users, settings, faces_dir, db):
    candidates.reset_indexes()
    report = create_report(users["staff"], {"name": "姚某", "gender": "male", "contact_phone": "13900001111"},
                           [Upload("1.jpg", (faces_dir / "Yao_Ming" / "1.jpg").read_bytes())], settings).report
    for pid in [p.id for p in Photo.query.filter_by(status="pending")]:
        pipeline.process_photo(pid, settings)
    candidates.reset_indexes()

    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        _log_in(page, live_server, "reporter1")
        expect(page.get_by_test_id("lead-form")).to_be_visible()
        expect(page.locator("#gps-status")).to_contain_text("已定位")  # the phone's GPS filled the position
        page.set_input_files("#f-photo", str(faces_dir / "Yao_Ming" / "2.jpg"))
        expect(page.locator("#lead-preview img")).to_have_count(1)  # made small on the phone before sending
        page.fill("#f-place", "河西区小白楼地铁站C口")
        page.get_by_text("受冻").click()
        page.fill("#f-description", "男性，身材很高，蜷缩在出口")
        screenshot(page, "lead-phone-form")

        context.set_offline(True)  # the connection drops as the volunteer presses Send
        page.get_by_test_id("lead-send").click()
        expect(page.locator("#lead-status")).to_contain_text("网络中断")
        assert Lead.query.count() == 0
        context.set_offline(False)  # back: the page resends by itself, with the same key
        page.wait_for_url("**/report/*", timeout=30000)
        assert Lead.query.count() == 1
        lead = Lead.query.one()
        assert (round(lead.lat, 4), round(lead.lng, 4), lead.urgency) == (39.1152, 117.2071, ["cold"])
        assert Photo.query.filter_by(lead_id=lead.id).count() == 1

        check = page.get_by_test_id("face-check")
        for _ in range(60):
            if "救助站已知人员" in check.inner_text():
                break
            page.wait_for_timeout(1000)
            page.reload()
        expect(check).to_contain_text("救助站已知人员")
        text = page.content()
        assert "姚某" not in text and "13900001111" not in text and f"/reports/{report.id}" not in text
        assert "/media/" not in text  # no photo of anyone is shown to a reporter
        screenshot(page, "lead-phone-known")
    finally:
        context.close()

    desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    try:
        _log_in(page, live_server, "staff1")
        page.get_by_test_id("nav-dispatch").click()
        expect(page.get_by_test_id("open-leads")).to_contain_text("河西区小白楼地铁站C口")
        expect(page.get_by_test_id("lead-map")).to_have_attribute("data-ready", "1")  # one marker on the map
        page.get_by_test_id("open-leads").get_by_role("link", name=f"#{lead.id}").click()
        expect(page.get_by_test_id("lead-candidate")).to_contain_text("姚某")  # staff see who it may be
        page.fill("input[name=team]", "巡查一组")
        page.keyboard.press("Enter")
        expect(page.locator(".flash-success")).to_contain_text("已派遣小组")
        screenshot(page, "lead-dispatch")
    finally:
        desk.close()


def test_a_photo_upload_broken_off_midway_resumes_from_where_it_stopped(browser, live_server, users, faces_dir, db):
    photo = faces_dir / "Barack_Obama" / "2.jpg"  # 172 KB: three chunks of 64 KB
    context = browser.new_context(**PHONE)
    page = context.new_page()
    chunks, broken = [], []

    def on_chunk(route):
        offset = int(route.request.url.rsplit("offset=", 1)[1])
        chunks.append(offset)
        if offset > 0 and not broken:  # the connection drops on the second chunk, once
            broken.append(offset)
            route.abort("connectionreset")
        else:
            route.continue_()

    try:
        _log_in(page, live_server, "reporter1")
        page.route("**/report/upload/*?offset=*", on_chunk)
        page.set_input_files("#f-photo", str(photo))
        expect(page.locator("#lead-preview img")).to_have_count(1)
        page.fill("#f-place", "和平区滨江道步行街")
        page.get_by_test_id("lead-send").click()
        page.wait_for_url("**/report/*", timeout=30000)
    finally:
        context.close()
    lead = Lead.query.one()
    import hashlib

    assert [p.sha256 for p in lead.photos] == [hashlib.sha256(photo.read_bytes()).hexdigest()]  # byte for byte
    assert chunks.count(0) == 1, chunks  # resumed: the first 64 KB were not sent again
    assert broken and chunks.count(broken[0]) == 2 and len(chunks) == 4, chunks


def test_a_report_sent_after_the_login_expired_is_kept_and_goes_after_logging_in(browser, live_server, users, db):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        _log_in(page, live_server, "reporter1")
        expect(page.get_by_test_id("lead-form")).to_be_visible()
        page.fill("#f-place", "红桥区西站北广场")
        users["reporter"].session_version += 1  # the login ends meanwhile (logged out elsewhere, expired)
        db.session.commit()
        page.get_by_test_id("lead-send").click()
        expect(page.locator("#lead-status")).to_contain_text("请重新登录")
        assert Lead.query.count() == 0
        _log_in(page, live_server, "reporter1")  # back on the report page, the outbox goes by itself
        expect(page.locator("#lead-status")).to_contain_text("已送达")
        assert [lead.place for lead in Lead.query.all()] == ["红桥区西站北广场"]
    finally:
        context.close()
