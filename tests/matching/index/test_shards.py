"""Sharded search merges to exactly what one index over the whole gallery returns."""
from __future__ import annotations

import numpy as np
import pytest

from service.matching.index import ExactIndex, Shard, merge_topk, shard_of

from .helpers import fill, random_vectors, same_hits


@pytest.mark.parametrize("n_shards", [1, 3, 4])
def test_merged_shards_equal_one_index(n_shards):
    vectors = random_vectors(1500)
    face_ids = np.arange(1000, 2500)
    whole = fill(ExactIndex("cosine"), vectors, face_ids)
    shards = [ExactIndex("cosine") for _ in range(n_shards)]
    for s, index in enumerate(shards):
        rows = np.flatnonzero([shard_of(int(f), n_shards) == s for f in face_ids])
        kinds = ["case" if r % 5 == 0 else "report" for r in rows]
        index.add(face_ids[rows], kinds, rows // 2, vectors[rows])
    assert sum(len(index) for index in shards) == len(whole)
    for q in random_vectors(10, seed=1):
        for filters in ({}, {"kind": "case"}, {"exclude_owner": ("report", 3)}):
            merged = merge_topk([index.search(q, 10, **filters) for index in shards], 10)
            assert same_hits(merged, whole.search(q, 10, **filters))


def test_shard_ownership():
    assert [Shard(1, 3).owns(f) for f in range(6)] == [False, True, False, False, True, False]
    with pytest.raises(ValueError):
        Shard(3, 3)
    assert merge_topk([[], []], 5) == []
