"""ExactIndex: faiss brute force (IndexFlat in an IndexIDMap2), plus the flat helpers IVF reuses."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

from .base import DIM, GalleryIndex, Metric
from .selector import Selector

VECTORS_FILE = "vectors.faiss"
# IndexIDMap2 keeps id_map (8 B a face) and an unordered_map id -> slot that faiss does not
# report; libstdc++ spends ~32 B a node plus ~8 B of bucket array (checked by the benchmark's RSS).
REV_MAP_BYTES = 40


def faiss_metric(metric: Metric) -> int:
    return faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2


def new_flat(metric: Metric, dim: int) -> faiss.IndexIDMap2:
    flat = faiss.IndexFlatIP(dim) if metric == "cosine" else faiss.IndexFlatL2(dim)
    return faiss.IndexIDMap2(flat)


def to_distances(metric: Metric, raw: NDArray[np.float32]) -> NDArray[np.float32]:
    """faiss scores to distances: 1 - inner product for cosine, the root of squared L2 for euclidean."""
    if metric == "cosine":
        return 1.0 - raw
    return np.sqrt(np.maximum(raw, 0.0))


def flat_view(index: faiss.IndexIDMap2) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """(face_ids, vectors) held by a flat IndexIDMap2; the vectors are a view, valid until it changes."""
    n, dim = index.ntotal, index.d
    if n == 0:
        return np.empty(0, np.int64), np.empty((0, dim), np.float32)
    flat = faiss.downcast_index(index.index)
    vectors = faiss.rev_swig_ptr(flat.get_xb(), n * dim).reshape(n, dim)
    return faiss.vector_to_array(index.id_map).astype(np.int64), vectors


def search_params(selector: Selector | None, **ivf) -> faiss.SearchParameters | None:
    """faiss search parameters for a filter (IDSelector) and, for IVF, its nprobe."""
    if selector is None or selector.sel is None:
        return None
    return faiss.SearchParametersIVF(sel=selector.sel, **ivf) if ivf else faiss.SearchParameters(sel=selector.sel)


def flat_bytes(index: faiss.IndexIDMap2) -> int:
    return index.ntotal * (index.d * 4 + 8 + REV_MAP_BYTES)


class ExactIndex(GalleryIndex):
    """Exact top-k by faiss brute force; cost grows linearly with the gallery."""

    type_name = "exact"
    selects = True

    def __init__(self, metric: Metric = "cosine", dim: int = DIM) -> None:
        super().__init__(metric, dim)
        self._faiss = new_flat(metric, dim)

    def _add_vectors(self, face_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        self._faiss.add_with_ids(vectors, face_ids)

    def _remove_vectors(self, face_ids: NDArray[np.int64]) -> None:
        self._faiss.remove_ids(face_ids)

    def _search_vectors(
        self, queries: NDArray[np.float32], fetch: int, selector: Selector | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        raw, ids = self._faiss.search(queries, fetch, params=search_params(selector))
        return to_distances(self.metric, raw), ids

    def _stored_count(self) -> int:
        return int(self._faiss.ntotal)

    def _vector_bytes(self) -> int:
        return flat_bytes(self._faiss)

    def _save_vectors(self, directory: Path) -> None:
        faiss.write_index(self._faiss, str(directory / VECTORS_FILE))

    def _load_vectors(self, directory: Path) -> None:
        loaded = faiss.read_index(str(directory / VECTORS_FILE))
        if not isinstance(loaded, faiss.IndexIDMap2):
            raise ValueError(f"{directory}: expected an IndexIDMap2, got {type(loaded).__name__}")
        self._faiss = loaded
