"""After an engine upgrade, on real worker processes: the task encodes the stored photos again and matching follows."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service import tasking
from service.matching import reencode
from service.matching.faces import engine_for
from service.models import CandidateMatch, Face
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.matching.test_reencode import OLD, relabel
from tests.support.faces import photo, process_all
from tests.support.procs import child_env, start_worker, wait_for

pytestmark = pytest.mark.slow


def test_reencoded_report_and_case_are_matched_again_with_the_new_templates(test_env, tmp_path, db, users, settings,
                                                                             faces_dir):
    version = engine_for(settings).version
    report = create_report(users["staff"], {"name": "鲍威尔", "gender": "male"}, [photo(faces_dir, "Colin_Powell", 1)],
                           settings).report
    case = register_arrival(users["staff"], {"gender": "male"}, [photo(faces_dir, "Colin_Powell", 4)], settings).case
    process_all(settings)  # both processed under the "old" engine, before any matching ran
    relabel(db)
    stale = reencode.stale_photos(version, 10)
    assert stale == [report.photos[0].id, case.photos[0].id]

    env = child_env(test_env)
    default = start_worker(env, tmp_path / "default.log", "-c", "1")
    search = start_worker(env, tmp_path / "search.log", "-c", "1", queues="search")
    try:
        for photo_id in stale:
            assert tasking.enqueue(tasking.REENCODE_PHOTO, photo_id)

        def found():
            db.session.expire_all()
            return db.session.scalar(select(CandidateMatch).where(CandidateMatch.case_id == case.id,
                                                                  CandidateMatch.engine == version))

        row = wait_for(found, 90, what=f"a candidate with the new templates\n{default.tail()}\n{search.tail()}")
        assert row.report_id == report.id and row.status == "pending"
        probe = db.session.get(Face, row.case_face_id)
        assert probe.engine == version and probe.photo_id == case.photos[0].id
    finally:
        default.stop()
        search.stop()
    db.session.expire_all()
    assert reencode.stale_photos(version, 10) == []
    assert {(f.photo_id, f.engine) for f in Face.query} == {(p, v) for p in stale for v in (OLD, version)}


def test_an_arrival_sent_after_a_batch_of_reencodes_is_taken_first(test_env, tmp_path, redis_url):
    """Redis: re-encodes wait at the lowest priority, so a worker takes an arrival's photo before them all."""
    import redis as redis_client

    client = redis_client.Redis.from_url(redis_url)
    client.delete(*[tasking.DEFAULT_QUEUE] + [f"{tasking.DEFAULT_QUEUE}\x06\x16{p}" for p in (3, 6, 9)])
    for photo_id in range(10_000_001, 10_000_021):  # no such photos: each task ends at once ("missing")
        assert tasking.enqueue(tasking.REENCODE_PHOTO, photo_id)
    assert tasking.enqueue(tasking.PROCESS_PHOTO, 10_000_999)
    report = tasking.broker_report(type("S", (), {"broker_url": redis_url})())
    assert report["queues"][tasking.DEFAULT_QUEUE] == 1 and report["background"][tasking.DEFAULT_QUEUE] == 20

    default = start_worker(child_env(test_env), tmp_path / "default.log", "-c", "1")
    try:
        wait_for(lambda: default.log.read_text(errors="replace").count("reencode_photo[") >= 40, 60,
                 what=f"every task run\n{default.tail()}")
    finally:
        default.stop()
    taken = [line for line in default.log.read_text(errors="replace").splitlines() if "] received" in line]
    assert "process_photo[" in taken[0], taken[:3]


def test_the_matching_that_follows_a_reencode_waits_behind_arrivals(db, users, settings, faces_dir, redis_url):
    """The search queue too: a re-encoded photo's owner is matched at the background priority."""
    import redis as redis_client

    version = engine_for(settings).version
    case = register_arrival(users["staff"], {"gender": "male"}, [photo(faces_dir, "Colin_Powell", 4)], settings).case
    process_all(settings)
    relabel(db)
    client = redis_client.Redis.from_url(redis_url)
    lists = {name: f"{tasking.SEARCH_QUEUE}{suffix}" for name, suffix in
             (("arrivals", ""), ("background", f"\x06\x16{tasking.BACKGROUND_PRIORITY}"))}
    client.delete(*lists.values())
    assert reencode.reencode_photo(case.photos[0].id, settings).result == "processed"
    assert {name: client.llen(key) for name, key in lists.items()} == {"arrivals": 0, "background": 1}
    assert reencode.stale_photos(version, 10) == []
