"""Open-set score normalisation and engine-score fusion (issue 12): the arithmetic, in plain Python.

A raw face distance means different things for different faces: a face that resembles many strangers comes
close to everyone. Measured against a cohort of strangers (people who are nobody's match), each face has a usual
similarity to strangers (`mean`) and a spread (`std`). The z-score of a pair says how far above that usual
level the pair's similarity is; S-norm averages the z-score from the probe's side and from the gallery face's
side. The result is mapped back onto the distance scale (`Scale`: the cohort's typical mean and spread), so
that the cuts, the bands and the review pages keep reading a distance where lower is closer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("z", "s")  # z: the probe's side only; s: S-norm, both sides


@dataclass(frozen=True)
class CohortStats:
    """How close a face usually comes to strangers (cosine similarity): mean and spread."""

    mean: float
    std: float


@dataclass(frozen=True)
class Scale:
    """The typical cohort statistics, to turn a z-score back into a distance on the engine's scale."""

    mean: float
    std: float


def z_score(similarity: float, stats: CohortStats) -> float:
    return (similarity - stats.mean) / max(stats.std, 1e-6)


def normalised_z(similarity: float, probe: CohortStats, gallery: CohortStats | None, mode: str) -> float:
    """z (probe side) or S-norm (the mean of both sides' z-scores; the probe side alone when the other is unknown)."""
    if mode not in MODES:
        raise ValueError(f"unknown normalisation {mode!r}")
    z_probe = z_score(similarity, probe)
    if mode == "z" or gallery is None:
        return z_probe
    return 0.5 * (z_probe + z_score(similarity, gallery))


def as_distance(z: float, scale: Scale) -> float:
    """A z-score on the distance scale: a pair as far above strangers as the typical face's mean + z spreads."""
    return 1.0 - (scale.mean + scale.std * z)


def normalised_distance(distance: float, probe: CohortStats, gallery: CohortStats | None, scale: Scale, mode: str) -> float:
    """A cosine distance normalised against the cohort, on the same scale (lower is closer)."""
    return as_distance(normalised_z(1.0 - distance, probe, gallery, mode), scale)


def fuse_z(scores: list[float | None]) -> float | None:
    """Sum-rule fusion of engines' z-scores, scaled so that one engine alone reads the same: sum / sqrt(n).

    An engine that found no face (None) is left out; None when none did."""
    present = [s for s in scores if s is not None and math.isfinite(s)]
    if not present:
        return None
    return sum(present) / math.sqrt(len(present))
