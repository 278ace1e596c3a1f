"""The gallery searched across shards (HUIJIA_SEARCH_SHARDS=N), and the searches a shard did not answer.

N = 1: the search worker's own index (candidates.index_for), exactly as before: no extra hop.
N > 1: the search worker coordinates. It sends one SEARCH_SHARD task to each `search.<k>` queue, whose
worker holds the faces with face_id % N == k, and reads the answers from the Celery result backend
(Redis beside the broker in production, by pub/sub as each answer is stored; files under the instance folder
with `make run`'s filesystem broker: tasking.result_backend) for up to HUIJIA_SHARD_BUDGET_MS. The answers merge by distance
(merge_topk), ties by face_id, so a search every shard answered returns what one index would.

A shard that does not answer in time is never a silent miss: the search is partial, a SearchGap row per
missing shard says so (staff see "incomplete: shard k did not answer", matching_status `incomplete`),
and the sweeper runs the owner's matching again, backing off, until every shard answers; a shard worker
that (re)starts calls the gaps it left due at once. What the answering shards found is kept meanwhile.
"""
from __future__ import annotations

import base64
import logging
import threading
import time
from datetime import datetime, timedelta

import numpy as np
from celery.exceptions import TimeoutError as ResultTimeout
from celery.backends.asynchronous import AsyncBackendMixin
from celery.result import ResultSet
from flask import current_app
from numpy.typing import ArrayLike
from sqlalchemy import select, update

from .. import tasking
from ..extensions import celery, db
from ..models import SearchGap
from ..models.types import utcnow
from .index import Hit, IndexCache, Kind, Row, Shard, merge_topk, shard_of

log = logging.getLogger(__name__)

# The filesystem result backend of `make run` is polled this often (Redis answers come by pub/sub).
POLL_SECONDS = 0.003
# The sweeper backs off while a shard stays away: sweep interval x 2^(attempts-1), at most this.
MAX_BACKOFF = timedelta(minutes=10)
SWEEP_BATCH = 500
SHARD_FAISS_THREADS = 1


