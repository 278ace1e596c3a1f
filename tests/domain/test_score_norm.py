"""Score normalisation against strangers and engine fusion: the arithmetic, without a database."""
from __future__ import annotations

import math

import pytest

from service.domain.score_norm import CohortStats, Scale, as_distance, fuse_z, normalised_distance, normalised_z, z_score

TYPICAL = CohortStats(mean=0.05, std=0.08)
SCALE = Scale(mean=0.05, std=0.08)


def test_z_score_counts_spreads_above_the_usual_stranger_similarity():
    assert z_score(0.05, TYPICAL) == 0.0
    assert z_score(0.45, TYPICAL) == pytest.approx(5.0)


def test_a_typical_face_keeps_its_distance():
    # For a face whose stranger statistics are the cohort's typical ones, normalising changes nothing.
    for distance in (0.3, 0.55, 0.62, 0.9):
        assert normalised_distance(distance, TYPICAL, TYPICAL, SCALE, "s") == pytest.approx(distance)
        assert normalised_distance(distance, TYPICAL, None, SCALE, "z") == pytest.approx(distance)


def test_a_face_that_resembles_every_stranger_is_pushed_away():
    # The same raw distance means less for a face that comes close to strangers anyway.
    crowd_like = CohortStats(mean=0.15, std=0.08)
    assert normalised_distance(0.60, crowd_like, TYPICAL, SCALE, "s") > 0.60
    assert normalised_distance(0.60, crowd_like, crowd_like, SCALE, "s") > normalised_distance(0.60, crowd_like, TYPICAL, SCALE, "s")
    # ... and a distinctive face (far from strangers) is brought closer.
    distinctive = CohortStats(mean=0.0, std=0.07)
    assert normalised_distance(0.60, distinctive, distinctive, SCALE, "s") < 0.60


def test_s_norm_is_the_mean_of_both_sides_and_symmetric():
    a, b = CohortStats(0.1, 0.09), CohortStats(0.02, 0.06)
    expected = 0.5 * (z_score(0.4, a) + z_score(0.4, b))
    assert normalised_z(0.4, a, b, "s") == pytest.approx(expected)
    assert normalised_z(0.4, a, b, "s") == pytest.approx(normalised_z(0.4, b, a, "s"))
    assert normalised_z(0.4, a, None, "s") == pytest.approx(z_score(0.4, a))  # the other side unknown
    with pytest.raises(ValueError):
        normalised_z(0.4, a, b, "t")


def test_as_distance_inverts_the_scale():
    assert as_distance(0.0, SCALE) == pytest.approx(1.0 - SCALE.mean)
    z = normalised_z(1.0 - 0.5, TYPICAL, TYPICAL, "s")
    assert as_distance(z, SCALE) == pytest.approx(0.5)


def test_fusion_sums_z_scores_and_reads_one_engine_alone_unchanged():
    assert fuse_z([3.0]) == 3.0
    assert fuse_z([3.0, None]) == 3.0  # the second engine found no face
    assert fuse_z([3.0, 1.0]) == pytest.approx(4.0 / math.sqrt(2))
    assert fuse_z([None, float("nan")]) is None
