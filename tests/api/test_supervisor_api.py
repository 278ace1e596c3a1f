"""Supervisor API: queues with filters and CSV/XLSX exports, /stats, PFIF/CSV exchange, and who may call them."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from service.models.types import utcnow
from service.formats.pfif import parse_pfif
from tests.support.casefactory import bj, days_ago, make_case, report

ID_NUMBER = "11010519491231002X"
ENDPOINTS = ("/api/v1/queues/stranded", "/api/v1/queues/identified", "/api/v1/queues/minors", "/api/v1/stats",
             "/api/v1/exports/cases", "/api/v1/exports/reports")


@pytest.fixture()
def station_cases(db, stations, users):
    now = utcnow()
    main = stations["main"]
    return {
        "long": make_case(main, days_ago(now, 25), name="=1+1", id_number=ID_NUMBER, age_min=40, age_max=45),
        "child": make_case(main, days_ago(now, 3), age_min=10, age_max=12, categories=["minor"]),
        "found": make_case(main, days_ago(now, 9), identified=days_ago(now, 2), channel="toutiao"),
        "other": make_case(stations["other"], days_ago(now, 40)),
    }


def test_staff_and_anonymous_are_refused(api, db):
    for url in ENDPOINTS:
        assert api[None].get(url).status_code == 401, url
        resp = api["staff"].get(url)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden", url
        assert api["supervisor"].get(url).status_code == 200, url


def test_queues_json_with_filters_and_pages(api, station_cases):
    body = api["supervisor"].get("/api/v1/queues/stranded").get_json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first["case_id"] == station_cases["long"].id and first["days_stranded"] == 25
    assert first["past_normal_limit"] is True and "id_number" not in first
    assert {o["rule"] for o in first["overdue"]} >= {"portal_notice", "dna_request"}
    assert api["supervisor"].get("/api/v1/queues/stranded?per_page=1&page=2").get_json()["items"][0]["case_id"] == \
        station_cases["child"].id
    minors = api["supervisor"].get("/api/v1/queues/minors?max_age=11").get_json()
    assert [i["case_id"] for i in minors["items"]] == [station_cases["child"].id] and minors["items"][0]["under_16"]
    identified = api["supervisor"].get("/api/v1/queues/identified").get_json()["items"]
    assert [(i["case_id"], i["identified_by_channel"], i["days_since_identified"]) for i in identified] == [
        (station_cases["found"].id, "toutiao", 2)]
    assert api["supervisor"].get("/api/v1/queues/stranded?min_days=30").get_json()["total"] == 0
    assert api["admin"].get("/api/v1/queues/stranded?min_days=30").get_json()["total"] == 1
    assert api["admin"].get("/api/v1/queues/stranded?station=TJNK").get_json()["items"][0]["station"] == "TJNK"


def test_queue_argument_errors(api, station_cases):
    for query, field in (("min_days=x", "min_days"), ("category=giant", "category"), ("format=pdf", "format"),
                         ("per_page=500", "per_page"), ("station=NOPE", "station")):
        resp = api["supervisor"].get(f"/api/v1/queues/stranded?{query}")
        assert resp.status_code == 422 and resp.get_json()["error"]["field"] == field, query
    assert api["supervisor"].get("/api/v1/queues/stranded?station=TJNK").status_code == 403


def test_queue_exports(api, station_cases):
    resp = api["supervisor"].get("/api/v1/queues/stranded?format=csv&category=minor")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'attachment; filename="huijia-stranded-' in resp.headers["Content-Disposition"]
    lines = resp.data.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[0].startswith("case_no,station,name")
    resp = api["supervisor"].get("/api/v1/queues/stranded?format=xlsx")
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3 and rows[1][2] == "'=1+1"
    assert ID_NUMBER not in repr(rows)


def test_stats_endpoint_numbers(api, db, stations):
    main = stations["main"]
    make_case(main, bj(2026, 3, 2, 10), identified=bj(2026, 3, 4, 10), channel="interview",
              exit_type="family_pickup", closed=bj(2026, 3, 5, 10))
    make_case(main, bj(2026, 3, 3, 10), identified=bj(2026, 3, 6, 10), channel="dna")
    make_case(main, bj(2026, 3, 3, 11))
    body = api["supervisor"].get("/api/v1/stats?from=2026-03-01&to=2026-03-31").get_json()
    assert (body["identified"], body["returned"], body["return_rate_identified"]) == (2, 1, 0.5)
    assert body["median_days_to_identify"] == 2.5  # 2 and 3 days
    assert body["arrivals"] == 3 and body["station"] == "TJHX"
    outcomes = {c["channel"]: c for c in body["channels"]}
    assert outcomes["interview"] == {"channel": "interview", "identified": 1, "returned": 1}
    assert outcomes["dna"]["identified"] == 1 and outcomes["dna"]["returned"] == 0
    assert {"weeks", "stranded_days", "face_precision", "gallery_coverage", "decisive_channels"} <= set(body)
    assert api["supervisor"].get("/api/v1/stats?from=2026-04-01&to=2026-03-01").status_code == 422
    assert api["supervisor"].get("/api/v1/stats?station=TJNK").status_code == 403
    assert api["admin"].get("/api/v1/stats?from=2026-03-01&to=2026-03-31&station=TJNK").get_json()["identified"] == 0


def test_exchange_exports(api, station_cases, db):
    report(status="found", source="family", name="张三", hometown="河南", external_id="x/1")
    report(status="open", source="family", name="李四")
    resp = api["supervisor"].get("/api/v1/exports/reports?status=found")
    assert resp.status_code == 200 and resp.mimetype == "application/xml"
    assert [r.fields["name"] for r in parse_pfif(resp.data)] == ["张三"]
    resp = api["supervisor"].get("/api/v1/exports/cases?format=csv")
    assert resp.mimetype == "text/csv" and ID_NUMBER not in resp.data.decode("utf-8-sig")
    # header + the one TJHX case still searched for: the identified one is not sent, nor the unapproved minor
    lines = resp.data.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and station_cases["long"].case_no in lines[1]
    from service.models import CaseEvent

    db.session.add(CaseEvent(case_id=station_cases["child"].id, kind="notice_approved"))
    db.session.commit()
    resp = api["supervisor"].get("/api/v1/exports/cases?format=csv")
    assert len(resp.data.decode("utf-8-sig").strip().splitlines()) == 3  # the minor's notice is approved now
    assert api["supervisor"].get("/api/v1/exports/cases?format=xlsx").status_code == 422
    assert api["supervisor"].get("/api/v1/exports/reports?status=lost").status_code == 422


def test_openapi_documents_the_supervisor_paths(api):
    paths = api["staff"].get("/api/v1/openapi.json").get_json()["paths"]
    for url in ENDPOINTS:
        assert url in paths
    params = {p["name"] for p in paths["/api/v1/queues/stranded"]["get"]["parameters"]}
    assert {"station", "category", "min_age", "max_age", "min_days", "max_days", "format"} <= params
