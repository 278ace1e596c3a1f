"""Nothing stuck: every worker process and beat SIGKILLed under load, the broker stopped, under the supervisor.

Real processes, as they run in production: scripts/supervise.py over gunicorn, the Celery worker, the search
worker and a separate beat. Two topologies:
- the embedded default, started by scripts/run.sh itself (make run): SQLite file + filesystem broker;
- the production path: PostgreSQL + a throwaway Redis without persistence, stopped mid-load as well.
The age rule of the sweeper is set to 10 minutes, longer than the test: only the prompt rules (a photo never
sent goes at once, everything after the broker lost its messages, an idle queue's lost work after 30 s) can
finish the work in time. A beat that hangs (SIGSTOP: alive to the supervisor, no ticks) must show on /healthz.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.faults.servers import Supervised, ThrowawayRedis, alive, small_photos, stack_env, wait_for

pytestmark = pytest.mark.slow

FINISHED = {"processed", "no_face", "multiple_faces", "low_quality"}
SWEEP_INTERVAL = 3  # seconds: the beat is stale after 6 s without a tick
BACKSTOP = 600  # the sweeper's age rule, beyond the test's waits
CLERK_PASSWORD = "a-long-password-for-clerk"


class Clerks:
    """Threads registering arrivals through the API, each answer kept with its timing.

    The last `held_back` arrivals wait for release(): a fault window then has registrations in it however
    fast the machine answers the others (a quick CI host once finished them all before the outage began).
    """

    def __init__(self, base: str, token: str, photos: list[bytes], threads: int, held_back: int = 0):
        self.base, self.auth, self.photos = base, {"Authorization": f"Bearer {token}"}, photos
        self.answers: list[dict] = []
        self.lock = threading.Lock()
        self.next = 0
        self.held_from = len(photos) - held_back
        self.released = threading.Event()
        if not held_back:
            self.released.set()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        with requests.Session() as http:
            while True:
                with self.lock:
                    i, self.next = self.next, self.next + 1
                if i >= len(self.photos):
                    return
                if i >= self.held_from:
                    self.released.wait()
                started = time.monotonic()
                try:
                    resp = http.post(f"{self.base}/api/v1/cases", headers=self.auth, timeout=120,
                                     data={"name": f"到站{i}"},
                                     files=[("photos", (f"p{i}.jpg", self.photos[i], "image/jpeg"))])
                    answer = {"status": resp.status_code, "body": resp.json() if resp.ok else resp.text[:300]}
                except requests.RequestException as exc:
                    answer = {"status": None, "body": repr(exc)}
                answer.update(i=i, started=started, ms=(time.monotonic() - started) * 1000)
                with self.lock:
                    self.answers.append(answer)

    def release(self) -> None:
        self.released.set()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "registrations did not finish"

    def answered(self) -> int:
        with self.lock:
            return len(self.answers)


def _counts(engine) -> tuple[Counter, Counter, int]:
    """(photo statuses, photo_* events per photo id, photos) read straight from the database."""
    with engine.connect() as conn:
        statuses = Counter(dict(conn.execute(sa.text("SELECT status, count(*) FROM photo GROUP BY status")).all()))
        events = Counter(_photo_id(data) for data in conn.execute(
            sa.text("SELECT data FROM case_event WHERE kind LIKE 'photo_%'")).scalars())
    return statuses, events, sum(statuses.values())


def _photo_id(data) -> int:
    """JSON comes back as a dict from PostgreSQL and as text from SQLite."""
    return int((json.loads(data) if isinstance(data, str) else data)["photo_id"])


def _faces_of(engine, version: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM face WHERE engine = :v"), {"v": version}).scalar()


def _upgrade_reencodes(stack: Supervised, engine) -> float:
    """A face engine upgrade on the embedded default: every face becomes an older version's (what an upgrade
    leaves behind); the beat's sweeps and the worker alone encode them all again. Seconds until they have."""
    from service.matching.engine.sface import SFaceEngine

    current = SFaceEngine.version
    faces = _faces_of(engine, current)
    assert faces > 0
    with engine.begin() as conn:
        for table in ("face", "face_template"):
            conn.execute(sa.text(f"UPDATE {table} SET engine = 'sface-old-test' WHERE engine = :v"), {"v": current})
    started = time.monotonic()
    wait_for(lambda: _faces_of(engine, current) >= faces and stack.health()["photos"]["faces_to_reencode"] == 0,
             180, interval=1, what=f"the photos encoded again after an upgrade\n{stack.proc.tail(40)}")
    return time.monotonic() - started


