"""The Celery binding: every task name and queue, enqueue after the commit, and the beat schedule.

Task names and queues are declared here once; services enqueue by these names (never by a string of
their own), and `workers/tasks.py` registers the functions under the same names.
The database is the source of truth: a message that cannot be sent now is re-sent by the sweeper
(SWEEP_PENDING), so a broker outage never loses a registration, and a send never holds up a clerk: one
connection attempt, then the breaker skips the broker for a while. Beat's scheduler marks each tick in the
database, and `broker_report` says what the broker holds: both for the liveness signals (services.liveness).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from celery import Task
from celery.beat import PersistentScheduler

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
# A processed photo encoded with a new engine version (sent by the sweeper while the default queue is idle).
REENCODE_PHOTO = "workers.tasks.reencode_photo"
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
DROP_SHARD_FACES = "workers.tasks.search_drop_shard_faces"
CLUES_CASE = "workers.tasks.clues_propose_case"
CLUES_REPORT = "workers.tasks.clues_propose_report"
SWEEP_CLUES = "workers.tasks.sweep_clues"
PRIVACY_WATCH = "workers.tasks.privacy_watch"

QUEUE_OF = {
    PROCESS_PHOTO: DEFAULT_QUEUE,
    REENCODE_PHOTO: DEFAULT_QUEUE,
    SWEEP_PENDING: DEFAULT_QUEUE,
    RUN_JOB: DEFAULT_QUEUE,
    ERASE_BIOMETRICS: DEFAULT_QUEUE,
    SWEEP_DEADLINES: DEFAULT_QUEUE,
    SWEEP_SEARCH_GAPS: DEFAULT_QUEUE,
    # Description matching reads its index from the database: any worker of the default queue.
    CLUES_CASE: DEFAULT_QUEUE,
    CLUES_REPORT: DEFAULT_QUEUE,
    SWEEP_CLUES: DEFAULT_QUEUE,
    PRIVACY_WATCH: DEFAULT_QUEUE,
    MATCH_CASE: SEARCH_QUEUE,
    MATCH_REPORT: SEARCH_QUEUE,
    MATCH_LEAD: SEARCH_QUEUE,
    REBUILD_INDEX: SEARCH_QUEUE,
    RUN_SEARCH_JOB: SEARCH_QUEUE,
}

# Matching by owner kind of a photo or face.
MATCH_TASK_OF_KIND = {"case": MATCH_CASE, "report": MATCH_REPORT, "lead": MATCH_LEAD}


# Background work waits behind every arrival. On Redis it goes to its queue's lowest priority list (kombu keeps a
# list per priority step and workers take the highest first); the filesystem broker has no priorities, so there
# the sweeper sends it only while the queue is idle (services/sweeper.py).
BACKGROUND_PRIORITY = 9
BACKGROUND_TASKS = frozenset({REENCODE_PHOTO})

# The beat's own tasks on the default queue. Up to that many messages waiting there is housekeeping the beat
# sent (sweep-search-gaps goes out in the same tick as the sweep), not a backlog of arrivals.
HOUSEKEEPING = (SWEEP_PENDING, SWEEP_SEARCH_GAPS, SWEEP_DEADLINES, SWEEP_CLUES, PRIVACY_WATCH, ERASE_BIOMETRICS)


def shard_queue(shard: int) -> str:
    return f"{SHARD_QUEUE_PREFIX}{shard}"


class BrokerBreaker:
    """Fail fast while the broker is down: after a failed send, skip sending for `cooldown` seconds.

    The database is the record, so a skipped send loses nothing: the caller marks the work unsent and
    the sweeper sends it when the broker is back. Without this each registration would wait on the
    broker (measured: intake p95 18.3 s with Redis stopped). After the cooldown one caller probes;
    the others keep skipping until it knows.
    """

    def __init__(self, cooldown: float = 5.0):
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._open_until = 0.0  # monotonic; 0 = closed (sending)
        self._probing = False
        self.failures = 0
        self.skipped = 0

    def allow(self) -> bool:
        with self._lock:
            if self._open_until == 0.0:
                return True
            if self._probing or time.monotonic() < self._open_until:
                self.skipped += 1
                return False
            self._probing = True  # half-open: this caller tries the broker
            return True

    def record(self, sent: bool) -> None:
        with self._lock:
            self._probing = False
            if sent:
                self._open_until = 0.0
            else:
                self.failures += 1
                self._open_until = time.monotonic() + self.cooldown

    @property
    def open(self) -> bool:
        return self._open_until != 0.0

    def reset(self) -> None:
        with self._lock:
            self._open_until, self._probing = 0.0, False


breaker = BrokerBreaker()


def enqueue(task_name: str, *ids: int, background: bool = False) -> bool:
    """Send `task_name(*ids)` to its queue; False at once (logged) when the broker cannot take it.

    Background work (BACKGROUND_TASKS, or `background`: the matching that follows a re-encode) goes behind
    every arrival's where the broker has priorities.

    Bounded: the connection gives up after one attempt (broker_options), and while the breaker is open
    nothing is tried at all. A False means "the sweeper will send it": callers leave the work marked.
    """
    if not breaker.allow():
        log.debug("event=enqueue_skipped task=%s ids=%s", task_name, ids)
        return False
    try:
        # ignore_result: with a result backend configured (shard answers), nothing waits for this one.
        options = {"priority": BACKGROUND_PRIORITY} if background or task_name in BACKGROUND_TASKS else {}
        celery.send_task(task_name, args=list(ids), queue=QUEUE_OF[task_name], retry=False, ignore_result=True,
                         **options)
    except Exception as exc:  # kombu raises many kinds; any of them means "not sent"
        breaker.record(False)
        log.warning("event=enqueue_failed task=%s ids=%s error=%s retry_in_s=%s", task_name, ids,
                    type(exc).__name__, breaker.cooldown)
        return False
    breaker.record(True)
    return True


PRODUCER_FAILS_FAST = {"max_retries": 0, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


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
            # A worker holding its one prefetched message (acks_late) finds the folder empty and sleeps this
            # long: kombu's 1 s made every task wait up to a second per queue (~1 task/s per process).
            "polling_interval": 0.2,
            **PRODUCER_FAILS_FAST,
        }
    if settings.broker_url.startswith(("redis", "rediss")):
        return {
            # acks_late tasks come back after this long if a worker died holding them.
            "visibility_timeout": 600,
            # A producer connects once and gives up: kombu's default for a publish is to retry the
            # connection for broker_connection_timeout plus backoff (about 6 s per send with Redis
            # stopped; celery/celery#4627, #6046). `retry=False` on send_task does not cover the connect.
            # Workers reconnect under their own policy (broker_connection_max_retries); beat retries a
            # publish under task_publish_retry_policy.
            **PRODUCER_FAILS_FAST,
            "socket_connect_timeout": 1,  # a host that drops packets instead of refusing
            "socket_timeout": 5,  # a broker that accepts and never answers (stopped process, full disk)
        }
    return dict(PRODUCER_FAILS_FAST)


# Beat wakes at least this often, and records a tick each time (service.services.liveness).
BEAT_TICK_SECONDS = 5.0
# Kombu's Redis transport: one list per queue and priority, and a hash of delivered, unacknowledged messages.
_REDIS_PRIORITY_SEP = "\x06\x16"
_REDIS_PRIORITIES = (3, 6, BACKGROUND_PRIORITY)  # kombu's steps after 0; the last list is the background's
BROKER_MARKER_KEY = "huijia:broker:marker"
_redis_clients: dict = {}


def _redis(url: str):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = _redis_clients.get(url)
    if client is None:
        # Bounded like the producer: the health page must answer while the broker is down.
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2, retry=Retry(NoBackoff(), 0))
        _redis_clients[url] = client
    return client


def broker_report(settings) -> dict:
    """What the broker holds now: state ok/down/unknown, messages waiting per queue, delivered and unacknowledged.

    Redis: LLEN of each queue's lists (kombu keeps one per priority) and HLEN of kombu's `unacked` hash;
    `queues` counts the arrivals' work, `background` the lowest priority list (BACKGROUND_PRIORITY) apart. The
    filesystem broker has no priorities: `background` is None there.
    Filesystem broker (make run): message files in the queue folder, per queue; a fetched message leaves
    the folder, so in-flight work is not counted. Bounded to about a second when the broker is down.
    """
    url = settings.broker_url
    queues = (DEFAULT_QUEUE, SEARCH_QUEUE)
    if url.startswith(("redis", "rediss")):
        try:
            pipe = _redis(url).pipeline(transaction=False)
            for queue in queues:
                pipe.llen(queue)
                for pri in _REDIS_PRIORITIES:
                    pipe.llen(f"{queue}{_REDIS_PRIORITY_SEP}{pri}")
            pipe.hlen("unacked")
            counts = pipe.execute()
        except Exception as exc:  # redis raises ConnectionError, TimeoutError, ResponseError...
            log.info("event=broker_unreachable error=%s", type(exc).__name__)
            return {"state": "down", "queues": None, "unacked": None}
        per = 1 + len(_REDIS_PRIORITIES)
        waiting = {q: sum(counts[i * per:(i + 1) * per - 1]) for i, q in enumerate(queues)}
        background = {q: counts[(i + 1) * per - 1] for i, q in enumerate(queues)}
        return {"state": "ok", "queues": waiting, "background": background, "unacked": counts[-1]}
    if url.startswith("filesystem"):
        folder = Path(settings.instance_dir) / "broker" / "queue"
        try:
            names = [entry.name for entry in os.scandir(folder)]
        except OSError:
            return {"state": "down", "queues": None, "unacked": None}
        waiting = {q: sum(1 for n in names if n.partition(".")[2] == f"{q}.msg") for q in queues}
        return {"state": "ok", "queues": waiting, "background": None, "unacked": None}
    return {"state": "unknown", "queues": None, "unacked": None}


def broker_forgot_messages(settings) -> bool:
    """True when the broker holds none of what was sent before (a Redis restarted without persistence).

    A marker key lives beside the messages: set once, it vanishes with them. Finding it missing means every
    message sent earlier may be gone (the sweeper then re-sends all pending work, whatever its age). The first
    call on a fresh broker says True too: there is nothing to lose then. The filesystem broker keeps its files.
    """
    if not settings.broker_url.startswith(("redis", "rediss")):
        return False
    from .models.types import utcnow

    return bool(_redis(settings.broker_url).set(BROKER_MARKER_KEY, utcnow().isoformat(), nx=True))


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
    breaker.cooldown = float(settings.broker_retry_seconds)
    celery.conf.update(
        broker_url=settings.broker_url,
        result_backend=result_backend(settings),
        # Shard answers are read from pub/sub as they are stored; the stored copy is deleted after this long.
        result_expires=120,
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
            # Often: work the broker never took is sent at the next sweep (recovery within an interval or two).
            "sweep-pending-photos": {"task": SWEEP_PENDING, "schedule": float(settings.sweep_interval_seconds)},
            # The id watermark can miss a face committed late with a smaller id: rebuild hourly.
            "rebuild-gallery-index": {"task": REBUILD_INDEX, "schedule": 3600.0},
            "erase-biometrics": {"task": ERASE_BIOMETRICS, "schedule": 6 * 3600.0},
            "sweep-deadlines": {"task": SWEEP_DEADLINES, "schedule": 900.0},
            # Searches a shard did not answer are run again until complete.
            "sweep-search-gaps": {"task": SWEEP_SEARCH_GAPS, "schedule": float(settings.sweep_interval_seconds)},
            # Description candidates of records changed since read (intake, corrections, imports, lost messages).
            "sweep-clues": {"task": SWEEP_CLUES, "schedule": 120.0},
            # Enrolment threshold and face-search volume per account (services/privacy.py).
            "privacy-watch": {"task": PRIVACY_WATCH, "schedule": 300.0},
        },
        beat_schedule_filename=str(Path(settings.instance_dir) / "celerybeat-schedule"),
        beat_max_loop_interval=BEAT_TICK_SECONDS,
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

    class LivenessScheduler(PersistentScheduler):
        """Beat's scheduler, marking each tick in the database: a dead or hung beat shows on /healthz."""

        def tick(self, *args, **kwargs):
            interval = super().tick(*args, **kwargs)
            from .services import liveness

            with app.app_context():
                liveness.beat_ticked(settings)  # never raises: beat must go on without the database
            return interval

    celery.Task = AppContextTask
    celery.conf.beat_scheduler = LivenessScheduler
    app.extensions["celery"] = celery
