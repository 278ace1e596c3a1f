"""Thin tasks: an id in, one service call, transient errors retried. Idempotent by design.

Names and queues come from service.tasking; every task shares one base (session clean-up,
acks_late, retries of transient database errors).
"""
from __future__ import annotations

import logging

from celery import Task
from flask import current_app
from sqlalchemy.exc import OperationalError

from service import tasking
from service.extensions import celery

logging.getLogger("service").setLevel(logging.INFO)


class ServiceTask(celery.Task):  # type: ignore[name-defined,misc]
    """Idempotent work: acknowledged late, transient database errors retried.

    celery.Task is tasking's AppContextTask here: each run has its own app context, whose
    teardown hands the database session back.
    """

    abstract = True
    acks_late = True
    # A database restart or network blip: try again later instead of failing the work.
    autoretry_for = (OperationalError,)
    retry_backoff = 2
    retry_backoff_max = 120
    max_retries = 20


def _settings():
    return current_app.config["HUIJIA"]


def _task(name: str, **options):
    return celery.task(name=name, base=ServiceTask, **options)


@_task(tasking.PROCESS_PHOTO)
def process_photo(photo_id: int) -> str:
    from service.matching import photos

    return photos.process_photo(int(photo_id), _settings()).result


@_task(tasking.REENCODE_PHOTO)
def reencode_photo(photo_id: int) -> str:
    """A processed photo's faces with the current engine version (after an upgrade); then its owner is matched."""
    from service.matching import reencode

    return reencode.reencode_photo(int(photo_id), _settings()).result


@_task(tasking.SWEEP_PENDING, max_retries=3)
def sweep_pending_photos() -> int:
    """Beat job: re-send work whose message was lost (broker down, worker lost)."""
    from service.services import sweeper

    return sweeper.sweep(_settings())


@_task(tasking.MATCH_CASE)
def search_match_case(case_id: int) -> dict:
    from service.matching import candidates

    return candidates.match_case(int(case_id), _settings())


@_task(tasking.MATCH_REPORT)
def search_match_report(report_id: int) -> dict:
    from service.matching import candidates

    return candidates.match_report(int(report_id), _settings())


@_task(tasking.MATCH_LEAD)
def search_match_lead(lead_id: int) -> dict:
    """The face check of a street lead (the reporter waits for it: same queue, same index)."""
    from service.matching import candidates

    return candidates.match_lead(int(lead_id), _settings())


@_task(tasking.REBUILD_INDEX, max_retries=3)
def search_rebuild_index() -> int:
    """Beat job: rebuild the index from the database (catches faces the id watermark missed), beside the live one."""
    from service.matching import scatter

    return scatter.rebuild_everywhere(_settings())


# A shard's answer is read by a waiting coordinator: stored in the result backend, acknowledged on
# receipt and never retried (after the budget nobody reads it; the coordinator records the gap instead).
@_task(tasking.SEARCH_SHARD, ignore_result=False, acks_late=False, autoretry_for=(), max_retries=0)
def search_shard(shard: int, count: int, engine_version: str, metric: str, vectors: list, k: int,
                 kind: str | None, exclude_owner: list | None, missing_rows: list | None = None) -> list:
    """One shard's top-k for the probe vectors (the shard worker of `search.<shard>`)."""
    from service.matching import scatter

    return scatter.search_shard(int(shard), int(count), engine_version, metric, vectors, int(k), kind, exclude_owner,
                                missing_rows)


@_task(tasking.REBUILD_SHARD, acks_late=False, autoretry_for=(), max_retries=0)
def search_rebuild_shard(shard: int, count: int) -> int:
    from service.matching import scatter

    return scatter.rebuild_shard(int(shard), int(count))


@_task(tasking.DROP_SHARD_FACES, autoretry_for=(), max_retries=0)
def search_drop_shard_faces(shard: int, count: int, face_ids: list) -> int:
    """Faces the coordinator found gone, out of this shard worker's index (idempotent; the rebuild is the backstop)."""
    from service.matching import scatter

    return scatter.drop_shard_faces(int(shard), int(count), [int(f) for f in face_ids])


@_task(tasking.SWEEP_SEARCH_GAPS, max_retries=3)
def sweep_search_gaps() -> int:
    """Beat job: run again the matching a gallery shard did not answer."""
    from service.matching import scatter

    return scatter.sweep_gaps(_settings())


@_task(tasking.RUN_JOB, max_retries=5)
def run_job(job_id: int) -> str:
    """Bulk import or re-match; resumable: a re-delivered job continues where it stopped."""
    from service.services import jobs

    return jobs.run(int(job_id), _settings())


@_task(tasking.RUN_SEARCH_JOB, max_retries=5)
def search_run_job(job_id: int) -> str:
    """Jobs that need the gallery index (re-match) run in the search worker."""
    from service.services import jobs

    return jobs.run(int(job_id), _settings())


@_task(tasking.ERASE_BIOMETRICS, max_retries=3)
def erase_biometrics() -> int:
    """Beat job: erase face templates of people who went home more than the retention period ago."""
    from service.services import retention

    return retention.erase_due(_settings())


@_task(tasking.SWEEP_DEADLINES, max_retries=3)
def sweep_deadlines() -> dict:
    """Beat job: overdue family-search steps become alerts for supervisors (idempotent)."""
    from service.services import alerts

    return alerts.sweep(notifier=alerts.notifier_for(_settings()))


@_task(tasking.CLUES_CASE)
def clues_propose_case(case_id: int) -> dict:
    """Description candidates of a case from its facts and interview clues."""
    from service.services import clues

    return clues.propose_for_case(int(case_id))


@_task(tasking.CLUES_REPORT)
def clues_propose_report(report_id: int) -> dict:
    """Description candidates of a new or changed report among the cases still searched for."""
    from service.services import clues

    return clues.propose_for_report(int(report_id))


@_task(tasking.SWEEP_CLUES, max_retries=3)
def sweep_clues() -> int:
    """Beat job: records whose clues changed since they were read (lost messages, bulk imports)."""
    from service.services import clues

    return clues.sweep()


@_task(tasking.PRIVACY_WATCH, max_retries=3)
def privacy_watch() -> dict:
    """Beat job: enrolment past the filing threshold, unusual face-search volume per account → admins."""
    from service.services import privacy

    return privacy.watch(_settings())
