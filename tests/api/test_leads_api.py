"""Street-lead API: reporters send and follow their own leads and learn only "known" or not; staff dispatch."""
from __future__ import annotations

import dataclasses
import io

import pytest

from service.models import AuditEntry, Lead
from service.matching import candidates, photos as pipeline
from service.services.reports import create_report
from service.services.intake import Upload
from tests.conftest import unique_key

FORM = {"place": "南开区鞍山西道天桥下", "lat": "39.1201", "lng": "117.1602", "urgency": ["cold", "elderly"],
        "description": "老人，衣着单薄"}
REPORTER_KEYS = {"id", "reported_at", "seen_at", "place", "lat", "lng", "urgency", "status", "outcome", "face_check",
                 "face_check_message", "photos"}


def post_lead(api_client, photo: bytes | None = None, key: str | None = None, **fields):
    data = {**FORM, **fields}
    if photo is not None:
        data["photos"] = (io.BytesIO(photo), "lead.jpg")
    headers = {"Idempotency-Key": key} if key else {}
    return api_client.post("/api/v1/leads", data=data, content_type="multipart/form-data", headers=headers)


@pytest.fixture(autouse=True)
def fresh_index():
    candidates.reset_indexes()
    yield
    candidates.reset_indexes()


def test_reporter_sends_a_lead_and_a_retry_with_the_same_key_makes_one(api, db, face_photo):
    key = unique_key()
    first = post_lead(api["reporter"], face_photo, key)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert set(body) == REPORTER_KEYS
    assert body["urgency"] == ["cold", "elderly"] and body["face_check"] == "pending" and body["photos"] == 1
    again = post_lead(api["reporter"], face_photo, key)
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    assert Lead.query.count() == 1


@pytest.mark.parametrize("fields,code", [({"place": "", "lat": "", "lng": ""}, 422), ({"lat": "north"}, 422),
                                         ({"urgency": ["sleepy"]}, 422), ({"seen_at": "yesterday"}, 422)])
def test_bad_leads_get_a_clear_error(api, db, fields, code):
    resp = post_lead(api["reporter"], **fields)
    assert resp.status_code == code and resp.get_json()["error"]["field"]
    assert Lead.query.count() == 0


def test_a_non_image_is_415_and_nothing_is_kept(api, db):
    resp = post_lead(api["reporter"], b"%PDF-1.4 not a photo" * 20)
    assert resp.status_code == 415 and Lead.query.count() == 0


def test_a_reporter_sees_nothing_but_their_own_leads(api, db):
    mine = post_lead(api["reporter"]).get_json()["id"]
    theirs = post_lead(api["other_reporter"]).get_json()["id"]
    listing = api["reporter"].get("/api/v1/leads").get_json()
    assert [item["id"] for item in listing["items"]] == [mine] and listing["total"] == 1
    assert all(set(item) == REPORTER_KEYS for item in listing["items"])
    assert api["reporter"].get(f"/api/v1/leads/{theirs}").status_code == 404
    for path in ("/api/v1/cases", "/api/v1/reports", "/api/v1/queues/review", "/api/v1/stats", "/api/v1/campaigns",
                 f"/api/v1/cases/{mine}", "/api/v1/alerts"):
        resp = api["reporter"].get(path)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden", path
    for path in (f"/api/v1/leads/{mine}/assign", f"/api/v1/leads/{mine}/close", f"/api/v1/leads/{mine}/arrival"):
        assert api["reporter"].post(path, json={"team": "x", "outcome": "not_found"}).status_code == 403
    staff = api["staff"].get("/api/v1/leads").get_json()
    assert {item["id"] for item in staff["items"]} == {mine, theirs}
    assert api["other_staff"].get(f"/api/v1/leads/{mine}").status_code == 404  # another station