def _processed(engine) -> int:
    statuses, _events, _total = _counts(engine)
    return sum(n for status, n in statuses.items() if status != "pending")


def _beat_hang_shows(stack: Supervised) -> float:
    """SIGSTOP the beat (a hung beat: the supervisor sees it alive); seconds until /healthz says stale."""
    pid = stack.pids()["beat"]
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        wait_for(lambda: stack.health()["beat"]["state"] == "stale", 2 * SWEEP_INTERVAL + 90, interval=0.5,
                 what="a hung beat to show on /healthz")
        shown = time.monotonic() - stopped
        body = stack.health()
        assert any(p["code"] == "beat_stopped" for p in body["problems"]), body
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: stack.health()["beat"]["state"] == "ok", 60, what="the beat ticking again after SIGCONT")
    return shown


def _assert_nothing_lost(engine, clerks: Clerks, arrivals: int) -> Counter:
    assert [a["status"] for a in clerks.answers] == [201] * arrivals, [a for a in clerks.answers if a["status"] != 201]
    assert len({a["body"]["id"] for a in clerks.answers}) == arrivals
    statuses, events, total = _counts(engine)
    assert total == arrivals and statuses.get("pending", 0) == 0, statuses
    assert set(statuses) <= FINISHED, statuses
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM photo")).scalars().all()
    assert events == Counter({pid: 1 for pid in ids}), "each photo must finish exactly once"
    return statuses


def _deaths(log: Path) -> Counter:
    return Counter(re.findall(r"event=process_died name=(\w+)", log.read_text(errors="replace")))


