"""Description matching rules: readings, names, relatives, villages, marks, scores and bands."""
from __future__ import annotations

import random
from datetime import date

import pytest

from service.domain import clues as c

N = c.Name.of
ON = date(2026, 12, 1)


@pytest.mark.parametrize("a, b, level", [
    ("王秀英", "王秀英", "same"),
    ("张伟", "章伟", "homophone"),  # same syllable, any tone
    ("李娜", "李拿", "homophone"),
    ("王秀银", "王秀英", "sounds_alike"),  # in / ing
    ("刘建国", "牛建国", "sounds_alike"),  # n / l
    ("黄方", "黄航", "sounds_alike"),  # f / h
    ("陈志强", "程志强", "sounds_alike"),  # ch / c, en / eng
    ("秀英", "王秀英", "given_only"),
    ("王秀银", "王秀根", "partial"),  # one character miswritten
    ("王伟", "李伟", None),
    ("王伟", "王强", None),
])
def test_compare_names(a, b, level):
    assert c.compare_names(N(a), N(b)) == level
    assert c.compare_names(N(b), N(a)) == level


def test_fuzzy_readings():
    assert c.fuzzy("zhang") == c.fuzzy("zan") == "zan"
    assert c.fuzzy("niu") == c.fuzzy("liu")
    assert c.fuzzy("fang") == c.fuzzy("hang")
    assert c.fuzzy("lv") == c.fuzzy("lu")
    assert N("单雄信").readings[0] == ("dan", "chan", "shan")  # heteronyms kept for surnames


def test_names_in_text():
    assert c.names_in("父亲王德明，弟弟叫王强、李桂英") == ["王德明", "王强", "李桂英"]
    assert c.names_in_relations("由母亲：李桂英报案，说他不爱说话") == ["李桂英"]


def test_localities():
    found = dict(c.localities("山东省临沂市兰陵县车辋镇李庄村", "老家在李家庄"))
    assert set(found.values()) == {"ce-wan", "li-zuan", "li-jia-zuan"}
    assert dict(c.localities("王家庄"))["王家庄"] != dict(c.localities("李家庄"))["李家庄"]


@pytest.mark.parametrize("a, b, level", [
    ("左眉有痣", "左眉毛上有颗黑痣", "same_place"),
    ("右手缺指", "右手少一根手指", "same_place"),
    ("左臂纹身", "左胳膊有刺青", "same_place"),
    ("右腿跛行", "走路右腿瘸", "same_place"),
    ("左臂纹身", "右臂纹身", "contradicts"),
    ("左臂纹身", "背上纹身", "contradicts"),
    ("有纹身", "左臂纹身", "same_kind"),
    ("额头有疤", "左眉有痣", None),
])
def test_marks(a, b, level):
    assert c.compare_marks(c.marks_in(a), c.marks_in(b)) == level


def _case(**kw):
    base = dict(sex="female", age_min=50, age_max=60, seen_on=ON, found_on=ON, clue_names=("秀银", "王德民"),
                clue_places=("周口 沈丘",), clue_dialects=("河南话",), marks="左眉毛上一颗黑痣")
    return c.case_profile(c.CaseClues(**{**base, **kw}))


def _report(**kw):
    base = dict(sex="female", name="王秀英", age_at_missing=52, missing_since=date(2025, 6, 1),
                hometown="河南省周口市沈丘县付井镇", marks="左眉有痣", contact_name="王德明")
    return c.report_profile(c.ReportClues(**{**base, **kw}))


def test_interview_clues_against_the_report_are_likely_with_an_evidence_table():
    s = c.score(_case(), _report(), ON)
    assert s.band == "likely" and s.score > 0.9
    levels = {x.attr: x.level for x in s.signals}
    assert levels == {"gender": "agree", "age": "agree", "name": "given_only", "relative": "sounds_alike",
                      "place": "county", "dialect": "agree", "marks": "same_place"}
    assert [x.attr for x in s.signals] == ["gender", "age", "name", "relative", "place", "dialect", "marks"]
    assert s.llr == pytest.approx(sum(x.weight for x in s.signals))
    assert s.evidence()["agreement"][0]["attr"] == "gender"


def test_vetoes_sex_impossible_age_and_found_before_missing():
    assert c.score(_case(), _report(sex="male"), ON).band is None
    old = c.score(_case(age_min=20, age_max=25), _report(age_at_missing=70), ON)
    assert old.band is None and "cannot be" in old.reasons[0]
    later = c.score(_case(), _report(missing_since=date(2027, 6, 1)), ON)
    assert later.band is None and "before going missing" in later.reasons[0]


def test_county_accent_age_and_sex_alone_are_not_proposed():
    s = c.score(_case(clue_names=(), marks=None), _report(), ON)
    assert s.llr > c.POSSIBLE_AT and s.band is None  # a county describes dozens of people
    assert c.score(_case(clue_names=(), marks=None), _report(), ON, quick=True) is c.NOT_PROPOSED
    # For a person who cannot say a name: the county with the same mark on the same body part is enough.
    assert c.score(_case(clue_names=()), _report(), ON).band == "possible"


def test_a_contradicting_clue_lowers_likely_to_possible():
    s = c.score(_case(clue_dialects=("东北话",)), _report(), ON)
    assert s.band == "possible" and "disagrees" in s.reasons[0]


def test_index_keys_meet_for_true_pairs():
    case, report = _case(), _report()
    shared = c.query_keys(case) & c.index_keys(report)
    assert {"g:xiu-yin", "r:wan-de-min", "p:411624"} <= shared
    assert not any(k.startswith("p:") for k in c.query_keys(_case(marks=None)))


def test_profiles_round_trip_through_json():
    import json

    p = _case(notes=("反复说起李家庄",))
    assert c.Profile.from_json(json.loads(json.dumps(p.as_json()))) == p


def test_fusion_with_a_face_score():
    assert c.fuse_with_face(None, None, 0.4, "possible") == (0.4, "possible")
    assert c.fuse_with_face(0.6, "possible", None, None) == (0.6, "possible")
    assert c.fuse_with_face(0.6, "possible", 0.7, "possible") == (0.88, "likely")
    assert c.fuse_with_face(0.55, "possible", 0.2, "possible") == (0.64, "possible")
    assert c.fuse_with_face(0.9, "likely", 0.2, "possible")[1] == "likely"


def test_long_missing_child():
    assert c.long_missing_child(9, None, date(2019, 5, 1), ON) == 7
    assert c.long_missing_child(9, None, date(2025, 5, 1), ON) is None
    assert c.long_missing_child(30, None, date(2010, 5, 1), ON) is None
    assert c.long_missing_child(None, date(2012, 1, 1), date(2020, 1, 1), ON) == 6


def test_generated_clues_find_their_report_among_many():
    """A small version of bench/clue_bench.py: 60 generated pairs against 1,500 reports, in memory."""
    from bench import clue_data as gen

    rng = random.Random(7)
    people = gen.identities(1500, 7, ON)
    reports = [c.report_profile(gen.report_of(p, rng)) for p in people]
    first = false = 0
    for idx in rng.sample(range(len(people)), 60):
        case = c.case_profile(gen.case_of(people[idx], rng, ON)[0])
        ranked = sorted(((s.band != "likely", -s.llr, j) for j, r in enumerate(reports)
                         if (s := c.score(case, r, ON, quick=True)).band))
        first += bool(ranked) and ranked[0][2] == idx
        false += sum(1 for x in ranked if x[2] != idx)
    assert first / 60 >= 0.85 and false / 60 <= 1.0
