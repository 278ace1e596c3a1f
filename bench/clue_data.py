"""Generated missing-person reports and the clues an interview would give about the same people.

Identities are drawn from the dev data of service/demo.py (surnames, given names, home provinces and
prefectures with their dialects, marks) and the gazetteer's counties of those prefectures. What the
interviews say varies the way it does at a station (Guangdong: 69.7 % of 767 searches that succeeded came from
repeated interviews):

- names heard or written wrong: a homophone (王秀英 → 王秀银), a dialect confusion (n/l, f/h, zh/z, an/ang),
  the given name without the surname, one character miswritten, or no name at all;
- relatives named (the father, a son: often the one who filed the report), sometimes heard wrong;
- places said in part: "周口 沈丘", the county alone, the prefecture alone, a former name, the village;
- the accent of the home province; an age estimate off by up to ±5 years; a mark described in other words.

Deterministic for a seed; no database (bench/clue_bench.py writes what it needs).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from service.demo.people import GIVEN, HOMES, SURNAMES
from service.domain.clue_readings import _pinyin, fuzzy
from service.domain.clues import CaseClues, ReportClues
from service.domain.gazetteer import level_of, load as gazetteer, stem

# Characters of Chinese given names (common in the generation of people now 20–80), beside demo.GIVEN.
NAME_CHARS = ("秀英兰华芳玉珍凤桂梅春红霞丽娟敏静艳萍燕琴云莲淑文明建国军强伟勇刚平志杰涛斌超海林峰磊鹏辉波"
              "宝山福永树德金银成荣贵生新东光利民安庆荣发兴旺祥瑞军彩霞翠香菊花月娥琼秋菊小龙虎虹晓亮")
RELATIONS = (("父亲", "male", 25, 30), ("母亲", "female", 22, 28), ("哥哥", "male", 2, 8), ("儿子", "male", -35, -22),
             ("女儿", "female", -35, -22), ("丈夫", "male", 0, 5), ("妻子", "female", -5, 0))
# Marks as a report writes them, and as an interviewer writes the same mark another way.
MARKS = {
    "左眉有痣": ("左眉毛上有颗黑痣", "左边眉毛有痣"),
    "右手缺指": ("右手少一根手指", "右手断了一个指头"),
    "额头有疤": ("前额有一道伤疤", "脑门上有疤"),
    "左臂纹身": ("左胳膊有刺青", "左手臂上有纹身"),
    "右腿跛行": ("走路右腿瘸", "右腿有点跛"),
    "耳后胎记": ("耳朵后面有块胎记", "左耳后有胎记"),
}
VILLAGE_SUFFIXES = ("村", "庄", "家庄", "屯", "营村")


@dataclass(frozen=True)
class Identity:
    name: str
    sex: str
    age_at_missing: int
    missing_since: date
    province: str
    prefecture_code: str
    county_code: str
    village: str
    dialect: str
    mark: str | None
    relative: str
    relation: str


def _given(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(GIVEN)
    return "".join(rng.choice(NAME_CHARS) for _ in range(rng.choice((1, 2, 2, 2))))


def _homes():
    """(province, prefecture code, county codes, dialect) of demo.HOMES from the gazetteer."""
    gaz = gazetteer()
    out = []
    for province, prefecture, dialect in HOMES:
        p_code = gaz.province_code(province)
        pref = [c for c in gaz.aliases.get(prefecture, ()) if level_of(c) >= 2 and c[:2] == p_code[:2]]
        pref_code = min(pref, key=lambda c: (not gaz.get(c).current, level_of(c), c))  # 毕节市, not 毕节地区
        if level_of(pref_code) == 3:  # 蓟州 is a district: its prefecture is the city
            pref_code = pref_code[:4] + "00"
        counties = sorted(c for c, d in gaz.divisions.items() if d.current and level_of(c) == 3
                          and c[:4] == pref_code[:4] and not d.name.endswith("区"))
        counties = counties or sorted(c for c, d in gaz.divisions.items() if d.current and level_of(c) == 3
                                      and c[:4] == pref_code[:4])
        out.append((province, pref_code, counties, dialect))
    return out


def identities(n: int, seed: int, today: date) -> list[Identity]:
    rng = random.Random(seed)
    homes = _homes()
    people = []
    for _ in range(n):
        province, pref_code, counties, dialect = rng.choice(homes)
        surname = rng.choice(SURNAMES)
        sex = rng.choice(("male", "male", "female"))
        age = rng.choice((rng.randint(8, 17), rng.randint(20, 59), rng.randint(20, 59), rng.randint(60, 85)))
        relation, r_sex, lo, hi = rng.choice(RELATIONS)
        relative_surname = surname if relation in ("父亲", "哥哥", "儿子", "女儿") else rng.choice(SURNAMES)
        village = rng.choice(SURNAMES) + rng.choice(VILLAGE_SUFFIXES)
        people.append(Identity(
            name=surname + _given(rng), sex=sex, age_at_missing=age,
            missing_since=today - timedelta(days=rng.randint(30, 8 * 365)), province=province,
            prefecture_code=pref_code, county_code=rng.choice(counties), village=village, dialect=dialect,
            mark=rng.choice(list(MARKS)) if rng.random() < 0.4 else None,
            relative=relative_surname + _given(rng), relation=relation,
        ))
    return people


def report_of(person: Identity, rng: random.Random) -> ReportClues:
    """A report as a family or the police file it: the full formal address, the relative who filed it."""
    gaz = gazetteer()
    province = gaz.get(person.prefecture_code[:2] + "0000")
    county = gaz.get(person.county_code)
    pref = gaz.get(person.prefecture_code) or gaz.get(person.prefecture_code[:2] + "0000")  # 天津: the city itself
    town = rng.choice(NAME_CHARS) + rng.choice(NAME_CHARS) + "镇"
    hometown = f"{province.name}{pref.name}{county.name}{town}{person.village}"
    if rng.random() < 0.2:
        hometown = f"{province.name}{pref.name}{county.name}"
    return ReportClues(
        sex=person.sex, name=person.name, age_at_missing=person.age_at_missing, missing_since=person.missing_since,
        missing_place=f"{pref.name}{county.name}" if rng.random() < 0.5 else None, hometown=hometown,
        marks=person.mark, contact_name=person.relative,
        description=f"{person.relation}{person.relative}报案" if rng.random() < 0.3 else None,
    )


# ---------------------------------------------------------------- how clues go wrong

_BY_READING: dict[str, list[str]] = {}
_BY_FUZZY: dict[str, list[str]] = {}


def _index_chars() -> None:
    if _BY_READING:
        return
    for ch in set(NAME_CHARS + "".join(GIVEN) + SURNAMES + "银英应莹颖营赢影迎樱盈荧兰蓝岚澜篮栏拦南男楠难方芳房访放黄皇煌凰晃张章彰掌丈赵照召罩"
                   "周州舟洲粥陈晨臣沉辰程成城诚承王汪望往旺李里理礼丽刘留柳流琉杨阳扬洋羊徐许旭须虚胡湖虎户互"):
        reading = _pinyin(ch)[0][0]
        _BY_READING.setdefault(reading, []).append(ch)
        _BY_FUZZY.setdefault(fuzzy(reading), []).append(ch)


def homophone(name: str, rng: random.Random, sounds_alike: bool = False) -> str:
    """One character of the given name replaced by another read the same (or confused in a dialect)."""
    _index_chars()
    positions = list(range(1, len(name))) or [0]
    rng.shuffle(positions)
    for i in positions:
        reading = _pinyin(name[i])[0][0]
        pool = _BY_FUZZY.get(fuzzy(reading), []) if sounds_alike else _BY_READING.get(reading, [])
        if sounds_alike:
            pool = [c for c in pool if _pinyin(c)[0][0] != reading]
        pool = [c for c in pool if c != name[i]]
        if pool:
            return name[:i] + rng.choice(pool) + name[i + 1:]
    return name


def _name_clue(name: str, rng: random.Random) -> tuple[str | None, str]:
    roll = rng.random()
    if roll < 0.15:
        return None, "no name"
    if roll < 0.45:
        return homophone(name, rng), "homophone"
    if roll < 0.60:
        return homophone(name, rng, sounds_alike=True), "sounds alike"
    if roll < 0.75 and len(name) == 3:
        return name[1:], "given name only"
    if roll < 0.85 and len(name) == 3:
        i = rng.choice((1, 2))
        return name[:i] + rng.choice(NAME_CHARS.replace(name[i], "")) + name[i + 1:], "miswritten"
    return name, "as written"


def _place_clue(person: Identity, rng: random.Random) -> tuple[tuple[str, ...], str]:
    gaz = gazetteer()
    county = gaz.get(person.county_code)
    pref = gaz.get(person.prefecture_code) or gaz.get(person.prefecture_code[:2] + "0000")  # 天津: the city itself
    roll = rng.random()
    if roll < 0.15:
        return (), "no place"
    if roll < 0.45:
        return (f"{stem(pref.name)} {stem(county.name)}",), "prefecture and county, short"
    if roll < 0.65:
        return (stem(county.name) if len(stem(county.name)) >= 2 else county.name,), "county only"
    if roll < 0.80:
        return (stem(pref.name),), "prefecture only"
    return (f"{person.province}{stem(pref.name)}", person.village), "province, prefecture, village"


def case_of(person: Identity, rng: random.Random, arrived: date) -> tuple[CaseClues, list[str]]:
    """What an arrival's record and its interviews say about `person`, and which variations were used."""
    name, how_name = _name_clue(person.name, rng)
    places, how_place = _place_clue(person, rng)
    used = [how_name, how_place]
    clue_names = []
    if rng.random() < 0.5:
        relative = person.relative if rng.random() < 0.5 else homophone(person.relative, rng)
        clue_names.append(relative)
        used.append("relative named")
    notes = []
    if rng.random() < 0.25 and person.village not in places:
        notes.append(f"反复说起老家{person.village}")
        used.append("village in notes")
    true_age = person.age_at_missing + max(0, (arrived - person.missing_since).days // 365)
    error = rng.randint(-5, 5)
    width = rng.choice((4, 6, 10))
    age_min = max(1, true_age + error - width // 2)
    marks = None
    if person.mark and rng.random() < 0.7:
        marks = rng.choice(MARKS[person.mark])
        used.append("mark described differently")
    dialect = person.dialect if rng.random() < 0.7 else None
    clues = CaseClues(
        sex=person.sex, name=name if rng.random() < 0.5 else None, age_min=age_min, age_max=age_min + width,
        seen_on=arrived, found_on=arrived, dialect=dialect, marks=marks,
        clue_names=tuple(clue_names) + ((name,) if name else ()), clue_places=places, notes=tuple(notes),
    )
    return clues, used
