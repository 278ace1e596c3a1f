"""Evidence beside the face: sex and age gates, place and dialect hints, marks → one score and a band.

Face scores alone mislead (DOMAIN.md §Lessons). The face distance decides whether a pair is worth a
person's time at all (never proposed above the `possible` cut, whatever the attributes say); the
attributes can only veto (sex, an impossible age) or move the score and band within that.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

BANDS = ("likely", "possible")
DECISIONS = ("confirm", "reject")  # what a person decides on a candidate

# Age tolerance of a stranger's estimate, widening with age: children change fast but are
# estimated closely; adults' estimates are often ±10 years off.
CHILD_AGE, ELDERLY_AGE = 18, 60


@dataclass(frozen=True)
class CaseAttrs:
    """What an arrival's record says about the person (estimates included)."""

    sex: str = "unknown"
    age_min: int | None = None
    age_max: int | None = None
    birth_date: date | None = None
    seen_on: date | None = None  # when the age estimate was made (arrival)
    found_place: str | None = None
    dialect: str | None = None
    hometown_hint: str | None = None
    marks: str | None = None


@dataclass(frozen=True)
class ReportAttrs:
    """What a missing-person report says; ages are as of `missing_since`."""

    sex: str = "unknown"
    birth_date: date | None = None
    age_at_missing: int | None = None
    missing_since: date | None = None
    missing_place: str | None = None
    hometown: str | None = None
    marks: str | None = None


@dataclass(frozen=True)
class Agreement:
    attr: str
    case_value: str | None
    other_value: str | None
    verdict: str  # agree | disagree | unknown

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fused:
    score: float
    band: str | None  # None: not proposed
    reasons: tuple[str, ...] = ()
    agreement: tuple[Agreement, ...] = field(default_factory=tuple)


def age_band(age: int | None) -> str:
    if age is None:
        return "adult"
    if age < CHILD_AGE:
        return "child"
    return "elderly" if age >= ELDERLY_AGE else "adult"


def tolerance(age: int) -> int:
    if age < CHILD_AGE:
        return 3
    return 10 if age >= ELDERLY_AGE else 8


def sex_verdict(a: str, b: str) -> str:
    """agree or disagree when both sexes are known (a disagreement vetoes the pair), else unknown."""
    if a not in ("male", "female") or b not in ("male", "female"):
        return "unknown"
    return "agree" if a == b else "disagree"


def age_gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Years between two age ranges; 0 when they overlap."""
    return max(b[0] - a[1], a[0] - b[1], 0)


def age_verdict(gap: int, tol: int) -> str:
    """Ages `gap` years apart: agree within the tolerance, disagree within twice it, else impossible (a veto)."""
    return "agree" if gap <= tol else "disagree" if gap <= 2 * tol else "impossible"


def _years(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def case_age(case: CaseAttrs, on: date) -> tuple[int, int] | None:
    """The case's age range on `on`: a known birth date beats an estimate (which ages with time)."""
    if case.birth_date:
        age = _years(case.birth_date, on)
        return age, age
    if case.age_min is None and case.age_max is None:
        return None
    lo = case.age_min if case.age_min is not None else case.age_max
    hi = case.age_max if case.age_max is not None else case.age_min
    if case.seen_on and on > case.seen_on:
        grown = _years(case.seen_on, on)
        lo, hi = lo + grown, hi + grown
    return lo, hi


def report_age(report: ReportAttrs, on: date) -> int | None:
    """The missing person's age on `on`: birth date, or age when missing plus the years since."""
    if report.birth_date:
        return _years(report.birth_date, on)
    if report.age_at_missing is not None:
        elapsed = _years(report.missing_since, on) if report.missing_since and on > report.missing_since else 0
        return report.age_at_missing + elapsed
    return None


