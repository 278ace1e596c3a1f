"""Seeded random galleries and a brute-force reference for the gallery index tests."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from service.matching.index import GalleryIndex

DIM = 128


def random_vectors(n: int, seed: int = 0) -> NDArray[np.float32]:
    return np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32)


def brute_force(metric: str, gallery: NDArray[np.float32], query: NDArray[np.float32]) -> NDArray[np.float64]:
    """Distances from query to every gallery row, in float64."""
    g, q = gallery.astype(np.float64), query.astype(np.float64)
    if metric == "cosine":
        g = g / np.linalg.norm(g, axis=1, keepdims=True)
        return 1.0 - g @ (q / np.linalg.norm(q))
    return np.linalg.norm(g - q, axis=1)


def fill(index: GalleryIndex, vectors: NDArray[np.float32], face_ids=None, kinds=None, owner_ids=None) -> GalleryIndex:
    """Add vectors; by default face_id = 1000 + row, reports owned in pairs, every 5th face a case."""
    n = len(vectors)
    face_ids = np.arange(1000, 1000 + n) if face_ids is None else face_ids
    kinds = ["case" if i % 5 == 0 else "report" for i in range(n)] if kinds is None else kinds
    owner_ids = np.arange(n) // 2 if owner_ids is None else owner_ids
    index.add(face_ids, kinds, owner_ids, vectors)
    return index


def same_hits(a: list, b: list, tol: float = 1e-5) -> bool:
    """Equal faces and owners in the same order, distances equal up to float rounding (BLAS paths differ)."""
    return len(a) == len(b) and all(
        (x.face_id, x.kind, x.owner_id) == (y.face_id, y.kind, y.owner_id) and abs(x.distance - y.distance) <= tol
        for x, y in zip(a, b)
    )
