"""The Celery binding: every task name and queue, enqueue after the commit, and the beat schedule.

Task names and queues are declared here once; services enqueue by these names (never by a string of
their own), and `workers/tasks.py` registers the functions under the same names.
The database is the source of truth: a message that cannot be sent now is re-sent by the sweeper
(SWEEP_PENDING), so a broker outage never loses a registration.
"""
from __future__ import annotations

import logging
from pathlib import Path

from celery import Task

from .extensions import celery

log = logging.getLogger(__name__)

# Queues. `search` is served by the worker that holds the gallery index in memory (concurrency 1).
# With HUIJIA_SEARCH_SHARDS=N > 1 it coordinates instead: shard k's worker holds the faces with
# face_id % N == k and serves `search.<k>` (shard_queue).
DEFAULT_QUEUE = "default"
SEARCH_QUEUE = "search"
SHARD_QUEUE_PREFIX = "search."

# Task names (kept as they were, so messages already in a broker still find their task).
PROCESS_PHOTO = "workers.tasks.process_photo"
SWEEP_PENDING = "workers.tasks.sweep_pending_photos"
MATCH_CASE = "workers.tasks.search_match_case"
MATCH_REPORT = "workers.tasks.search_match_report"
MATCH_LEAD = "workers.tasks.search_match_lead"
REBUILD_INDEX = "workers.tasks.search_rebuild_index"
RUN_JOB = "workers.tasks.run_job"
RUN_SEARCH_JOB = "workers.tasks.search_run_job"
ERASE_BIOMETRICS = "workers.tasks.erase_biometrics"
SWEEP_DEADLINES = "workers.tasks.sweep_deadlines"
SWEEP_SEARCH_GAPS = "workers.tasks.sweep_search_gaps"
# Sent to one shard's queue (shard_queue), never through enqueue: the coordinator waits for the answer.
SEARCH_SHARD = "workers.tasks.search_shard"
REBUILD_SHARD = "workers.tasks.search_rebuild_shard"
PRIVACY_WATCH = "workers.tasks.privacy_watch"

QUEUE_OF = {
    PROCESS_PHOTO: DEFAULT_QUEUE,
    SWEEP_PENDING: DEFAULT_QUEUE,
    RUN_JOB: DEFAULT_QUEUE,
    ERASE_BIOMETRICS: DEFAULT_QUEUE,
    SWEEP_DEADLINES: DEFAULT_QUEUE,
    SWEEP_SEARCH_GAPS: DEFAULT_QUEUE,
    PRIVACY_WATCH: DEFAULT_QUEUE,
    MATCH_CASE: SEARCH_QUEUE,
    MATCH_REPORT: SEARCH_QUEUE,
    MATCH_LEAD: SEARCH_QUEUE,
    REBUILD_INDEX: SEARCH_QUEUE,
    RUN_SEARCH_JOB: SEARCH_QUEUE,
}

# Matching by owner kind of a photo or face.
MATCH_TASK_OF_KIND = {"case": MATCH_CASE, "report": MATCH_REPORT, "lead": MATCH_LEAD}


def shard_queue(shard: int) -> str:
    return f"{SHARD_QUEUE_PREFIX}{shard}"


def enqueue(task_name: str, *ids: int) -> bool:
    """Send `task_name(*ids)` to its queue; return False (and log) when the broker cannot take it."""
    try:
        # ignore_result: with a result backend configured (shard answers), nothing waits for this one.
        celery.send_task(task_name, args=list(ids), queue=QUEUE_OF[task_name], retry=False, ignore_result=True)
    except Exception as exc:  # kombu raises many kinds; any of them means "not sent"
        log.warning("event=enqueue_failed task=%s ids=%s error=%s", task_name, ids, type(exc).__name__)
        return False
    return True


def broker_options(settings) -> dict:
    """Transport options: the filesystem broker needs its folders; Redis fails fast when down."""
    if settings.broker_url.startswith("filesystem"):
        folder = settings.instance_dir / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # Exchange tables; kombu's default is ./control relative to wherever the process runs.
            "control_folder": str(folder / "control"),
        }
    if settings.broker_url.startswith(("redis", "rediss")):
        # acks_late tasks come back after this long if a worker died holding them.
        return {"visibility_timeout": 600, "socket_connect_timeout": 2, "socket_timeout": 10}
    return {}


def result_backend(settings) -> str | None:
    """Where shard answers wait for the coordinator: HUIJIA_RESULT_BACKEND, else beside the broker.

    Redis: the broker's own server (keys celery-task-meta-*, expiring); the filesystem broker of
    `make run`: files under the instance folder. Only the shard search stores a result.
    """
    if settings.result_backend:
        return settings.result_backend
    if settings.broker_url.startswith(("redis", "rediss")):
        return settings.broker_url
    if settings.broker_url.startswith("filesystem"):
        folder = Path(settings.instance_dir) / "results"
        folder.mkdir(parents=True, exist_ok=True)
        return f"file://{folder}"
    return None


def init_celery(app, celery) -> None:
    settings = app.config["HUIJIA"]
    celery.conf.update(
        broker_url=settings.broker_url,
        result_backend=result_backend(settings),
        # A shard answer nobody read (its coordinator gave up) is deleted after this long.
        result_expires=3600,
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Tasks are idempotent: a message is acknowledged only after the work is committed,
        # and redelivered if the worker died holding it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_default_queue=DEFAULT_QUEUE,
        task_routes={name: {"queue": queue} for name, queue in QUEUE_OF.items()},
        beat_schedule={
            "sweep-pending-photos": {"task": SWEEP_PENDING, "schedule": float(settings.sweep_interval_seconds)},
            # The id watermark can miss a face committed late with a smaller id: rebuild hourly.
            "rebuild-gallery-index": {"task": REBUILD_INDEX, "schedule": 3600.0},
            "erase-biometrics": {"task": ERASE_BIOMETRICS, "schedule": 6 * 3600.0},
            "sweep-deadlines": {"task": SWEEP_DEADLINES, "schedule": 900.0},
            # Searches a shard did not answer are run again until complete.
            "sweep-search-gaps": {"task": SWEEP_SEARCH_GAPS, "schedule": float(settings.sweep_interval_seconds)},
            # Enrolment threshold and face-search volume per account (services/privacy.py).
            "privacy-watch": {"task": PRIVACY_WATCH, "schedule": 300.0},
        },
        beat_schedule_filename=str(Path(settings.instance_dir) / "celerybeat-schedule"),
        timezone="Asia/Shanghai",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )

    class AppContextTask(Task):
        """Each run in its own app context; the session is handed back whatever happens."""

        def __call__(self, *args, **kwargs):
            from .extensions import db

            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    db.session.remove()

    celery.Task = AppContextTask
    app.extensions["celery"] = celery