PROVINCES = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江", "安徽", "福建",
    "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆", "四川", "贵州", "云南", "西藏",
    "陕西", "甘肃", "青海", "宁夏", "新疆", "台湾", "香港", "澳门",
)
# Dialects that point to a province (several provinces where the dialect spans them).
DIALECTS = {
    "粤语": ("广东", "广西", "香港", "澳门"), "广东话": ("广东",), "白话": ("广东", "广西"),
    "四川话": ("四川", "重庆"), "川话": ("四川", "重庆"), "重庆话": ("重庆",),
    "东北话": ("辽宁", "吉林", "黑龙江"), "河南话": ("河南",), "豫": ("河南",), "山东话": ("山东",),
    "闽南话": ("福建", "台湾"), "福建话": ("福建",), "客家话": ("广东", "福建", "江西"),
    "上海话": ("上海",), "吴语": ("上海", "江苏", "浙江"), "温州话": ("浙江",), "杭州话": ("浙江",),
    "湖南话": ("湖南",), "湘语": ("湖南",), "长沙话": ("湖南",), "湖北话": ("湖北",), "武汉话": ("湖北",),
    "陕西话": ("陕西",), "西安话": ("陕西",), "山西话": ("山西",), "天津话": ("天津",), "北京话": ("北京",),
    "河北话": ("河北",), "安徽话": ("安徽",), "江西话": ("江西",), "贵州话": ("贵州",), "云南话": ("云南",),
    "甘肃话": ("甘肃",), "宁夏话": ("宁夏",), "青海话": ("青海",), "新疆话": ("新疆",), "广西话": ("广西",),
    "海南话": ("海南",), "南京话": ("江苏",), "苏州话": ("江苏",), "内蒙古话": ("内蒙古",),
}
MARK_WORDS = ("痣", "疤", "纹身", "刺青", "胎记", "残疾", "断指", "缺指", "六指", "跛", "瘸", "聋", "哑", "盲",
              "斜视", "兔唇", "唇裂", "驼背", "假肢", "烧伤", "烫伤", "白发", "秃")
BODY_WORDS = ("左", "右", "额", "脸", "眉", "眼", "鼻", "嘴", "唇", "耳", "颈", "脖", "胸", "背", "腰", "腹", "肩",
              "臂", "胳膊", "手", "指", "腿", "膝", "脚", "足", "头")


_BY_LENGTH = sorted(PROVINCES, key=len, reverse=True)


STREET_SUFFIXES = frozenset("区路道街里巷")


def provinces_in(*texts: str | None) -> set[str]:
    """Provinces named in the texts, read left to right so 上海南站 is 上海, not also 海南."""
    found: set[str] = set()
    for text in texts:
        if not text:
            continue
        i = 0
        while i < len(text):
            name = next((p for p in _BY_LENGTH if text.startswith(p, i)), None)
            if name:
                # 天津市河北区, 山西路, 广东道: a district or a street named after a province is not that province.
                if text[i + len(name):i + len(name) + 1] not in STREET_SUFFIXES:
                    found.add(name)
                i += len(name)
            else:
                i += 1
        found.update(prov for word, provs in DIALECTS.items() if word in text for prov in provs)
    return found


def mark_words(text: str | None) -> set[str]:
    if not text:
        return set()
    return {w for w in MARK_WORDS if w in text}


def _marks_agree(a: str | None, b: str | None) -> str:
    wa, wb = mark_words(a), mark_words(b)
    if not wa or not wb:
        return "unknown"
    common = wa & wb
    if not common:
        return "unknown"  # different marks noted need not contradict: one side may have missed one
    body_a = {w for w in BODY_WORDS if w in (a or "")}
    body_b = {w for w in BODY_WORDS if w in (b or "")}
    if body_a and body_b and not body_a & body_b:
        return "disagree"  # the same kind of mark on different parts of the body
    return "agree"


def _band_for(distance: float, cuts: tuple[float, float]) -> str | None:
    likely, possible = cuts
    if distance <= likely:
        return "likely"
    if distance <= possible:
        return "possible"
    return None


def _face_score(distance: float, cuts: tuple[float, float]) -> float:
    """0.5 at the `possible` cut, 0.85 at the `likely` cut, approaching 1 for near-identical faces."""
    likely, possible = cuts
    span = max(possible - likely, 1e-6)
    if distance >= likely:
        return 0.5 + 0.35 * (possible - distance) / span
    return 0.85 + 0.15 * min(1.0, (likely - distance) / max(likely, 1e-6))


def _decide(distance, cuts, agreement: list[Agreement], vetoes: list[str], reasons: list[str]) -> Fused:
    if distance > cuts[1]:
        return Fused(round(max(0.0, _face_score(distance, cuts)), 4), None, ("face distance above the cut",), tuple(agreement))
    if vetoes:
        return Fused(0.0, None, tuple(vetoes), tuple(agreement))
    score = _face_score(distance, cuts)
    agree = sum(a.verdict == "agree" for a in agreement)
    disagree = sum(a.verdict == "disagree" for a in agreement)
    # Attributes move the score by bounded amounts: a face match stays the main evidence.
    score = min(1.0, max(0.05, score + 0.04 * agree - 0.12 * disagree))
    band = _band_for(distance, cuts)
    if band == "likely" and disagree:
        band = "possible"
        reasons.append("an attribute disagrees: shown as possible")
    return Fused(round(score, 4), band, tuple(reasons), tuple(agreement))


