"""Liveness you can see: heartbeat marks, /healthz and /readyz, the banner on staff pages, the operators' alert."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from service.services import alerts, liveness
from service.services.intake import Upload, register_arrival
from tests.conftest import login


@pytest.fixture(autouse=True)
def fresh_readings():
    liveness.forget()
    yield
    liveness.forget()


def _age(db, name: str, seconds: int) -> None:
    """Move a mark `seconds` into the past (the database's clock, as the processes write it)."""
    db.session.execute(text("UPDATE heartbeat SET at = now() - make_interval(secs => :s) WHERE name = :n"),
                       {"s": seconds, "n": name})
    db.session.commit()


def _photo_aged(db, users, settings, face_photo, seconds: int, unsent: bool = False) -> int:
    case = register_arrival(users["staff"], {"name": "等待"}, [Upload("p.jpg", face_photo)], settings).case
    photo_id = case.photos[0].id
    db.session.execute(text("UPDATE photo SET created_at = now() - make_interval(secs => :s)"
                            + (", queued_at = NULL" if unsent else "") + " WHERE id = :id"),
                       {"s": seconds, "id": photo_id})
    db.session.commit()
    return photo_id


def test_marks_are_recorded_and_read_with_the_database_clock(db, settings):
    body = liveness.status(settings, probe_broker=False)
    assert body["beat"] == {"state": "never", "age_s": None} and body["problems"] == []  # a fresh database
    liveness.record("beat", {"pid": 1})
    liveness.record("beat", {"pid": 2})  # overwritten, one row
    liveness.record("sweep", {"requeued": 3})
    body = liveness.status(settings, probe_broker=False)
    assert body["beat"]["state"] == "ok" and body["beat"]["age_s"] < settings.sweep_interval_seconds
    assert body["sweep"]["state"] == "ok" and body["sweep"]["requeued"] == 3
    assert db.session.execute(text("SELECT count(*) FROM heartbeat")).scalar() == 2

    # Beat silent for more than two sweep intervals: stopped. The late sweep is its consequence, not reported twice.
    _age(db, "beat", 2 * settings.sweep_interval_seconds + 5)
    _age(db, "sweep", 10 * settings.sweep_interval_seconds)
    codes = [p["code"] for p in liveness.status(settings, probe_broker=False)["problems"]]
    assert codes == ["beat_stopped"]
    liveness.record("beat")
    codes = [p["code"] for p in liveness.status(settings, probe_broker=False)["problems"]]
    assert codes == ["sweep_late"]  # the beat ticks, yet no sweep ran: workers or broker take no work


def test_healthz_keeps_its_contract_and_shows_every_signal(client, db, settings):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["db"] == "ok" and body["broker"] == "ok"  # the test run's real Redis
    assert set(body["queues"]) == {"default", "search"} and all(isinstance(n, int) for n in body["queues"].values())
    assert body["beat"]["state"] == "never" and body["sweep"]["state"] == "never"
    assert body["photos"] == {"pending": 0, "oldest_pending_s": None, "unsent": 0, "faces_to_reencode": None}
    # Ready means everything runs: not before the first beat tick.
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["status"] == "degraded"
    liveness.record("beat")
    liveness.record("sweep", {"requeued": 0, "faces_to_reencode": 7})
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ok", ready.get_json()
    assert ready.get_json()["photos"]["faces_to_reencode"] == 7  # after an engine upgrade, as the sweeper counted

    _age(db, "beat", 2 * settings.sweep_interval_seconds + 1)
    health = client.get("/healthz")
    assert health.status_code == 200  # the load balancer's answer depends on the database only
    assert health.get_json()["beat"]["state"] == "stale"
    assert [p["code"] for p in health.get_json()["problems"]] == ["beat_stopped"]
    assert client.get("/readyz").status_code == 503


def test_photos_never_sent_and_photos_stuck_are_problems(db, users, settings, face_photo):
    liveness.record("beat")
    liveness.record("sweep")
    fresh_unsent = _photo_aged(db, users, settings, face_photo, 1, unsent=True)
    body = liveness.status(settings, probe_broker=False)
    assert body["photos"]["unsent"] == 1 and body["problems"] == []  # the next sweep sends it: not a problem yet
    db.session.execute(text("UPDATE photo SET created_at = now() - interval '10 minutes' WHERE id = :id"),
                       {"id": fresh_unsent})
    db.session.commit()
    body = liveness.status(settings, probe_broker=False)
    assert {p["code"]: p.get("count") for p in body["problems"]} == {"photos_unsent": 1, "photos_waiting": 1}
    assert body["photos"]["oldest_pending_s"] >= 600


def test_banner_on_staff_and_supervisor_pages_in_both_languages(app, db, users, settings):
    liveness.record("beat")
    liveness.record("sweep")
    staff = app.test_client()
    login(staff, "staff1")
    assert b'data-testid="liveness-banner"' not in staff.get("/cases").data

    _age(db, "beat", 600)
    liveness.forget()
    page = staff.get("/cases").get_data(as_text=True)
    assert 'data-code="beat_stopped"' in page and "后台调度已停止" in page and "10分钟" in page
    staff.post("/lang/en")
    page = staff.get("/cases").get_data(as_text=True)
    assert "The background scheduler has stopped" in page and "10 minutes" in page

    supervisor = app.test_client()
    login(supervisor, "super1")
    assert 'data-code="beat_stopped"' in supervisor.get("/dashboard").get_data(as_text=True)
    reporter = app.test_client()
    login(reporter, "reporter1")
    assert b"liveness-banner" not in reporter.get("/report").data  # the phone page is not where this is fixed


def test_operators_are_alerted_once_per_change(db, users, settings):
    users["supervisor"].email = "super@example.org"
    users["admin"].email = "admin@example.org"
    users["staff"].email = "staff@example.org"
    db.session.commit()
    notifier = alerts.LogNotifier()
    liveness.record("beat")
    liveness.record("sweep")
    assert liveness.check_and_alert(settings, notifier) == [] and notifier.sent == []

    _age(db, "beat", 3 * settings.sweep_interval_seconds)
    assert liveness.check_and_alert(settings, notifier) == ["beat_stopped"]
    assert liveness.check_and_alert(settings, notifier) == ["beat_stopped"]  # still the same: not told again
    assert len(notifier.sent) == 1
    subject, body, recipients = notifier.sent[0]
    assert "beat_stopped" in subject and "no beat tick" in body
    assert sorted(recipients) == ["admin@example.org", "super@example.org"]  # operators, not clerks

    liveness.record("beat")
    assert liveness.check_and_alert(settings, notifier) == []
    assert len(notifier.sent) == 2 and "running again" in notifier.sent[1][0]


def test_cli_prints_the_signals_and_fails_a_required_one(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["liveness", "--require", "db"])
    assert result.exit_code == 0 and '"db": "ok"' in result.output
    result = runner.invoke(args=["liveness", "--require", "beat"])  # a container health check: no tick yet
    assert result.exit_code == 1 and "not fine: beat" in result.output
    liveness.record("beat")
    assert runner.invoke(args=["liveness", "--require", "beat"]).exit_code == 0