def test_face_check_answer_reveals_nothing_to_the_reporter(api, db, users, settings, faces_dir):
    report = create_report(users["staff"], {"name": "Yao_Ming", "gender": "male", "contact_phone": "13800000000"},
                           [Upload("1.jpg", (faces_dir / "Yao_Ming" / "1.jpg").read_bytes())], settings).report
    lead_id = post_lead(api["reporter"], (faces_dir / "Yao_Ming" / "2.jpg").read_bytes()).get_json()["id"]
    for pid in [p.id for p in pipeline.Photo.query.filter_by(status="pending").order_by("id")]:
        pipeline.process_photo(pid, settings)
    candidates.match_lead(lead_id, settings)
    seen = api["reporter"].get(f"/api/v1/leads/{lead_id}")
    body = seen.get_json()
    assert set(body) == REPORTER_KEYS
    assert body["face_check"] == "known" and body["face_check_message"] == "known to the station: staff will call"
    text = seen.get_data(as_text=True)
    for secret in ("Yao", "13800000000", "report_id", "case_id", "face_distance", "sha256"):
        assert secret not in text
    staff = api["staff"].get(f"/api/v1/leads/{lead_id}").get_json()
    assert staff["face_candidates"][0]["report_id"] == report.id and staff["face_candidates"][0]["kind"] == "gallery"
    # a reporter cannot fetch the lead's photo or crops either: media need staff
    sha = staff["photos"][0]["sha256"]
    assert api["reporter"].get(f"/api/v1/photos/{sha}").status_code == 403


def test_staff_dispatch_and_bring_in_through_the_api(api, db, face_photo):
    lead_id = post_lead(api["reporter"], face_photo).get_json()["id"]
    assert api["staff"].post(f"/api/v1/leads/{lead_id}/on-site").status_code == 409
    assigned = api["staff"].post(f"/api/v1/leads/{lead_id}/assign", json={"team": "巡查一组"})
    assert assigned.status_code == 200 and assigned.get_json()["status"] == "assigned"
    assert api["staff"].post(f"/api/v1/leads/{lead_id}/assign", json={"team": 5}).status_code == 422
    assert api["staff"].post(f"/api/v1/leads/{lead_id}/on-site").get_json()["status"] == "on_site"
    arrival = api["staff"].post(f"/api/v1/leads/{lead_id}/arrival", json={"gender": "female", "age_min": 70, "age_max": 80})
    assert arrival.status_code == 201, arrival.get_json()
    case = arrival.get_json()
    assert len(case["photos"]) == 1 and "elderly" in case["categories"]
    again = api["staff"].post(f"/api/v1/leads/{lead_id}/arrival", json={})
    assert again.status_code == 200 and again.get_json()["id"] == case["id"]
    lead = api["staff"].get(f"/api/v1/leads/{lead_id}").get_json()
    assert (lead["status"], lead["outcome"], lead["case_id"]) == ("closed", "brought_in", case["id"])
    assert api["staff"].post(f"/api/v1/leads/{lead_id}/close", json={"outcome": "not_found"}).status_code == 409
    assert AuditEntry.query.filter_by(action="lead.assign", object_id=lead_id).count() == 1


def test_campaigns_and_patrols_through_the_api(api, db):
    body = {"name": "2026年寒潮专项救助", "kind": "cold_wave", "starts_on": "2026-11-25", "ends_on": "2027-02-28"}
    assert api["staff"].post("/api/v1/campaigns", json=body).status_code == 403
    made = api["supervisor"].post("/api/v1/campaigns", json=body)
    assert made.status_code == 201
    assert api["supervisor"].post("/api/v1/campaigns", json={**body, "ends_on": "2026-01-01"}).status_code == 422
    patrol = api["staff"].post("/api/v1/patrols", json={"team": "一组", "people_contacted": 3, "people_brought_in": 1})
    assert patrol.status_code == 201
    report = api["supervisor"].get(f"/api/v1/campaigns/{made.get_json()['id']}").get_json()
    assert set(report) == {"campaign", "leads", "patrols", "arrivals"}
    assert api["supervisor"].get("/api/v1/campaigns").get_json()["items"][0]["name"] == body["name"]
    stats = api["supervisor"].get("/api/v1/stats").get_json()
    assert {"leads", "share_within_hour", "median_minutes_to_on_site", "by_source", "campaigns"} <= set(stats["leads"])


def test_each_reporter_has_a_rate_limit(app, api, db):
    from service.extensions import limiter

    limiter.reset()
    old = app.config["HUIJIA"]
    app.config["HUIJIA"] = dataclasses.replace(old, lead_rate_limit="2 per hour")
    try:
        codes = [post_lead(api["reporter"]).status_code for _ in range(3)]
        other = post_lead(api["other_reporter"]).status_code
    finally:
        app.config["HUIJIA"] = old
        limiter.reset()
    assert codes == [201, 201, 429] and other == 201


# --- regressions from the review of the street-lead code ---------------------------------------

