"""Score fusion: face distance bands, sex and age gates, place and dialect hints, marks."""
from __future__ import annotations

from datetime import date

import pytest

from service.domain.fusion import CaseAttrs, ReportAttrs, age_band, case_age, fuse, fuse_arrivals, provinces_in, report_age

CUTS = {"adult": (0.50, 0.62), "child": (0.45, 0.58), "elderly": (0.50, 0.62)}
ON = date(2026, 11, 23)


def test_age_bands():
    assert [age_band(a) for a in (None, 5, 17, 18, 59, 60, 90)] == ["adult", "child", "child", "adult", "adult", "elderly", "elderly"]


def test_report_age_grows_with_time_since_missing():
    assert report_age(ReportAttrs(age_at_missing=8, missing_since=date(2016, 6, 1)), ON) == 18
    assert report_age(ReportAttrs(birth_date=date(1950, 12, 1)), ON) == 75
    assert report_age(ReportAttrs(), ON) is None


def test_case_estimate_ages_from_when_it_was_made():
    assert case_age(CaseAttrs(age_min=30, age_max=40, seen_on=date(2024, 11, 23)), ON) == (32, 42)
    assert case_age(CaseAttrs(birth_date=date(2000, 1, 1), age_min=5, age_max=6), ON) == (26, 26)


@pytest.mark.parametrize(
    "distance, band",
    [(0.30, "likely"), (0.50, "likely"), (0.55, "possible"), (0.62, "possible"), (0.63, None), (0.95, None)],
)
def test_face_distance_sets_the_band(distance, band):
    fused = fuse(distance, CUTS, CaseAttrs(age_min=40, age_max=50), ReportAttrs(), ON)
    assert fused.band == band
    if band:
        assert 0.5 <= fused.score <= 1.0


def test_score_falls_with_distance():
    scores = [fuse(d, CUTS, CaseAttrs(), ReportAttrs(), ON).score for d in (0.2, 0.4, 0.5, 0.56, 0.62)]
    assert scores == sorted(scores, reverse=True)


def test_sex_mismatch_is_never_proposed():
    fused = fuse(0.2, CUTS, CaseAttrs(sex="male"), ReportAttrs(sex="female"), ON)
    assert fused.band is None and "sex differs" in fused.reasons[0]
    assert fuse(0.2, CUTS, CaseAttrs(sex="male"), ReportAttrs(sex="unknown"), ON).band == "likely"


def test_impossible_age_vetoes_and_borderline_age_demotes():
    case = CaseAttrs(age_min=40, age_max=50)
    assert fuse(0.2, CUTS, case, ReportAttrs(birth_date=date(2016, 1, 1)), ON).band is None  # a child of 10
    borderline = fuse(0.2, CUTS, case, ReportAttrs(birth_date=date(1964, 1, 1)), ON)  # 62: 50 + 10 < 62 ≤ 50 + 20
    assert borderline.band == "possible" and any("outside the estimate" in r for r in borderline.reasons)


def test_a_child_report_grows_into_an_adult_arrival():
    case = CaseAttrs(age_min=20, age_max=25, seen_on=ON)
    report = ReportAttrs(age_at_missing=6, missing_since=date(2008, 5, 1))  # 24 now
    fused = fuse(0.4, CUTS, case, report, ON)
    assert fused.band == "likely"
    assert {a.attr: a.verdict for a in fused.agreement}["age"] == "agree"


def test_hints_raise_the_score_but_never_rescue_a_far_face():
    plain = fuse(0.56, CUTS, CaseAttrs(), ReportAttrs(), ON)
    hinted = fuse(0.56, CUTS, CaseAttrs(dialect="河南话", marks="左臂有疤", found_place="天津西站"),
                  ReportAttrs(hometown="河南省周口市", marks="左臂烫伤疤痕", missing_place="天津"), ON)
    assert hinted.score > plain.score and hinted.band == "possible"
    verdicts = {a.attr: a.verdict for a in hinted.agreement}
    assert verdicts["hometown"] == verdicts["marks"] == verdicts["place"] == "agree"
    far = fuse(0.70, CUTS, CaseAttrs(dialect="河南话"), ReportAttrs(hometown="河南"), ON)
    assert far.band is None


def test_children_use_the_child_cut():
    child = CaseAttrs(age_min=8, age_max=10)
    assert fuse(0.60, CUTS, child, ReportAttrs(), ON).band is None  # above the child cut 0.58
    assert fuse(0.60, CUTS, CaseAttrs(age_min=30, age_max=40), ReportAttrs(), ON).band == "possible"


def test_dialects_point_to_provinces():
    assert provinces_in("说粤语") == {"广东", "广西", "香港", "澳门"}
    assert provinces_in("四川话", None) == {"四川", "重庆"}
    assert provinces_in("") == set()
    assert provinces_in("上海南站") == {"上海"} and provinces_in("海南省海口市") == {"海南"}
    # Tianjin's districts and streets carry province names: they are not those provinces
    assert provinces_in("天津市河北区中山路") == {"天津"} and provinces_in("和平区山西路") == set()
    assert provinces_in("河北省保定市") == {"河北"} and provinces_in("山西") == {"山西"}


def test_repeat_arrivals():
    older = CaseAttrs(sex="female", age_min=60, age_max=70, seen_on=date(2024, 1, 1))
    newer = CaseAttrs(sex="female", age_min=62, age_max=72, seen_on=ON)
    assert fuse_arrivals(0.3, CUTS, newer, older).band == "likely"
    assert fuse_arrivals(0.3, CUTS, CaseAttrs(sex="male", seen_on=ON), older).band is None
    assert fuse_arrivals(0.3, CUTS, CaseAttrs(age_min=20, age_max=25, seen_on=ON), older).band is None
