"""Fixtures for the gallery index tests: every exact backend, both metrics."""
from __future__ import annotations

import pytest

from service.matching.index import ExactIndex, IVFIndex, NumpyIndex

# IVF with a train_size above every test gallery stays flat, so it must match exact search too.
BACKENDS = {
    "exact": lambda metric: ExactIndex(metric),
    "numpy": lambda metric: NumpyIndex(metric),
    "ivf-untrained": lambda metric: IVFIndex(metric, nlist=16, train_size=1_000_000),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    return BACKENDS[request.param]


@pytest.fixture(params=["cosine", "euclidean"])
def metric(request) -> str:
    return request.param
