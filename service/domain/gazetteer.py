"""Provinces, prefectures and counties (GB/T 2260 codes) found in what people say or write.

The divisions come from packaged datasets (data/divisions.tsv, made by scripts/make_gazetteer.py from cpca
and gb2260): current names, former names (襄樊 → 襄阳) and abolished divisions. Only the reading rules are
written here: a place is named by its full name, its name without the administrative suffix (周口, 沈丘,
延边), a former name, or a province's one-character abbreviation (豫) when that is all a field says.
"周口 沈丘" and "河南省周口市沈丘县" both resolve to 411624; ambiguous short names (朝阳) are settled by
another place named beside them (辽宁 朝阳 → 211300).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "divisions.tsv"

# Longest first: 广西壮族自治区 → 广西, 恩施土家族苗族自治州 → 恩施, 沈丘县 → 沈丘.
SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "地区", "林区", "新区", "省", "市",
            "县", "区", "旗", "盟")
_ETHNIC = re.compile(r"^(.{2,}?)(?:[^族]{1,5}族)+自治(?:州|县|旗)$")
ABBREVIATIONS = {
    "京": "11", "津": "12", "冀": "13", "晋": "14", "蒙": "15", "辽": "21", "吉": "22", "黑": "23", "沪": "31",
    "苏": "32", "浙": "33", "皖": "34", "闽": "35", "赣": "36", "鲁": "37", "豫": "41", "鄂": "42", "湘": "43",
    "粤": "44", "桂": "45", "琼": "46", "渝": "50", "川": "51", "蜀": "51", "贵": "52", "黔": "52", "云": "53",
    "滇": "53", "藏": "54", "陕": "61", "秦": "61", "甘": "62", "陇": "62", "青": "63", "宁": "64", "新": "65",
}
# A short name that is an ordinary word more often than a place: matched only with its suffix.
COMMON_WORDS = frozenset({"城关", "新华", "和平", "长安", "东方", "中山", "人民", "解放", "建设", "开发", "城区", "郊区",
                          "矿区", "新城", "高新", "市中", "东区", "西区", "南区", "北区", "中区", "白云", "青山",
                          "永安", "太平", "安定", "红旗", "胜利", "光明", "团结", "友谊", "前进", "向阳", "朝阳路"})
MIN_STEM = 2


@dataclass(frozen=True)
class Division:
    code: str  # six digits
    name: str
    level: int  # 1 province, 2 prefecture, 3 county
    current: bool = True

    @property
    def province(self) -> str:
        return self.code[:2] + "0000"

    @property
    def prefecture(self) -> str | None:
        return None if self.level < 2 else self.code[:4] + "00"


def level_of(code: str) -> int:
    if code[2:] == "0000":
        return 1
    return 2 if code[4:] == "00" else 3


def stem(name: str) -> str:
    """The name people say: without the administrative suffix (and ethnic designation)."""
    match = _ETHNIC.match(name)
    if match:
        return match.group(1)
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 1:
            return name[: -len(suffix)]
    return name


class Gazetteer:
    def __init__(self, rows: list[tuple[str, str, tuple[str, ...], bool]]):
        self.divisions: dict[str, Division] = {}
        self.aliases: dict[str, set[str]] = {}
        for code, name, former, current in rows:
            if code in self.divisions:
                continue
            self.divisions[code] = Division(code, name, level_of(code), current)
            for alias in (name, *former):
                self._alias(alias, code)
                short = stem(alias)
                if len(short) >= MIN_STEM and short != alias and short not in COMMON_WORDS:
                    self._alias(short, code)
        self.max_alias = max(map(len, self.aliases))

    def _alias(self, alias: str, code: str) -> None:
        self.aliases.setdefault(alias, set()).add(code)

    def get(self, code: str) -> Division | None:
        return self.divisions.get(code)

    def province_code(self, short_name: str) -> str | None:
        """河南 / 河南省 → 410000."""
        codes = [c for c in self.aliases.get(short_name, ()) if level_of(c) == 1]
        return codes[0] if codes else None

    def mentions(self, text: str) -> list[tuple[int, int, set[str]]]:
        """(start, end, candidate codes) of each place named, longest name first, left to right."""
        found, i = [], 0
        while i < len(text):
            for size in range(min(self.max_alias, len(text) - i), MIN_STEM - 1, -1):
                codes = self.aliases.get(text[i:i + size])
                if codes:
                    found.append((i, i + size, set(codes)))
                    i += size
                    break
            else:
                i += 1
        return found

    def resolve(self, *texts: str | None, limit: int = 6) -> set[str]:
        """The most specific division codes the texts name, ambiguous short names settled by each other."""
        mentions: list[set[str]] = []
        for text in texts:
            if not text:
                continue
            token = text.strip()
            if token in ABBREVIATIONS:  # a field that says just 豫
                mentions.append({ABBREVIATIONS[token] + "0000"})
                continue
            mentions.extend(codes for _s, _e, codes in self.mentions(text))
        if not mentions:
            return set()
        chosen: list[set[str]] = []
        for i, codes in enumerate(mentions):
            others = set().union(*(m for j, m in enumerate(mentions) if j != i)) - codes
            # Keep the readings that sit inside (or above) another place named: 辽宁 朝阳 → 朝阳 of 辽宁.
            related = {c for c in codes if any(_related(c, o) for o in others)}
            pick = related or codes
            if len(pick) <= limit:
                chosen.append(pick)
        # Drop a code when another place named inside it is more specific (河南 周口 沈丘 → 沈丘); the
        # readings of one name (朝阳市, 朝阳县) are alternatives and stay.
        resolved: set[str] = set()
        for i, pick in enumerate(chosen):
            deeper = set().union(*(m for j, m in enumerate(chosen) if j != i))
            resolved |= {c for c in pick if not any(_inside(o, c) for o in deeper)}
        return resolved

    def remainder(self, text: str) -> list[str]:
        """The pieces of the text between the places found (where towns and villages stand)."""
        pieces, last = [], 0
        for start, end, _codes in self.mentions(text):
            pieces.append(text[last:start])
            last = end
        pieces.append(text[last:])
        return [p for p in pieces if p]


def _inside(inner: str, outer: str) -> bool:
    """Whether `inner` lies within `outer` (a county in its prefecture or province)."""
    lvl = level_of(outer)
    prefix = outer[:2] if lvl == 1 else outer[:4] if lvl == 2 else outer
    return inner != outer and inner.startswith(prefix) and level_of(inner) > lvl


def _related(a: str, b: str) -> bool:
    return _inside(a, b) or _inside(b, a)


def common_level(a: str, b: str) -> int:
    """How closely two places agree: 3 same county, 2 same prefecture, 1 same province, 0 apart.

    A place known only to the prefecture agrees with a county in it at level 2, no deeper."""
    depth = min(level_of(a), level_of(b))
    for lvl, size in ((3, 6), (2, 4), (1, 2)):
        if lvl <= depth and a[:size] == b[:size]:
            return lvl
    return 0


@lru_cache(maxsize=1)
def load() -> Gazetteer:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        code, name, former, status = line.split("\t")
        rows.append((code, name, tuple(f for f in former.split(",") if f), status == "current"))
    # Current divisions first: a former division's alias is added beside the current one of the same name.
    rows.sort(key=lambda r: not r[3])
    return Gazetteer(rows)
