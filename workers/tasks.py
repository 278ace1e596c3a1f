"""Thin tasks: an id in, a service call, transient errors retried. Idempotent by design."""
from __future__ import annotations

import logging

from celery.utils.log import get_task_logger
from flask import current_app
from sqlalchemy.exc import OperationalError

from service.extensions import celery, db
from service.services import matching, processing
from service.services.intake import queue_photos
from service.services.queueing import enqueue

log = get_task_logger(__name__)
logging.getLogger("service").setLevel(logging.INFO)

# A database restart or network blip: try again later instead of failing the photo.
TRANSIENT = (OperationalError,)


@celery.task(
    name="workers.tasks.process_photo",
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=20,
)
def process_photo(self, photo_id: int) -> str:
    try:
        outcome = processing.process_photo(int(photo_id), current_app.config["HUIJIA"])
        return outcome.result
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.sweep_pending_photos", acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def sweep_pending_photos() -> int:
    """Beat job: re-send photos whose message was lost (broker down, worker lost)."""
    try:
        after = current_app.config["HUIJIA"].pending_photo_sweep_seconds
        ids = processing.stale_pending_photos(after)
        if ids:
            queue_photos(ids)
            log.info("event=sweep_requeued count=%d", len(ids))
        case_ids, report_ids = processing.stale_matching(after)
        for case_id in case_ids:
            enqueue(matching.MATCH_CASE, case_id, queue="search")
        for report_id in report_ids:
            enqueue(matching.MATCH_REPORT, report_id, queue="search")
        from service.services import uploads

        uploads.sweep(current_app.config["HUIJIA"])  # chunked photo uploads nobody finished within a day
        lead_ids = processing.stale_lead_checks(after)
        for lead_id in lead_ids:
            enqueue(matching.MATCH_LEAD, lead_id, queue="search")
        if case_ids or report_ids or lead_ids:
            log.info("event=sweep_rematch cases=%d reports=%d leads=%d", len(case_ids), len(report_ids), len(lead_ids))
        return len(ids) + len(case_ids) + len(report_ids) + len(lead_ids)
    finally:
        db.session.remove()


# The `search` queue's worker holds the gallery index: run it with concurrency 1
# (celery -A workers.celery_app worker -Q search -c 1) so the index is not copied per child.
@celery.task(name="workers.tasks.search_match_case", acks_late=True, autoretry_for=TRANSIENT,
             retry_backoff=2, retry_backoff_max=120, max_retries=20)
def search_match_case(case_id: int) -> dict:
    try:
        return matching.match_case(int(case_id), current_app.config["HUIJIA"])
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.search_match_report", acks_late=True, autoretry_for=TRANSIENT,
             retry_backoff=2, retry_backoff_max=120, max_retries=20)
def search_match_report(report_id: int) -> dict:
    try:
        return matching.match_report(int(report_id), current_app.config["HUIJIA"])
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.search_match_lead", acks_late=True, autoretry_for=TRANSIENT,
             retry_backoff=2, retry_backoff_max=120, max_retries=20)
def search_match_lead(lead_id: int) -> dict:
    """The face check of a street lead (the reporter waits for it: same queue, same index)."""
    try:
        return matching.match_lead(int(lead_id), current_app.config["HUIJIA"])
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.search_rebuild_index", acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def search_rebuild_index() -> int:
    """Beat job: rebuild the index from the database (catches faces the id watermark missed)."""
    try:
        return matching.rebuild_indexes()
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.run_job", bind=True, acks_late=True, autoretry_for=TRANSIENT, max_retries=5)
def run_job(self, job_id: int) -> str:
    """Bulk import or re-match; resumable: a re-delivered job continues where it stopped."""
    from service.services import jobs

    try:
        return jobs.run(int(job_id), current_app.config["HUIJIA"])
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.search_run_job", acks_late=True, autoretry_for=TRANSIENT, max_retries=5)
def search_run_job(job_id: int) -> str:
    """Jobs that need the gallery index (re-match) run in the search worker."""
    from service.services import jobs

    try:
        return jobs.run(int(job_id), current_app.config["HUIJIA"])
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.erase_biometrics", acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def erase_biometrics() -> int:
    """Beat job: erase face templates of people who went home more than the retention period ago."""
    from service.services import retention

    settings = current_app.config["HUIJIA"]
    try:
        ids = retention.due_for_erasure(settings.biometric_retention_days)
        for case_id in ids:
            retention.erase_case_biometrics(case_id, settings)
        lead_ids = retention.leads_due_for_erasure(settings.biometric_retention_days)
        for lead_id in lead_ids:
            retention.erase_lead_biometrics(lead_id, settings)
        return len(ids) + len(lead_ids)
    finally:
        db.session.remove()


@celery.task(name="workers.tasks.sweep_deadlines", acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def sweep_deadlines() -> dict:
    """Beat job: overdue family-search steps become alerts for supervisors (idempotent)."""
    from service.services import alerts

    try:
        return alerts.sweep(notifier=alerts.notifier_for(current_app.config["HUIJIA"]))
    finally:
        db.session.remove()
