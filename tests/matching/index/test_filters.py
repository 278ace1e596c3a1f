"""Filters: by kind, excluding the probe's own owner, excluding face_ids; widened when most are filtered."""
from __future__ import annotations

import numpy as np

from .helpers import brute_force, fill, random_vectors, same_hits


def _expected(vectors, query, allowed, k):
    distances = brute_force("cosine", vectors, query)
    order = [i for i in np.argsort(distances) if allowed(i)]
    return [1000 + int(i) for i in order[:k]]


def test_kind_filter(backend):
    vectors = random_vectors(1000)
    index = fill(backend("cosine"), vectors)
    query = random_vectors(1, seed=1)[0]
    hits = index.search(query, 10, kind="case")
    assert all(h.kind == "case" for h in hits)
    assert [h.face_id for h in hits] == _expected(vectors, query, lambda i: i % 5 == 0, 10)


def test_exclude_owner_drops_only_that_owner(backend):
    vectors = random_vectors(1000)
    index = fill(backend("cosine"), vectors)
    probe_row = 301  # a report (301 % 5 != 0) owned by report 150, as is row 300... which is a case
    query = vectors[probe_row]
    hits = index.search(query, 10, exclude_owner=("report", 150))
    assert 1000 + probe_row not in [h.face_id for h in hits]
    assert [h.face_id for h in hits] == _expected(
        vectors, query, lambda i: not (i // 2 == 150 and i % 5 != 0), 10
    )
    # Row 300 is owned by case 150: a different owner with the same number stays.
    assert 1300 in [h.face_id for h in index.search(vectors[300], 10, exclude_owner=("report", 150))]


def test_exclude_face_ids(backend):
    vectors = random_vectors(500)
    index = fill(backend("cosine"), vectors)
    query = random_vectors(1, seed=2)[0]
    first = [h.face_id for h in index.search(query, 5)]
    hits = index.search(query, 5, exclude_face_ids=set(first[:3]))
    assert [h.face_id for h in hits] == _expected(vectors, query, lambda i: 1000 + i not in first[:3], 5)


def test_rare_kind_is_found_by_widening(backend):
    # One case among 3000 reports, far from the query: over-fetching alone would not reach it.
    vectors = random_vectors(3001)
    kinds = ["report"] * 3000 + ["case"]
    index = fill(backend("cosine"), vectors, kinds=kinds)
    query = -vectors[3000]
    hits = index.search(query, 3, kind="case")
    assert [h.face_id for h in hits] == [4000]


def test_filters_in_search_many(backend):
    vectors = random_vectors(600)
    index = fill(backend("cosine"), vectors)
    queries = random_vectors(4, seed=3)
    batched = index.search_many(queries, 6, kind="report", exclude_face_ids={1001, 1002})
    for q, hits in zip(queries, batched):
        assert same_hits(hits, index.search(q, 6, kind="report", exclude_face_ids={1001, 1002}))


def test_exclude_face_ids_accepts_arrays_and_empty(backend):
    index = fill(backend("cosine"), random_vectors(50))
    query = random_vectors(1, seed=4)[0]
    plain = index.search(query, 3)
    assert same_hits(index.search(query, 3, exclude_face_ids=np.array([], np.int64)), plain)
    skipped = index.search(query, 3, exclude_face_ids=np.array([plain[0].face_id]))
    assert plain[0].face_id not in [h.face_id for h in skipped]


def test_filters_inside_faiss_equal_the_exact_filtered_result():
    """The IDSelector path (exact, trained IVF probing every list) returns the brute-force filtered top-k."""
    from service.matching.index import ExactIndex, IVFIndex

    vectors = random_vectors(3000, seed=7)
    # A rare kind (1 face in 50 a case) and owners in pairs: what made the over-fetch widen.
    kinds = ["case" if i % 50 == 0 else "report" for i in range(3000)]
    queries = random_vectors(6, seed=8)
    indexes = [ExactIndex("cosine"), IVFIndex("cosine", nlist=16, nprobe=16, train_size=1000)]
    for index in indexes:
        fill(index, vectors, kinds=kinds)
        assert index.selects
    assert indexes[1].trained

    def expected(kind_of, allowed, k):
        return [_expected(vectors, q, lambda i: allowed(i) and kind_of(i) in wanted, k) for q in queries]

    for kind in ("case", "report"):
        wanted = {kind}
        for index in indexes:
            got = index.search_many(queries, 10, kind=kind, exclude_owner=("report", 7), exclude_face_ids={1100, 1250})
            want = expected(lambda i: kinds[i], lambda i: not (i // 2 == 7 and kinds[i] == "report")
                            and 1000 + i not in {1100, 1250}, 10)
            assert [[h.face_id for h in row] for row in got] == want
            assert all(h.kind == kind for row in got for h in row)

    # The kind bitmaps follow adds, removals and a face re-added with another kind.
    for index in indexes:
        index.remove([1000, 1050])
        index.add([1100], ["case"], [999], vectors[100:101])
        index.add([5000], ["case"], [2500], -queries[0:1])
    kinds[0] = kinds[50] = "gone"
    kinds[100] = "case"
    wanted = {"case"}
    for index in indexes:
        got = index.search_many(queries, 10, kind="case")
        assert [[h.face_id for h in row] for row in got][1:] == expected(lambda i: kinds[i], lambda i: True, 10)[1:]
        far = index.search(-queries[0], 1, kind="case")
        assert [h.face_id for h in far] == [5000]
