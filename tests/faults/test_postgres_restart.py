"""PostgreSQL restarted while workers run: tasks retry and finish; the web answers 503, never a trace.

The web, the workers and the beat run against a private PostgreSQL cluster (initdb, Alembic to
head), which the test stops and starts again; the shared test database is not touched.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from tests.faults.servers import Stack, ThrowawayPostgres, ThrowawayRedis, migrate_and_seed, small_photos, stack_env, wait_for

pytestmark = pytest.mark.slow

ARRIVALS = 40
DOWN_FOR = 6.0  # seconds the database stays stopped
TRACE_MARKERS = ("Traceback", "sqlalchemy", "psycopg", "OperationalError", 'File "')


@pytest.fixture()
def private_pg():
    pg = ThrowawayPostgres()
    try:
        pg.start()
        migrate_and_seed(pg.url, {"clerk": ("staff", "TJHX")})
        yield pg
    finally:
        pg.destroy()


def _photo_states(url: str) -> tuple[Counter, Counter, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            statuses = Counter(dict(conn.execute(sa.text("SELECT status, count(*) FROM photo GROUP BY status")).all()))
            events = Counter(r[0] for r in conn.execute(sa.text(
                "SELECT CAST(data AS json)->>'photo_id' FROM case_event WHERE kind LIKE 'photo_%'")))
            retried = conn.execute(sa.text("SELECT count(*) FROM photo WHERE attempts > 1")).scalar()
            return statuses, events, retried
    finally:
        engine.dispose()


def _no_trace(text: str) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in text, f"{marker!r} leaked into the answer: {text[:400]}"


def test_postgres_restart_while_workers_run(test_env, tmp_path, faces_dir, private_pg):
    redis = ThrowawayRedis(tmp_path)
    redis.start()
    env = stack_env(test_env, HUIJIA_DATABASE_URL=private_pg.url, HUIJIA_BROKER_URL=redis.url,
                    HUIJIA_MEDIA_DIR=tmp_path / "media", HUIJIA_PENDING_PHOTO_SWEEP_SECONDS=20,
                    HUIJIA_SWEEP_INTERVAL_SECONDS=5)
    stack = Stack(env, tmp_path)
    try:
        stack.start_web()
        auth = stack.token("clerk")
        browser = stack.login("clerk")
        created = []
        for i, data in enumerate(small_photos(faces_dir, ARRIVALS)):
            resp = requests.post(f"{stack.base}/api/v1/cases", headers=auth, timeout=30, data={"name": f"重启{i}"},
                                 files=[("photos", (f"p{i}.jpg", data, "image/jpeg"))])
            assert resp.status_code == 201, resp.text
            created.append(resp.json()["id"])
        stack.start_beat()
        worker = stack.start_worker(concurrency=1)  # slow enough that the stop lands mid-run
        wait_for(lambda: "processed" in worker.tail(200) or "succeeded" in worker.tail(200), 60,
                 what=f"the worker to start processing\n{worker.tail()}")

        private_pg.stop("fast")  # mid-run: some photos done, the rest queued or in flight
        down_at = time.monotonic()

        # While it is down: 503 with the API's envelope, an HTML page for people, never a stack trace.
        api = requests.get(f"{stack.base}/api/v1/cases", headers=auth, timeout=30)
        assert api.status_code == 503, api.text
        assert api.headers["Content-Type"].startswith("application/json")
        assert api.json()["error"]["code"] == "database_unavailable" and api.json()["error"]["message"]
        _no_trace(api.text)
        post = requests.post(f"{stack.base}/api/v1/cases", headers=auth, timeout=30, data={"name": "停库登记"})
        assert post.status_code == 503 and post.json()["error"]["code"] == "database_unavailable", post.text
        page = browser.get(f"{stack.base}/cases", timeout=30, allow_redirects=False)
        assert page.status_code == 503, page.text[:500]
        assert page.headers["Content-Type"].startswith("text/html")
        assert "503" in page.text and "<html" in page.text.lower()
        _no_trace(page.text)
        login_page = requests.get(f"{stack.base}/login", timeout=30)
        assert login_page.status_code == 200  # the login form needs no database
        health = requests.get(f"{stack.base}/healthz", timeout=30)
        assert health.status_code == 503 and health.json()["db"] == "down"

        time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - down_at)))
        private_pg.start()
        up_at = time.monotonic()

        wait_for(lambda: requests.get(f"{stack.base}/healthz", timeout=10).status_code == 200, 30,
                 what="the web to reconnect")
        assert browser.get(f"{stack.base}/cases", timeout=30).status_code == 200  # the session survived
        wait_for(lambda: _photo_states(private_pg.url)[0].get("pending", 0) == 0, 120,
                 what=f"every photo processed after the restart\n{stack.logs(60)}")
        recovered = time.monotonic() - up_at
        logs = "\n".join(w.log.read_text(errors="replace") for w in stack.workers)
    finally:
        stack.stop()
        redis.stop()

    statuses, events, _retried = _photo_states(private_pg.url)
    assert sum(statuses.values()) == ARRIVALS
    assert set(statuses) <= {"processed", "no_face", "multiple_faces", "low_quality"}, statuses
    assert len(events) == ARRIVALS and set(events.values()) == {1}, "each photo finished exactly once"
    assert "Retry in" in logs, "no task was retried: the database went down between tasks, not under them"
    print(f"postgres restart: down {DOWN_FOR:.0f}s, {logs.count('Retry in')} task retries, every photo done "
          f"{recovered:.1f}s after it came back; statuses {dict(statuses)}")