class ShardedGallery:
    """The gallery across N shard workers, searched like an IndexCache; `missing` keeps the shards that did not answer."""

    def __init__(self, engine_version: str, metric: str, count: int, budget_seconds: float) -> None:
        self.engine_version, self.metric, self.count = engine_version, metric, count
        self.budget_seconds = budget_seconds
        self.missing: set[int] = set()
        # Faces to put into their shard's index if missing, sent along with the next search (no extra hop).
        self._missing_rows: list[list] = []
        # When a list: (stage, task_id, time.time()) of each send and answer (bench/shard_bench.py's breakdown).
        self.trace: list | None = None

    def add_missing(self, rows) -> int:
        """IndexCache.add_missing across shards: each row goes to its shard with the next search."""
        for row in rows:
            vector = np.frombuffer(row.vector, np.float32) if isinstance(row.vector, (bytes, bytearray, memoryview)) \
                else np.asarray(row.vector, np.float32).reshape(-1)
            self._missing_rows.append([int(row.face_id), row.kind, int(row.owner_id), vector.tolist()])
        return len(rows)

    def search(self, vector: ArrayLike, k: int, **filters) -> list[Hit]:
        return self.search_many(np.asarray(vector, np.float32).reshape(1, -1), k, **filters)[0]

    def search_many(
        self, matrix: ArrayLike, k: int, *, kind: Kind | None = None, exclude_owner: tuple[Kind, int] | None = None
    ) -> list[list[Hit]]:
        queries = np.asarray(matrix, np.float32)
        if queries.ndim == 1:
            queries = queries.reshape(1, -1)
        started = time.perf_counter()
        # The float32 bytes themselves (base64 in the JSON body): every shard scores the very vectors one index
        # would, and encoding them costs ~nothing, where 128 floats a query as JSON numbers cost ~1 ms a search.
        vectors = [encode_vector(q) for q in queries]
        args = [self.engine_version, self.metric, vectors, k, kind, list(exclude_owner) if exclude_owner else None]
        sent: dict[str, int] = {}
        results = []
        rows, self._missing_rows = self._missing_rows, []
        for shard in range(self.count):
            owned = [row for row in rows if shard_of(row[0], self.count) == shard]
            try:
                result = celery.send_task(
                    tasking.SEARCH_SHARD, args=[shard, self.count, *args, owned or None], queue=tasking.shard_queue(shard),
                    ignore_result=False, retry=False,
                    # Celery puts repr(args) in each message's headers unless told: ~1 ms of CPU a shard for the
                    # vectors, and a face template is not something to show in logs or monitoring.
                    argsrepr=f"[shard={shard}, queries={len(queries)}, k={k}, kind={kind}]", kwargsrepr="{}",
                    # Nobody reads an answer after the budget: a shard coming back skips what is stale.
                    expires=self.budget_seconds + 5,
                )
            except Exception as exc:  # kombu raises many kinds; any of them means "not sent"
                log.warning("event=shard_send_failed shard=%d error=%s", shard, type(exc).__name__)
                continue
            sent[result.id] = shard
            results.append(result)
            if self.trace is not None:
                self.trace.append(("sent", result.id, time.time()))
        answers = self._gather(sent, results)
        missing = set(range(self.count)) - set(answers)
        self.missing |= missing
        merged = [
            merge_topk(([Hit(int(f), kd, int(o), float(d)) for f, kd, o, d in answers[s][q]] for s in answers), k)
            for q in range(len(queries))
        ]
        log.log(
            logging.WARNING if missing else logging.DEBUG,
            "event=shard_search shards=%d answered=%d missing=%s queries=%d ms=%d",
            self.count, len(answers), sorted(missing), len(queries), (time.perf_counter() - started) * 1000,
        )
        return merged

    def _gather(self, sent: dict[str, int], results: list) -> dict[int, list]:
        """The answers that arrive within the budget, by shard, read from the result backend as they come.

        Redis: Celery's result consumer subscribed to each answer's channel when the task was sent
        (send_task -> backend.on_task_call), so an answer arrives as a pub/sub message, not by polling; the
        filesystem backend of `make run` is polled every POLL_SECONDS. The drain waits at most a second at a
        time, so a missing shard is given up on between the budget and the budget + 1 s.
        """
        backend = celery.backend
        answers: dict[int, list] = {}
        if not sent:
            return answers
        trace = self.trace
        try:
            # Redis: `interval` is only a sleep after Celery's first MGET (answers stored before the subscription
            # took): none. Polled backends: the poll interval.
            interval = 0 if isinstance(backend, AsyncBackendMixin) else POLL_SECONDS
            for task_id, meta in backend.iter_native(ResultSet(results), timeout=self.budget_seconds,
                                                     interval=interval, no_ack=True):
                shard = sent[task_id]
                if trace is not None:
                    trace.append(("answer", task_id, time.time()))
                if meta.get("status") == "SUCCESS":
                    answers[shard] = meta["result"]
                else:
                    log.warning("event=shard_failed shard=%d status=%s", shard, meta.get("status"))
        except ResultTimeout:
            pass
        for result in results:
            if result.id not in answers:
                # Stop listening for an answer nobody will read (its stored copy expires: result_expires).
                backend.remove_pending_result(result)
        return answers

    def drop(self, face_ids) -> int:
        """Faces found gone by the coordinator (erased, deselected): each owning shard is told to drop them.

        A DROP_SHARD_FACES task on the shard's queue, taken in turn with its searches; one lost (broker down)
        costs nothing but time: the hourly rebuild drops them too. Returns how many shards were told.
        """
        by_shard: dict[int, list[int]] = {}
        for face_id in sorted({int(f) for f in face_ids}):
            by_shard.setdefault(shard_of(face_id, self.count), []).append(face_id)
        told = 0
        for shard, ids in by_shard.items():
            try:
                celery.send_task(tasking.DROP_SHARD_FACES, args=[shard, self.count, ids],
                                 queue=tasking.shard_queue(shard), ignore_result=True, retry=False)
                told += 1
            except Exception as exc:  # kombu raises many kinds; the rebuild catches up
                log.warning("event=shard_drop_send_failed shard=%d faces=%d error=%s", shard, len(ids), type(exc).__name__)
        return told


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, "<f4").tobytes()).decode("ascii")


def decode_vector(value: str | list) -> np.ndarray:
    """A probe vector as sent by encode_vector (or, from a coordinator before it, a list of floats)."""
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), "<f4").astype(np.float32)
    return np.asarray(value, np.float32)


def gallery_for(engine, settings=None):
    """What a match searches: this process's index for one shard, the shards' scatter-gather for several."""
    settings = settings or current_app.config["HUIJIA"]
    if settings.search_shards == 1:
        from .candidates import index_for

        return index_for(engine)
    return ShardedGallery(engine.version, engine.metric, settings.search_shards, settings.shard_budget_ms / 1000)


# -- searches a shard missed


