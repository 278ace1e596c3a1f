"""The safety net: re-send work whose message never went or was lost (broker down, worker killed holding it).

Run by beat every HUIJIA_SWEEP_INTERVAL_SECONDS. What is re-sent, and when:
- photos the broker never took (`queued_at` NULL: enqueue failed or was skipped): at once, whatever their age;
- everything pending, when the broker lost what it held (a Redis restarted without persistence);
- pending work sent a while ago while its queue holds no message (the worker that had it died): after
  IDLE_GRACE_SECONDS;
- anything pending longer than HUIJIA_PENDING_PHOTO_SWEEP_SECONDS: the backstop for any other lost message.
After a face engine upgrade it also sends up to HUIJIA_REENCODE_BATCH photos to be encoded again, and only while
the default queue has nothing waiting: the re-encode fills idle capacity and never delays new arrivals.
A second message for the same work is harmless: tasks are idempotent (row lock, `pending` check).
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from .. import tasking
from ..extensions import db
from ..matching import photos, reencode
from ..models import Heartbeat, Job
from ..models.types import utcnow
from . import liveness, uploads
from .queueing import send_photos

log = logging.getLogger(__name__)

# A queue with no message waiting while work sent to it is still pending this long: its message was lost.
IDLE_GRACE_SECONDS = 30
JOB_TASKS = {"import_reports": tasking.RUN_JOB, "rematch": tasking.RUN_SEARCH_JOB}


def sweep(settings) -> int:
    """Re-queue what is pending and not on its way; mark the run (liveness); return how many were re-sent."""
    broker = tasking.broker_report(settings)
    forgot = broker["state"] == "ok" and tasking.broker_forgot_messages(settings)
    if forgot:
        log.warning("event=broker_lost_messages action=resend_all_pending")
    photo_age = _resend_after(settings, broker, tasking.DEFAULT_QUEUE, forgot)
    match_age = _resend_after(settings, broker, tasking.SEARCH_QUEUE, forgot)

    photo_ids = photos.stale_pending_photos(photo_age)  # also every photo never sent (queued_at NULL)
    unsent = send_photos(photo_ids)  # those still not taken are marked: the next sweep tries them first again
    if photo_ids:
        log.info("event=sweep_requeued count=%d unsent=%d age_s=%s", len(photo_ids), len(unsent), photo_age)

    case_ids, report_ids = photos.stale_matching(match_age)
    lead_ids = photos.stale_lead_checks(match_age)
    for task, ids in ((tasking.MATCH_CASE, case_ids), (tasking.MATCH_REPORT, report_ids), (tasking.MATCH_LEAD, lead_ids)):
        for owner_id in ids:
            tasking.enqueue(task, owner_id)
    if case_ids or report_ids or lead_ids:
        log.info("event=sweep_rematch cases=%d reports=%d leads=%d", len(case_ids), len(report_ids), len(lead_ids))

    # Never at once: a second message for a job that just started would run it twice side by side.
    job_age = max(min(photo_age, match_age), min(settings.pending_photo_sweep_seconds, IDLE_GRACE_SECONDS))
    job_ids = _resend_queued_jobs(job_age)
    uploads.sweep(settings)  # chunked photo uploads nobody finished within a day
    reencoding, to_reencode, cursor = send_reencode(settings, broker)
    requeued = len(photo_ids) - len(unsent) + len(case_ids) + len(report_ids) + len(lead_ids) + len(job_ids)
    liveness.record("sweep", {"requeued": requeued, "unsent": len(unsent), "broker": broker["state"],
                              "broker_lost_messages": forgot, "reencode_sent": len(reencoding),
                              "faces_to_reencode": to_reencode, "reencode_cursor": cursor})
    try:
        liveness.check_and_alert(settings)
    except Exception as exc:  # a mail server away must not fail the sweep (it ran)
        db.session.rollback()
        log.warning("event=liveness_check_failed error=%s", type(exc).__name__)
    return requeued


# Where the broker has priorities (Redis), this many batches wait at the background priority: workers take every
# arrival's work first, and are never short of re-encodes between two sweeps.
BACKGROUND_BATCHES = 10


def send_reencode(settings, broker: dict) -> tuple[list[int], int | None, list | None]:
    """Photos sent to be encoded with the current engine version, how many still wait for it, and the cursor.

    Redis (priorities): the background list is topped up to BACKGROUND_BATCHES x HUIJIA_REENCODE_BATCH, busy or
    not, going on after the last photo sent (the cursor, kept in the sweep's heartbeat); once the list is empty,
    from the start again, so a lost message or an attempt that failed is sent once more. Filesystem broker (no
    priorities): one batch, only while the default queue holds no arrivals' work, at most the beat's own
    housekeeping (tasking.HOUSEKEEPING). When this sweep does not look, the last count and cursor are kept.
    """
    mark = db.session.get(Heartbeat, "sweep")
    last = (mark.data or {}) if mark is not None else {}
    db.session.rollback()
    kept = [], last.get("faces_to_reencode"), last.get("reencode_cursor")
    if broker["state"] != "ok" or broker["queues"] is None:
        return kept
    from ..matching.faces import engine_for

    version = engine_for(settings).version
    background = (broker.get("background") or {}).get(tasking.DEFAULT_QUEUE)
    if background is None:  # no priorities: only an idle queue takes a batch
        if broker["queues"].get(tasking.DEFAULT_QUEUE, 0) > len(tasking.HOUSEKEEPING):
            return kept
        room, after = settings.reencode_batch, None
    else:
        room = BACKGROUND_BATCHES * settings.reencode_batch - background
        cursor = last.get("reencode_cursor")
        after = tuple(cursor[1:]) if background and cursor and cursor[0] == version else None
        if room <= 0:
            return kept
    rows = reencode.stale_after(version, room, after)
    sent = [photo_id for _rank, photo_id in rows if tasking.enqueue(tasking.REENCODE_PHOTO, photo_id)]
    # Exact without a count when every stale photo fit in this batch and none is still queued from an earlier one.
    waiting = len(rows) if not background and len(rows) < room else reencode.count_stale(version)
    cursor = [version, *rows[-1]] if rows else (last.get("reencode_cursor") if after else None)
    if rows:
        log.info("event=sweep_reencode sent=%d waiting=%d engine=%s", len(sent), waiting, version)
    return sent, waiting, cursor


def _resend_after(settings, broker: dict, queue: str, forgot: bool) -> int:
    """How old pending work of `queue` must be before it is sent again."""
    if forgot:
        return 0
    backstop = settings.pending_photo_sweep_seconds
    if broker["queues"] is not None and broker["queues"].get(queue) == 0:
        return min(backstop, IDLE_GRACE_SECONDS)
    return backstop


def _resend_queued_jobs(older_than_seconds: int) -> list[int]:
    """Bulk jobs never started (their message did not go, or was lost before a worker took it)."""
    from datetime import timedelta

    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    jobs = db.session.execute(select(Job.id, Job.kind).where(Job.state == "queued", Job.created_at < cutoff)
                              .order_by(Job.id).limit(100)).all()
    db.session.rollback()
    for job_id, kind in jobs:
        if kind in JOB_TASKS:
            tasking.enqueue(JOB_TASKS[kind], job_id)
    if jobs:
        log.info("event=sweep_jobs count=%d", len(jobs))
    return [job_id for job_id, _ in jobs]
