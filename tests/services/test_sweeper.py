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
from service.services import queueing, sweeper
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