def settle(owner_kind: str, owner_id: int, gallery, engine_version: str, settings=None, now: datetime | None = None) -> bool:
    """Record which shards the owner's last search missed (or that none did); True when it was complete.

    `gallery` is what the match searched, or None when it searched nothing (no face, owner closed).
    Part of the match's transaction: the caller commits.
    """
    settings = settings or current_app.config["HUIJIA"]
    now = now or utcnow()
    missing = sorted(getattr(gallery, "missing", ()))
    gaps = {g.shard: g for g in db.session.scalars(
        select(SearchGap).where(SearchGap.owner_kind == owner_kind, SearchGap.owner_id == owner_id))}
    for shard, gap in gaps.items():
        if shard not in missing:
            db.session.delete(gap)
    for shard in missing:
        gap = gaps.get(shard)
        if gap is None:
            gap = SearchGap(owner_kind=owner_kind, owner_id=owner_id, shard=shard, attempts=0, first_missed_at=now)
            db.session.add(gap)
        gap.attempts += 1
        gap.shard_count, gap.engine, gap.last_missed_at = gallery.count, engine_version, now
        gap.retry_at = now + _backoff(settings, gap.attempts)
    if missing:
        log.warning("event=search_incomplete owner=%s:%d missing_shards=%s", owner_kind, owner_id, missing)
    return not missing


def missing_shards(owner_kind: str, owner_id: int) -> list[int]:
    """The shards the owner's last search did not hear from (empty: complete)."""
    return list(db.session.scalars(
        select(SearchGap.shard).where(SearchGap.owner_kind == owner_kind, SearchGap.owner_id == owner_id)
        .order_by(SearchGap.shard)))


def sweep_gaps(settings, now: datetime | None = None) -> int:
    """Beat job: run again the matching of every owner whose incomplete search is due; returns how many.

    The due gaps are claimed under a row lock (SELECT ... FOR UPDATE, in owner order so two sweepers never
    deadlock) and pushed to their next time before the commit: a second sweeper running at once waits for
    the lock, and PostgreSQL re-reads the claimed rows, no longer due, so it sends none of them again.
    """
    now = now or utcnow()
    claimed = db.session.execute(
        select(SearchGap.id, SearchGap.owner_kind, SearchGap.owner_id, SearchGap.attempts).where(SearchGap.retry_at <= now)
        .order_by(SearchGap.owner_kind, SearchGap.owner_id, SearchGap.shard).limit(SWEEP_BATCH)
        .with_for_update(of=SearchGap)
    ).all()
    if not claimed:
        db.session.commit()
        return 0
    # Not again before the match had its chance, and backing off as for a miss: a retry still queued behind
    # others (a busy search worker, shards still loading) is not sent again every sweep. The match itself
    # sets the next time when it runs and misses again.
    by_attempts: dict[int, list[int]] = {}
    for gap_id, _, _, attempts in claimed:
        by_attempts.setdefault(attempts, []).append(gap_id)
    for attempts, ids in by_attempts.items():
        db.session.execute(update(SearchGap).where(SearchGap.id.in_(ids))
                           .values(retry_at=now + _backoff(settings, attempts + 1)))
    db.session.commit()
    due = sorted({(kind, owner_id) for _, kind, owner_id, _ in claimed})
    sent = sum(tasking.enqueue(tasking.MATCH_TASK_OF_KIND[kind], owner_id) for kind, owner_id in due)
    log.info("event=search_gaps_swept due=%d sent=%d", len(due), sent)
    return sent


def call_gaps_due(shard: int, count: int) -> int:
    """A shard is back: the searches it missed are due now, and the sweeper is told so."""
    n = db.session.execute(
        update(SearchGap).where(SearchGap.shard == shard, SearchGap.shard_count == count).values(retry_at=utcnow())
    ).rowcount
    db.session.commit()
    if n:
        tasking.enqueue(tasking.SWEEP_SEARCH_GAPS)
    return n


def _backoff(settings, attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=settings.sweep_interval_seconds * 2 ** min(attempts - 1, 16)))


# -- the shard worker's side


_shard_caches: dict[tuple[str, int, int], IndexCache] = {}
_shard_lock = threading.Lock()


def quiet_shard_worker() -> None:
    """What a shard worker process does not spend its CPU on: spare OpenMP threads, a log line a search."""
    import faiss

    # A shard answers one probe set at a time, and faiss parallelises a search over its queries:
    # extra OpenMP threads only spin, and on a busy host they cost 10-100x (bench/results/shards.md).
    faiss.omp_set_num_threads(SHARD_FAISS_THREADS)
    # Celery's "Task ... succeeded: <repr of the answer>" at INFO: face ids and distances of every search in the
    # log, and the repr of 50 hits costs more CPU than a small shard's search. Failures still log (ERROR).
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)


