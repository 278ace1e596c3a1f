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
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .base import DIM, GalleryIndex, Hit, Metric
from .factory import EXACT_LIMIT, make_index
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
        exact_limit: int = EXACT_LIMIT,
    ) -> None:
        self.engine = engine
        self.metric: Metric = metric
        self.dim = dim
        self._load = load
        self._n_expected = n_expected
        self._exact_limit = exact_limit
        # A given factory is used as is; the default one picks exact or IVF by the gallery's size.
        self._custom_factory = factory
        self._batch_size = batch_size
        self._shard = shard
        # _lock guards the index and the bookkeeping below; it is held per batch, never across a
        # loader call. _refresh_lock lets one refresh run at a time and _rebuild_lock one rebuild:
        # a rebuild loads a fresh index beside the live one, so searches and refreshes go on meanwhile.
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._index = self._make_index(n_expected)
        self._watermark = NOTHING_SEEN
        # Dropped ids above the watermark: a load that raced the delete must not bring them back.
        self._tombstones: set[int] = set()
        # Ids dropped, and rows refreshed in, while a rebuild loads its fresh index; applied to it before the swap.
        self._rebuild_drops: set[int] | None = None
        self._rebuild_adds: list[Row] | None = None
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

    @property
    def rebuilding(self) -> bool:
        return self._rebuild_lock.locked()

    def index_type(self) -> str:
        with self._lock:
            return self._index.type_name

    def refresh(self) -> int:
        """Add faces newer than the watermark; returns how many were added."""
        with self._refresh_lock:
            started = time.perf_counter()
            added, _ = self._pull(self.watermark, self._apply_live)
            self._loaded = True
            # Refresh runs often; an empty one is not news.
            log.log(
                logging.INFO if added else logging.DEBUG,
                "event=index_refresh engine=%s metric=%s added=%d total=%d watermark=%d ms=%d",
                self.engine, self.metric, added, len(self), self.watermark, _ms(started),
            )
        if self._outgrown():
            self.rebuild_in_background()
        return added

    def rebuild(self) -> int:
        """Load everything into a fresh index, then swap it in; searches and refreshes use the old one meanwhile."""
        with self._rebuild_lock:
            started = time.perf_counter()
            fresh = self._make_index(len(self))
            with self._lock:
                self._rebuild_drops, self._rebuild_adds = set(), []
            try:
                _, top = self._pull(NOTHING_SEEN, lambda rows, top: self._add_rows(fresh, rows))
                with self._lock:
                    assert self._rebuild_drops is not None and self._rebuild_adds is not None
                    late = self._rebuild_drops | self._tombstones
                    # Rows a refresh brought in meanwhile (newer than the rebuild's last page, or
                    # committed late below it) are in the old index: they must not vanish at the swap.
                    seen = [row for row in self._rebuild_adds if row.face_id not in late and row.face_id not in fresh]
                    self._add_rows(fresh, seen)
                    fresh.remove(list(late))
                    watermark = max(top, self._watermark)
                    self._index, self._watermark = fresh, watermark
                    self._loaded = True
                    self._tombstones = {i for i in late if i > watermark}
            finally:
                with self._lock:
                    self._rebuild_drops, self._rebuild_adds = None, None
            log.info(
                "event=index_rebuild engine=%s metric=%s type=%s total=%d watermark=%d ms=%d",
                self.engine, self.metric, fresh.type_name, len(self), self.watermark, _ms(started),
            )
            return len(self)

    def rebuild_in_background(self) -> threading.Thread | None:
        """Start rebuild() in a thread unless one is running; searches never wait for it."""
        if self._rebuild_lock.locked():
            return None
        thread = threading.Thread(target=self._rebuild_logged, name=f"index-rebuild-{self.engine}", daemon=True)
        thread.start()
        return thread

    def _rebuild_logged(self) -> None:
        try:
            self.rebuild()
        except Exception:  # a thread's exception would vanish: the next rebuild tries again
            log.exception("event=index_rebuild_failed engine=%s", self.engine)

    def _make_index(self, n: int) -> GalleryIndex:
        if self._custom_factory is not None:
            return self._custom_factory()
        return make_index(max(self._n_expected, n), self.metric, dim=self.dim, exact_limit=self._exact_limit)

    def _outgrown(self) -> bool:
        """An exact index grown past EXACT_LIMIT: rebuild it as IVF (beside it, so searches go on)."""
        if self._custom_factory is not None or self._rebuild_lock.locked():
            return False
        with self._lock:
            return self._index.type_name == "exact" and len(self._index) > self._exact_limit

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
            if self._rebuild_adds is not None:  # a rebuild loading meanwhile must keep them too
                self._rebuild_adds.extend(fresh)
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

    def search(self, vector: ArrayLike, k: int, **filters: Any) -> list[Hit]:
        """GalleryIndex.search under the lock (filters: kind, exclude_owner, exclude_face_ids)."""
        with self._lock:
            return self._index.search(vector, k, **filters)

    def search_many(self, matrix: ArrayLike, k: int, **filters: Any) -> list[list[Hit]]:
        """GalleryIndex.search_many under the lock (same filters)."""
        with self._lock:
            return self._index.search_many(matrix, k, **filters)

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
            if self._rebuild_adds is not None:
                self._rebuild_adds.extend(fresh)
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
