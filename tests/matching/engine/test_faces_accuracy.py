"""Matching accuracy on real photos at each engine's shipped threshold (a small, fixed subset)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

# Subset: 12 genuine pairs, 264 impostor pairs. Full-set numbers are in bench/results/calibration.md;
# these bounds leave room for a pair or two, and fail if the pipeline or threshold drifts.
EXPECT = {
    "sface": {"min_tar": 11 / 12, "max_far": 1 / 264, "min_auc": 0.995},
    "dlib": {"min_tar": 10 / 12, "max_far": 0.03, "min_auc": 0.98},
}


def _pair_distances(engine, subset, encode) -> tuple[np.ndarray, np.ndarray]:
    embeddings = {file: encode(engine, file) for _, file in subset}
    genuine, impostor = [], []
    for (who_a, file_a), (who_b, file_b) in itertools.combinations(subset, 2):
        d = engine.distance(embeddings[file_a], embeddings[file_b])
        (genuine if who_a == who_b else impostor).append(d)
    return np.array(genuine), np.array(impostor)


def test_genuine_pairs_match_and_impostors_do_not(faces_engine, faces_subset, faces_encode):
    genuine, impostor = _pair_distances(faces_engine, faces_subset, faces_encode)
    expect = EXPECT[faces_engine.name]
    threshold = faces_engine.default_threshold
    assert (len(genuine), len(impostor)) == (12, 264)

    tar = float((genuine <= threshold).mean())
    far = float((impostor <= threshold).mean())
    auc = float((genuine[:, None] < impostor[None, :]).mean())  # how often a true pair beats a false one

    assert tar >= expect["min_tar"], f"{faces_engine.name}: genuine accept {tar:.3f} at {threshold}"
    assert far <= expect["max_far"], f"{faces_engine.name}: impostor accept {far:.4f} at {threshold}"
    assert auc >= expect["min_auc"], f"{faces_engine.name}: pair ordering {auc:.4f}"


def test_sface_tells_chen_shui_bian_from_li_peng(faces_sface, faces_manifest, faces_encode):
    """dlib puts these two at a median 0.47 (a match at its usual 0.6); sface must keep them apart."""
    chen = [faces_encode(faces_sface, f) for f in faces_manifest["Chen_Shui-bian"]]
    li = [faces_encode(faces_sface, f) for f in faces_manifest["Li_Peng"]]
    cross = np.array([faces_sface.distance(a, b) for a in chen for b in li])
    assert len(cross) == 30
    assert (cross > faces_sface.default_threshold).all(), f"closest cross pair {cross.min():.3f}"
    # and each is still recognised as himself
    for person in (chen, li):
        same = [faces_sface.distance(a, b) for a, b in itertools.combinations(person, 2)]
        assert np.median(same) < faces_sface.default_threshold


@pytest.mark.parametrize("engine_name", ["sface"])
def test_threshold_is_a_distance_lower_is_closer(engine_name, faces_subset, faces_encode):
    from service.matching.engine import get_engine

    engine = get_engine(engine_name)
    genuine, impostor = _pair_distances(engine, faces_subset, faces_encode)
    assert np.median(genuine) < engine.default_threshold < np.median(impostor)
