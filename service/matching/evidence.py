"""Bridge between the models and the domain's score fusion (service.domain.fusion), and the cuts by gallery size."""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from ..domain import fusion
from ..models import Case, GalleryReport

# Face-distance cuts per engine and age band: (likely, possible). Calibrated on ../shared/faces by
# bench/calibrate.py; `possible` sits near FAR 1e-3, `likely` near FAR 1e-4 (see README §Matching).
THRESHOLDS = {
    "sface": {"adult": (0.51, 0.61), "child": (0.49, 0.59), "elderly": (0.51, 0.61)},
    "dlib": {"adult": (0.42, 0.49), "child": (0.40, 0.47), "elderly": (0.42, 0.49)},
}


def thresholds(engine) -> dict:
    return THRESHOLDS.get(engine.name, {"adult": (engine.default_threshold * 0.85, engine.default_threshold)})


# Open set: a per-pair cut proposes more strangers the larger the gallery (1,997 strangers at 0.61: 0.65 false
# candidates per arrival). The cuts are set instead for what a reviewer may be shown by chance, per arrival:
# expected false candidates in each band at the gallery's current size, from the impostor distance
# distribution measured by bench/open_set.py (calibration/<engine>.json). cut(N) = distance at which a
# stranger pair is accepted with probability target / N; never looser than the per-pair cuts above.
# Where the calibration names a normalisation (S-norm against the cohort file, scoring.py), the table is of
# normalised distances, which is what the search worker then compares with the cuts.
FALSE_CANDIDATES_PER_ARRIVAL = {"possible": 0.1, "likely": 0.01}
CALIBRATION_DIR = Path(__file__).parent / "calibration"


@lru_cache(maxsize=8)
def impostor_calibration(engine_name: str) -> dict | None:
    path = CALIBRATION_DIR / f"{engine_name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def distance_at_far(calibration: dict, far: float) -> float:
    """The distance under which a stranger pair is accepted with probability `far` (table, then the fitted tail)."""
    table = calibration["table"]
    if far >= table[0][0]:
        return table[0][1]
    for (far_hi, d_hi), (far_lo, d_lo) in zip(table, table[1:]):
        if far_lo <= far <= far_hi:
            t = (math.log10(far) - math.log10(far_lo)) / (math.log10(far_hi) - math.log10(far_lo))
            return d_lo + t * (d_hi - d_lo)
    fit = calibration["tail_fit"]
    return (math.log10(far) - fit["log10_far_intercept"]) / fit["log10_far_slope"]


def open_set_cuts(engine, gallery_size: int, calibration: dict | None = None) -> dict:
    """The age-band cuts (likely, possible) for a gallery of `gallery_size` entries."""
    base = thresholds(engine)
    calibration = calibration if calibration is not None else impostor_calibration(engine.name)
    if calibration is None or calibration.get("engine") != engine.version or gallery_size <= 0:
        return base
    possible = distance_at_far(calibration, FALSE_CANDIDATES_PER_ARRIVAL["possible"] / gallery_size)
    likely = distance_at_far(calibration, FALSE_CANDIDATES_PER_ARRIVAL["likely"] / gallery_size)
    cuts = {}
    for band, (band_likely, band_possible) in base.items():
        p = min(band_possible, possible)
        cuts[band] = (min(band_likely, likely, p), p)
    return cuts


def of_case(case: Case):
    return fusion.CaseAttrs(
        sex=case.gender or "unknown",
        age_min=case.age_min,
        age_max=case.age_max,
        birth_date=case.birth_date,
        seen_on=(case.arrived_at.date() if case.arrived_at else None),
        found_place=case.found_place,
        dialect=case.dialect,
        hometown_hint=" ".join(filter(None, (case.hometown_hint, case.household_place))) or None,
        marks=case.marks,
    )


def of_report(report: GalleryReport):
    return fusion.ReportAttrs(
        sex=report.gender or "unknown",
        birth_date=report.birth_date,
        age_at_missing=report.age_at_missing,
        missing_since=report.missing_since,
        missing_place=report.missing_place,
        hometown=report.hometown,
        marks=report.marks,
    )


def fuse_report(engine, distance: float, case_attrs, report_attrs, now, cuts: dict | None = None):
    return fusion.fuse(distance, cuts or thresholds(engine), case_attrs, report_attrs, now.date())


def fuse_arrival(engine, distance: float, case_attrs, other_attrs, case: Case, other: Case, cuts: dict | None = None):
    newer, older = (case_attrs, other_attrs) if case.arrived_at >= other.arrived_at else (other_attrs, case_attrs)
    return fusion.fuse_arrivals(distance, cuts or thresholds(engine), newer, older)


def photo_age(photo, owner, kind: str) -> dict:
    """When a photo was taken and the person's age on it, where known (review shows the gap between two photos).

    Arrival photos without a camera date were taken at the station (their upload). A report photo without one
    was taken before the person went missing: its date is then `missing_since` as an upper bound."""
    taken, bound = (photo.taken_on if photo is not None else None), False
    if kind == "case":
        if taken is None and photo is not None and photo.created_at is not None:
            taken = photo.created_at.date()
        age = fusion.case_age(of_case(owner), taken) if taken else None
        return {"taken_on": taken, "up_to": False, "age": age}
    attrs = of_report(owner)
    if taken is None and owner.missing_since:
        taken, bound = owner.missing_since, True
    age = fusion.report_age(attrs, taken) if taken else None
    return {"taken_on": taken, "up_to": bound, "age": (age, age) if age is not None else None}


def years_between(a: dict, b: dict) -> int | None:
    """Whole years between two photos (at least that many when the older photo's date is an upper bound)."""
    if not a.get("taken_on") or not b.get("taken_on"):
        return None
    return abs(fusion._years(min(a["taken_on"], b["taken_on"]), max(a["taken_on"], b["taken_on"])))
