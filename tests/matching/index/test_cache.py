"""IndexCache: incremental refresh by face_id watermark, drops, rebuild, shards, concurrent use."""
from __future__ import annotations

import threading

import numpy as np

from service.matching.index import ExactIndex, IndexCache, Row, Shard

from .helpers import random_vectors, same_hits


class FakeGallery:
    """The database as the loader sees it: live rows by ascending face_id; counts the calls."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.calls: list[tuple[int, int]] = []
        self.before_load = lambda: None

    def insert(self, face_ids, seed: int = 0) -> None:
        for face_id, vector in zip(face_ids, random_vectors(len(face_ids), seed=seed)):
            kind = "case" if face_id % 5 == 0 else "report"
            # bytes, as a bytea column would hand them over.
            self.rows[face_id] = Row(face_id, kind, face_id // 2, vector.tobytes(), station_id=face_id % 3)

    def delete(self, face_ids) -> None:
        for face_id in face_ids:
            self.rows.pop(face_id, None)

    def load(self, since: int, limit: int) -> list[Row]:
        self.calls.append((since, limit))
        self.before_load()
        return [self.rows[i] for i in sorted(self.rows) if i > since][:limit]

    def vector(self, face_id: int) -> np.ndarray:
        return np.frombuffer(self.rows[face_id].vector, np.float32)


def _cache(db: FakeGallery, **kw) -> IndexCache:
    return IndexCache("sface", "cosine", db.load, batch_size=10, **kw)


def test_refresh_pages_from_the_watermark():
    db = FakeGallery()
    db.insert(range(1, 26))
    cache = _cache(db)
    assert not cache.loaded
    assert cache.refresh() == 25
    assert cache.loaded
    assert (len(cache), cache.watermark) == (25, 25)
    assert db.calls == [(-1, 10), (10, 10), (20, 10)]
    db.insert(range(26, 33), seed=1)
    db.calls.clear()
    assert cache.refresh() == 7
    assert db.calls == [(25, 10)]
    assert cache.refresh() == 0 and cache.watermark == 32
    hit = cache.search(db.vector(30), 1)[0]
    assert (hit.face_id, hit.kind, hit.owner_id) == (30, "case", 15)


def test_dropped_faces_leave_and_do_not_come_back():
    db = FakeGallery()
    db.insert(range(1, 21))
    cache = _cache(db)
    cache.refresh()
    db.delete([4, 5])
    assert cache.drop([4, 5, 999]) == 2
    assert {4, 5}.isdisjoint(h.face_id for h in cache.search(db.vector(6), 20))
    db.insert(range(21, 25), seed=2)
    assert cache.refresh() == 4 and len(cache) == 22


def test_a_drop_that_races_the_load_wins():
    # The delete reaches the cache before the row it deleted was loaded (the load read it earlier).
    db = FakeGallery()
    db.insert(range(1, 6))
    cache = _cache(db)
    cache.refresh()
    db.insert(range(6, 9), seed=3)
    assert cache.drop([7]) == 0
    assert cache.refresh() == 2
    assert 7 not in [h.face_id for h in cache.search(db.vector(7), 10)]


def test_drop_owner():
    db = FakeGallery()
    db.insert(range(1, 21))
    cache = _cache(db)
    cache.refresh()
    # Report 3 owns faces 6 and 7.
    assert cache.drop_owner("report", 3) == 2
    assert len(cache) == 18
    assert all(h.owner_id != 3 for h in cache.search(db.vector(6), 18, kind="report"))


def test_a_face_below_the_watermark_is_added_once_when_asked():
    # A face the loader skipped (it belonged to a street lead) becomes a case's face with its old id.
    db = FakeGallery()
    db.insert(range(1, 21))
    db.delete([3])  # a lead's face: the loader leaves it out
    cache = _cache(db)
    assert cache.refresh() == 19 and cache.watermark == 20
    vector = random_vectors(1, seed=9)[0]
    late = db.rows[3] = Row(3, "case", 99, vector.tobytes())
    assert cache.refresh() == 0  # the watermark has passed id 3: refreshing never finds it
    assert cache.add_missing([late]) == 1 and cache.add_missing([late]) == 0 and len(cache) == 20
    hit = cache.search(vector, 1)[0]
    assert (hit.face_id, hit.kind, hit.owner_id) == (3, "case", 99)
    cache.drop([3])
    assert cache.add_missing([late]) == 1  # dropped below the watermark: no tombstone keeps it out


def test_rebuild_equals_incremental():
    db = FakeGallery()
    incremental = _cache(db)
    for step in range(5):
        db.insert(range(step * 13 + 1, step * 13 + 14), seed=step)
        incremental.refresh()
        gone = [step * 13 + 2, step * 13 + 9]
        db.delete(gone)
        incremental.drop(gone)
    rebuilt = _cache(db)
    assert rebuilt.rebuild() == len(incremental) == len(db.rows)
    assert rebuilt.watermark == incremental.watermark
    queries = random_vectors(8, seed=9)
    for a, b in zip(rebuilt.search_many(queries, 10), incremental.search_many(queries, 10)):
        assert same_hits(a, b)
    # Rebuilding the incremental cache in place changes nothing either.
    incremental.rebuild()
    assert same_hits(incremental.search(queries[0], 10), rebuilt.search(queries[0], 10))


def test_a_drop_during_rebuild_reaches_the_new_index():
    db = FakeGallery()
    db.insert(range(1, 31))
    cache = _cache(db)
    cache.refresh()

    def delete_once() -> None:
        # After the first page is read, face 3 is deleted (the page already holds it).
        if len(db.calls) == 2:
            db.delete([3])
            cache.drop([3])

    db.calls.clear()
    db.before_load = delete_once
    cache.rebuild()
    assert 3 not in [h.face_id for h in cache.search(random_vectors(1)[0], 30)]
    assert len(cache) == 29


def test_searches_and_refreshes_go_on_during_a_rebuild():
    """A rebuild loads beside the live index: a search and a refresh meanwhile neither wait nor lose faces."""
    db = FakeGallery()
    db.insert(range(1, 31))
    cache = _cache(db)
    cache.refresh()
    in_rebuild, release = threading.Event(), threading.Event()

    def hold_the_rebuild() -> None:
        if threading.current_thread().name.startswith("index-rebuild"):
            in_rebuild.set()
            assert release.wait(10)

    db.before_load = hold_the_rebuild
    thread = cache.rebuild_in_background()
    assert thread is not None and in_rebuild.wait(10)
    assert cache.rebuilding and cache.rebuild_in_background() is None
    # The rebuild is stuck in its loader: a search answers, and a refresh adds a new face.
    assert cache.search(db.vector(7), 1)[0].face_id == 7
    db.insert([40], seed=4)
    assert cache.refresh() == 1
    assert cache.search(db.vector(40), 1)[0].face_id == 40
    release.set()
    thread.join(10)
    assert not cache.rebuilding
    # The face refreshed in while the rebuild loaded survives the swap.
    assert cache.search(db.vector(40), 1)[0].face_id == 40
    assert (len(cache), cache.watermark) == (31, 40)


def test_an_exact_index_outgrown_is_rebuilt_as_ivf():
    db = FakeGallery()
    db.insert(range(1, 200))
    cache = IndexCache("sface", "cosine", db.load, batch_size=50, exact_limit=100)
    assert cache.index_type() == "exact"
    cache.refresh()
    for _ in range(100):
        if cache.index_type() == "ivf" and not cache.rebuilding:
            break
        threading.Event().wait(0.05)
    assert cache.index_type() == "ivf" and len(cache) == 199
    assert cache.search(db.vector(150), 1)[0].face_id == 150


def test_malformed_rows_are_skipped_not_retried():
    db = FakeGallery()
    db.insert(range(1, 5))
    db.rows[2] = db.rows[2]._replace(vector=np.zeros(128, np.float32))
    db.rows[3] = db.rows[3]._replace(vector=np.ones(64, np.float32))
    db.rows[4] = db.rows[4]._replace(kind="witness")
    cache = _cache(db)
    assert cache.refresh() == 1
    assert cache.watermark == 4 and cache.refresh() == 0


def test_a_shard_cache_holds_only_its_faces():
    db = FakeGallery()
    db.insert(range(1, 31))
    cache = _cache(db, shard=Shard(1, 3))
    cache.refresh()
    assert len(cache) == 10 and cache.watermark == 30
    assert all(h.face_id % 3 == 1 for h in cache.search(db.vector(4), 30))


def test_custom_factory_and_euclidean():
    db = FakeGallery()
    db.insert(range(1, 12))
    cache = IndexCache("dlib", "euclidean", db.load, factory=lambda: ExactIndex("euclidean"))
    assert cache.refresh() == 11
    assert cache.search(db.vector(5), 1)[0].distance < 1e-3
    assert cache.memory_bytes() > 11 * 128 * 4


def test_searches_run_safely_during_refresh_and_drop():
    db = FakeGallery()
    db.insert(range(1, 2001))
    cache = _cache(db)
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop() -> None:
        query = random_vectors(1, seed=5)[0]
        try:
            while not stop.is_set():
                hits = cache.search(query, 5, kind="report")
                assert all(h.kind == "report" for h in hits)
        except BaseException as exc:  # surfaced below: a thread's failure would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=search_loop) for _ in range(3)]
    for t in threads:
        t.start()
    cache.refresh()
    db.delete(range(1, 500, 7))
    cache.drop(range(1, 500, 7))
    cache.rebuild()
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) == 2000 - len(range(1, 500, 7))
