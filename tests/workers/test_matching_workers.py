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
