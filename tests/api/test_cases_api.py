"""The cases API of API.md: auth, create, get, list, patch, errors in one envelope."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import unique_key

VALID_ID = "11010519491231002X"  # GB 11643 sample number: born 1949-12-31, female


def _jpeg(w=64, h=64, color=(200, 150, 120)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG")
    return buf.getvalue()


def error_of(resp):
    body = resp.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_token_wrong_password_is_401(api):
    resp = api[None].post("/api/v1/auth/token", json={"username": "staff1", "password": "wrong-password"})
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "unauthorized"


def test_token_malformed_body_is_400(api):
    resp = api[None].post("/api/v1/auth/token", data="not json", content_type="application/json")
    assert resp.status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/cases", "/api/v1/cases/1"])
def test_anonymous_gets_401(api, path):
    resp = api[None].get(path)
    assert resp.status_code == 401
    assert error_of(resp)["code"] == "unauthorized"


def test_bad_token_gets_401(api):
    resp = api[None].get("/api/v1/cases", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401


def test_create_case_with_photo(api, face_photo, db):
    resp = api["staff"].post(
        "/api/v1/cases",
        data={
            "name": "张三",
            "gender": "male",
            "age_min": "60",
            "age_max": "70",
            "found_place": "天津站南广场",
            "found_at": "2026-11-20T06:30:00+08:00",
            "referral": "police",
            "categories": "disabled",
            "dialect": "河南话",
            "photos": [(io.BytesIO(face_photo), "face.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["case_no"].startswith("TJHX-")
    assert body["state"] == "in_station"
    assert body["identity_status"] == "self_reported"
    assert body["categories"] == ["elderly", "disabled"]
    assert [p["status"] for p in body["photos"]] == ["pending"]
    assert body["processing"] in ("queued", "queued_when_broker_returns")

    got = api["staff"].get(f"/api/v1/cases/{body['id']}").get_json()
    assert got["found_place"] == "天津站南广场"
    assert got["found_at"].startswith("2026-11-19T22:30:00")  # stored in UTC
    assert {c["channel"] for c in got["channels"]} == {"portal", "toutiao", "newspaper", "dna", "face", "interview"}
    assert got["days_stranded"] == 0
    assert got["timeline"][0]["kind"] == "registered"


def test_minor_flagged_from_estimated_age(api):
    resp = api["staff"].post("/api/v1/cases", json={"gender": "female", "age_min": 12, "age_max": 14})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["is_minor"] is True and "minor" in body["categories"]


def test_id_number_fills_birth_date_and_sex_and_is_masked(api):
    resp = api["staff"].post("/api/v1/cases", json={"id_number": VALID_ID})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["birth_date"] == "1949-12-31" and body["gender"] == "female"
    assert body["id_number"] == "110***********002X"
    assert "elderly" in body["categories"]
    full = api["staff"].get(f"/api/v1/cases/{body['id']}?reveal=id_number").get_json()
    assert full["id_number"] == VALID_ID


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"id_number": "110105194912310021"}, "id_number"),
        ({"gender": "robot"}, "gender"),
        ({"age_min": 50, "age_max": 40}, "age_max"),
        ({"age_min": "old"}, "age_min"),
        ({"age_min": 300}, "age_min"),
        ({"categories": ["minor", "astronaut"]}, "categories"),
        ({"found_at": "yesterday"}, "found_at"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"referral": "aliens"}, "referral"),
        ({"found_lat": 123}, "found_lat"),
        ({"state": "returned"}, "state"),
        ({"id_number": VALID_ID, "gender": "male"}, "gender"),
        ({"name": "x" * 81}, "name"),
    ],
)
def test_invalid_values_are_422_never_500(api, payload, field):
    resp = api["staff"].post("/api/v1/cases", json=payload)
    assert resp.status_code == 422, resp.get_json()
    err = error_of(resp)
    assert err["field"] == field and err["message"]


def test_bad_uploads(api, settings):
    def post(data, name="x.jpg"):
        return api["staff"].post(
            "/api/v1/cases", data={"photos": [(io.BytesIO(data), name)]}, content_type="multipart/form-data"
        )

    assert post(b"%PDF-1.4 not an image", "x.jpg").status_code == 415
    assert post(b"hello world", "photo.png").status_code == 415
    truncated = _jpeg(400, 400)[:300]
    resp = post(truncated)
    assert resp.status_code == 422 and error_of(resp)["code"] == "photo_corrupt"
    big = b"\xff\xd8\xff" + b"0" * (settings.max_photo_bytes + 1)
    resp = post(big)
    assert resp.status_code == 413 and error_of(resp)["code"] == "photo_too_large"


def test_too_many_pixels_is_422_and_nothing_kept(api, db):
    from service.models import Case, Photo

    # A PNG header claiming 9000x6000 (54 MP): refused from the header alone.
    buf = io.BytesIO()
    Image.new("L", (9000, 6000)).save(buf, "PNG", optimize=False, compress_level=9)
    resp = api["staff"].post(
        "/api/v1/cases",
        data={"name": "李四", "photos": [(io.BytesIO(buf.getvalue()), "big.png")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert error_of(resp)["code"] == "photo_too_many_pixels"
    assert db.session.query(Case).count() == 0 and db.session.query(Photo).count() == 0


def test_idempotency_key_makes_one_case(api, db):
    from service.models import Case

    key = unique_key()
    first = api["staff"].post("/api/v1/cases", json={"name": "王五"}, headers={"Idempotency-Key": key})
    second = api["staff"].post("/api/v1/cases", json={"name": "王五"}, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"]
    assert db.session.query(Case).count() == 1


def test_list_search_and_paging(api):
    for i in range(7):
        api["staff"].post("/api/v1/cases", json={"name": f"测试{i}", "age_min": 10 + i * 10})
    page = api["staff"].get("/api/v1/cases?per_page=3&page=2").get_json()
    assert page["total"] == 7 and len(page["items"]) == 3
    found = api["staff"].get("/api/v1/cases?q=测试3").get_json()
    assert [c["name"] for c in found["items"]] == ["测试3"]
    minors = api["staff"].get("/api/v1/cases?category=minor").get_json()
    assert {c["name"] for c in minors["items"]} == {"测试0"}
    assert api["staff"].get("/api/v1/cases?per_page=500").status_code == 422
    assert api["staff"].get("/api/v1/cases?page=abc").status_code == 422


def test_station_scoping(api):
    case_id = api["staff"].post("/api/v1/cases", json={"name": "赵六"}).get_json()["id"]
    assert api["other_staff"].get(f"/api/v1/cases/{case_id}").status_code == 404
    assert api["other_staff"].get("/api/v1/cases").get_json()["total"] == 0
    assert api["admin"].get(f"/api/v1/cases/{case_id}").status_code == 200


def test_patch_and_illegal_state_change(api):
    case_id = api["staff"].post("/api/v1/cases", json={"name": "钱七"}).get_json()["id"]
    resp = api["staff"].patch(f"/api/v1/cases/{case_id}", json={"state": "in_hospital", "dialect": "四川话"})
    assert resp.status_code == 200
    assert resp.get_json()["state"] == "in_hospital" and resp.get_json()["dialect"] == "四川话"
    resp = api["staff"].patch(f"/api/v1/cases/{case_id}", json={"state": "returned"})
    assert resp.status_code == 409 and error_of(resp)["field"] == "state"
    assert api["staff"].patch(f"/api/v1/cases/{case_id}", json={"age_min": -1}).status_code == 422
    assert api["staff"].patch(f"/api/v1/cases/{case_id}", data="[]", content_type="application/json").status_code == 400
    assert api["staff"].patch("/api/v1/cases/999999", json={}).status_code == 404


def test_views_are_audited(api, db):
    from service.models import AuditEntry

    case_id = api["staff"].post("/api/v1/cases", json={"id_number": VALID_ID}).get_json()["id"]
    api["staff"].get(f"/api/v1/cases/{case_id}?reveal=id_number")
    rows = db.session.query(AuditEntry).filter_by(action="case.view", object_id=case_id).all()
    assert len(rows) == 1 and rows[0].detail["id_number"] == "revealed"


def test_healthz_and_openapi(app, db):
    client = app.test_client()
    health = client.get("/healthz").get_json()
    assert health["db"] == "ok" and health["broker"] in ("ok", "down")
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/cases" in spec["paths"]


def test_unknown_route_has_envelope(api):
    resp = api["staff"].get("/api/v1/nothing-here")
    assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"


def test_token_login_and_revoke(api):
    from tests.conftest import PASSWORD

    resp = api[None].post("/api/v1/auth/token", json={"username": "staff1", "password": PASSWORD})
    assert resp.status_code == 200
    token = resp.get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert api[None].get("/api/v1/cases", headers=auth).status_code == 200
    assert api[None].post("/api/v1/auth/revoke", headers=auth).status_code == 200
    assert api[None].get("/api/v1/cases", headers=auth).status_code == 401
