"""Description matching: what an arrival and the interviews say against what a missing-person report says.

Most people are found by talking with them. An interview yields a name that may be heard wrong (王秀银 for
王秀英), relatives' and villages' names, a county said the way people say it ("周口 沈丘"), an accent, a
mark described in other words. Each clue becomes a signal with a weight: the natural log of how much more
often that signal is seen for the same person than for two strangers (a likelihood ratio; the weights are
calibrated by bench/clue_bench.py on generated clue variations). Their sum, with the prior odds of one
report in PRIOR_REPORTS, is the score (a probability); the band comes from the sum. Sex and an impossible age
or date veto a pair outright, as for faces (service.domain.fusion).

Names, relatives, villages and marks are read in service.domain.clue_readings (pypinyin), places in
service.domain.gazetteer; the profile, the index keys and the score are here, in plain Python. A side's clues are read once into a Profile (JSON, stored beside the
record), and its index keys let the service find the few reports worth scoring among 10^5.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from itertools import product

from . import fusion
from .clue_readings import (  # noqa: F401  (the reading rules, re-exported for callers of this module)
    NAME_LEVELS, Name, _pinyin, best_name, compare_marks, compare_names, fuzzy, han, localities, marks_in, names_in,
    names_in_relations,
)
from .gazetteer import common_level, level_of, load as gazetteer

# ---------------------------------------------------------------- weights (log likelihood ratios)
# Positive weights: bench/clue_bench.py --calibrate (seed 1, 400 generated true pairs against 800,000 random
# pairs; bench/results/clues_calibration.md), rounded down and capped at 7: generated names are spread more
# evenly than real ones (王秀英 is shared by hundreds of thousands), so a perfect name match is not proof.
# Negative weights are judgement: generated clues never lie, interviews do (wrong places, learned accents),
# so disagreement only lowers a pair, it does not bury it (sex and impossible ages veto instead).
WEIGHTS: dict[str, dict[str, float]] = {
    "name": {"same": 7.0, "homophone": 7.0, "sounds_alike": 6.0, "given_only": 5.0, "partial": 4.0, "differs": -2.0},
    "relative": {"same": 7.0, "homophone": 6.5, "sounds_alike": 5.0, "given_only": 2.0, "partial": 1.5},
    "place": {"county": 4.5, "prefecture": 2.0, "province": 0.5, "differs": -1.5},
    "village": {"same": 5.0},
    "dialect": {"agree": 2.0, "disagree": -1.5},
    "gender": {"agree": 0.6},
    "age": {"agree": 1.3, "disagree": -2.0},
    "marks": {"same_place": 2.7, "same_kind": 1.0, "contradicts": -1.5},
}
# One true report among this many: the prior that turns the evidence into a probability.
PRIOR_REPORTS = 10_000
# Bands on the evidence sum. `possible` ≈ the score 0.1 at the prior above; checked against the benchmark's
# false candidates per case (at most 3 against 10,000 reports).
LIKELY_AT = 11.5
POSSIBLE_AT = 7.0
# A pair is proposed only when something identifies it (see `score`): sex, age, accent and even the county
# alone describe dozens of people in a gallery of 10,000.
IDENTIFYING = frozenset({"name", "relative", "village"})
PROPOSE_AT_MOST = 5  # description candidates kept per case and run
# A report of a child missing this long has photographs that no longer look like the person.
LONG_MISSING_YEARS = 3

# ---------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """What one side says, read: names, relatives, places, accents, marks, sex and age."""

    side: str  # case | report
    sex: str = "unknown"
    names: tuple[Name, ...] = ()  # the person's own names
    relatives: tuple[Name, ...] = ()
    heard: tuple[Name, ...] = ()  # case only: names heard in interviews (own or a relative's)
    places: tuple[str, ...] = ()  # division codes
    dialect_provinces: tuple[str, ...] = ()  # province codes
    localities: tuple[tuple[str, str], ...] = ()
    marks: tuple[tuple, ...] = ()
    age: dict = field(default_factory=dict)
    found_on: str | None = None  # case: the date the person was found or arrived
    missing_since: str | None = None  # report

    def as_json(self) -> dict:
        return {
            "side": self.side, "sex": self.sex, "names": [n.as_json() for n in self.names],
            "relatives": [n.as_json() for n in self.relatives], "heard": [n.as_json() for n in self.heard],
            "places": list(self.places), "dialect_provinces": list(self.dialect_provinces),
            "localities": [list(x) for x in self.localities], "marks": [list(m) for m in self.marks], "age": self.age,
            "found_on": self.found_on, "missing_since": self.missing_since,
        }

    @classmethod
    def from_json(cls, raw: dict) -> "Profile":
        names = lambda key: tuple(Name.from_json(n) for n in raw.get(key, ()))  # noqa: E731
        return cls(
            side=raw["side"], sex=raw.get("sex", "unknown"), names=names("names"), relatives=names("relatives"),
            heard=names("heard"), places=tuple(raw.get("places", ())),
            dialect_provinces=tuple(raw.get("dialect_provinces", ())),
            localities=tuple(tuple(x) for x in raw.get("localities", ())), marks=tuple(tuple(m) for m in raw.get("marks", ())),
            age=raw.get("age") or {}, found_on=raw.get("found_on"), missing_since=raw.get("missing_since"),
        )


@dataclass(frozen=True)
class CaseClues:
    """An arrival's facts and what its interviews recorded (clue names, clue places, dialect, notes)."""

    sex: str = "unknown"
    name: str | None = None
    relatives_named: str | None = None
    household_place: str | None = None
    hometown_hint: str | None = None
    dialect: str | None = None
    marks: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    birth_date: date | None = None
    seen_on: date | None = None
    found_on: date | None = None
    clue_names: tuple[str, ...] = ()
    clue_places: tuple[str, ...] = ()
    clue_dialects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportClues(fusion.ReportAttrs):
    """A report's facts (those the face channel reads too) and what else it says of the person and the family."""

    name: str | None = None
    description: str | None = None
    contact_name: str | None = None
    relatives: tuple[str, ...] = ()


