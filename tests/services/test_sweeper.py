"""The sweeper re-sends what never went at once, everything after the broker lost its messages, and records its run.

Real Redis (the test run's); the breaker is opened the way a failed send opens it, so "the broker did not take it"
needs no stopped server here (tests/faults stop real ones).
"""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select, text

from service import tasking
from service.models import Heartbeat, Job, Photo
from service.services import liveness, queueing, sweeper
from service.services.intake import Upload, register_arrival


@pytest.fixture()
def slow_backstop(settings):
    """The production age rule (minutes), so only the prompt rules can explain a re-send within the test."""
    return dataclasses.replace(settings, pending_photo_sweep_seconds=3600)


@pytest.fixture(autouse=True)
def closed_breaker():
    tasking.breaker.reset()
    yield
    tasking.breaker.reset()


def _photo(db, users, settings, face_photo):
    case = register_arrival(users["staff"], {"name": "扫描"}, [Upload("p.jpg", face_photo)], settings).case
    return case.photos[0].id


def _queued_at(db, photo_id):
    db.session.expire_all()
    value = db.session.get(Photo, photo_id).queued_at
    db.session.rollback()
    return value


def test_a_photo_the_broker_did_not_take_is_marked_and_sent_by_the_next_sweep(db, users, settings, face_photo,
                                                                               slow_backstop):
    tasking.breaker.record(False)  # as after a failed send: the broker is skipped for a while
    reg = register_arrival(users["staff"], {"name": "断网"}, [Upload("p.jpg", face_photo)], settings)
    assert reg.created and not reg.queued  # the clerk has the case; processing waits
    photo_id = reg.case.photos[0].id
    assert _queued_at(db, photo_id) is None  # marked: never sent

    sweeper.sweep(slow_backstop)  # broker still skipped: it stays marked for the next sweep
    assert _queued_at(db, photo_id) is None
    assert db.session.get(Heartbeat, "sweep").data["unsent"] == 1

    tasking.breaker.reset()  # the broker is back
    assert sweeper.sweep(slow_backstop) >= 1
    assert _queued_at(db, photo_id) is not None  # sent, though seconds old and the age rule says an hour
    mark = db.session.get(Heartbeat, "sweep")
    assert mark.data["unsent"] == 0 and mark.data["broker"] == "ok"


def test_sent_work_waits_for_the_backstop_unless_the_broker_forgot_it(db, users, settings, face_photo, slow_backstop):
    tasking.broker_forgot_messages(settings)  # the marker is there: the broker has what was sent
    photo_id = _photo(db, users, settings, face_photo)
    first = _queued_at(db, photo_id)
    sweeper.sweep(slow_backstop)
    assert _queued_at(db, photo_id) == first  # sent a moment ago and not lost: left alone

    # A Redis restarted without persistence: the marker is gone with the messages.
    tasking._redis(settings.broker_url).delete(tasking.BROKER_MARKER_KEY)
    sweeper.sweep(slow_backstop)
    assert _queued_at(db, photo_id) > first  # re-sent at once, not an hour later
    assert db.session.get(Heartbeat, "sweep").data["broker_lost_messages"] is True
    assert tasking.broker_forgot_messages(settings) is False


def test_an_idle_queue_means_the_message_was_lost(settings, slow_backstop):
    idle = {"state": "ok", "queues": {"default": 0, "search": 3}, "unacked": 0}
    assert sweeper._resend_after(slow_backstop, idle, "default", forgot=False) == sweeper.IDLE_GRACE_SECONDS
    assert sweeper._resend_after(slow_backstop, idle, "search", forgot=False) == 3600  # busy: the backstop
    assert sweeper._resend_after(slow_backstop, idle, "search", forgot=True) == 0
    down = {"state": "down", "queues": None, "unacked": None}
    assert sweeper._resend_after(slow_backstop, down, "default", forgot=False) == 3600


def test_a_job_whose_message_never_went_is_sent_again(db, users, settings):
    job = Job(kind="rematch", state="queued", created_by_id=users["supervisor"].id, errors=[], params={})
    db.session.add(job)
    db.session.commit()
    assert sweeper._resend_queued_jobs(60) == []  # just made: its message may be on its way
    db.session.execute(text("UPDATE job SET created_at = now() - interval '2 minutes' WHERE id = :id"), {"id": job.id})
    db.session.commit()
    assert sweeper._resend_queued_jobs(60) == [job.id]


def test_mark_unsent_leaves_finished_photos_alone(db, users, settings, face_photo):
    photo_id = _photo(db, users, settings, face_photo)
    db.session.execute(text("UPDATE photo SET status = 'processed' WHERE id = :id"), {"id": photo_id})
    db.session.commit()
    queueing.mark_unsent([photo_id])
    assert _queued_at(db, photo_id) is not None
    assert db.session.scalar(select(Photo.status).where(Photo.id == photo_id)) == "processed"


@pytest.fixture()
def quiet_broker(tmp_path, settings):
    """Settings whose broker report reads a private Redis: its default queue holds exactly what the test puts there
    (the run's shared Redis has other tests' messages). Sends still go through the app's broker."""
    from tests.support.procs import ThrowawayRedis

    redis = ThrowawayRedis(tmp_path)
    redis.start()
    try:
        yield dataclasses.replace(settings, broker_url=redis.url, reencode_batch=1, pending_photo_sweep_seconds=3600)
    finally:
        redis.stop()


