"""A search some gallery shard did not answer: recorded, shown to staff, run again until complete.

In-process: the coordinator's side against the test Redis with no shard worker listening (every shard
is lost). tests/faults/test_shard_loss.py kills real shard workers.
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import update as sa_update

from service import tasking
from service.config import ConfigError, Settings
from service.extensions import celery
from service.matching import candidates, scatter
from service.models import Case, SearchGap
from service.models.types import utcnow
from tests.support.gallery import fill_gallery


@pytest.fixture()
def gallery(db, stations, redis_url):
    import redis

    candidates.reset_indexes()
    yield fill_gallery(stations["main"], n_reports=40, n_cases=3)
    candidates.reset_indexes()
    # The searches nobody served stay in the test Redis's shard queues otherwise.
    redis.Redis.from_url(redis_url).delete(*(tasking.shard_queue(k) for k in range(3)))


def _gaps(kind: str, owner_id: int) -> list[tuple[int, int, int]]:
    return [(g.shard, g.shard_count, g.attempts) for g in db_rows(kind, owner_id)]


def db_rows(kind, owner_id):
    from service.extensions import db

    return db.session.scalars(select(SearchGap).where(SearchGap.owner_kind == kind, SearchGap.owner_id == owner_id)
                              .order_by(SearchGap.shard)).all()


def test_one_shard_searches_locally_and_is_complete(db, gallery, settings):
    case_id = gallery.case_ids[0]
    # N = 1: the search worker's own index, no hop.
    assert scatter.gallery_for(_engine(settings), settings) is candidates.index_for(_engine(settings))
    result = candidates.match_case(case_id, settings)
    assert result["new"] == 1
    assert db.session.get(Case, case_id).matching_status == "done"
    assert _gaps("case", case_id) == []


def test_shards_that_do_not_answer_make_the_search_incomplete(db, gallery, settings):
    sharded = dataclasses.replace(settings, search_shards=2, shard_budget_ms=300)
    case_id = gallery.case_ids[0]
    result = candidates.match_case(case_id, sharded)
    # Nobody serves search.0 / search.1 here: nothing found, and the case says so instead of "done".
    assert result.get("new", 0) == 0
    assert db.session.get(Case, case_id).matching_status == "incomplete"
    assert _gaps("case", case_id) == [(0, 2, 1), (1, 2, 1)]
    first = db_rows("case", case_id)[0].retry_at
    candidates.match_case(case_id, sharded)
    assert [a for _, _, a in _gaps("case", case_id)] == [2, 2]
    assert db_rows("case", case_id)[0].retry_at - first >= timedelta(seconds=settings.sweep_interval_seconds)
    # The same search on one index answers completely: the gaps go, the candidate comes.
    assert candidates.match_case(case_id, settings)["new"] == 1
    assert _gaps("case", case_id) == [] and db.session.get(Case, case_id).matching_status == "done"


def test_a_report_records_its_gaps_too(db, gallery, settings):
    sharded = dataclasses.replace(settings, search_shards=3, shard_budget_ms=200)
    report_id = gallery.report_of_case[gallery.case_ids[0]]
    candidates.match_report(report_id, sharded)
    assert [s for s, _, _ in _gaps("report", report_id)] == [0, 1, 2]
    assert scatter.missing_shards("report", report_id) == [0, 1, 2]


def test_the_sweeper_runs_due_matches_again(db, gallery, settings, monkeypatch):
    sharded = dataclasses.replace(settings, search_shards=2, shard_budget_ms=100)
    a, b = gallery.case_ids[:2]
    for case_id in (a, b):
        candidates.match_case(case_id, sharded)
    sent = []
    monkeypatch.setattr(celery, "send_task", lambda name, args=None, **kw: sent.append((name, args, kw.get("queue"))))
    assert scatter.sweep_gaps(settings) == 0  # not due yet
    later = utcnow() + timedelta(hours=1)
    sent.clear()
    assert scatter.sweep_gaps(settings, now=later) == 2
    assert sent == [(tasking.MATCH_CASE, [a], tasking.SEARCH_QUEUE), (tasking.MATCH_CASE, [b], tasking.SEARCH_QUEUE)]
    # Sent once: the next sweep waits for the match to have its chance.
    assert scatter.sweep_gaps(settings, now=later) == 0
    # A shard coming back calls its gaps due at once and wakes the sweeper.
    sent.clear()
    assert scatter.call_gaps_due(1, 2) == 2
    assert sent == [(tasking.SWEEP_SEARCH_GAPS, [], tasking.DEFAULT_QUEUE)]
    assert scatter.sweep_gaps(settings) == 2


def test_faces_the_coordinator_finds_gone_are_dropped_by_their_shards(db, gallery, settings, redis_url):
    import base64
    import json

    import redis

    from service.models import Face

    engine = _engine(settings)
    face_ids = sorted(db.session.scalars(select(Face.id).where(Face.owner_kind == "report")).all())[:5]
    sharded = scatter.ShardedGallery(engine.version, engine.metric, 2, 0.1)
    assert sharded.drop(face_ids) == 2
    # One task a shard on the shard's own queue (the real broker), with that shard's faces only.
    client = redis.Redis.from_url(redis_url)
    for shard in (0, 1):
        messages = [json.loads(m) for m in client.lrange(tasking.shard_queue(shard), 0, -1)]
        drops = [json.loads(base64.b64decode(m["body"]))[0] for m in messages
                 if m["headers"]["task"] == tasking.DROP_SHARD_FACES]
        assert drops == [[shard, 2, [f for f in face_ids if f % 2 == shard]]]
    # The shard worker's side: out of its index, and again is a no-op.
    try:
        cache = scatter.shard_cache(engine.version, engine.metric, 1, 2)
        cache.refresh()
        mine = [f for f in face_ids if f % 2 == 1]
        held = len(cache)
        assert mine and scatter.drop_shard_faces(1, 2, mine) == len(mine)
        assert len(cache) == held - len(mine)
        assert scatter.drop_shard_faces(1, 2, mine) == 0
    finally:
        scatter._shard_caches.clear()


def test_two_sweepers_at_once_retry_a_gap_once(db, gallery, settings, redis_url):
    import threading

    import redis

    sharded = dataclasses.replace(settings, search_shards=2, shard_budget_ms=100)
    a, b = gallery.case_ids[:2]
    for case_id in (a, b):
        candidates.match_case(case_id, sharded)
    later = utcnow() + timedelta(hours=1)
    queue = redis.Redis.from_url(redis_url)
    before = queue.llen(tasking.SEARCH_QUEUE)
    from flask import current_app

    app = current_app._get_current_object()
    # Sweeper 1 has claimed the due gaps (row locks held, not committed yet)...
    first = db.engine.connect()
    tx = first.begin()
    claimed = first.execute(select(SearchGap.id).where(SearchGap.retry_at <= later).with_for_update()).all()
    assert len(claimed) == 4
    second: list[int] = []

    def sweep() -> None:
        with app.app_context():
            second.append(scatter.sweep_gaps(settings, now=later))

    # ...sweeper 2 starts meanwhile: it waits for the lock instead of sending the same matches.
    thread = threading.Thread(target=sweep)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive() and second == []
    first.execute(sa_update(SearchGap).values(retry_at=later + timedelta(minutes=5)))
    tx.commit()
    first.close()
    thread.join(10)
    assert second == [0]
    assert queue.llen(tasking.SEARCH_QUEUE) == before
    # Without a competitor the sweeper sends each due owner once.
    assert scatter.sweep_gaps(settings, now=later + timedelta(hours=1)) == 2
    assert queue.llen(tasking.SEARCH_QUEUE) == before + 2


def test_staff_see_which_shard_did_not_answer(db, gallery, settings, staff_client):
    sharded = dataclasses.replace(settings, search_shards=2, shard_budget_ms=100)
    case_id = gallery.case_ids[0]
    candidates.match_case(case_id, sharded)
    page = staff_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "不完整：人脸库分片 0 未响应" in page and "不完整：人脸库分片 1 未响应" in page
    staff_client.post("/lang/en", data={"next": "/"})
    page = staff_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "incomplete: shard 1 did not answer" in page and "matching: incomplete" in page
    report_id = gallery.report_ids[0]
    candidates.match_report(report_id, sharded)
    page = staff_client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "incomplete: shard 0 did not answer" in page
    candidates.match_case(case_id, settings)
    page = staff_client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "did not answer" not in page


def test_shard_settings_are_checked(monkeypatch, test_env):
    for key, value in test_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HUIJIA_SEARCH_SHARDS", "4")
    monkeypatch.setenv("HUIJIA_SEARCH_SHARD", "3")
    settings = Settings.from_env()
    assert (settings.search_shards, settings.search_shard, settings.shard_budget_ms) == (4, 3, 2000)
    monkeypatch.setenv("HUIJIA_SEARCH_SHARD", "4")
    with pytest.raises(ConfigError):
        Settings.from_env()
    monkeypatch.setenv("HUIJIA_SEARCH_SHARDS", "0")
    with pytest.raises(ConfigError):
        Settings.from_env()


def _engine(settings):
    from service.matching.faces import engine_for

    return engine_for(settings)