def test_make_run_restarts_every_killed_process_and_loses_nothing(test_env, tmp_path, faces_dir, record_property):
    """The embedded default as `make run` starts it: SQLite + filesystem broker, scripts/run.sh."""
    arrivals = 60
    instance = tmp_path / "instance"
    env = {k: v for k, v in stack_env(test_env).items()
           if k not in ("HUIJIA_DATABASE_URL", "HUIJIA_BROKER_URL", "HUIJIA_MEDIA_DIR", "HUIJIA_SECRET_KEY")}
    env.update(HUIJIA_INSTANCE_DIR=str(instance), HUIJIA_SWEEP_INTERVAL_SECONDS=str(SWEEP_INTERVAL),
               HUIJIA_PENDING_PHOTO_SWEEP_SECONDS=str(BACKSTOP), HUIJIA_BROKER_RETRY_SECONDS="2")
    log = tmp_path / "make-run.log"
    stack = Supervised.make_run(env, log)
    engine = sa.create_engine(f"sqlite:///{instance / 'huijia.sqlite3'}")
    kills = []
    try:
        stack.wait_ready()
        made = subprocess.run([sys.executable, "-m", "flask", "--app", "service", "user", "create", "clerk", "--role",
                               "staff", "--password", CLERK_PASSWORD, "--station", "DEMO"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        token = requests.post(f"{stack.base}/api/v1/auth/token", timeout=30,
                              json={"username": "clerk", "password": CLERK_PASSWORD}).json()["token"]
        clerks = Clerks(stack.base, token, small_photos(faces_dir, arrivals, side=800), threads=4)
        clerks.start()
        for round_no in range(2):
            done = _processed(engine)
            wait_for(lambda: _processed(engine) >= done + 3, 120, what=f"photos processed\n{stack.proc.tail()}")
            killed = stack.kill_background()
            kills.append(killed)
            stack.wait_restarted(killed)
        clerks.join(300)
        hang_shown_s = _beat_hang_shows(stack)
        wait_for(lambda: _counts(engine)[0].get("pending", 0) == 0 and _counts(engine)[2] == arrivals, 300,
                 interval=1, what=f"every photo finished after {kills}\n{stack.proc.tail(80)}")
        # After the hung beat, the sweep is late a moment longer; then everything reads fine again.
        health = wait_for(lambda: (body := stack.health())["status"] == "ok" and body, 120, interval=1,
                          what=f"/healthz to read ok again\n{stack.proc.tail(40)}")
        reencoded_s = _upgrade_reencodes(stack, engine)
        pids = stack.pids()
    finally:
        stack.stop()
    assert not any(alive(pid) for pid in pids.values()), "make run left processes behind after it stopped"
    statuses = _assert_nothing_lost(engine, clerks, arrivals)
    deaths = _deaths(log)
    assert all(deaths[name] >= 2 for name in Supervised.BACKGROUND), deaths
    assert health["photos"]["pending"] == 0 and health["problems"] == [], health
    record_property("campaign", {"arrivals": arrivals, "deaths": dict(deaths), "statuses": dict(statuses),
                                 "beat_hang_shown_s": round(hang_shown_s, 1), "reencoded_s": round(reencoded_s, 1)})
    print(f"make run: killed {kills}; restarts {dict(deaths)}; statuses {dict(statuses)}; "
          f"a hung beat showed on /healthz after {hang_shown_s:.1f}s; after an upgrade every face was encoded again in "
          f"{reencoded_s:.1f}s")


def test_workers_and_beat_killed_and_redis_stopped_in_one_run(test_env, tmp_path, db, users, faces_dir,
                                                              record_property):
    """The production path: PostgreSQL + Redis without persistence, both faults in one run."""
    from service.services.users import issue_token

    arrivals, outage = 120, 10.0
    redis = ThrowawayRedis(tmp_path)
    redis.start()
    env = stack_env(test_env, HUIJIA_BROKER_URL=redis.url, HUIJIA_SWEEP_INTERVAL_SECONDS=SWEEP_INTERVAL,
                    HUIJIA_PENDING_PHOTO_SWEEP_SECONDS=BACKSTOP, HUIJIA_BROKER_RETRY_SECONDS=2)
    log = tmp_path / "supervisor.log"
    stack = Supervised.processes(env, log)
    engine = sa.create_engine(test_env["HUIJIA_DATABASE_URL"])
    token, _ = issue_token(users["staff"], 1)
    try:
        stack.wait_ready()
        clerks = Clerks(stack.base, token, small_photos(faces_dir, arrivals, side=800), threads=6,
                        held_back=24)
        clerks.start()
        wait_for(lambda: _processed(engine) >= 3, 120, what=f"photos processed\n{stack.proc.tail()}")
        killed = stack.kill_background()
        stack.wait_restarted(killed)

        wait_for(lambda: clerks.answered() >= arrivals // 2, 300, what="half of the arrivals answered")
        redis.stop()  # SIGKILL, no persistence: every message it held is gone
        down_at = time.monotonic()
        wait_for(lambda: stack.health()["broker"] == "down", 30, what="/healthz to see the broker down")
        time.sleep(max(0.0, down_at + 1.5 - time.monotonic()))
        clerks.release()  # the held-back arrivals are registered while the broker is down
        time.sleep(max(0.0, outage - (time.monotonic() - down_at)))
        redis.start()
        up_at = time.monotonic()
        clerks.join(300)
        wait_for(lambda: _counts(engine)[0].get("pending", 0) == 0 and _counts(engine)[2] == arrivals, 300,
                 interval=1, what=f"every photo finished after the outage\n{stack.proc.tail(80)}")
        recovered_s = time.monotonic() - up_at
        hang_shown_s = _beat_hang_shows(stack)
    finally:
        stack.stop()
        redis.stop()
        engine.dispose()

    engine = sa.create_engine(test_env["HUIJIA_DATABASE_URL"])
    statuses = _assert_nothing_lost(engine, clerks, arrivals)
    engine.dispose()
    during = [a for a in clerks.answers if down_at <= a["started"] < up_at]
    within = [a for a in during if a["started"] > down_at + 1 and a["started"] + a["ms"] / 1000 < up_at]
    assert within and all(a["body"]["processing"] == "queued_when_broker_returns" for a in within), \
        "registrations during the outage are answered, and their photos wait for the broker"
    deaths = _deaths(log)
    assert all(deaths[name] >= 1 for name in Supervised.BACKGROUND), deaths
    slowest = max(a["ms"] for a in during)
    record_property("campaign", {"arrivals": arrivals, "killed": killed, "deaths": dict(deaths),
                                 "statuses": dict(statuses), "during_outage": len(during),
                                 "slowest_intake_during_outage_ms": round(slowest),
                                 "all_done_after_broker_back_s": round(recovered_s, 1),
                                 "beat_hang_shown_s": round(hang_shown_s, 1)})
    print(f"production path: killed {killed}; restarts {dict(deaths)}; {len(during)} registrations during the "
          f"{outage:.0f}s outage (slowest {slowest:.0f} ms); all done {recovered_s:.1f}s after Redis returned; "
          f"hung beat shown after {hang_shown_s:.1f}s; statuses {dict(statuses)}")
