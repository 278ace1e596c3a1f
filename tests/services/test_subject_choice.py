"""Subject choice on real photographs: bystanders never stop matching; ambiguous photos search every face."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.domain.errors import Forbidden, NotFound
from service.models import AuditEntry, CandidateMatch, Face, Photo
from service.matching import candidates
from service.services import face_choice
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.support.faces import fresh_index, photo, process_all, side_by_side, with_bystander  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_index")


def _report(users, settings, upload, who="staff", **fields):
    report = create_report(users[who], {"name": "x", **fields}, [upload], settings).report
    process_all(settings)
    candidates.match_report(report.id, settings)
    return report


def _case(users, settings, upload, **fields):
    case = register_arrival(users["staff"], fields, [upload], settings).case
    process_all(settings)
    candidates.match_case(case.id, settings)
    return case


def _gallery_candidates(case_id):
    return CandidateMatch.query.filter_by(case_id=case_id, kind="gallery").all()


def test_a_report_photo_with_a_bystander_enters_the_gallery_without_anyone_touching_it(db, users, settings, faces_dir):
    upload = with_bystander(faces_dir, "Barack_Obama/1.jpg", "Yao_Ming/1.jpg", side=300)
    report = _report(users, settings, upload, gender="male")
    pic = report.photos[0]
    db.session.refresh(pic)
    assert pic.status == "processed" and pic.status_reason == "auto_chosen:2"
    faces = Face.query.filter_by(photo_id=pic.id).order_by(Face.face_index).all()
    assert [(f.selected, f.choice) for f in faces] == [(True, "auto"), (False, None)]  # Obama, the larger, centred face
    case = _case(users, settings, photo(faces_dir, "Barack_Obama", 3), gender="male")
    assert [r.report_id for r in _gallery_candidates(case.id)] == [report.id]
    # The bystander is not in the gallery: Yao Ming arriving finds no one.
    yao = _case(users, settings, photo(faces_dir, "Yao_Ming", 2), gender="male")
    assert _gallery_candidates(yao.id) == []


def test_a_case_photo_with_a_passer_by_in_the_background_is_matched(db, users, settings, faces_dir):
    report = _report(users, settings, photo(faces_dir, "Barack_Obama", 1), gender="male")
    upload = with_bystander(faces_dir, "Barack_Obama/3.jpg", "Jackie_Chan/2.jpg", side=300, corner="bottom-right")
    case = _case(users, settings, upload, gender="male")
    pic = case.photos[0]
    db.session.refresh(pic)
    assert pic.status == "processed"
    rows = _gallery_candidates(case.id)
    assert [r.report_id for r in rows] == [report.id]
    assert db.session.get(Face, rows[0].case_face_id).choice == "auto"


def test_a_truly_ambiguous_photo_shows_candidates_per_face_until_staff_choose(db, users, settings, faces_dir):
    obama = _report(users, settings, photo(faces_dir, "Barack_Obama", 1), gender="male")
    yao = _report(users, settings, photo(faces_dir, "Yao_Ming", 1), gender="male")
    case = _case(users, settings, side_by_side(faces_dir, "Barack_Obama/3.jpg", "Yao_Ming/2.jpg"), gender="male")
    pic = case.photos[0]
    db.session.refresh(pic)
    assert pic.status == "multiple_faces" and pic.status_reason == "faces:2"
    faces = {f.id: f for f in Face.query.filter_by(photo_id=pic.id)}
    assert all(f.selected and f.choice == "plausible" for f in faces.values())
    rows = {r.report_id: r for r in _gallery_candidates(case.id)}
    assert set(rows) == {obama.id, yao.id}
    # Each candidate names the face it was found with: Obama on the left, Yao Ming on the right.
    assert faces[rows[obama.id].case_face_id].box[0] < 300 <= faces[rows[yao.id].case_face_id].box[0]
    assert pic in face_choice.waiting(users["staff"])[0]

    left = rows[obama.id].case_face_id
    face_choice.choose(users["staff"], pic.id, left, "127.0.0.1")
    candidates.match_case(case.id, settings)
    assert [r.report_id for r in _gallery_candidates(case.id)] == [obama.id]  # the other face's candidate is withdrawn
    db.session.refresh(pic)
    assert (pic.status, pic.status_reason) == ("processed", "staff_chosen")
    assert pic not in face_choice.waiting(users["staff"])[0]
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "photo.face_choose"))
    assert audit.object_id == pic.id and audit.detail["face_id"] == left and audit.detail["withdrawn"] == 1


def test_staff_change_a_face_chosen_automatically_with_one_choice(db, users, settings, faces_dir):
    yao = _report(users, settings, photo(faces_dir, "Yao_Ming", 1), gender="male")
    upload = with_bystander(faces_dir, "Barack_Obama/1.jpg", "Yao_Ming/2.jpg", side=300)
    case = _case(users, settings, upload, gender="male")
    assert _gallery_candidates(case.id) == []  # Obama, chosen automatically, is not in the gallery
    bystander = Face.query.filter_by(photo_id=case.photos[0].id, face_index=1).one()
    face_choice.choose(users["staff"], case.photos[0].id, bystander.id)
    candidates.match_case(case.id, settings)
    assert [r.report_id for r in _gallery_candidates(case.id)] == [yao.id]


def test_choosing_checks_the_station_for_cases_leads_and_reports(db, users, settings, faces_dir):
    case = _case(users, settings, side_by_side(faces_dir, "Barack_Obama/3.jpg", "Yao_Ming/2.jpg"))
    report = _report(users, settings, side_by_side(faces_dir, "Colin_Powell/1.jpg", "George_W_Bush/1.jpg"))
    for pic in (case.photos[0], report.photos[0]):
        face = Face.query.filter_by(photo_id=pic.id).first()
        with pytest.raises((NotFound, Forbidden)):
            face_choice.choose(users["other_staff"], pic.id, face.id)
        db.session.rollback()
    assert face_choice.waiting(users["other_staff"])[0] == []
    assert {p.id for p in face_choice.waiting(users["staff"])[0]} == {case.photos[0].id, report.photos[0].id}
    assert not face_choice.may_choose(users["other_staff"], report.photos[0])
    assert face_choice.may_choose(users["staff"], report.photos[0])


def test_photo_reasons_are_translated(app):
    from flask_babel import force_locale

    from service.web.labels import photo_reason

    with app.test_request_context():
        with force_locale("en"):
            assert photo_reason("faces:3").startswith("3 faces")
            assert photo_reason("3 faces").startswith("3 faces")  # a row from before revision 0007
            assert "automatically" in photo_reason("auto_chosen:2")
        with force_locale("zh_CN"):
            for code in ("faces:3", "auto_chosen:2", "staff_chosen", "too_small", "failed:3", "file_missing", "undecodable"):
                text = photo_reason(code)
                assert text and any("\u4e00" <= ch <= "\u9fff" for ch in text), (code, text)


def test_a_turned_head_is_still_searched_and_flagged(db, users, settings, faces_dir):
    report = _report(users, settings, photo(faces_dir, "Hugh_Jackman", 1), gender="male")  # a profile: fails quality
    pic = report.photos[0]
    db.session.refresh(pic)
    assert (pic.status, pic.status_reason) == ("low_quality", "profile")
    face = Face.query.filter_by(photo_id=pic.id, selected=True).one()
    assert face.choice == "low_quality"
    case = _case(users, settings, photo(faces_dir, "Hugh_Jackman", 6), gender="male")
    rows = _gallery_candidates(case.id)
    assert [r.report_id for r in rows] == [report.id] and rows[0].other_face_id == face.id
