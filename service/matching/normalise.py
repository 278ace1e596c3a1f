"""Score normalisation against a cohort of strangers (issue 12): the arithmetic on vectors.

A stranger who looks like many people (or a probe photo that looks like everyone: blur, a child, a hat) gets
close raw scores to the whole gallery. Dividing each score by how close that face usually comes to strangers
(the cohort: faces of people who are nobody's match) makes one cut mean the same chance of a false candidate
for every face. The cohort's embeddings ship with the engine's calibration (calibration/<engine>_cohort.npy,
built by bench/open_set.py from half of ../shared/faces-distractors, the half it never measures on); nothing is
fetched at run time. The formula itself lives in service.domain.score_norm (plain Python, tested there).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

CALIBRATION_DIR = Path(__file__).parent / "calibration"
SAME_PHOTO = 0.999  # a face that is itself in the cohort: that entry is left out of its own statistics


def similarity_stats(vectors: np.ndarray, cohort: np.ndarray, top_k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each row's cosine similarity to the cohort (to its `top_k` closest only, when given)."""
    sims = np.asarray(vectors, np.float32).reshape(-1, cohort.shape[1]) @ cohort.T
    sims = np.where(sims > SAME_PHOTO, np.nan, sims)
    if top_k:
        sims = -np.sort(-np.nan_to_num(sims, nan=-2.0), axis=1)[:, :top_k]
    return np.nanmean(sims, axis=1), np.nanstd(sims, axis=1) + 1e-6


@lru_cache(maxsize=4)
def cohort_of(engine_name: str) -> np.ndarray | None:
    """The engine's cohort embeddings (unit rows, float32), or None when the engine ships none."""
    path = CALIBRATION_DIR / f"{engine_name}_cohort.npy"
    if not path.exists():
        return None
    cohort = np.load(path, allow_pickle=False).astype(np.float32)
    return cohort / np.maximum(np.linalg.norm(cohort, axis=1, keepdims=True), 1e-12)


def normalised_distances(probes: np.ndarray, gallery: np.ndarray, cohort: np.ndarray, mode: str, top_k: int | None,
                         scale_mean: float, scale_std: float) -> np.ndarray:
    """The (probes x gallery) matrix of what service.domain.score_norm.normalised_distance gives pair by pair."""
    sims = probes @ gallery.T
    mp, sp = similarity_stats(probes, cohort, top_k)
    z = (sims - mp[:, None]) / sp[:, None]
    if mode == "s":
        mg, sg = similarity_stats(gallery, cohort, top_k)
        z = 0.5 * (z + (sims - mg[None, :]) / sg[None, :])
    return 1.0 - (scale_mean + scale_std * z)


def scale_of(cohort: np.ndarray, top_k: int | None = None) -> tuple[float, float]:
    """The cohort's typical similarity to strangers and its spread: where z-scores go back on the distance scale."""
    mean, std = similarity_stats(cohort, cohort, top_k)
    return float(np.mean(mean)), float(np.mean(std))
