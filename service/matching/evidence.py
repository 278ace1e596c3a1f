"""Bridge between the models and the domain's score fusion (service.domain.fusion)."""
from __future__ import annotations

from ..domain import fusion
from ..models import Case, GalleryReport

# Face-distance cuts per engine and age band: (likely, possible). Calibrated on ../shared/faces by
# bench/calibrate.py; `possible` sits near FAR 1e-3, `likely` near FAR 1e-4 (see README §Matching).
THRESHOLDS = {
    "sface": {"adult": (0.52, 0.62), "child": (0.50, 0.60), "elderly": (0.52, 0.62)},
    "dlib": {"adult": (0.42, 0.49), "child": (0.40, 0.47), "elderly": (0.42, 0.49)},
}


def thresholds(engine) -> dict:
    return THRESHOLDS.get(engine.name, {"adult": (engine.default_threshold * 0.85, engine.default_threshold)})


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


def fuse_report(engine, distance: float, case_attrs, report_attrs, now):
    return fusion.fuse(distance, thresholds(engine), case_attrs, report_attrs, now.date())


def fuse_arrival(engine, distance: float, case_attrs, other_attrs, case: Case, other: Case):
    newer, older = (case_attrs, other_attrs) if case.arrived_at >= other.arrived_at else (other_attrs, case_attrs)
    return fusion.fuse_arrivals(distance, thresholds(engine), newer, older)
