"""Gallery, candidates, review and import through the API (matching run in-process)."""
from __future__ import annotations

import io
import zipfile

import pytest

from service.models import GalleryReport, Job, Photo
from service.services import jobs
from service.matching import candidates, photos as pipeline


@pytest.fixture(autouse=True)
def fresh_index():
    candidates.reset_indexes()
    yield
    candidates.reset_indexes()


def _process(settings):
    for pid in [p.id for p in Photo.query.filter_by(status="pending").order_by(Photo.id)]:
        pipeline.process_photo(pid, settings)


def _upload(faces_dir, identity, n):
    return (io.BytesIO((faces_dir / identity / f"{n}.jpg").read_bytes()), f"{identity}-{n}.jpg")


def test_report_case_candidate_review_round_trip(api, settings, faces_dir, db):
    resp = api["staff"].post("/api/v1/reports", data={
        "name": "鲍某", "gender": "male", "missing_since": "2019-05-01", "missing_place": "天津市河西区",
        "source": "family", "contact_phone": "13800000000", "photos": [_upload(faces_dir, "Barack_Obama", 1)],
    }, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    report_id = resp.get_json()["id"]
    case_id = api["staff"].post("/api/v1/cases", data={"gender": "male", "photos": [_upload(faces_dir, "Barack_Obama", 3)]},
                                content_type="multipart/form-data").get_json()["id"]
    _process(settings)
    candidates.match_report(report_id, settings)
    candidates.match_case(case_id, settings)

    case = api["staff"].get(f"/api/v1/cases/{case_id}").get_json()
    assert case["matching_status"] == "done"
    assert case["photos"][0]["faces"][0]["selected"] is True
    items = api["staff"].get(f"/api/v1/cases/{case_id}/candidates").get_json()["items"]
    assert len(items) == 1 and items[0]["kind"] == "gallery" and items[0]["report_id"] == report_id
    assert items[0]["status"] == "pending" and items[0]["score"] > 0.5
    assert {a["attr"] for a in items[0]["evidence"]["agreement"]} >= {"gender", "age"}
    seen = api["staff"].get(f"/api/v1/reports/{report_id}/candidates").get_json()["items"]
    assert [c["id"] for c in seen] == [items[0]["id"]]
    queue = api["staff"].get("/api/v1/queues/review").get_json()
    assert queue["total"] == 1

    cid = items[0]["id"]
    assert api["staff"].post(f"/api/v1/candidates/{cid}/review", json={"decision": "maybe"}).status_code == 422
    assert api["other_staff"].post(f"/api/v1/candidates/{cid}/review", json={"decision": "confirm"}).status_code == 404
    ok = api["staff"].post(f"/api/v1/candidates/{cid}/review", json={"decision": "confirm", "note": "DNA pending"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "confirmed"
    assert api["staff"].post(f"/api/v1/candidates/{cid}/review", json={"decision": "reject"}).status_code == 409
    assert api["staff"].get(f"/api/v1/cases/{case_id}").get_json()["identity_status"] == "confirmed"
    assert api["staff"].get(f"/api/v1/reports/{report_id}").get_json()["status"] == "found"
    assert api["staff"].post(f"/api/v1/candidates/{cid}/undo", json={"note": "x"}).status_code == 403
    assert api["supervisor"].post(f"/api/v1/candidates/{cid}/undo", json={"note": "wrong"}).status_code == 200
    assert api["staff"].get(f"/api/v1/reports/{report_id}").get_json()["status"] == "open"

    crop = case["photos"][0]["faces"][0]["crop_url"]
    assert api["staff"].get(crop).status_code == 200
    assert api[None].get(crop).status_code == 401


def test_report_validation(api):
    assert api["staff"].post("/api/v1/reports", json={"gender": "x"}).status_code == 422
    resp = api["staff"].post("/api/v1/reports", json={"birth_date": "2020-01-01", "missing_since": "2010-01-01"})
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "missing_since"
    assert api["staff"].post("/api/v1/reports", json={"name": "x", "source": "family"}).status_code == 201
    assert api["staff"].get("/api/v1/reports?status=open").get_json()["total"] == 1
    assert api["staff"].get("/api/v1/reports?status=bogus").status_code == 422


def test_import_needs_supervisor_and_runs_as_a_job(api, settings, faces_dir, db):
    csv_text = (
        "姓名,性别,出生日期,走失日期,走失地点,照片,编号\n"
        "张某,男,1950-03-02,2024-01-31,天津市南开区,Barack_Obama-1.jpg,A-1\n"
        "李某,女,不是日期,2024-02-01,天津,,A-2\n"
        "王某,女,1960-01-01,2024年2月1日,北京,missing.jpg,A-3\n"
        "赵某,女,1961-01-01,2024/2/3,河北,,A-4\n"
    ).encode("gbk")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Barack_Obama-1.jpg", (faces_dir / "Barack_Obama" / "1.jpg").read_bytes())
    data = {"file": (io.BytesIO(csv_text), "reports.csv"), "photos": (io.BytesIO(archive.getvalue()), "photos.zip")}
    assert api["staff"].post("/api/v1/reports/import", data=dict(data), content_type="multipart/form-data").status_code == 403
    data = {"file": (io.BytesIO(csv_text), "reports.csv"), "photos": (io.BytesIO(archive.getvalue()), "photos.zip")}
    resp = api["supervisor"].post("/api/v1/reports/import", data=data, content_type="multipart/form-data")
    assert resp.status_code == 202
    job_id = resp.get_json()["job_id"]
    assert api["supervisor"].get(f"/api/v1/jobs/{job_id}").get_json()["state"] == "queued"
    assert api["staff"].get(f"/api/v1/jobs/{job_id}").status_code == 404  # not their job
    assert jobs.run(job_id, settings) == "done"  # what the worker's run_job task calls
    body = api["supervisor"].get(f"/api/v1/jobs/{job_id}").get_json()
    assert body["state"] == "done" and body["total"] == 4 and body["done"] == 4 and body["created"] == 2
    assert sorted(e["line"] for e in body["errors"]) == [3, 4]
    assert GalleryReport.query.count() == 2
    assert len(GalleryReport.query.filter_by(external_id="A-1").one().photos) == 1

    data = {"file": (io.BytesIO(csv_text), "reports.csv"), "photos": (io.BytesIO(archive.getvalue()), "photos.zip")}
    again = api["supervisor"].post("/api/v1/reports/import", data=data, content_type="multipart/form-data").get_json()["job_id"]
    jobs.run(again, settings)
    body = api["supervisor"].get(f"/api/v1/jobs/{again}").get_json()
    assert body["created"] == 0 and body["skipped"] == 2
    assert GalleryReport.query.count() == 2  # importing the same file twice creates nothing new


def test_import_rejects_non_csv(api):
    data = {"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), "x.csv")}
    resp = api["supervisor"].post("/api/v1/reports/import", data=data, content_type="multipart/form-data")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "file"
    assert Job.query.count() == 0


def test_rematch_job_is_admin_only(api, settings, faces_dir, db):
    assert api["supervisor"].post("/api/v1/admin/rematch").status_code == 403
    resp = api["admin"].post("/api/v1/admin/rematch")
    assert resp.status_code == 202
    assert jobs.run(resp.get_json()["job_id"], settings) == "done"