def _names(texts) -> tuple[Name, ...]:
    out, seen = [], set()
    for text in texts:
        name = Name.of(text) if text else None
        if name and name.text not in seen:
            seen.add(name.text)
            out.append(name)
    return tuple(out)


def _provinces_of_dialects(*texts: str | None) -> tuple[str, ...]:
    gaz = gazetteer()
    codes = {gaz.province_code(p) for p in fusion.provinces_in(*texts)}
    return tuple(sorted(c for c in codes if c))


def case_profile(c: CaseClues) -> Profile:
    gaz = gazetteer()
    place_texts = (c.household_place, c.hometown_hint, *c.clue_places)
    relatives = names_in(c.relatives_named)
    heard = [n for n in c.clue_names if n and n != c.name]
    return Profile(
        side="case", sex=c.sex or "unknown",
        names=_names([c.name]), relatives=_names(relatives), heard=_names(heard),
        places=tuple(sorted(gaz.resolve(*place_texts))),
        dialect_provinces=_provinces_of_dialects(c.dialect, *c.clue_dialects),
        localities=tuple(localities(*place_texts, *c.notes, c.relatives_named)),
        marks=tuple(marks_in(c.marks)) + tuple(m for note in c.notes for m in marks_in(note)),
        age={"min": c.age_min, "max": c.age_max, "birth": c.birth_date and c.birth_date.isoformat(),
             "seen": c.seen_on and c.seen_on.isoformat()},
        found_on=c.found_on and c.found_on.isoformat(),
    )


