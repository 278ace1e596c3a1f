"""process_photo on real worker processes and real Redis: processed once, nothing lost."""
from __future__ import annotations

import io
import time

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from service.models import CaseEvent, Photo
from service.matching import photos as pipeline
from service.services.intake import Upload, register_arrival
from tests.support.procs import ThrowawayRedis, child_env, spare_port, start_web, start_worker, wait_for

pytestmark = pytest.mark.slow


def _rotated_jpeg(faces_dir) -> bytes:
    """A real photo stored sideways with EXIF orientation 6 (as phones do)."""
    img = Image.open(faces_dir / "Alex_Lacamoire" / "1.jpg").rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _register(users, settings, data: bytes, name="测试"):
    return register_arrival(users["staff"], {"name": name}, [Upload("p.jpg", data)], settings).case


def _statuses(db, case_id) -> list[str]:
    db.session.expire_all()
    return [p.status for p in db.session.scalars(select(Photo).where(Photo.case_id == case_id))]


def test_process_photo_applies_orientation_and_is_idempotent(db, users, settings, faces_dir):
    case = _register(users, settings, _rotated_jpeg(faces_dir))
    photo_id = case.photos[0].id
    first = pipeline.process_photo(photo_id, settings)
    second = pipeline.process_photo(photo_id, settings)
    assert first.result == "processed" and second.result == "skipped"
    photo = db.session.get(Photo, photo_id)
    original = Image.open(faces_dir / "Alex_Lacamoire" / "1.jpg")
    # Orientation 6 on a rotated image gives back the upright original dimensions.
    assert (photo.width, photo.height) == original.size
    assert photo.meta["exif_orientation"] == 6 and photo.attempts == 1
    events = db.session.scalars(select(CaseEvent).where(CaseEvent.kind == "photo_processed")).all()
    assert len(events) == 1
    assert pipeline.process_photo(999999, settings).result == "missing"


def test_photo_that_keeps_failing_is_marked_invalid(db, users, settings, face_photo):
    case = _register(users, settings, face_photo)
    photo = case.photos[0]
    photo.attempts = pipeline.MAX_ATTEMPTS  # it crashed its worker this often already
    db.session.commit()
    assert pipeline.process_photo(photo.id, settings).result == "invalid"
    db.session.refresh(photo)
    assert photo.status == "invalid" and "failed" in photo.status_reason


def test_missing_original_is_invalid_not_retried(db, users, settings, face_photo):
    from service.services.intake import photo_file

    case = _register(users, settings, face_photo)
    photo = case.photos[0]
    photo_file(settings.media_dir, photo, normalized=False).unlink()
    assert pipeline.process_photo(photo.id, settings).result == "invalid"


@pytest.fixture()
def worker(test_env, tmp_path, db):
    proc = start_worker(child_env(test_env), tmp_path / "worker.log", "-c", "2")
    yield proc
    proc.stop()


def test_real_worker_processes_queued_photos(worker, db, users, settings, faces_dir):
    photos = [p for p in sorted(faces_dir.glob("*/1.jpg"))[:6]]
    cases = [_register(users, settings, p.read_bytes(), p.parent.name) for p in photos]
    for case in cases:
        wait_for(lambda: "pending" not in _statuses(db, case.id), 60, what=f"case {case.id} photos\n{worker.tail()}")
        assert _statuses(db, case.id)[0] in ("processed", "multiple_faces")


