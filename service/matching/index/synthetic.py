"""Synthetic face-like embeddings for tests and the benchmark: identities with a few photos each."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Per-dimension photo noise: ~0.8 noise norm in 128-d puts two photos of one person at cosine ~0.6.
PHOTO_NOISE = 0.07
# Real embeddings fill a cone, not the whole sphere: identity variance decays over ~30 dimensions,
# which puts two different people at cosine 0 +- 0.13.
SPECTRUM_DIMS = 30.0
# Rows generated per chunk, so a 10M gallery never needs a 10M x 128 float64 temporary.
CHUNK = 200_000


@dataclass(frozen=True)
class SyntheticGallery:
    vectors: NDArray[np.float32]  # (n, dim), unit length
    identity_of: NDArray[np.int64]  # (n,) the identity each photo shows
    centres: NDArray[np.float32]  # (n_identities, dim), unit length

    def probes(self, n: int, seed: int = 1) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """New photos of identities in the gallery (a stranded person whose report exists)."""
        rng = np.random.default_rng(seed)
        who = self.identity_of[rng.integers(0, len(self.identity_of), n)]
        return _photos(self.centres, who, rng), who


def synthetic_gallery(
    n_faces: int, dim: int = 128, *, photos_per_identity: tuple[int, int] = (1, 5), seed: int = 0
) -> SyntheticGallery:
    rng = np.random.default_rng(seed)
    low, high = photos_per_identity
    counts = rng.integers(low, high + 1, size=n_faces // low + 1)
    counts = counts[: int(np.searchsorted(np.cumsum(counts), n_faces)) + 1]
    identity_of = np.repeat(np.arange(len(counts)), counts)[:n_faces]
    centres = _centres(len(counts), dim, rng)
    return SyntheticGallery(_photos(centres, identity_of, rng), identity_of.astype(np.int64), centres)


def _centres(n: int, dim: int, rng: np.random.Generator) -> NDArray[np.float32]:
    scales = np.exp(-np.arange(dim) / SPECTRUM_DIMS).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, CHUNK):
        block = rng.standard_normal((min(CHUNK, n - start), dim), dtype=np.float32) * scales
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _photos(centres: NDArray[np.float32], who: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.float32]:
    out = np.empty((len(who), centres.shape[1]), np.float32)
    for start in range(0, len(who), CHUNK):
        ids = who[start : start + CHUNK]
        block = centres[ids] + PHOTO_NOISE * rng.standard_normal((len(ids), centres.shape[1]), dtype=np.float32)
        out[start : start + len(ids)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out
