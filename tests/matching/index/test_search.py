"""Exact search agrees with brute force for every backend and both metrics."""
from __future__ import annotations

import numpy as np
import pytest

from .helpers import brute_force, fill, random_vectors, same_hits


def test_top_k_matches_brute_force(backend, metric):
    vectors = random_vectors(2000)
    index = fill(backend(metric), vectors)
    for query in random_vectors(20, seed=1):
        hits = index.search(query, 10)
        expected = brute_force(metric, vectors, query)
        rows = [h.face_id - 1000 for h in hits]
        # Reported distances are the true ones and the k smallest (near-ties may swap places).
        assert [h.distance for h in hits] == pytest.approx(expected[rows].tolist(), abs=1e-4)
        assert [h.distance for h in hits] == pytest.approx(np.sort(expected)[:10].tolist(), abs=1e-4)


def test_nearest_neighbour_of_a_gallery_vector_is_itself(backend, metric):
    vectors = random_vectors(500)
    index = fill(backend(metric), vectors)
    hit = index.search(vectors[123], 1)[0]
    assert hit.face_id == 1123
    assert hit.distance == pytest.approx(0.0, abs=1e-3)


def test_search_many_equals_search(backend, metric):
    index = fill(backend(metric), random_vectors(800))
    queries = random_vectors(7, seed=2)
    for q, hits in zip(queries, index.search_many(queries, 5)):
        assert same_hits(hits, index.search(q, 5))


def test_hits_carry_owner_and_ascend(backend):
    index = fill(backend("cosine"), random_vectors(300))
    hits = index.search(random_vectors(1, seed=3)[0], 20)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    for h in hits:
        row = h.face_id - 1000
        assert h.owner_id == row // 2
        assert h.kind == ("case" if row % 5 == 0 else "report")


def test_k_larger_than_gallery_and_empty_gallery(backend):
    index = backend("cosine")
    assert index.search(random_vectors(1)[0], 5) == []
    fill(index, random_vectors(3))
    assert len(index.search(random_vectors(1, seed=4)[0], 50)) == 3
    assert index.search(random_vectors(1, seed=4)[0], 0) == []


def test_scale_does_not_matter_for_cosine(backend):
    vectors = random_vectors(200)
    index = fill(backend("cosine"), vectors)
    query = random_vectors(1, seed=5)[0]
    assert [h.face_id for h in index.search(query, 5)] == [h.face_id for h in index.search(query * 40, 5)]


@pytest.mark.parametrize(
    "vectors, message",
    [
        (np.zeros((1, 64), np.float32), "shape"),
        (np.zeros((1, 0), np.float32), "shape"),
        (np.zeros((1, 128), np.float32), "zero vector"),
        (np.full((1, 128), np.nan, np.float32), "finite"),
    ],
)
def test_bad_vectors_are_refused(backend, vectors, message):
    with pytest.raises(ValueError, match=message):
        backend("cosine").add([1], ["report"], [1], vectors)


def test_bad_ids_and_kinds_are_refused(backend):
    index = backend("cosine")
    with pytest.raises(ValueError, match="duplicate"):
        index.add([1, 1], ["report", "report"], [1, 1], random_vectors(2))
    with pytest.raises(ValueError, match=">= 0"):
        index.add([-1], ["report"], [1], random_vectors(1))
    with pytest.raises(ValueError, match="kind"):
        index.add([1], ["person"], [1], random_vectors(1))
    with pytest.raises(ValueError, match="length"):
        index.add([1, 2], ["report"], [1, 2], random_vectors(2))
    assert len(index) == 0