def test_worker_killed_mid_job_loses_nothing(test_env, tmp_path, db, users, settings, faces_dir):
    """SIGKILL the whole worker while it holds messages; a new worker and the sweeper finish the job."""
    env = child_env(test_env, HUIJIA_PENDING_PHOTO_SWEEP_SECONDS=2, HUIJIA_SWEEP_INTERVAL_SECONDS=1)
    files = sorted(faces_dir.glob("*/*.jpg"))[:24]
    cases = [_register(users, settings, p.read_bytes(), p.parent.name) for p in files]
    first = start_worker(env, tmp_path / "w1.log", "-c", "1")
    try:
        wait_for(lambda: db.session.scalar(select(Photo.id).where(Photo.status != "pending").limit(1)) or
                 (db.session.expire_all() and False), 60, what="the first worker to start working")
    finally:
        first.kill()  # SIGKILL to the group: parent and child die mid-stream
        first.popen.wait(10)
        first.stop()
    db.session.expire_all()
    left = db.session.scalars(select(Photo.id).where(Photo.status == "pending")).all()
    assert left, "the worker finished everything before it was killed: the test proved nothing"
    second = start_worker(env, tmp_path / "w2.log", "-c", "2", "--beat", "-s", str(tmp_path / "beat"))
    try:
        for case in cases:
            wait_for(lambda: "pending" not in _statuses(db, case.id), 90, what=f"case {case.id}\n{second.tail()}")
    finally:
        second.stop()
    db.session.expire_all()
    rows = db.session.scalars(select(Photo)).all()
    assert "pending" not in {r.status for r in rows} and "invalid" not in {r.status for r in rows}
    events = db.session.scalars(select(CaseEvent).where(CaseEvent.kind.like("photo_%"))).all()
    assert sorted(e.data["photo_id"] for e in events) == sorted(r.id for r in rows), "each photo finished exactly once"


def test_redis_down_while_registering_then_back(test_env, tmp_path, db, users, faces_dir):
    """A clerk registers while the broker is dead: saved at once; processed after Redis returns."""
    redis = ThrowawayRedis(tmp_path)
    redis.start()
    env = child_env(test_env, HUIJIA_BROKER_URL=redis.url, HUIJIA_PENDING_PHOTO_SWEEP_SECONDS=2,
                    HUIJIA_SWEEP_INTERVAL_SECONDS=1)
    port = spare_port()
    web = start_web(env, port, tmp_path / "web.log")
    worker = start_worker(env, tmp_path / "worker.log", "-c", "1", "--beat", "-s", str(tmp_path / "beat"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/healthz"), 30, what=f"web to start\n{web.tail()}")
        from service.services.users import issue_token

        token, _ = issue_token(users["staff"], 1)
        auth = {"Authorization": f"Bearer {token}"}

        redis.stop()
        health = requests.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["db"] == "ok" and health.json()["broker"] == "down"
        assert {"code": "broker_down"} in health.json()["problems"]
        started = time.monotonic()
        photo = (faces_dir / "Barack_Obama" / "1.jpg").read_bytes()
        resp = requests.post(f"{base}/api/v1/cases", headers=auth, timeout=30,
                             data={"name": "断网登记"}, files=[("photos", ("p.jpg", photo, "image/jpeg"))])
        elapsed = time.monotonic() - started
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["processing"] == "queued_when_broker_returns"
        assert elapsed < 10, f"registration took {elapsed:.1f}s with the broker down"
        assert _statuses(db, body["id"]) == ["pending"]
        unsent = db.session.scalars(select(Photo.queued_at).where(Photo.case_id == body["id"])).all()
        assert unsent == [None], "a photo the broker did not take must stay marked for the sweeper"

        redis.start()  # empty: the message was never sent; the sweeper must re-send it
        wait_for(lambda: _statuses(db, body["id"]) == ["processed"], 90,
                 what=f"photo processed after Redis returned\n{worker.tail()}")
    finally:
        web.stop()
        worker.stop()
        redis.stop()


def _get(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_two_runs_of_one_photo_at_once_finish_it_once(app, db, users, settings, face_photo, monkeypatch):
    """A redelivered message and a sweeper re-send can run together: the second run must see the first's result."""
    import threading
    import time as _time

    from service.matching import faces

    case = _register(users, settings, face_photo)
    photo_id = case.photos[0].id
    real = faces.analyse

    def slow(jpeg, s):
        _time.sleep(0.4)  # both runs are past the first lock before either finishes
        return real(jpeg, s)

    monkeypatch.setattr(faces, "analyse", slow)
    results = []

    def run():
        with app.app_context():
            results.append(pipeline.process_photo(photo_id, settings).result)
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    threads[0].start()
    _time.sleep(0.15)
    threads[1].start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["processed", "skipped"]
    db.session.expire_all()
    events = db.session.scalars(select(CaseEvent).where(CaseEvent.kind == "photo_processed")).all()
    assert len(events) == 1
