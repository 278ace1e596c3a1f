"""The notice API: GET /cases/{id}/notice?format=json|html|png|pdf, approval, the push text."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from service.models import AuditEntry
from service.matching import photos as pipeline
from service.services.intake import Upload, register_arrival
from tests.services.test_notices import FORBIDDEN_TEXT, PUBLIC, SENSITIVE, SENSITIVE_CATEGORIES


def error_of(resp):
    body = resp.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def _case(users, settings, fields, photo: bytes | None = None):
    uploads = [Upload("face.jpg", photo)] if photo else []
    case = register_arrival(users["staff"], fields, uploads, settings).case
    for p in case.photos:
        pipeline.process_photo(p.id, settings, with_faces=False)
    return case


@pytest.fixture()
def adult(db, users, settings, face_photo):
    fields = {**PUBLIC, **SENSITIVE, "categories": SENSITIVE_CATEGORIES}
    return _case(users, settings, fields, face_photo)


@pytest.fixture()
def child(db, users, settings):
    return _case(users, settings, {"name": "小军", "gender": "male", "age_min": "8", "age_max": "10",
                                   "found_place": "河西区友谊路"})


def _url(case, fmt=None, suffix=""):
    return f"/api/v1/cases/{case.id}/notice{suffix}" + (f"?format={fmt}" if fmt else "")


def test_json_is_the_default_and_carries_only_public_details(api, adult, db):
    resp = api["staff"].get(_url(adult))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["withdrawn"] is False and body["state"] == "draft" and body["needs_approval"] is False
    assert body["notice_no"] == adult.case_no and body["name"] == "自称张秀兰"
    assert body["photo_url"] == f"/api/v1/photos/{adult.photos[0].sha256}"
    assert {"label": "发现地点", "value": "天津站南广场"} in body["lines"]
    text = json.dumps(body, ensure_ascii=False)
    assert [v for v in FORBIDDEN_TEXT if v in text] == []
    row = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "notice.view"))
    assert row.detail["format"] == "json" and row.user_id is not None


def test_html_is_a_self_contained_chinese_page(api, adult):
    resp = api["staff"].get(_url(adult, "html"))
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "寻亲公告" in page and "自称张秀兰" in page and "data:image/jpeg;base64," in page
    assert "<style" not in page and "style=" not in page and "<script" not in page  # the CSP allows neither
    assert [v for v in FORBIDDEN_TEXT if v in page] == []


@pytest.mark.parametrize(("fmt", "mimetype", "magic"),
                         [("png", "image/png", b"\x89PNG"), ("pdf", "application/pdf", b"%PDF")])
def test_png_and_pdf(api, adult, fmt, mimetype, magic):
    resp = api["staff"].get(_url(adult, fmt))
    assert resp.status_code == 200 and resp.mimetype == mimetype
    assert resp.data.startswith(magic) and f"notice-{adult.case_no}.{fmt}" in resp.headers["Content-Disposition"]
    if fmt == "png":
        assert Image.open(io.BytesIO(resp.data)).size == (1240, 1754)


def test_unknown_format_is_422(api, adult):
    resp = api["staff"].get(_url(adult, "docx"))
    assert resp.status_code == 422
    assert error_of(resp)["field"] == "format"


def test_auth_and_visibility(api, adult):
    assert api[None].get(_url(adult)).status_code == 401
    assert api[None].get(_url(adult, suffix="/push")).status_code == 401
    assert api[None].post(_url(adult, suffix="/approve")).status_code == 401
    resp = api["other_staff"].get(_url(adult))  # another station's case
    assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"
    assert api["other_staff"].get(_url(adult, suffix="/push")).status_code == 404
    assert api["staff"].get("/api/v1/cases/999999/notice").status_code == 404
    assert api["admin"].get(_url(adult)).status_code == 200


def test_minor_needs_supervisor_approval(api, child):
    for fmt in ("json", "html", "png", "pdf"):
        resp = api["staff"].get(_url(child, fmt))
        assert resp.status_code == 409, fmt
        assert error_of(resp)["code"] == "notice_needs_approval" and "supervisor" in error_of(resp)["message"]
    assert api["staff"].get(_url(child, suffix="/push")).status_code == 409

    resp = api["staff"].post(_url(child, suffix="/approve"))
    assert resp.status_code == 403 and error_of(resp)["code"] == "forbidden"
    resp = api["supervisor"].post(_url(child, suffix="/approve"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["state"] == "approved" and body["needs_approval"] is False and body["approved_at"]
    assert api["staff"].get(_url(child, "png")).status_code == 200
    assert api["staff"].get(_url(child)).get_json()["state"] == "approved"
    assert api["other_staff"].post(_url(child, suffix="/approve")).status_code == 403


def test_push_text(api, adult):
    resp = api["staff"].get(_url(adult, suffix="/push"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["text"].startswith("【寻亲】") and len(body["text"]) <= 120
    assert {"kind": "home", "province": "山东", "from": ["hometown_hint"]} in body["areas"]
    assert SENSITIVE["household_place"] not in json.dumps(body, ensure_ascii=False)


def test_resolved_case_is_withdrawn(api, adult, db):
    adult.identity_status = "confirmed"
    db.session.commit()
    body = api["staff"].get(_url(adult)).get_json()
    assert body["withdrawn"] is True and body["state"] == "withdrawn"
    assert body["statement"].startswith("已寻到亲属") and body["photo_url"] is None
    assert "name" not in body and "description" not in body
    assert body["withdrawn_reason"] == "identity_confirmed"
    assert api["staff"].get(_url(adult, suffix="/push")).get_json()["text"] is None
    assert api["supervisor"].post(_url(adult, suffix="/approve")).status_code == 409
