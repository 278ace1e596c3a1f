"""IVF: exact below its training size, high recall with nprobe set above it."""
from __future__ import annotations

import numpy as np
import pytest

from service.matching.index import ExactIndex, IVFIndex, nlist_for, nprobe_for
from service.matching.index.synthetic import synthetic_gallery

from .helpers import fill, random_vectors, same_hits


@pytest.fixture(scope="module")
def gallery():
    return synthetic_gallery(50_000)


def _recall_at(k: int, results, truth) -> float:
    found = [len({h.face_id for h in a} & {h.face_id for h in b}) for a, b in zip(results, truth)]
    return sum(found) / (k * len(truth))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_recall_at_10_vs_exact_on_clustered_50k(gallery, metric):
    n = len(gallery.vectors)
    kinds = ["report"] * n
    exact = fill(ExactIndex(metric), gallery.vectors, np.arange(n), kinds, gallery.identity_of)
    ivf = fill(IVFIndex(metric, nlist=128, nprobe=48), gallery.vectors, np.arange(n), kinds, gallery.identity_of)
    assert ivf.trained
    queries, _ = gallery.probes(300)
    assert _recall_at(10, ivf.search_many(queries, 10), exact.search_many(queries, 10)) >= 0.95


def test_below_train_size_it_is_exact_and_trains_once_exceeded():
    vectors = random_vectors(1200)
    ivf = IVFIndex("cosine", nlist=16, nprobe=2, train_size=1000)
    exact = ExactIndex("cosine")
    fill(ivf, vectors[:1000])
    fill(exact, vectors[:1000])
    assert not ivf.trained
    for q in random_vectors(5, seed=1):
        assert same_hits(ivf.search(q, 10), exact.search(q, 10))
    # The batch that crosses train_size trains on everything held and keeps it all.
    ivf.add(np.arange(5000, 5200), ["case"] * 200, np.arange(200), vectors[1000:])
    assert ivf.trained and len(ivf) == 1200
    assert ivf.search(vectors[1100], 1)[0].face_id == 5100


def test_remove_and_filters_after_training():
    vectors = random_vectors(3000)
    ivf = fill(IVFIndex("euclidean", nlist=16, nprobe=16, train_size=2000), vectors)
    assert ivf.trained
    assert ivf.remove([1010]) == 1
    assert 1010 not in [h.face_id for h in ivf.search(vectors[10], 5)]
    # nprobe == nlist scans every list: exact again, so filters can be checked strictly.
    exact = fill(ExactIndex("euclidean"), vectors)
    exact.remove([1010])
    q = random_vectors(1, seed=4)[0]
    assert same_hits(ivf.search(q, 8, kind="case"), exact.search(q, 8, kind="case"), tol=1e-4)


def test_nprobe_is_clamped_and_defaults_scale():
    ivf = IVFIndex(nlist=64)
    ivf.nprobe = 1000
    assert ivf.nprobe == 64
    assert nlist_for(1_000_000) == 1000 and nlist_for(10) == 64
    assert nprobe_for(1000) == 200 and nprobe_for(1581) == 316 and nprobe_for(64) == 16
