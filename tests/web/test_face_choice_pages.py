"""Choosing a face through pages and API: one use case, the same station checks; review shows the photos' ages."""
from __future__ import annotations

import pytest

from service.models import CandidateMatch, Face, Photo
from service.matching import candidates
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.conftest import login
from tests.support.faces import fresh_index, photo, process_all, side_by_side  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_index")


def _ambiguous_report(users, settings, faces_dir, who="staff"):
    report = create_report(users[who], {"name": "x"}, [side_by_side(faces_dir, "Colin_Powell/1.jpg", "George_W_Bush/1.jpg")],
                           settings).report
    process_all(settings)
    pic = Photo.query.filter_by(report_id=report.id).one()
    return report, pic, Face.query.filter_by(photo_id=pic.id).order_by(Face.face_index).all()


def test_another_stations_report_shows_no_chooser_and_refuses_the_choice(app, api, users, settings, faces_dir):
    report, pic, faces = _ambiguous_report(users, settings, faces_dir)
    other = app.test_client()
    login(other, "staff2")
    page = other.get(f"/reports/{report.id}").get_data(as_text=True)
    assert 'data-testid="photo-reason"' in page and 'data-testid="face-chooser"' not in page
    assert other.post(f"/photos/{pic.id}/faces/{faces[0].id}").status_code == 302  # refused with a message
    assert api["other_staff"].post(f"/api/v1/photos/{pic.id}/faces/{faces[0].id}/select").status_code == 403
    assert api["other_staff"].get("/api/v1/photos/waiting").get_json() == {"items": [], "total": 0}
    waiting = api["staff"].get("/api/v1/photos/waiting").get_json()
    assert [p["id"] for p in waiting["items"]] == [pic.id]
    assert {f["choice"] for f in waiting["items"][0]["faces"]} == {"plausible"}
    resp = api["staff"].post(f"/api/v1/photos/{pic.id}/faces/{faces[1].id}/select")
    assert resp.status_code == 200 and resp.get_json()["choice"] == "staff"


def test_the_web_and_the_api_both_choose_on_a_lead_photo_of_the_station(app, api, staff_client, users, settings, faces_dir):
    from service.services.leads import report_lead

    lead = report_lead(users["reporter"], {"place": "天桥下"}, [side_by_side(faces_dir, "Jackie_Chan/3.jpg", "Tony_Blair/5.jpg")],
                       settings).lead
    process_all(settings)
    pic = Photo.query.filter_by(lead_id=lead.id).one()
    faces = Face.query.filter_by(photo_id=pic.id).order_by(Face.face_index).all()
    assert api["other_staff"].post(f"/api/v1/photos/{pic.id}/faces/{faces[0].id}/select").status_code == 404
    other = app.test_client()
    login(other, "staff2")
    assert other.post(f"/photos/{pic.id}/faces/{faces[0].id}").status_code == 404
    resp = staff_client.post(f"/photos/{pic.id}/faces/{faces[0].id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/dispatch/{lead.id}")
    assert api["staff"].post(f"/api/v1/photos/{pic.id}/faces/{faces[1].id}/select").get_json()["face_id"] == faces[1].id


def test_review_names_the_face_and_the_years_between_the_photos(staff_client, db, users, settings, faces_dir):
    report = create_report(users["staff"], {"name": "鲍某", "gender": "male", "missing_since": "2015-06-01", "age_at_missing": "45"},
                           [photo(faces_dir, "Barack_Obama", 1)], settings).report
    process_all(settings)
    candidates.match_report(report.id, settings)
    case = register_arrival(users["staff"], {"gender": "male", "age_min": "50", "age_max": "60"},
                            [side_by_side(faces_dir, "Barack_Obama/3.jpg", "Yao_Ming/2.jpg")], settings).case
    process_all(settings)
    candidates.match_case(case.id, settings)
    row = CandidateMatch.query.filter_by(case_id=case.id, report_id=report.id).one()
    page = staff_client.get(f"/review/{row.id}").get_data(as_text=True)
    face = db.session.get(Face, row.case_face_id)
    assert face.choice == "plausible" and f"第 {face.face_index + 1} 张脸找到" in page
    assert "早于 2015-06-01" in page and "两张照片至少相隔" in page
    case_page = staff_client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "多人照片" in case_page  # the candidate is labelled with the face it was found with