def shard_cache(engine_version: str, metric: str, shard: int, count: int) -> IndexCache:
    """This worker's index of shard `shard` of `count` (a new count or engine starts a new one)."""
    from .candidates import _load_rows

    key = (engine_version, shard, count)
    with _shard_lock:
        cache = _shard_caches.get(key)
        if cache is None:
            quiet_shard_worker()
            # One shard a worker: an older partition or engine is dropped, not kept beside it.
            _shard_caches.clear()
            cache = IndexCache(engine_version, metric, _load_rows(engine_version), shard=Shard(shard, count))
            _shard_caches[key] = cache
    return cache


def search_shard(shard: int, count: int, engine_version: str, metric: str, vectors: list, k: int,
                 kind: Kind | None, exclude_owner: list | None, missing_rows: list | None = None) -> list[list[list]]:
    """One shard's top-k for each query, as [face_id, kind, owner_id, distance] lists (JSON for the backend)."""
    cache = shard_cache(engine_version, metric, shard, count)
    # Never answer from a half-loaded index: a cold shard loads first (the coordinator may give up meanwhile).
    cache.refresh()
    if missing_rows:
        cache.add_missing([Row(int(f), kd, int(o), np.asarray(v, np.float32)) for f, kd, o, v in missing_rows])
    found = cache.search_many(np.stack([decode_vector(v) for v in vectors]), k, kind=kind,
                              exclude_owner=(exclude_owner[0], int(exclude_owner[1])) if exclude_owner else None)
    return [[[h.face_id, h.kind, h.owner_id, h.distance] for h in hits] for hits in found]


def drop_shard_faces(shard: int, count: int, face_ids: list[int]) -> int:
    """The coordinator found these faces gone: out of this worker's index of the shard (idempotent)."""
    with _shard_lock:
        caches = [c for (_, s, n), c in _shard_caches.items() if (s, n) == (shard, count)]
    return sum(c.drop(face_ids) for c in caches)


def rebuild_shard(shard: int, count: int) -> int:
    """Beat (via the coordinator): rebuild this worker's shard index beside the live one."""
    with _shard_lock:
        caches = [c for (_, s, n), c in _shard_caches.items() if (s, n) == (shard, count)]
    return sum(c.rebuild_in_background() is not None for c in caches)


def rebuild_everywhere(settings) -> int:
    """The hourly rebuild: the local indexes in a background thread, or each shard's through its queue."""
    if settings.search_shards == 1:
        from .candidates import _caches, _caches_lock

        with _caches_lock:
            caches = list(_caches.values())
        return sum(c.rebuild_in_background() is not None for c in caches)
    sent = 0
    for shard in range(settings.search_shards):
        try:
            celery.send_task(tasking.REBUILD_SHARD, args=[shard, settings.search_shards],
                             queue=tasking.shard_queue(shard), ignore_result=True, retry=False)
            sent += 1
        except Exception as exc:  # a shard missing its rebuild gets the next hour's
            log.warning("event=shard_rebuild_send_failed shard=%d error=%s", shard, type(exc).__name__)
    return sent


def _engine_identity(name: str) -> tuple[str, str]:
    """The engine's version and metric, read from its class: a shard worker never loads the face models."""
    import importlib

    from .engine.engine import _ENGINES

    module_name, class_name = _ENGINES[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.version, cls.metric


def preload_shard(app, shard: int) -> threading.Thread:
    """At a shard worker's start: load its index before the first search, then call the gaps it left due."""
    settings = app.config["HUIJIA"]
    quiet_shard_worker()  # now: Celery reads the log level when it builds the task's tracer

    def load() -> None:
        try:
            with app.app_context():
                version, metric = _engine_identity(settings.face_engine)
                cache = shard_cache(version, metric, shard, settings.search_shards)
                started = time.perf_counter()
                cache.refresh()
                log.info("event=shard_ready shard=%d count=%d faces=%d ms=%d", shard, settings.search_shards,
                         len(cache), (time.perf_counter() - started) * 1000)
                call_gaps_due(shard, settings.search_shards)
                db.session.remove()
        except Exception:  # the first search loads it instead
            log.exception("event=shard_preload_failed shard=%d", shard)

    thread = threading.Thread(target=load, name=f"shard-preload-{shard}", daemon=True)
    thread.start()
    return thread