def test_a_lead_key_or_another_stations_key_never_returns_anyones_case(api, db, users, settings):
    lead_id = post_lead(api["reporter"]).get_json()["id"]
    case = api["staff"].post(f"/api/v1/leads/{lead_id}/arrival", json={"name": "张三"}).get_json()
    form = {"gender": "male"}
    reserved = api["other_staff"].post("/api/v1/cases", data=form, headers={"Idempotency-Key": f"lead:{lead_id}"})
    assert reserved.status_code == 422 and "张三" not in reserved.get_data(as_text=True)
    mine = api["staff"].post("/api/v1/cases", data=form, headers={"Idempotency-Key": "k-shared-123"}).get_json()
    theirs = api["other_staff"].post("/api/v1/cases", data=form, headers={"Idempotency-Key": "k-shared-123"})
    assert theirs.status_code == 409 and str(mine["case_no"]) not in theirs.get_data(as_text=True)
    assert case["id"] != mine["id"]


def test_other_station_staff_cannot_choose_a_face_on_a_lead_photo(api, db, users, settings, faces_dir):
    from service.models import Face

    lead_id = post_lead(api["reporter"], (faces_dir / "Yao_Ming" / "1.jpg").read_bytes()).get_json()["id"]
    photo = pipeline.Photo.query.filter_by(lead_id=lead_id).one()
    pipeline.process_photo(photo.id, settings)
    face = Face.query.filter_by(photo_id=photo.id).first()
    resp = api["other_staff"].post(f"/api/v1/photos/{photo.id}/faces/{face.id}/select")
    assert resp.status_code == 404


def test_out_of_range_values_are_422_not_500(api, db):
    for seen in ("0001-01-01T00:00", "9999-12-31T23:59:59-14:00"):
        assert post_lead(api["reporter"], seen_at=seen).status_code == 422, seen
    raw = '{"team": "x", "people_contacted": 1e999}'
    assert api["staff"].post("/api/v1/patrols", data=raw, content_type="application/json").status_code == 422
    assert api["staff"].post("/api/v1/patrols", json={"team": "x", "people_contacted": True}).status_code == 422
    far = {"name": "x", "starts_on": "9999-12-01", "ends_on": "9999-12-31"}
    assert api["supervisor"].post("/api/v1/campaigns", json=far).status_code == 422
    lead_id = post_lead(api["reporter"]).get_json()["id"]
    for body in ({"state": 5}, {"station_code": 5}):
        assert api["staff"].post(f"/api/v1/leads/{lead_id}/arrival", json=body).status_code == 422, body


def test_an_admin_registers_the_arrival_at_the_leads_station(api, db, users):
    lead_id = post_lead(api["reporter"]).get_json()["id"]
    resp = api["admin"].post(f"/api/v1/leads/{lead_id}/arrival", json={})
    assert resp.status_code == 201, resp.get_json()
    from service.models import Case

    assert Case.query.get(resp.get_json()["id"]).station_id == users["reporter"].station_id


def test_an_earlier_arrival_at_another_station_is_not_known_to_the_reporter(api, db, users, settings, faces_dir):
    from service.services.intake import register_arrival

    elsewhere = register_arrival(users["other_staff"], {"gender": "male"},
                                 [Upload("1.jpg", (faces_dir / "Yao_Ming" / "1.jpg").read_bytes())], settings).case
    lead_id = post_lead(api["reporter"], (faces_dir / "Yao_Ming" / "2.jpg").read_bytes()).get_json()["id"]
    for pid in [p.id for p in pipeline.Photo.query.filter_by(status="pending").order_by("id")]:
        pipeline.process_photo(pid, settings)
    candidates.match_lead(lead_id, settings)
    assert api["reporter"].get(f"/api/v1/leads/{lead_id}").get_json()["face_check"] == "not_known"
    staff = api["staff"].get(f"/api/v1/leads/{lead_id}").get_json()
    assert staff["face_candidates"][0]["kind"] == "previous_arrival" and staff["face_candidates"][0]["other_station"]
    assert all(c["case_id"] != elsewhere.id for c in staff["face_candidates"])


def test_a_logged_out_phone_gets_401_json_not_the_login_page(client, db, users):
    resp = client.post("/report", data={"place": "x"}, headers={"Accept": "application/json"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/report").status_code == 302  # a browser opening the page is still sent to log in
