"""Removing faces and owners, and replacing a re-encoded face."""
from __future__ import annotations

import numpy as np
import pytest

from .helpers import fill, random_vectors


def test_remove_by_face_id(backend, metric):
    vectors = random_vectors(400)
    index = fill(backend(metric), vectors)
    assert index.search(vectors[10], 1)[0].face_id == 1010
    assert index.remove([1010, 1011, 999_999]) == 2
    assert len(index) == 398
    assert 1010 not in index and 1012 in index
    ids = [h.face_id for h in index.search(vectors[10], 400)]
    assert 1010 not in ids and 1011 not in ids and len(ids) == 398
    assert index.remove([1010]) == 0


def test_remove_owner(backend):
    vectors = random_vectors(100)
    index = fill(backend("cosine"), vectors)
    # Report 3 owns rows 6 and 7.
    assert sorted(index.face_ids_of("report", 3)) == [1006, 1007]
    assert index.remove_owner("report", 3) == 2
    assert index.face_ids_of("report", 3) == []
    assert all(h.owner_id != 3 or h.kind != "report" for h in index.search(vectors[6], 100))


def test_add_existing_face_id_replaces_it(backend):
    vectors = random_vectors(50)
    index = fill(backend("cosine"), vectors)
    new_vector = random_vectors(1, seed=9)
    index.add([1005], ["case"], [77], new_vector)
    assert len(index) == 50
    hit = index.search(new_vector[0], 1)[0]
    assert (hit.face_id, hit.kind, hit.owner_id) == (1005, "case", 77)
    assert hit.distance == pytest.approx(0.0, abs=1e-4)


def test_ids_added_out_of_order_still_resolve(backend):
    vectors = random_vectors(30)
    index = backend("cosine")
    order = np.random.default_rng(0).permutation(30)
    for chunk in np.array_split(order, 4):
        index.add(chunk + 500, ["report"] * len(chunk), chunk, vectors[chunk])
    for row in (0, 17, 29):
        hit = index.search(vectors[row], 1)[0]
        assert (hit.face_id, hit.owner_id) == (500 + row, row)


def test_memory_bytes_grows_with_the_gallery(backend):
    index = backend("cosine")
    empty = index.memory_bytes()
    fill(index, random_vectors(1000))
    # At least the float32 vectors themselves.
    assert index.memory_bytes() - empty >= 1000 * 128 * 4
