"""Supervisor pages: queues with filters and exports, the dashboard and its JSON, data exchange; staff refused."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from service.models import AuditEntry
from service.models.types import utcnow
from service.formats.pfif import parse_pfif
from tests.conftest import login
from tests.support.casefactory import days_ago, make_case, report

PAGES = ("/dashboard", "/dashboard/stats.json", "/queues/stranded", "/queues/identified", "/queues/minors",
         "/exchange", "/exchange/cases", "/exchange/reports")


@pytest.fixture()
def supervisor_client(app, users):
    client = app.test_client()
    login(client, "super1")
    return client


@pytest.fixture()
def cases(db, stations):
    now = utcnow()
    main = stations["main"]
    return {
        "long": make_case(main, days_ago(now, 33), name="孙某", age_min=50, age_max=60, categories=["ill"],
                          id_number="11010519491231002X"),
        "child": make_case(main, days_ago(now, 1), age_min=6, age_max=8, categories=["minor"]),
        "found": make_case(main, days_ago(now, 6), identified=days_ago(now, 1), channel="interview"),
    }


def test_staff_may_not_open_supervisor_pages(staff_client):
    for path in PAGES:
        assert staff_client.get(path).status_code == 403, path
    assert "统计看板" not in staff_client.get("/cases").get_data(as_text=True)


def test_stranded_page_filters_and_highlights(supervisor_client, cases):
    page = supervisor_client.get("/queues/stranded").get_data(as_text=True)
    assert cases["long"].case_no in page and cases["child"].case_no in page
    assert cases["found"].case_no not in page
    assert page.index(cases["long"].case_no) < page.index(cases["child"].case_no)  # longest stay first
    assert 'class="overdue"' in page and "超过正常期限" in page and "11010519491231002X" not in page
    filtered = supervisor_client.get("/queues/stranded?category=minor").get_data(as_text=True)
    assert cases["child"].case_no in filtered and cases["long"].case_no not in filtered
    assert "format=csv" in filtered and "category=minor" in filtered  # export links keep the filter
    bad = supervisor_client.get("/queues/stranded?min_days=abc")
    assert bad.status_code == 422 and "min_days" in bad.get_data(as_text=True)
    assert supervisor_client.get("/queues/stranded?station=TJNK").status_code == 403


def test_other_queue_pages(supervisor_client, cases):
    identified = supervisor_client.get("/queues/identified").get_data(as_text=True)
    assert cases["found"].case_no in identified and "人工问询" in identified
    minors = supervisor_client.get("/queues/minors").get_data(as_text=True)
    assert cases["child"].case_no in minors and cases["long"].case_no not in minors


def test_page_exports_speak_the_users_language(supervisor_client, cases, db):
    resp = supervisor_client.get("/queues/stranded?format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.data.decode("utf-8-sig")
    header = text.splitlines()[0].split(",")
    assert header[:3] == ["案件编号", "救助站", "姓名"]
    assert "患病/受伤" in text and "是" in text.splitlines()[1] and "11010519491231002X" not in text
    resp = supervisor_client.get("/queues/minors?format=xlsx")
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "案件编号" and rows[1][0] == cases["child"].case_no
    assert db.session.query(AuditEntry).filter(AuditEntry.action.like("export.queue.%")).count() == 2


def test_dashboard_and_its_json(supervisor_client, cases):
    page = supervisor_client.get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "vendor/chart.umd.min.js" in html and "dashboard.js" in html
    assert 'data-kpi="identified">1<' in html and 'data-kpi="open_cases">3<' in html
    assert "<script>" not in html  # the CSP allows no inline script
    data = supervisor_client.get("/dashboard/stats.json").get_json()
    assert data["identified"] == 1 and data["labels"]["channels"]["interview"] == "人工问询"
    assert data["labels"]["bands"]["likely"]
    assert supervisor_client.get("/dashboard/stats.json?from=nope").status_code == 422
    assert supervisor_client.get("/dashboard?from=2026-05-01&to=2026-04-01").status_code == 422


def test_chart_library_is_served(supervisor_client):
    resp = supervisor_client.get("/static/vendor/chart.umd.min.js")
    assert resp.status_code == 200 and b"Chart.js v4" in resp.data[:200]
    resp.close()
    assert supervisor_client.get("/static/vendor/chart.js.LICENSE.md").status_code == 200


def test_exchange_page_and_files(supervisor_client, cases):
    report(status="found", source="family", name="张三", external_id="x/1")
    page = supervisor_client.get("/exchange").get_data(as_text=True)
    assert "/exchange/cases?format=pfif" in page and "/exchange/reports?format=csv&amp;status=found" in page
    resp = supervisor_client.get("/exchange/cases?format=pfif")
    assert resp.status_code == 200 and b"11010519491231002X" not in resp.data
    assert len(list(parse_pfif(resp.data))) == 1  # not the identified person, not the minor without approval
    resp = supervisor_client.get("/exchange/reports?format=pfif&status=found")
    assert [r.fields["name"] for r in parse_pfif(resp.data)] == ["张三"]
    assert supervisor_client.get("/exchange/reports?format=doc").status_code == 422
