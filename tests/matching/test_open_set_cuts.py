"""The cuts follow the gallery's size: what a reviewer is shown by chance stays bounded as the gallery grows."""
from __future__ import annotations

import pytest

from service.matching import evidence
from service.matching.engine import get_engine


@pytest.fixture(scope="module")
def sface():
    return get_engine("sface")


def test_small_galleries_keep_the_per_pair_cuts(sface):
    assert evidence.open_set_cuts(sface, 50) == evidence.thresholds(sface)


def test_cuts_tighten_as_the_gallery_grows_and_bound_false_candidates(sface):
    calibration = evidence.impostor_calibration("sface")
    assert calibration is not None and calibration["engine"] == sface.version
    previous = evidence.thresholds(sface)["adult"]
    for size in (1_000, 10_000, 100_000, 1_000_000):
        cuts = evidence.open_set_cuts(sface, size)
        likely, possible = cuts["adult"]
        assert likely <= possible <= previous[1] and likely <= previous[0]
        # Expected false candidates per arrival at the `possible` cut: the target, for any size.
        far = evidence.FALSE_CANDIDATES_PER_ARRIVAL["possible"] / size
        assert evidence.distance_at_far(calibration, far) == pytest.approx(possible)
        # Child cuts stay at least as strict as adult ones.
        assert cuts["child"][1] <= possible
        previous = (likely, possible)


def test_an_uncalibrated_engine_keeps_its_per_pair_cuts(sface):
    other = {"engine": "some-other-build", "table": [[0.1, 0.9]], "tail_fit": {}}
    assert evidence.open_set_cuts(sface, 10**6, calibration=other) == evidence.thresholds(sface)
