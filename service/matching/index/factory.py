"""Choosing an index for a gallery size, and loading a saved one whatever its type."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from .base import DIM, GalleryIndex, Metric, read_meta
from .exact import ExactIndex
from .ivf import IVFIndex, nlist_for
from .numpy_index import NumpyIndex

# Up to here a single-query exact scan stays within tens of milliseconds a shard; beyond it IVF.
EXACT_LIMIT = 2_000_000

INDEX_TYPES: dict[str, type[GalleryIndex]] = {cls.type_name: cls for cls in (ExactIndex, IVFIndex, NumpyIndex)}


def make_index(
    n_expected: int = 0,
    metric: Metric = "cosine",
    *,
    dim: int = DIM,
    exact_limit: int = EXACT_LIMIT,
    backend: Literal["faiss", "numpy"] = "faiss",
) -> GalleryIndex:
    """ExactIndex up to exact_limit faces, IVFIndex beyond; backend='numpy' for a host without faiss."""
    # faiss is a pinned dependency: no silent fallback, a broken install should fail loudly.
    if backend == "numpy":
        return NumpyIndex(metric, dim)
    if n_expected <= exact_limit:
        return ExactIndex(metric, dim)
    return IVFIndex(metric, dim, nlist=nlist_for(n_expected))


def load_index(path: str | os.PathLike[str]) -> GalleryIndex:
    """Load an index written by GalleryIndex.save, whichever type it is."""
    kind = read_meta(Path(path))["type"]
    try:
        cls = INDEX_TYPES[kind]
    except KeyError:
        raise ValueError(f"{path}: unknown index type {kind!r}") from None
    return cls.load(path)
