"""IndexCache: one engine's gallery index, kept in step with the database by a face_id watermark.

The database is the record; this is a cache of it. `refresh()` pulls rows with face_id above the
largest one seen, `drop()` / `drop_owner()` remove deleted faces, `rebuild()` starts over.

Loader contract: `load(since_face_id, limit)` returns at most `limit` live rows with
face_id > since_face_id in ascending face_id order (deleted faces and closed owners left out).
A face committed with a smaller id after a larger one was loaded is missed by the watermark
(sequence ids are not commit-ordered), so schedule `rebuild()` periodically as the backstop.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .base import DIM, GalleryIndex, Hit, Metric
from .factory import make_index
from .owners import KINDS, Kind
from .shards import Shard

log = logging.getLogger(__name__)

NOTHING_SEEN = -1


class Row(NamedTuple):
    """One face as the loader returns it; `vector` may be raw float32 bytes (a bytea column)."""

    face_id: int
    kind: Kind
    owner_id: int
    vector: ArrayLike | bytes
    station_id: int | None = None


Loader = Callable[[int, int], Sequence[Row]]


class IndexCache:
    """A thread-safe gallery index for one (engine, metric), refreshed incrementally from a loader."""

    def __init__(
        self,
        engine: str,
        metric: Metric,
        load: Loader,
        *,
        factory: Callable[[], GalleryIndex] | None = None,
        n_expected: int = 0,
        batch_size: int = 10_000,
        shard: Shard | None = None,
        dim: int = DIM,
    ) -> None:
        self.engine = engine
        self.metric: Metric = metric
        self.dim = dim
        self._load = load
        self._factory = factory or (lambda: make_index(n_expected, metric, dim=dim))
        self._batch_size = batch_size
        self._shard = shard
        # _lock guards the index and the bookkeeping below; it is held per batch, never across a
        # loader call. _update_lock lets one refresh or rebuild run at a time while searches go on.
        self._lock = threading.Lock()
        self._update_lock = threading.Lock()
        self._index = self._factory()
        self._watermark = NOTHING_SEEN
        # Dropped ids above the watermark: a load that raced the delete must not bring them back.
        self._tombstones: set[int] = set()
        # Ids dropped while a rebuild loads its fresh index; applied to it before the swap.
        self._rebuild_drops: set[int] | None = None
        self._loaded = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    @property
    def loaded(self) -> bool:
        """True once a refresh or rebuild has read the gallery to its end: before that a miss means nothing."""
        return self._loaded

    @property
    def watermark(self) -> int:
        """The largest face_id loaded so far (-1 before the first load)."""
        with self._lock:
            return self._watermark

    def memory_bytes(self) -> int:
        with self._lock:
            return self._index.memory_bytes()

    def refresh(self) -> int:
        """Add faces newer than the watermark; returns how many were added."""
        with self._update_lock:
            started = time.perf_counter()
            added, _ = self._pull(self.watermark, self._apply_live)
            self._loaded = True
            # Refresh runs often; an empty one is not news.
            log.log(
                logging.INFO if added else logging.DEBUG,
                "event=index_refresh engine=%s metric=%s added=%d total=%d watermark=%d ms=%d",
                self.engine, self.metric, added, len(self), self.watermark, _ms(started),
            )
            return added

    def rebuild(self) -> int:
        """Load everything into a fresh index, then swap it in; searches use the old one meanwhile."""
        with self._update_lock:
            started = time.perf_counter()
            fresh = self._factory()
            with self._lock:
                self._rebuild_drops = set()
            try:
                _, top = self._pull(NOTHING_SEEN, lambda rows, top: self._add_rows(fresh, rows))
                with self._lock:
                    assert self._rebuild_drops is not None
                    late = self._rebuild_drops | self._tombstones
                    fresh.remove(list(late))
                    self._index, self._watermark = fresh, top
                    self._loaded = True
                    self._tombstones = {i for i in late if i > top}
            finally:
                with self._lock:
                    self._rebuild_drops = None
            log.info(
                "event=index_rebuild engine=%s metric=%s total=%d watermark=%d ms=%d",
                self.engine, self.metric, len(self), self.watermark, _ms(started),
            )
            return len(self)

    def add_missing(self, rows: Sequence[Row]) -> int:
        """Add these faces unless already indexed; returns how many were added.

        For faces the watermark passed before they became searchable: a street lead's faces handed to
        an arrival keep their ids, and so does a face staff choose later. The hourly rebuild would
        find them too; this makes them searchable at once.
        """
        with self._lock:
            present: set[int] = set()
            for kind, owner_id in {(row.kind, row.owner_id) for row in rows}:
                present.update(self._index.face_ids_of(kind, owner_id))
            fresh = [row for row in rows if row.face_id not in present and row.face_id not in self._tombstones]
            return self._add_rows(self._index, fresh)

    def drop(self, face_ids: Iterable[int]) -> int:
        """Remove deleted faces, including ones not loaded yet; returns how many were indexed."""
        ids = [int(i) for i in face_ids]
        removed = self._drop(ids)
        log.info(
            "event=index_drop engine=%s metric=%s requested=%d removed=%d",
            self.engine, self.metric, len(ids), removed,
        )
        return removed

    def drop_owner(self, kind: Kind, owner_id: int) -> int:
        """Remove every indexed face of one report or case; returns how many."""
        with self._lock:
            ids = self._index.face_ids_of(kind, owner_id)
        removed = self._drop(ids)
        log.info(
            "event=index_drop_owner engine=%s metric=%s kind=%s owner_id=%d removed=%d",
            self.engine, self.metric, kind, owner_id, removed,
        )
        return removed

    def search(
        self,
        vector: ArrayLike,
        k: int,
        *,
        kind: Kind | None = None,
        exclude_owner: tuple[Kind, int] | None = None,
        exclude_face_ids: Collection[int] | None = None,
    ) -> list[Hit]:
        with self._lock:
            return self._index.search(
                vector, k, kind=kind, exclude_owner=exclude_owner, exclude_face_ids=exclude_face_ids
            )

    def search_many(
        self,
        matrix: ArrayLike,
        k: int,
        *,
        kind: Kind | None = None,
        exclude_owner: tuple[Kind, int] | None = None,
        exclude_face_ids: Collection[int] | None = None,
    ) -> list[list[Hit]]:
        with self._lock:
            return self._index.search_many(
                matrix, k, kind=kind, exclude_owner=exclude_owner, exclude_face_ids=exclude_face_ids
            )

    # -- internals

    def _drop(self, ids: list[int]) -> int:
        with self._lock:
            removed = self._index.remove(ids)
            self._tombstones.update(i for i in ids if i > self._watermark)
            if self._rebuild_drops is not None:
                self._rebuild_drops.update(ids)
        return removed

    def _pull(self, since: int, apply: Callable[[list[Row], int], int]) -> tuple[int, int]:
        """Page through the loader from `since`; returns (faces added, new watermark)."""
        added = 0
        while True:
            rows = list(self._load(since, self._batch_size))
            if not rows:
                return added, since
            top = max(row.face_id for row in rows)
            if top <= since:
                raise RuntimeError(f"loader returned face_id {top} <= since {since}")
            added += apply(rows, top)
            since = top
            if len(rows) < self._batch_size:
                return added, since

    def _apply_live(self, rows: list[Row], top: int) -> int:
        with self._lock:
            fresh = [row for row in rows if row.face_id not in self._tombstones]
            added = self._add_rows(self._index, fresh)
            self._watermark = top
            # Loads never revisit ids at or below the watermark, so their tombstones can go.
            self._tombstones = {i for i in self._tombstones if i > top}
            return added

    def _add_rows(self, index: GalleryIndex, rows: list[Row]) -> int:
        """Add the rows this shard owns; a malformed row is logged and skipped, not retried forever."""
        kept: list[Row] = []
        vectors: list[NDArray[np.float32]] = []
        for row in rows:
            if self._shard is not None and not self._shard.owns(row.face_id):
                continue
            vector = _as_vector(row.vector)
            problem = _problem(row, vector, self.dim)
            if problem:
                log.warning("event=index_skip engine=%s face_id=%d reason=%s", self.engine, row.face_id, problem)
                continue
            kept.append(row)
            vectors.append(vector)
        if not kept:
            return 0
        return index.add(
            [row.face_id for row in kept],
            [row.kind for row in kept],
            [row.owner_id for row in kept],
            np.stack(vectors),
            station_ids=[row.station_id for row in kept],
        )


def _as_vector(value: ArrayLike | bytes) -> NDArray[np.float32]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(value, np.float32)
    return np.asarray(value, np.float32).reshape(-1)


def _problem(row: Row, vector: NDArray[np.float32], dim: int) -> str | None:
    if row.kind not in KINDS:
        return "bad_kind"
    if vector.shape != (dim,):
        return "bad_dim"
    if not np.isfinite(vector).all():
        return "not_finite"
    if not vector.any():
        return "zero_vector"
    return None


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
