"""The whole background path on real processes: photo worker → search worker → candidate."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.models import CandidateMatch, Case
from service.services.intake import Upload, register_arrival
from service.services.reports import create_report
from tests.support.procs import child_env, start_worker, wait_for

pytestmark = pytest.mark.slow


def test_candidate_appears_through_both_queues(test_env, tmp_path, db, users, settings, faces_dir):
    env = child_env(test_env, HUIJIA_PENDING_PHOTO_SWEEP_SECONDS=3, HUIJIA_SWEEP_INTERVAL_SECONDS=1)
    photo = lambda n: Upload(f"{n}.jpg", (faces_dir / "Colin_Powell" / f"{n}.jpg").read_bytes())  # noqa: E731
    default = start_worker(env, tmp_path / "default.log", "-c", "1", "--beat", "-s", str(tmp_path / "beat"))
    search = start_worker(env, tmp_path / "search.log", "-c", "1", queues="search")
    try:
        report = create_report(users["staff"], {"name": "鲍威尔", "gender": "male"}, [photo(1)], settings).report
        case = register_arrival(users["staff"], {"gender": "male"}, [photo(4)], settings).case

        def found():
            db.session.expire_all()
            return db.session.scalar(select(CandidateMatch).where(CandidateMatch.case_id == case.id))

        row = wait_for(found, 90, what=f"a candidate\n{default.tail()}\n{search.tail()}")
        assert row.report_id == report.id and row.status == "pending"
        wait_for(lambda: db.session.get(Case, case.id).matching_status == "done" or db.session.expire_all(), 60,
                 what="matching_status done")
    finally:
        default.stop()
        search.stop()


def test_a_stranger_close_in_raw_distance_is_no_longer_proposed(test_env, tmp_path, db, users, settings, faces_dir):
    """Open-set scoring on the worker path: the true report is still found; a stranger from the distractor set
    whose raw distance to the arrival is under the per-pair `possible` cut (0.62: proposed before issue 12) stays
    out once both faces are normalised against the cohort of strangers (the stranger is not in the cohort)."""
    from service.matching import evidence
    from service.matching.engine import get_engine
    from service.matching.templates import vector_of
    from service.models import Face, GalleryReport, Photo

    strangers = faces_dir.parent / "faces-distractors"
    if not (strangers / "David_Myers.jpg").exists():
        pytest.skip(f"no distractor faces at {strangers}")
    env = child_env(test_env)
    upload = lambda path: Upload(path.name, path.read_bytes())  # noqa: E731
    default = start_worker(env, tmp_path / "default.log", "-c", "1")
    search = start_worker(env, tmp_path / "search.log", "-c", "1", queues="search")
    try:
        putin = create_report(users["staff"], {"name": "普京", "gender": "male"}, [upload(faces_dir / "Vladimir_Putin" / "1.jpg")],
                              settings).report
        stranger = create_report(users["staff"], {"name": "陌生人", "gender": "male"}, [upload(strangers / "David_Myers.jpg")],
                                 settings).report

        def reports_matched():
            db.session.expire_all()
            return all(db.session.get(GalleryReport, r.id).matching_status == "done" for r in (putin, stranger))

        wait_for(reports_matched, 90, what=f"reports matched\n{default.tail()}\n{search.tail()}")
        case = register_arrival(users["staff"], {"gender": "male"}, [upload(faces_dir / "Vladimir_Putin" / "3.jpg")], settings).case

        def case_matched():
            db.session.expire_all()
            return db.session.get(Case, case.id).matching_status == "done"

        wait_for(case_matched, 90, what=f"case matched\n{default.tail()}\n{search.tail()}")
        rows = db.session.scalars(select(CandidateMatch).where(CandidateMatch.case_id == case.id)).all()
        assert [r.report_id for r in rows if r.report_id is not None] == [putin.id]
        assert rows[0].band in ("likely", "possible") and "raw_face_distance" in rows[0].evidence
        # The old rule would have proposed the stranger: its raw face distance is under the per-pair cut.
        face_of = lambda **owner: db.session.scalar(select(Face).join(Photo, Face.photo_id == Photo.id).filter_by(**owner)  # noqa: E731
                                                    .where(Face.selected.is_(True)))
        sface = get_engine("sface")
        raw = sface.distance(vector_of(face_of(case_id=case.id)), vector_of(face_of(report_id=stranger.id)))
        assert raw < evidence.thresholds(sface)["adult"][1]
    finally:
        default.stop()
        search.stop()
