"""The cohort normalisation the search worker applies: the shipped cohort, its calibration, templates per person."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from service.domain.score_norm import CohortStats, Scale, normalised_distance
from service.matching import evidence
from service.matching.engine import get_engine
from service.matching.normalise import CALIBRATION_DIR, cohort_of, normalised_distances, similarity_stats
from service.matching.scoring import normaliser_for, templates_of


@pytest.fixture(scope="module")
def sface():
    return get_engine("sface")


def _unit_rows(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 128)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_cohort_ships_small_and_matches_its_calibration(sface):
    calibration = evidence.impostor_calibration("sface")
    spec = calibration["normalisation"]
    cohort = cohort_of("sface")
    assert calibration["engine"] == sface.version and spec["mode"] in ("z", "s")
    assert cohort.shape == (calibration["strangers"], sface.dim)
    assert np.allclose(np.linalg.norm(cohort, axis=1), 1.0, atol=1e-5)
    assert (CALIBRATION_DIR / spec["cohort"]).stat().st_size < 400_000  # embeddings only, no photo
    assert normaliser_for(sface) is not None
    assert normaliser_for(get_engine("dlib")) is None  # no cohort shipped for it: raw distances


def test_the_matrix_form_is_the_pairwise_formula(sface):
    spec = evidence.impostor_calibration("sface")["normalisation"]
    cohort = cohort_of("sface")
    probes, gallery = _unit_rows(3, 1), _unit_rows(4, 2)
    scale = Scale(spec["scale"]["mean"], spec["scale"]["std"])
    matrix = normalised_distances(probes, gallery, cohort, spec["mode"], None, scale.mean, scale.std)
    pm, ps = similarity_stats(probes, cohort)
    gm, gs = similarity_stats(gallery, cohort)
    for i in range(3):
        for j in range(4):
            one = normalised_distance(1.0 - float(probes[i] @ gallery[j]), CohortStats(pm[i], ps[i]),
                                      CohortStats(gm[j], gs[j]), scale, spec["mode"])
            assert matrix[i, j] == pytest.approx(one, abs=1e-5)


def test_a_cohort_face_is_left_out_of_its_own_statistics():
    cohort = _unit_rows(50, 3)
    mean_in, _ = similarity_stats(cohort[:1], cohort)
    mean_out, _ = similarity_stats(cohort[:1], cohort[1:])
    assert mean_in[0] == pytest.approx(mean_out[0], abs=1e-6)


def test_the_cuts_by_size_read_the_normalised_calibration(sface):
    calibration = evidence.impostor_calibration("sface")
    possible = evidence.open_set_cuts(sface, 100_000)["adult"][1]
    assert possible == pytest.approx(evidence.distance_at_far(calibration, 0.1 / 100_000))
    # the raw distances' own table is kept beside it, for the record; it is not what the cuts read
    assert calibration["raw"]["table"] != calibration["table"]


def test_one_template_per_person_and_plausible_faces_alone():
    a, b, c = _unit_rows(3, 4)
    faces = [(SimpleNamespace(id=1, choice="only"), a), (SimpleNamespace(id=2, choice="staff"), b),
             (SimpleNamespace(id=3, choice="plausible"), c)]
    groups = templates_of(faces)
    assert [[fid for fid, _ in g] for _, g in groups] == [[1, 2], [3]]
    mean = (a + b) / np.linalg.norm(a + b)
    assert np.allclose(groups[0][0], mean) and np.allclose(groups[1][0], c)