def _stale_cases(db, users, settings, faces_dir) -> list[int]:
    """Two arrivals processed before an engine upgrade, one after it: the photo ids of the first two."""
    from service.matching import reencode
    from service.matching.faces import engine_for
    from tests.matching.test_reencode import relabel
    from tests.support.faces import photo, process_all

    cases = [register_arrival(users["staff"], {"name": "升级"}, [photo(faces_dir, "Colin_Powell", n)], settings).case
             for n in (1, 2)]
    process_all(settings)
    relabel(db)  # processed before the upgrade
    current = register_arrival(users["staff"], {"name": "新"}, [photo(faces_dir, "Colin_Powell", 3)], settings).case
    process_all(settings)  # after it: never to be encoded again
    stale = [c.photos[0].id for c in cases]
    assert reencode.stale_photos(engine_for(settings).version, 10) == stale
    assert current.photos[0].id not in stale
    return stale


def _mark(db) -> dict:
    db.session.expire_all()
    return db.session.get(Heartbeat, "sweep").data


def test_with_priorities_photos_to_reencode_wait_at_the_lowest_and_are_topped_up(db, users, settings, faces_dir,
                                                                               quiet_broker):
    """Redis: re-encodes go to the default queue's lowest priority list whatever waits there (workers take every
    arrival first), topped up to BACKGROUND_BATCHES x batch, going on after the last one sent; once the list is
    empty, from the start again (a lost message)."""
    stale = _stale_cases(db, users, settings, faces_dir)
    client = tasking._redis(quiet_broker.broker_url)
    background = f"{tasking.DEFAULT_QUEUE}\x06\x16{tasking.BACKGROUND_PRIORITY}"
    client.lpush(tasking.DEFAULT_QUEUE, *["an arrival's photo, waiting"] * 30)
    report = tasking.broker_report(quiet_broker)
    assert report["queues"][tasking.DEFAULT_QUEUE] == 30 and report["background"][tasking.DEFAULT_QUEUE] == 0

    sweeper.sweep(quiet_broker)  # busy with arrivals, and sent anyway: they wait behind every arrival
    mark = _mark(db)
    assert mark["reencode_sent"] == 2 and mark["faces_to_reencode"] == 2
    assert mark["reencode_cursor"][1:] == [1, stale[1]]  # cases are rank 1

    client.lpush(background, "re-encode", "re-encode")  # both still waiting
    assert tasking.broker_report(quiet_broker)["background"][tasking.DEFAULT_QUEUE] == 2
    sweeper.sweep(quiet_broker)
    mark = _mark(db)
    assert mark["reencode_sent"] == 0 and mark["faces_to_reencode"] == 2  # nothing sent twice

    client.lpush(background, *["re-encode"] * (sweeper.BACKGROUND_BATCHES * quiet_broker.reencode_batch))
    sweeper.sweep(quiet_broker)
    assert _mark(db)["reencode_sent"] == 0  # the list is full

    client.delete(background)  # taken, and the messages lost: the photos are still stale
    sweeper.sweep(quiet_broker)
    mark = _mark(db)
    assert mark["reencode_sent"] == 2 and mark["faces_to_reencode"] == 2
    assert liveness.status(quiet_broker, probe_broker=False)["photos"]["faces_to_reencode"] == 2


def test_without_priorities_photos_to_reencode_go_only_while_the_default_queue_is_idle(db, users, settings, faces_dir,
                                                                                     tmp_path):
    """The filesystem broker (make run) has no priorities: a batch goes only when the default queue holds no more
    than the beat's own housekeeping."""
    stale = _stale_cases(db, users, settings, faces_dir)
    quiet = dataclasses.replace(settings, broker_url="filesystem://", instance_dir=tmp_path / "fs", reencode_batch=1,
                                pending_photo_sweep_seconds=3600)
    folder = tmp_path / "fs" / "broker" / "queue"
    folder.mkdir(parents=True)
    waiting = len(tasking.HOUSEKEEPING) + 1
    for n in range(waiting):
        (folder / f"{n}.{tasking.DEFAULT_QUEUE}.msg").write_text("{}")
    report = tasking.broker_report(quiet)
    assert report["queues"][tasking.DEFAULT_QUEUE] == waiting and report["background"] is None
    sweeper.sweep(quiet)
    mark = _mark(db)
    assert mark["reencode_sent"] == 0 and mark["faces_to_reencode"] is None  # busy: not even looked at

    (folder / f"0.{tasking.DEFAULT_QUEUE}.msg").unlink()  # housekeeping only: idle
    sweeper.sweep(quiet)
    mark = _mark(db)
    assert mark["reencode_sent"] == 1 and mark["faces_to_reencode"] == 2  # one batch (of 1), both counted
    assert sweeper.send_reencode(quiet, tasking.broker_report(quiet))[:2] == ([stale[0]], 2)


def test_photos_on_the_current_version_are_never_sent(db, users, settings, faces_dir, quiet_broker):
    from tests.support.faces import photo, process_all

    register_arrival(users["staff"], {"name": "新"}, [photo(faces_dir, "Colin_Powell", 1)], settings)
    process_all(settings)
    idle = {"state": "ok", "queues": {"default": 0, "search": 0}, "unacked": 0}
    assert sweeper.send_reencode(quiet_broker, idle)[:2] == ([], 0)
    sweeper.sweep(quiet_broker)
    assert db.session.get(Heartbeat, "sweep").data["reencode_sent"] == 0


def test_housekeeping_is_the_beats_own_tasks_on_the_default_queue(app):
    """What the re-encode's idle check forgives must be exactly what the beat sends to the default queue."""
    from service.extensions import celery

    beat = {entry["task"] for entry in celery.conf.beat_schedule.values()}
    assert set(tasking.HOUSEKEEPING) == {t for t in beat if tasking.QUEUE_OF[t] == tasking.DEFAULT_QUEUE}
