"""A worker SIGKILLed again and again while 200 arrivals come in: every photo is processed exactly once.

Real processes: gunicorn takes the registrations, Celery prefork workers process the photos, a
separate beat runs the sweeper, a private Redis is the broker. Two kinds of kill alternate:
a pool child (the parent sees the worker lost and re-queues the message: task_reject_on_worker_lost)
and the whole worker group (its unacknowledged messages stay in Redis: the sweeper re-sends them).
"""
from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select

from service.models import CaseEvent, Photo
from service.services.users import issue_token
from tests.faults.servers import Stack, ThrowawayRedis, children_of, small_photos, stack_env, wait_for

pytestmark = pytest.mark.slow

ARRIVALS = 200
KILLS = 4
KILL_EVERY = 2.0  # seconds
FINISHED = {"processed", "no_face", "multiple_faces", "low_quality"}


def test_worker_sigkilled_repeatedly_during_200_arrivals(test_env, tmp_path, db, users, faces_dir, record_property):
    redis = ThrowawayRedis(tmp_path)
    redis.start()
    env = stack_env(test_env, HUIJIA_BROKER_URL=redis.url, HUIJIA_PENDING_PHOTO_SWEEP_SECONDS=6,
                    HUIJIA_SWEEP_INTERVAL_SECONDS=2)
    stack = Stack(env, tmp_path)
    photos = small_photos(faces_dir, ARRIVALS, side=1024)  # work long enough to be in flight when killed
    token, _ = issue_token(users["staff"], 1)
    auth = {"Authorization": f"Bearer {token}"}
    answers: list[tuple[int, int | None]] = []
    kills: list[str] = []
    try:
        stack.start_web()
        stack.start_beat()
        stack.start_worker()

        def register():
            with requests.Session() as http:
                for i, data in enumerate(photos):
                    resp = http.post(f"{stack.base}/api/v1/cases", headers=auth, timeout=60, data={"name": f"到站{i}"},
                                     files=[("photos", (f"p{i}.jpg", data, "image/jpeg"))])
                    answers.append((resp.status_code, resp.json().get("id") if resp.ok else None))

        clerk = threading.Thread(target=register)
        started = time.monotonic()
        clerk.start()
        wait_for(lambda: _count(db, Photo.status != "pending") > 0, 60,
                 what=f"the first photo to be processed\n{stack.logs()}")
        for round_no in range(KILLS):
            time.sleep(KILL_EVERY)
            worker = stack.workers[-1]
            pool = children_of(worker.pid)
            if round_no % 2 == 0 and pool:
                for pid in pool:  # the pool dies mid-task; the parent stays and forks new children
                    os.kill(pid, signal.SIGKILL)
                kills.append(f"pool children {pool}")
            else:
                worker.kill()  # SIGKILL to the whole group: parent and children, messages unacknowledged
                worker.popen.wait(10)
                kills.append(f"worker group {worker.pid}")
                stack.start_worker()
        clerk.join(180)
        assert not clerk.is_alive(), "registrations did not finish"
        wait_for(lambda: _count(db, Photo.status == "pending") == 0 and _count(db) == ARRIVALS, 150,
                 what=f"every photo processed after {kills}\n{stack.logs()}")
        drained = time.monotonic() - started
    finally:
        stack.stop()
        redis.stop()

    assert [code for code, _ in answers] == [201] * ARRIVALS
    assert len({case_id for _, case_id in answers}) == ARRIVALS
    db.session.expire_all()
    rows = db.session.scalars(select(Photo)).all()
    assert len(rows) == ARRIVALS
    statuses = Counter(r.status for r in rows)
    assert set(statuses) <= FINISHED, statuses
    events = Counter(e.data["photo_id"] for e in db.session.scalars(select(CaseEvent).where(CaseEvent.kind.like("photo_%"))))
    assert events == Counter({r.id: 1 for r in rows}), "each photo must finish exactly once"
    # The kills must have hit work in flight, or the test proved nothing.
    interrupted = [r.id for r in rows if r.attempts > 1]
    assert interrupted, f"no task was interrupted by {kills}"
    assert len(kills) == KILLS
    record_property("campaign", {"arrivals": ARRIVALS, "kills": kills, "statuses": dict(statuses),
                                 "interrupted_photos": len(interrupted), "drain_seconds": round(drained, 1)})
    print(f"worker kills: {kills}; statuses {dict(statuses)}; {len(interrupted)} photos interrupted; "
          f"all done {drained:.1f}s after the first registration")


def _count(db, *where) -> int:
    db.session.expire_all()
    value = db.session.scalar(select(func.count(Photo.id)).where(*where))
    db.session.rollback()
    return value
