"""Pages through the Flask test client: login, roles, intake form, list, case page, media."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from service.models import AuditEntry, Case
from tests.conftest import PASSWORD, login


def test_pages_need_login(client, users):
    for path in ("/", "/cases", "/intake", "/cases/1"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_login_wrong_password(client, users, db):
    resp = client.post("/login", data={"username": "staff1", "password": "nope-nope-nope"})
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login.failed")) is not None


def test_login_page_is_chinese_first_and_switches_to_english(client, users):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    client.post("/lang/en", data={"next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert "Log in" in page and 'lang="en"' in page


def test_session_cookie_flags(client, users):
    resp = client.post("/login", data={"username": "staff1", "password": PASSWORD})
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client, users):
    resp = client.get("/login")
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_intake_form_creates_case_and_double_submit_makes_one(staff_client, db, face_photo):
    page = staff_client.get("/intake").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page).group(1)
    form = {
        "idempotency_key": key,
        "name": "孙八",
        "gender": "male",
        "age_min": "8",
        "age_max": "10",
        "found_place": "河西区友谊路",
        "found_at": "2026-11-22T21:15",
        "referral": "patrol",
        "categories_present": "1",
        "categories": ["suspected_lost"],
        "state": "in_station",
    }

    def submit():
        data = dict(form, photos=[(io.BytesIO(face_photo), "face.jpg")])
        return staff_client.post("/intake", data=data, content_type="multipart/form-data")

    first, second = submit(), submit()
    assert first.status_code == 302 and second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    cases = db.session.scalars(select(Case)).all()
    assert len(cases) == 1
    case = cases[0]
    assert case.categories == ["minor", "suspected_lost"] and case.is_minor
    assert case.found_at.isoformat() == "2026-11-22T13:15:00+00:00"  # typed as Beijing time
    page = staff_client.get(first.headers["Location"]).get_data(as_text=True)
    assert case.case_no in page and "未成年人" in page and "疑似走失" in page


def test_intake_form_error_keeps_what_was_typed(staff_client, db):
    resp = staff_client.post(
        "/intake",
        data={"name": "周九", "id_number": "123", "marks": "左臂纹身", "idempotency_key": "k1"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "未保存" in page and "左臂纹身" in page and 'value="周九"' in page
    assert db.session.scalar(select(Case)) is None


def test_intake_rejects_non_image_with_415(staff_client, db):
    resp = staff_client.post(
        "/intake",
        data={"name": "吴十", "photos": [(io.BytesIO(b"MZ\x90\x00 not a photo"), "virus.jpg")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 415
    assert db.session.scalar(select(Case)) is None


def test_case_list_search_and_filters(staff_client, api):
    for name, age in (("郑一", 30), ("郑二", 12), ("王三", 70)):
        api["staff"].post("/api/v1/cases", json={"name": name, "age_min": age, "age_max": age})
    page = staff_client.get("/cases?q=郑").get_data(as_text=True)
    assert "郑一" in page and "郑二" in page and "王三" not in page
    page = staff_client.get("/cases?category=elderly").get_data(as_text=True)
    assert "王三" in page and "郑一" not in page


def test_photo_is_served_behind_login_and_audited(app, staff_client, api, db, face_photo):
    body = api["staff"].post(
        "/api/v1/cases", data={"photos": [(io.BytesIO(face_photo), "f.jpg")]}, content_type="multipart/form-data"
    ).get_json()
    case = db.session.get(Case, body["id"])
    url = f"/media/photos/{case.photos[0].sha256}.jpg"
    assert app.test_client().get(url).status_code == 302  # anonymous → login
    resp = staff_client.get(url)
    assert resp.status_code == 200 and resp.data == face_photo
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "photo.view")) is not None


def test_other_station_cannot_open_case_or_photo(app, api, db, face_photo):
    body = api["staff"].post(
        "/api/v1/cases", data={"photos": [(io.BytesIO(face_photo), "f.jpg")]}, content_type="multipart/form-data"
    ).get_json()
    other = app.test_client()
    login(other, "staff2")
    assert other.get(f"/cases/{body['id']}").status_code == 404
    sha = db.session.get(Case, body["id"]).photos[0].sha256
    assert other.get(f"/media/photos/{sha}.jpg").status_code == 404


@pytest.mark.parametrize("rule", ["/cases", "/intake"])
def test_every_page_declares_a_role(app, rule):
    view = app.view_functions[next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule)]
    assert getattr(view, "required_role", None) == "staff"


def test_admin_saves_station_rules_and_a_bad_calendar_is_shown_not_saved(app, users, db):
    from service.models import Station

    admin = app.test_client()
    login(admin, "admin1")
    station = db.session.get(Station, users["staff"].station_id)
    bad = admin.post("/admin/rules", data={"station": station.code, "overrides": "{}", "calendar": "{oops"})
    assert bad.status_code == 422 and "calendar is not valid JSON" in bad.get_data(as_text=True)
    saved = admin.post("/admin/rules", data={"station": station.code, "overrides": '{"toutiao_push": {"enabled": false}}',
                                             "calendar": '{"holidays": ["2025-10-01"]}'})
    assert saved.status_code == 302
    db.session.expire_all()
    station = db.session.get(Station, station.id)
    assert station.rules_overrides == {"toutiao_push": {"enabled": False}} and station.calendar["holidays"] == ["2025-10-01"]
