"""Matching through the real services and the real SFace engine on real photographs."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from service.models import AuditEntry, CandidateMatch, Case, ChannelEvent, Face, GalleryReport, Photo, SearchChannel
from service.services import review
from service.matching import candidates, photos as pipeline
from service.services.intake import Upload, register_arrival
from service.services.reports import create_report
from tests.support.faces import fresh_index, photo, process_all  # noqa: F401  (fresh_index: a fixture)


pytestmark = pytest.mark.usefixtures("fresh_index")


def new_report(users, settings, faces_dir, identity, n=1, **fields) -> GalleryReport:
    fields.setdefault("name", identity)
    report = create_report(users["staff"], fields, [photo(faces_dir, identity, n)], settings).report
    process_all(settings)
    candidates.match_report(report.id, settings)
    return report


def new_case(users, settings, faces_dir, identity, n=2, **fields) -> Case:
    case = register_arrival(users["staff"], fields, [photo(faces_dir, identity, n)], settings).case
    process_all(settings)
    candidates.match_case(case.id, settings)
    return case


def candidates_of(case_id):
    return CandidateMatch.query.filter(
        (CandidateMatch.case_id == case_id) | (CandidateMatch.other_case_id == case_id)
    ).all()


def test_arrival_matches_its_report_and_not_strangers(db, users, settings, faces_dir):
    obama = new_report(users, settings, faces_dir, "Barack_Obama", gender="male")
    new_report(users, settings, faces_dir, "Yao_Ming", gender="male")
    case = new_case(users, settings, faces_dir, "Barack_Obama", 3, gender="male", age_min=40, age_max=55)
    rows = candidates_of(case.id)
    assert [(r.kind, r.report_id) for r in rows] == [("gallery", obama.id)]
    row = rows[0]
    assert row.band in ("likely", "possible") and row.status == "pending" and 0 < row.score <= 1
    assert row.case_face_id is not None and row.other_face_id is not None
    assert db.session.get(Face, row.case_face_id).owner_id == case.id
    db.session.refresh(case)
    assert case.matching_status == "done"
    face_channel = db.session.scalar(select(SearchChannel).where(SearchChannel.case_id == case.id, SearchChannel.channel == "face"))
    assert face_channel.status == "lead"


def test_reverse_matching_when_the_report_comes_later(db, users, settings, faces_dir):
    case = new_case(users, settings, faces_dir, "Jackie_Chan", 3)
    assert candidates_of(case.id) == []
    report = new_report(users, settings, faces_dir, "Jackie_Chan", 2)
    assert [(r.case_id, r.report_id) for r in candidates_of(case.id)] == [(case.id, report.id)]


def test_sex_gate_blocks_a_face_match(db, users, settings, faces_dir):
    new_report(users, settings, faces_dir, "Barack_Obama", gender="female")  # a wrongly filed report
    case = new_case(users, settings, faces_dir, "Barack_Obama", 3, gender="male")
    assert candidates_of(case.id) == []


def test_rejected_pair_never_comes_back(db, users, settings, faces_dir):
    new_report(users, settings, faces_dir, "Barack_Obama")
    case = new_case(users, settings, faces_dir, "Barack_Obama", 3)
    row = candidates_of(case.id)[0]
    review.decide(users["staff"], row.id, "reject", "different ear shape")
    candidates.match_case(case.id, settings)
    candidates.reset_indexes()
    candidates.match_case(case.id, settings)
    rows = candidates_of(case.id)
    assert [(r.id, r.status) for r in rows] == [(row.id, "rejected")]
    assert review.pending_queue(users["staff"])[1] == 0


def test_confirm_links_identity_and_undo_reverts(db, users, settings, faces_dir):
    report = new_report(users, settings, faces_dir, "Barack_Obama")
    case = new_case(users, settings, faces_dir, "Barack_Obama", 3, name="自称老王")
    row = candidates_of(case.id)[0]
    review.decide(users["staff"], row.id, "confirm", "family confirmed by phone")
    db.session.refresh(case)
    db.session.refresh(report)
    assert case.identity_status == "confirmed" and case.identified_by_report_id == report.id
    assert report.status == "found" and report.found_case_id == case.id
    channel = db.session.scalar(select(SearchChannel).where(SearchChannel.case_id == case.id, SearchChannel.channel == "face"))
    assert channel.status == "confirmed"
    events = db.session.scalars(select(ChannelEvent).where(ChannelEvent.channel_id == channel.id).order_by(ChannelEvent.id)).all()
    assert [e.fields and e.fields.get("kind") for e in events][0] == "run" and events[-1].status == "confirmed"
    assert {e.kind for e in case.events} >= {"registered", "identity_confirmed"}
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "candidate.confirm")) is not None
    with pytest.raises(Exception):
        review.decide(users["staff"], row.id, "confirm", None)  # already decided → Conflict
    with pytest.raises(Exception):
        review.undo(users["staff"], row.id, "mistake")  # staff may not undo
    review.undo(users["supervisor"], row.id, "wrong family")
    db.session.refresh(case)
    db.session.refresh(report)
    assert case.identity_status == "self_reported" and report.status == "open"
    assert db.session.get(CandidateMatch, row.id).status == "rejected"


def test_repeat_arrival_is_proposed(db, users, settings, faces_dir):
    first = new_case(users, settings, faces_dir, "Colin_Powell", 1, gender="male")
    second = new_case(users, settings, faces_dir, "Colin_Powell", 4, gender="male")
    rows = candidates_of(second.id)
    assert [(r.kind, r.case_id, r.other_case_id) for r in rows] == [("previous_arrival", second.id, first.id)]


def test_no_face_photo(db, users, settings):
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 120, 150)).save(buf, "JPEG")
    case = register_arrival(users["staff"], {}, [Upload("wall.jpg", buf.getvalue())], settings).case
    process_all(settings)
    db.session.refresh(case.photos[0])
    assert case.photos[0].status == "no_face"
