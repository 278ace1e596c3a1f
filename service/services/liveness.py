"""Liveness you can see: is the background work running, and is anything stuck?

The signals, read by /healthz and /readyz, the banner on staff pages, the operators' alert and
`flask --app service liveness` (README, "Is the background work running?"):
- beat: its scheduler marks a tick in `heartbeat` every few seconds (tasking.LivenessScheduler); no tick for
  two sweep intervals = beat stopped or hung (no sweeper, no deadline alerts, no retention).
- sweep: the sweeper marks each run; late while the beat ticks = the workers or the broker take no work.
- broker: reachable or not, messages waiting per queue, delivered but unacknowledged.
- photos: pending, the age of the oldest, those the broker never took (`queued_at` NULL), and after an engine
  upgrade those still to be encoded again (counted by the sweeper, services/sweeper.py).
Marks are written and read with the database's clock, so processes on hosts with skewed clocks agree.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .. import tasking
from ..extensions import db
from ..models import Heartbeat, Photo
from ..models.types import UTCDateTime

log = logging.getLogger(__name__)

BEAT_STALE_INTERVALS = 2  # beat ticks every few seconds: two sweep intervals without one = stopped
# The sweep waits behind the photos of its queue: allow a busy queue more before calling the sweeper late.
SWEEP_LATE_INTERVALS = 4
UNSENT_AFTER_INTERVALS = 2  # a photo the broker did not take is normally sent by the next sweep
MARK_EVERY_SECONDS = 1.0  # beat ticks at least every tasking.BEAT_TICK_SECONDS; a mark per tick, not per entry
REMIND_SECONDS = 3600  # an unresolved problem is told to the operators again this often
CHECK_EVERY_SECONDS = 10  # web: at most one alert check per process this often
BANNER_CACHE_SECONDS = 10  # web: the banner's reading is reused this long per process


def db_now() -> datetime:
    return db.session.scalar(select(func.now(type_=UTCDateTime())))


def record(name: str, data: dict | None = None) -> None:
    """Mark signal `name` now (the database's clock) with optional details; commits."""
    table = Heartbeat.__table__
    values = {"at": func.now(), "data": data}
    if db.session.execute(update(table).where(table.c.name == name).values(**values)).rowcount == 0:
        try:
            db.session.execute(insert(table).values(name=name, **values))
            db.session.commit()
            return
        except IntegrityError:  # another process made the row first
            db.session.rollback()
            db.session.execute(update(table).where(table.c.name == name).values(**values))
    db.session.commit()


_beat = {"marked": float("-inf"), "checked": float("-inf")}


def beat_ticked(settings) -> None:
    """Beat, on each tick: mark it (a few seconds apart) and check the other signals once per sweep interval.

    Never raises: beat keeps scheduling while the database is away, and the missing marks show it.
    """
    now = time.monotonic()
    if now - _beat["marked"] < MARK_EVERY_SECONDS:  # several entries due at once: one mark
        return
    _beat["marked"] = now
    try:
        record("beat", {"pid": os.getpid()})
        if now - _beat["checked"] >= settings.sweep_interval_seconds:
            _beat["checked"] = now
            check_and_alert(settings)
    except Exception as exc:  # a database restart, a network blip: the next tick tries again
        db.session.rollback()
        log.warning("event=beat_mark_failed error=%s", type(exc).__name__)
    finally:
        db.session.remove()


def status(settings, probe_broker: bool = True) -> dict:
    """Every signal with its state, and the problems (codes explained in the README) found among them."""
    now = db_now()
    marks = {mark.name: mark for mark in db.session.scalars(select(Heartbeat))}
    interval = settings.sweep_interval_seconds
    beat = _signal(marks.get("beat"), now, BEAT_STALE_INTERVALS * interval)
    sweep = _signal(marks.get("sweep"), now, SWEEP_LATE_INTERVALS * interval)
    sweep["requeued"] = ((marks["sweep"].data or {}).get("requeued") if "sweep" in marks else None)
    photos = _photos(settings, now)
    # After an engine upgrade: photos still to be encoded again, as the last sweep counted them.
    photos["faces_to_reencode"] = ((marks["sweep"].data or {}).get("faces_to_reencode") if "sweep" in marks else None)
    broker = tasking.broker_report(settings) if probe_broker else None

    problems = []
    if beat["state"] == "stale":
        problems.append({"code": "beat_stopped", "age_s": beat["age_s"]})
    elif sweep["state"] == "stale":  # the beat is fine: the workers or the broker take no work
        problems.append({"code": "sweep_late", "age_s": sweep["age_s"]})
    if broker is not None and broker["state"] == "down":
        problems.append({"code": "broker_down"})
    if photos.pop("unsent_late"):
        problems.append({"code": "photos_unsent", "count": photos["unsent"]})
    stuck = photos.pop("stuck")
    if stuck:
        problems.append({"code": "photos_waiting", "count": stuck, "over_s": settings.backlog_alert_seconds})
    body = {"beat": beat, "sweep": sweep, "photos": photos, "problems": problems}
    if broker is not None:
        body.update(broker=broker["state"], queues=broker["queues"], unacked=broker["unacked"])
    return body


def _signal(mark: Heartbeat | None, now: datetime, stale_after: float) -> dict:
    if mark is None:
        return {"state": "never", "age_s": None}
    age = max(0.0, (now - mark.at).total_seconds())
    return {"state": "stale" if age > stale_after else "ok", "age_s": round(age, 1)}


def _photos(settings, now: datetime) -> dict:
    unsent_cutoff = now - timedelta(seconds=UNSENT_AFTER_INTERVALS * settings.sweep_interval_seconds)
    stuck_cutoff = now - timedelta(seconds=settings.backlog_alert_seconds)
    unsent = Photo.queued_at.is_(None)

    def count_of(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    pending, oldest, unsent_count, unsent_late, stuck = db.session.execute(
        select(func.count(Photo.id), func.min(Photo.created_at), count_of(unsent),
               count_of(and_(unsent, Photo.created_at < unsent_cutoff)), count_of(Photo.created_at < stuck_cutoff))
        .where(Photo.status == "pending")
    ).one()
    return {
        "pending": pending,
        "oldest_pending_s": round(max(0.0, (now - oldest).total_seconds()), 1) if oldest else None,
        "unsent": int(unsent_count),
        "unsent_late": int(unsent_late),
        "stuck": int(stuck),
    }


def report(settings) -> tuple[dict, bool]:
    """The body of /healthz and /readyz, and whether the database answered."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        broker = tasking.broker_report(settings)
        return {"status": "degraded", "db": "down", "broker": broker["state"], "queues": broker["queues"],
                "problems": [{"code": "database_down"}]}, False
    body = status(settings)
    ok = not body["problems"] and body["beat"]["state"] == "ok"
    return {"status": "ok" if ok else "degraded", "db": "ok", **body}, True


# --- alerting the operators -------------------------------------------------------------------------------

def check_and_alert(settings, notifier=None) -> list[str]:
    """Tell admins and supervisors when the problems change (and hourly while they last); return their codes."""
    from . import alerts

    found = status(settings)["problems"]
    codes = sorted({p["code"] for p in found})
    mark = db.session.get(Heartbeat, "alert")
    before = sorted((mark.data or {}).get("problems", [])) if mark is not None else []
    reminder = bool(codes) and mark is not None and (db_now() - mark.at).total_seconds() >= REMIND_SECONDS
    if codes == before and not reminder:
        db.session.rollback()
        return codes
    record("alert", {"problems": codes})  # first, so processes checking at once rarely both send
    if codes:
        subject = "Huijia: background work needs attention (" + ", ".join(codes) + ")"
        body = "\n".join(_describe(p) for p in found) + "\n\nSee README: 'Is the background work running?'"
    else:
        subject = "Huijia: background work is running again"
        body = "No liveness problem is left (was: " + ", ".join(before) + ")."
    log.warning("event=liveness_alert problems=%s before=%s", ",".join(codes) or "none", ",".join(before) or "none")
    alerts.notify_operators(subject, body, notifier or alerts.notifier_for(settings))
    return codes


def _describe(problem: dict) -> str:
    code = problem["code"]
    if code == "beat_stopped":
        return f"beat_stopped: no beat tick for {problem['age_s']:.0f} s (no sweeper, no deadline alerts, no retention)"
    if code == "sweep_late":
        return f"sweep_late: the sweeper last ran {problem['age_s']:.0f} s ago (workers or broker not taking work)"
    if code == "broker_down":
        return "broker_down: the broker does not answer; registrations are saved and wait for it"
    if code == "photos_unsent":
        return f"photos_unsent: {problem['count']} photos not yet taken by the broker"
    if code == "photos_waiting":
        return f"photos_waiting: {problem['count']} photos pending for more than {problem['over_s']} s"
    return code


_web = {"checked": float("-inf")}
_web_lock = threading.Lock()


def check_soon(app) -> None:
    """From a web request: check and alert in a background thread (an e-mail never holds up /healthz)."""
    with _web_lock:
        if time.monotonic() - _web["checked"] < CHECK_EVERY_SECONDS:
            return
        _web["checked"] = time.monotonic()

    def run():
        with app.app_context():
            try:
                check_and_alert(app.config["HUIJIA"])
            except Exception as exc:  # the database or the mail server is away: the next check tries again
                db.session.rollback()
                log.warning("event=liveness_check_failed error=%s", type(exc).__name__)
            finally:
                db.session.remove()

    if app.testing:  # no thread outlives a test's request (it would write into the next test's tables)
        run()
        return
    threading.Thread(target=run, name="liveness-check", daemon=True).start()


# --- the banner on staff and supervisor pages -------------------------------------------------------------

_banner = {"at": float("-inf"), "problems": []}
BANNER_CODES = ("beat_stopped", "sweep_late", "photos_unsent", "photos_waiting")


def banner(settings) -> list[dict]:
    """Problems to show on staff pages; read from the database at most every few seconds per process."""
    if time.monotonic() - _banner["at"] < BANNER_CACHE_SECONDS:
        return _banner["problems"]
    try:
        problems = [p for p in status(settings, probe_broker=False)["problems"] if p["code"] in BANNER_CODES]
    except SQLAlchemyError:  # the page itself will tell that the database is away
        db.session.rollback()
        problems = []
    _banner.update(at=time.monotonic(), problems=problems)
    return problems


def forget() -> None:
    """Drop this process's cached readings (tests move the marks between requests)."""
    _banner.update(at=float("-inf"), problems=[])
    _web["checked"] = float("-inf")
    _beat.update(marked=float("-inf"), checked=float("-inf"))