def report_profile(r: ReportClues) -> Profile:
    gaz = gazetteer()
    relatives = [r.contact_name, *r.relatives, *names_in_relations(r.description)]
    return Profile(
        side="report", sex=r.sex or "unknown", names=_names([r.name]), relatives=_names(relatives),
        places=tuple(sorted(gaz.resolve(r.hometown, r.missing_place))),
        localities=tuple(localities(r.hometown, r.missing_place, r.description)),
        marks=tuple(marks_in(r.marks)) + tuple(marks_in(r.description)),
        age={"birth": r.birth_date and r.birth_date.isoformat(), "at_missing": r.age_at_missing,
             "since": r.missing_since and r.missing_since.isoformat()},
        missing_since=r.missing_since and r.missing_since.isoformat(),
    )


# ---------------------------------------------------------------- index keys


def _name_keys(prefix: str, name: Name, wildcard: bool) -> set[str]:
    fuzzies = [sorted({fuzzy(s) for s in r})[:2] for r in name.readings]
    keys = set()
    for combo in list(product(*fuzzies))[:4]:
        keys.add(f"{prefix}:{'-'.join(combo)}")
        if wildcard and len(combo) >= 3:
            for i in range(len(combo)):
                keys.add(f"{prefix}:{'-'.join('*' if j == i else s for j, s in enumerate(combo))}")
        if prefix == "n" and len(combo) == 3:
            keys.add(f"g:{'-'.join(combo[1:])}")  # the given name alone
        if prefix == "n" and len(combo) == 2:
            keys.add(f"g:{'-'.join(combo)}")  # may be a given name without the surname
    return keys


def index_keys(profile: Profile) -> set[str]:
    """Keys under which a profile is found: fuzzy name readings, relatives, villages, counties."""
    keys: set[str] = set()
    for name in profile.names:
        keys |= _name_keys("n", name, True)
    for name in profile.relatives:
        keys |= _name_keys("r", name, True)
    for name in profile.heard:  # a name heard may be the person's own or a relative's
        keys |= _name_keys("n", name, True) | _name_keys("r", name, True)
    for _word, key in profile.localities:
        keys.add(f"v:{key}")
    for code in profile.places:
        if level_of(code) == 3:
            keys.add(f"p:{code}")
    return keys


def query_keys(profile: Profile) -> set[str]:
    """The keys worth looking up: only pairs something identifies can be proposed (see `score`), so a
    county is looked up only beside a mark (people who cannot say their name)."""
    keys = index_keys(profile)
    if not profile.marks:
        keys = {k for k in keys if not k.startswith("p:")}
    return keys


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Signal:
    attr: str
    case_value: str | None
    other_value: str | None
    verdict: str  # agree | disagree | unknown
    level: str | None = None
    weight: float = 0.0

    def as_dict(self) -> dict:
        return {"attr": self.attr, "case_value": self.case_value, "other_value": self.other_value,
                "verdict": self.verdict, "level": self.level, "weight": round(self.weight, 2)}


@dataclass(frozen=True)
class Scored:
    llr: float
    score: float
    band: str | None
    signals: tuple[Signal, ...] = ()
    reasons: tuple[str, ...] = ()

    def evidence(self) -> dict:
        return {"reasons": list(self.reasons), "agreement": [s.as_dict() for s in self.signals],
                "llr": round(self.llr, 2)}


def _date(raw) -> date | None:
    return date.fromisoformat(raw) if raw else None


def _case_attrs(p: Profile) -> fusion.CaseAttrs:
    a = p.age
    return fusion.CaseAttrs(sex=p.sex, age_min=a.get("min"), age_max=a.get("max"), birth_date=_date(a.get("birth")),
                            seen_on=_date(a.get("seen")))


def _report_attrs(p: Profile) -> fusion.ReportAttrs:
    a = p.age
    return fusion.ReportAttrs(sex=p.sex, birth_date=_date(a.get("birth")), age_at_missing=a.get("at_missing"),
                              missing_since=_date(a.get("since")))


def _sig(attr, ours, theirs, verdict, level=None, group=None) -> Signal:
    weight = WEIGHTS[group or attr].get(level, 0.0) if level else 0.0
    return Signal(attr, ours, theirs, verdict, level, weight)


