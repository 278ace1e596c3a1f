"""NumpyIndex: exact brute force in pure numpy, for hosts without faiss and as a reference in tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .base import DIM, GalleryIndex, Metric

VECTORS_FILE = "vectors.npz"
GROWTH = 1.5
# Queries are scored in blocks so per-block temporaries stay near 256 MB.
SCORE_BLOCK_BYTES = 256 * 1024 * 1024


class NumpyIndex(GalleryIndex):
    """Exact top-k by a BLAS matrix product and argpartition; same results as ExactIndex up to rounding."""

    type_name = "numpy"

    def __init__(self, metric: Metric = "cosine", dim: int = DIM) -> None:
        super().__init__(metric, dim)
        self._n = 0
        self._vectors = np.empty((0, dim), np.float32)
        self._ids = np.empty(0, np.int64)
        # Squared norms, for L2 as |x|^2 - 2 x.q + |q|^2 (one matrix product instead of n differences).
        self._sq_norms = np.empty(0, np.float32)

    def _add_vectors(self, face_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        end = self._n + len(face_ids)
        if end > len(self._ids):
            capacity = max(end, int(len(self._ids) * GROWTH))
            self._vectors = _grown(self._vectors, capacity, self._n)
            self._ids = _grown(self._ids, capacity, self._n)
            self._sq_norms = _grown(self._sq_norms, capacity, self._n)
        self._vectors[self._n : end] = vectors
        self._ids[self._n : end] = face_ids
        self._sq_norms[self._n : end] = np.einsum("ij,ij->i", vectors, vectors)
        self._n = end

    def _remove_vectors(self, face_ids: NDArray[np.int64]) -> None:
        keep = ~np.isin(self._ids[: self._n], face_ids)
        kept = int(keep.sum())
        self._vectors[:kept] = self._vectors[: self._n][keep]
        self._ids[:kept] = self._ids[: self._n][keep]
        self._sq_norms[:kept] = self._sq_norms[: self._n][keep]
        self._n = kept

    def _search_vectors(
        self, queries: NDArray[np.float32], fetch: int, selector=None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        # selects is False: filters run on the results (base.search_many), selector is never given.
        n = self._n
        vectors, ids = self._vectors[:n], self._ids[:n]
        out_d = np.empty((len(queries), fetch), np.float32)
        out_i = np.empty((len(queries), fetch), np.int64)
        # Bounded by both the (block, n) scores and the (block, fetch, dim) euclidean refinement.
        block = max(1, SCORE_BLOCK_BYTES // (4 * max(n, fetch * self.dim)))
        for start in range(0, len(queries), block):
            chunk = queries[start : start + block]
            scores = chunk @ vectors.T
            # Turn scores into distances in place: no second (block, n) matrix.
            if self.metric == "cosine":
                np.subtract(1.0, scores, out=scores)
            else:
                scores *= -2.0
                scores += self._sq_norms[:n]
                scores += np.einsum("ij,ij->i", chunk, chunk)[:, None]
            if fetch < n:
                top = np.argpartition(scores, fetch - 1, axis=1)[:, :fetch]
            else:
                top = np.broadcast_to(np.arange(n), scores.shape)
            if self.metric == "cosine":
                top_d = np.take_along_axis(scores, top, axis=1)
            else:
                # The norm expansion loses ~sqrt(eps)*|x| to cancellation; recompute the few candidates directly.
                diff = vectors[top] - chunk[:, None, :]
                top_d = np.sqrt(np.einsum("qkd,qkd->qk", diff, diff))
            order = np.argsort(top_d, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            top_d = np.take_along_axis(top_d, order, axis=1)
            out_d[start : start + len(chunk)] = top_d
            out_i[start : start + len(chunk)] = ids[top]
        return out_d, out_i

    def _stored_count(self) -> int:
        return self._n

    def _vector_bytes(self) -> int:
        return self._vectors.nbytes + self._ids.nbytes + self._sq_norms.nbytes

    def _save_vectors(self, directory: Path) -> None:
        np.savez(directory / VECTORS_FILE, face_ids=self._ids[: self._n], vectors=self._vectors[: self._n])

    def _load_vectors(self, directory: Path) -> None:
        with np.load(directory / VECTORS_FILE) as data:
            vectors = np.ascontiguousarray(data["vectors"], np.float32)
            face_ids = data["face_ids"].astype(np.int64)
        self._n = 0
        self._add_vectors(face_ids, vectors)


def _grown(array: NDArray, capacity: int, used: int) -> NDArray:
    bigger = np.empty((capacity, *array.shape[1:]), array.dtype)
    bigger[:used] = array[:used]
    return bigger