def _sex(a: str, b: str, vetoes: list[str]) -> Agreement:
    verdict = sex_verdict(a, b)
    if verdict == "disagree":
        vetoes.append(f"sex differs ({a} / {b})")
    return Agreement("gender", a, b, verdict)


def _age(case_range: tuple[int, int] | None, other: int | None, vetoes: list[str], reasons: list[str]) -> Agreement:
    if case_range is None or other is None:
        return Agreement("age", _fmt_range(case_range), None if other is None else str(other), "unknown")
    lo, hi = case_range
    tol = tolerance(other)
    verdict = age_verdict(age_gap(case_range, (other, other)), tol)
    if verdict == "disagree":
        reasons.append(f"age {other} is outside the estimate {lo}–{hi} ± {tol}")
    elif verdict == "impossible":
        vetoes.append(f"age {other} cannot be the estimated {lo}–{hi}")
    return Agreement("age", _fmt_range(case_range), str(other), "agree" if verdict == "agree" else "disagree")


def _fmt_range(r):
    if r is None:
        return None
    return str(r[0]) if r[0] == r[1] else f"{r[0]}–{r[1]}"


def _places(attr: str, case_texts, other_texts) -> Agreement:
    a, b = provinces_in(*case_texts), provinces_in(*other_texts)
    shown = "、".join(sorted(a)) or None, "、".join(sorted(b)) or None
    if not a or not b:
        return Agreement(attr, *shown, "unknown")
    # People travel far: a different province is no evidence against, only a shared one is for.
    return Agreement(attr, *shown, "agree" if a & b else "unknown")


def cuts_for(thresholds: dict, age: int | None) -> tuple[float, float]:
    return thresholds.get(age_band(age)) or thresholds["adult"]


def fuse(distance: float, thresholds: dict, case: CaseAttrs, report: ReportAttrs, on: date) -> Fused:
    """Score a case ↔ missing-person report pair; `thresholds` maps age band → (likely, possible)."""
    vetoes: list[str] = []
    reasons: list[str] = []
    c_age = case_age(case, on)
    r_age = report_age(report, on)
    agreement = [
        _sex(case.sex, report.sex, vetoes),
        _age(c_age, r_age, vetoes, reasons),
        _places("hometown", (case.hometown_hint, case.dialect), (report.hometown,)),
        _places("place", (case.found_place,), (report.missing_place,)),
        Agreement("marks", case.marks, report.marks, _marks_agree(case.marks, report.marks)),
    ]
    youngest = c_age[0] if c_age else r_age
    return _decide(distance, cuts_for(thresholds, youngest), agreement, vetoes, reasons)


def fuse_arrivals(distance: float, thresholds: dict, newer: CaseAttrs, older: CaseAttrs) -> Fused:
    """Score two arrivals of possibly the same person (repeat recipients)."""
    vetoes: list[str] = []
    reasons: list[str] = []
    on = newer.seen_on or older.seen_on or date.today()
    n_age, o_age = case_age(newer, on), case_age(older, on)
    if n_age and o_age:
        verdict = age_verdict(age_gap(n_age, o_age), tolerance(min(n_age[0], o_age[0])))
        if verdict == "impossible":
            vetoes.append(f"ages {_fmt_range(n_age)} and {_fmt_range(o_age)} cannot be one person")
        age = Agreement("age", _fmt_range(n_age), _fmt_range(o_age), "agree" if verdict == "agree" else "disagree")
    else:
        age = Agreement("age", _fmt_range(n_age), _fmt_range(o_age), "unknown")
    agreement = [
        _sex(newer.sex, older.sex, vetoes),
        age,
        _places("hometown", (newer.hometown_hint, newer.dialect), (older.hometown_hint, older.dialect)),
        Agreement("marks", newer.marks, older.marks, _marks_agree(newer.marks, older.marks)),
    ]
    youngest = min((r[0] for r in (n_age, o_age) if r), default=None)
    return _decide(distance, cuts_for(thresholds, youngest), agreement, vetoes, reasons)


