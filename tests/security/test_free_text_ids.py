"""ID numbers typed into the free text of missing-person reports and street leads are masked where shown."""
from __future__ import annotations

from service.services import leads
from service.services.reports import create_report
from tests.conftest import login

TYPED = "320102199003071239"  # a valid resident ID typed into free text
MASKED = "320***********1239"


def test_report_free_text_is_masked_in_the_api_and_the_page(app, api, db, users, settings):
    report = create_report(users["staff"], {"name": "张某", "marks": f"身份证 {TYPED}，左手有疤",
                                            "description": f"家属提供号码{TYPED}"}, [], settings).report
    body = api["staff"].get(f"/api/v1/reports/{report.id}").get_data(as_text=True)
    assert TYPED not in body and MASKED in body
    assert TYPED not in api["staff"].get("/api/v1/reports").get_data(as_text=True)
    browser = app.test_client()
    login(browser, "staff1")
    page = browser.get(f"/reports/{report.id}").get_data(as_text=True)
    assert TYPED not in page and MASKED in page and "左手有疤" in page


def test_lead_free_text_is_masked_for_staff_and_the_reporter(app, api, db, users, settings):
    lead = leads.report_lead(users["reporter"], {"place": f"天桥下 {TYPED}", "description": f"他说身份证号是{TYPED}"},
                             [], settings).lead
    for who in ("staff", "reporter"):
        body = api[who].get(f"/api/v1/leads/{lead.id}").get_data(as_text=True)
        assert TYPED not in body and MASKED in body, who
    browser = app.test_client()
    login(browser, "staff1")
    for path in ("/dispatch", f"/dispatch/{lead.id}"):
        page = browser.get(path).get_data(as_text=True)
        assert TYPED not in page and MASKED in page, path
