"""Encoding stored photos again after an engine upgrade: found, encoded once, staff choices kept, failures not looped.

Real photographs through the real engine; the "older version" is the current one's rows relabelled, as an upgrade
leaves them (a template sealed under another version no longer opens, so only the new faces can be searched).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from service.matching import candidates, faces, reencode
from service.domain.errors import NotFound
from service.matching.faces import engine_for, shown_faces
from service.models import AuditEntry, CandidateMatch, CaseEvent, Face, FaceTemplate, Photo
from service.services import face_choice, retention
from service.services.intake import photo_file, register_arrival
from service.services.reports import create_report
from tests.support.faces import fresh_index, photo, process_all, side_by_side  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_index")

OLD = "sface-old-test"


def relabel(db, old: str = OLD) -> None:
    """Every face and template of the current version becomes an older version's (what an upgrade leaves behind)."""
    from service.matching.engine import get_engine

    for table in ("face", "face_template", "candidate_match"):
        db.session.execute(text(f"UPDATE {table} SET engine = :old WHERE engine = :current"),
                           {"old": old, "current": get_engine("sface").version})
    db.session.commit()


def _faces(photo_id: int, version: str) -> list[Face]:
    return Face.query.filter_by(photo_id=photo_id, engine=version).order_by(Face.face_index).all()


@pytest.fixture()
def version(settings) -> str:
    return engine_for(settings).version


def _report(users, settings, upload):
    report = create_report(users["staff"], {"name": "x", "gender": "male"}, [upload], settings).report
    process_all(settings)
    return report


def _case(users, settings, upload):
    case = register_arrival(users["staff"], {"gender": "male"}, [upload], settings).case
    process_all(settings)
    return case


def test_stale_photos_are_reports_first_and_each_is_encoded_once_then_matched(db, users, settings, faces_dir, version,
                                                                              monkeypatch):
    case = _case(users, settings, photo(faces_dir, "Barack_Obama", 3))
    report = _report(users, settings, photo(faces_dir, "Barack_Obama", 1))
    case_photo, report_photo = case.photos[0].id, report.photos[0].id
    assert case_photo < report_photo  # so the order below is the owner's, not the id's
    old_faces = {f.id for f in Face.query}
    assert reencode.stale_photos(version, 10) == []  # everything is on the current version
    candidates.match_case(case.id, settings)  # a pending candidate found before the upgrade, with the old faces
    first = db.session.scalar(select(CandidateMatch).where(CandidateMatch.case_id == case.id))
    assert {first.case_face_id, first.other_face_id} <= old_faces
    relabel(db)
    assert reencode.stale_photos(version, 10) == [report_photo, case_photo]
    assert reencode.stale_photos(version, 1) == [report_photo]
    assert reencode.count_stale(version) == 2

    assert reencode.reencode_photo(report_photo, settings).result == "processed"
    assert reencode.stale_photos(version, 10) == [case_photo]
    assert reencode.reencode_photo(case_photo, settings).result == "processed"
    assert reencode.stale_photos(version, 10) == [] and reencode.count_stale(version) == 0
    for photo_id in (report_photo, case_photo):
        new = _faces(photo_id, version)
        assert len(new) == 1 and new[0].selected and new[0].template_id is not None
        assert len(_faces(photo_id, OLD)) == 1  # left for the candidates that show its crop
    assert {f.id for f in Face.query.filter_by(engine=OLD)} == old_faces

    # A second run (a re-sent message) changes nothing: no duplicate faces, templates or timeline lines.
    counts = (Face.query.count(), FaceTemplate.query.count(), CaseEvent.query.count())
    monkeypatch.setattr(faces, "analyse", lambda *a: pytest.fail("a photo on the current version was analysed again"))
    assert reencode.reencode_photo(report_photo, settings).result == "skipped"
    assert reencode.reencode_photo(case_photo, settings).result == "skipped"
    assert (Face.query.count(), FaceTemplate.query.count(), CaseEvent.query.count()) == counts
    assert reencode.reencode_photo(999999, settings).result == "missing"

    candidates.match_report(report.id, settings)
    candidates.match_case(case.id, settings)
    row = db.session.scalar(select(CandidateMatch).where(CandidateMatch.case_id == case.id))
    assert row.report_id == report.id and row.engine == version
    # Review shows the faces the new distance is of, not the old version's rows it was first found with.
    assert (row.case_face_id, row.other_face_id) == (_faces(case_photo, version)[0].id, _faces(report_photo, version)[0].id)
    # The system searched again, not the clerk: the privacy watch does not count an upgrade against them.
    searches = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "face.search")).all()
    assert sorted(a.user_id is None for a in searches) == [False, False, True, True]