def _places_text(codes) -> str | None:
    gaz = gazetteer()
    names = [gaz.get(c).name for c in codes if gaz.get(c)]
    return "、".join(names[:4]) or None


PLACE_LEVELS = {3: "county", 2: "prefecture", 1: "province"}


SIGNAL_ORDER = ("gender", "age", "name", "relative", "place", "village", "dialect", "marks")
NOT_PROPOSED = Scored(0.0, 0.0, None)


def _identifying(case: Profile, report: Profile) -> list[Signal]:
    """Names, relatives, places, villages and marks: what can point at one person."""
    signals: list[Signal] = []
    # The person's own name (self-reported, or heard in an interview).
    level, ours, theirs = best_name(list(case.names) + list(case.heard), list(report.names))
    heard_own = level is not None and ours is not None and ours not in case.names
    if level:
        signals.append(_sig("name", ours.text, theirs.text, "agree", level))
    elif case.names and report.names:
        signals.append(_sig("name", case.names[0].text, report.names[0].text, "disagree", "differs"))

    # Relatives named: the family who filed the report, relatives in its description.
    ours_rel = list(case.relatives) + [n for n in case.heard if not (heard_own and n is ours)]
    level, r_ours, r_theirs = best_name(ours_rel, list(report.relatives))
    if level:
        signals.append(_sig("relative", r_ours.text, r_theirs.text, "agree", level))

    # Places: county, prefecture or province in common; different provinces count against.
    if case.places and report.places:
        depth, pair = 0, (None, None)
        for a in case.places:
            for b in report.places:
                lvl = common_level(a, b)
                if lvl > depth:
                    depth, pair = lvl, (a, b)
        if depth:
            signals.append(_sig("place", _places_text([pair[0]]), _places_text([pair[1]]), "agree", PLACE_LEVELS[depth]))
        else:
            signals.append(_sig("place", _places_text(case.places), _places_text(report.places), "disagree", "differs"))

    # Villages and towns named on both sides.
    shared = {k for _w, k in case.localities} & {k for _w, k in report.localities}
    if shared:
        key = sorted(shared)[0]
        signals.append(_sig("village", dict((k, w) for w, k in case.localities)[key],
                            dict((k, w) for w, k in report.localities)[key], "agree", "same"))

    # Distinguishing marks on the same body part.
    level = compare_marks(case.marks, report.marks)
    if level:
        show = lambda marks: "、".join("/".join(x for x in (m[2], m[1], m[0]) if x) for m in marks[:3])  # noqa: E731
        signals.append(_sig("marks", show(case.marks), show(report.marks),
                            "disagree" if level == "contradicts" else "agree", level))
    return signals


def _identified(signals) -> bool:
    levels = {s.attr: s.level for s in signals if s.weight > 0}
    # Something must point at this one person: a name, a relative or a village; or, for people who cannot
    # say their name, the county together with the same mark on the same body part.
    return bool(IDENTIFYING & set(levels)) or (levels.get("place") == "county" and levels.get("marks") == "same_place")


