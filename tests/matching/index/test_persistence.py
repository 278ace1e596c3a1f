"""save/load round-trips and make_index's choice of backend."""
from __future__ import annotations

import numpy as np
import pytest

from service.matching.index import ExactIndex, IVFIndex, NumpyIndex, load_index, make_index

from .helpers import fill, random_vectors, same_hits

SAVED = {
    "exact": lambda: ExactIndex("euclidean"),
    "numpy": lambda: NumpyIndex("euclidean"),
    "ivf-flat": lambda: IVFIndex("euclidean", nlist=8, train_size=10_000),
    "ivf-trained": lambda: IVFIndex("euclidean", nlist=8, nprobe=3, train_size=500),
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_save_load_round_trip(tmp_path, name):
    vectors = random_vectors(1000)
    index = fill(SAVED[name](), vectors)
    index.add([7], ["case"], [42], random_vectors(1, seed=3), station_ids=[5])
    index.remove([1003])
    index.save(tmp_path / "gallery")
    loaded = load_index(tmp_path / "gallery")
    assert type(loaded) is type(index)
    assert (len(loaded), loaded.metric, loaded.dim) == (len(index), "euclidean", 128)
    assert loaded._owners.station_ids[loaded._owners.positions(np.array([7]))][0] == 5
    if isinstance(index, IVFIndex):
        assert (loaded.trained, loaded.nprobe, loaded.nlist) == (index.trained, index.nprobe, index.nlist)
    not_report_0 = {"exclude_owner": ("report", 0)}
    for q in random_vectors(5, seed=1):
        assert same_hits(loaded.search(q, 10, **not_report_0), index.search(q, 10, **not_report_0))
    # A loaded index keeps working.
    loaded.add([9999], ["report"], [1], vectors[:1] + 100)
    assert loaded.remove([9999, 1000]) == 2


def test_save_replaces_an_older_index(tmp_path):
    path = tmp_path / "gallery"
    fill(ExactIndex(), random_vectors(10)).save(path)
    fill(NumpyIndex(), random_vectors(20)).save(path)
    assert isinstance(load_index(path), NumpyIndex) and len(load_index(path)) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery"]


def test_load_refuses_the_wrong_type(tmp_path):
    fill(ExactIndex(), random_vectors(10)).save(tmp_path / "g")
    with pytest.raises(ValueError, match="exact"):
        NumpyIndex.load(tmp_path / "g")


def test_make_index_picks_by_size():
    assert isinstance(make_index(1000), ExactIndex)
    assert isinstance(make_index(2_000_000, "euclidean"), ExactIndex)
    big = make_index(9_000_000)
    assert isinstance(big, IVFIndex) and big.nlist == 3000 and not big.trained
    assert isinstance(make_index(5000, exact_limit=1000), IVFIndex)
    assert isinstance(make_index(9_000_000, backend="numpy"), NumpyIndex)
    with pytest.raises(ValueError, match="metric"):
        make_index(10, "manhattan")