def test_a_staff_choice_on_a_photo_with_several_faces_survives_the_reencode(db, users, settings, faces_dir, version):
    case = _case(users, settings, side_by_side(faces_dir, "Barack_Obama/3.jpg", "Yao_Ming/2.jpg"))
    pic = case.photos[0]
    db.session.refresh(pic)
    assert pic.status == "multiple_faces"
    right = max(_faces(pic.id, version), key=lambda f: f.box[0])
    face_choice.choose(users["staff"], pic.id, right.id)
    relabel(db)

    assert reencode.reencode_photo(pic.id, settings).result == "processed"
    db.session.refresh(pic)
    assert (pic.status, pic.status_reason) == ("processed", "staff_chosen")
    new = _faces(pic.id, version)
    assert len(new) == 2
    chosen = [f for f in new if f.selected]
    assert [f.choice for f in chosen] == ["staff"] and chosen[0].box[0] >= 300  # Yao Ming, on the right, as staff chose
    assert [f.choice for f in new if not f.selected] == [None]
    assert _faces(pic.id, OLD)[right.face_index].choice == "staff"  # the old rows are left as they were
    # Pages, the API and the chooser show the new faces only; an old one cannot be chosen any more.
    assert [f.id for f in shown_faces(pic.id)] == [f.id for f in new]
    with pytest.raises(NotFound):
        face_choice.choose(users["staff"], pic.id, _faces(pic.id, OLD)[0].id)


def test_without_a_staff_choice_the_new_analysis_decides(db, users, settings, faces_dir, version):
    case = _case(users, settings, side_by_side(faces_dir, "Barack_Obama/3.jpg", "Yao_Ming/2.jpg"))
    pic = case.photos[0]
    relabel(db)
    # An old row that lies about the photo: the new analysis, not the old status, decides.
    db.session.execute(text("UPDATE photo SET status = 'processed', status_reason = 'auto_chosen:2' WHERE id = :id"),
                       {"id": pic.id})
    db.session.commit()
    assert reencode.reencode_photo(pic.id, settings).result == "multiple_faces"
    db.session.refresh(pic)
    assert (pic.status, pic.status_reason) == ("multiple_faces", "faces:2")
    assert [f.choice for f in _faces(pic.id, version)] == ["plausible", "plausible"]
    events = [e.kind for e in CaseEvent.query.filter_by(case_id=case.id).order_by(CaseEvent.id)]
    assert events[-1] == "photo_multiple_faces"  # the visible status changed: the timeline says so


def test_a_photo_whose_files_are_gone_is_marked_once_and_not_sent_again(db, users, settings, faces_dir, version):
    case = _case(users, settings, photo(faces_dir, "Colin_Powell", 1))
    pic = case.photos[0]
    relabel(db)
    photo_file(settings.media_dir, pic).unlink()  # the normalised JPEG
    assert reencode.reencode_photo(pic.id, settings).result == "processed"  # from the original
    relabel(db, "sface-older-test")
    photo_file(settings.media_dir, pic, normalized=False).unlink()
    assert reencode.reencode_photo(pic.id, settings).result == "invalid"
    db.session.refresh(pic)
    assert (pic.status, pic.status_reason) == ("invalid", "file_missing")
    assert reencode.stale_photos(version, 10) == []


def test_a_photo_that_kept_killing_its_worker_gives_up_after_max_attempts(db, users, settings, faces_dir, version):
    from service.matching.photos import MAX_ATTEMPTS

    case = _case(users, settings, photo(faces_dir, "Colin_Powell", 1))
    pic = case.photos[0]
    relabel(db)
    pic.meta = {**pic.meta, "reencode": {"engine": version, "attempts": MAX_ATTEMPTS}}
    db.session.commit()
    assert reencode.reencode_photo(pic.id, settings).result == "invalid"
    db.session.refresh(pic)
    assert pic.status_reason == f"failed:{MAX_ATTEMPTS}" and reencode.stale_photos(version, 10) == []


def test_erasure_removes_the_faces_and_templates_of_every_version(db, users, settings, faces_dir, version):
    case = _case(users, settings, photo(faces_dir, "Tony_Blair", 1))
    relabel(db)
    reencode.reencode_photo(case.photos[0].id, settings)
    assert {f.engine for f in Face.query} == {OLD, version}
    retention.erase_case_biometrics(case.id, settings)
    assert Face.query.count() == 0 and FaceTemplate.query.count() == 0