def score(case: Profile, report: Profile, on: date | None = None, quick: bool = False) -> Scored:
    """Score a case ↔ report pair by their descriptions; `on` is the day the case's age is read (arrival).

    `quick`: a pair that cannot be proposed (sex differs, nothing identifies it) returns NOT_PROPOSED
    without the rest of its evidence (ranking thousands of records)."""
    sex = fusion.sex_verdict(case.sex, report.sex)
    if quick and sex == "disagree":
        return NOT_PROPOSED
    signals = _identifying(case, report)
    if quick and not _identified(signals):
        return NOT_PROPOSED
    vetoes: list[str] = []
    reasons: list[str] = []
    c_attrs, r_attrs = _case_attrs(case), _report_attrs(report)
    on = on or c_attrs.seen_on or _date(case.found_on) or date.today()

    # Sex: a veto when both are known and differ.
    if sex == "disagree":
        vetoes.append(f"sex differs ({case.sex} / {report.sex})")
        signals.append(_sig("gender", case.sex, report.sex, "disagree"))
    elif sex == "agree":
        signals.append(_sig("gender", case.sex, report.sex, "agree", "agree"))

    # Found before going missing: a different person.
    found, since = _date(case.found_on), _date(report.missing_since)
    if found and since and (since - found).days > 30:
        vetoes.append(f"found on {found.isoformat()}, before going missing on {since.isoformat()}")

    # Age plausible at the arrival date (the report's age grows with the years since).
    c_age, r_age = fusion.case_age(c_attrs, on), fusion.report_age(r_attrs, on)
    if c_age and r_age is not None:
        shown = (fusion._fmt_range(c_age), str(r_age))
        verdict = fusion.age_verdict(fusion.age_gap(c_age, (r_age, r_age)), fusion.tolerance(r_age))
        if verdict == "impossible":
            vetoes.append(f"age {r_age} cannot be the estimated {shown[0]}")
            signals.append(_sig("age", *shown, "disagree"))
        else:
            signals.append(_sig("age", *shown, verdict, verdict))

    # Accent → province, against the report's home province.
    report_provinces = {c[:2] + "0000" for c in report.places}
    if case.dialect_provinces and report_provinces:
        agree = bool(set(case.dialect_provinces) & report_provinces)
        signals.append(_sig("dialect", _places_text(case.dialect_provinces), _places_text(sorted(report_provinces)),
                            "agree" if agree else "disagree", "agree" if agree else "disagree"))

    years = long_missing_child(r_attrs.age_at_missing, r_attrs.birth_date, r_attrs.missing_since, on)
    if years:
        reasons.append(f"a child missing for {years} years: photos are out of date; rely on clues, DNA and interviews")
    signals.sort(key=lambda s: SIGNAL_ORDER.index(s.attr))
    llr = sum(s.weight for s in signals)
    probability = 1 / (1 + math.exp(-(llr - math.log(PRIOR_REPORTS))))
    if vetoes:
        return Scored(llr, 0.0, None, tuple(signals), tuple(vetoes))
    band = None
    if _identified(signals):
        band = "likely" if llr >= LIKELY_AT else "possible" if llr >= POSSIBLE_AT else None
    if band == "likely" and any(s.verdict == "disagree" and s.weight < -1.0 for s in signals):
        band = "possible"
        reasons.append("an attribute disagrees: shown as possible")
    return Scored(llr, round(probability, 4), band, tuple(signals), tuple(reasons))


def fuse_with_face(face_score: float | None, face_band: str | None, d_score: float | None,
                   d_band: str | None) -> tuple[float, str | None]:
    """One pair seen by both channels: independent evidence adds up (1 − (1−a)(1−b)), the stronger band
    wins, and two `possible` bands that together pass 0.85 become `likely`."""
    if face_score is None or face_band is None:
        return (d_score or 0.0), d_band
    if d_score is None or d_band is None:
        return face_score, face_band
    fused = round(1 - (1 - face_score) * (1 - d_score), 4)
    band = "likely" if "likely" in (face_band, d_band) or fused >= 0.85 else "possible"
    return fused, band


def long_missing_child(age_at_missing: int | None, birth_date: date | None, missing_since: date | None,
                       today: date) -> int | None:
    """Years missing when a child went missing at least LONG_MISSING_YEARS ago, else None.

    Such a report's photos show a face that has changed: staff should lean on clues, DNA and interviews."""
    if missing_since is None:
        return None
    age = age_at_missing
    if age is None and birth_date is not None:
        age = fusion._years(birth_date, missing_since)
    if age is None or age >= fusion.CHILD_AGE:
        return None
    years = fusion._years(missing_since, today)
    return years if years >= LONG_MISSING_YEARS else None
