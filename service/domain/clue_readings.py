"""What people say, read: names by their sounds, relatives named, villages and towns, marks in other words.

Readings come from pypinyin (heteronyms kept: names are read character by character); the rules that say
when two names, villages or marks are the same are written here. Used by service.domain.clues.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .gazetteer import load as gazetteer

_HAN = re.compile(r"[\u4e00-\u9fff]+")

# ---------------------------------------------------------------- readings


def _pinyin(text: str) -> list[list[str]]:
    """Each Han character's readings (names are read character by character: heteronyms kept)."""
    return [list(_readings(ch)) for ch in text if _HAN.match(ch)]


@lru_cache(maxsize=32768)
def _readings(ch: str) -> tuple[str, ...]:
    from pypinyin import Style, pinyin

    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(found[0][:3]) if found else ()


_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c",
             "s", "y", "w")
# Sounds people confuse in names heard aloud across dialects: zh/z, ch/c, sh/s, n/l, f/h, r/l; an/ang,
# en/eng, in/ing, ian/iang, uan/uang; ü/u.
_MERGE_INITIAL = {"zh": "z", "ch": "c", "sh": "s", "n": "l", "f": "h", "r": "l"}


@lru_cache(maxsize=4096)
def fuzzy(syllable: str) -> str:
    initial = next((i for i in _INITIALS if syllable.startswith(i)), "")
    final = syllable[len(initial):].replace("v", "u").replace("ü", "u")
    if final.endswith("ng") and len(final) > 2:
        final = final[:-1]
    return _MERGE_INITIAL.get(initial, initial) + final


def han(text: str | None) -> str:
    return "".join(_HAN.findall(text or ""))


@dataclass(frozen=True)
class Name:
    text: str
    readings: tuple[tuple[str, ...], ...]  # per character, tone-insensitive, heteronyms included

    @classmethod
    def of(cls, text: str) -> "Name | None":
        chars = han(text)
        if not 2 <= len(chars) <= 4:
            return None
        readings = _pinyin(chars)
        if len(readings) != len(chars):
            return None
        return cls(chars, tuple(tuple(r) for r in readings))

    def as_json(self) -> list:
        return [self.text, [list(r) for r in self.readings]]

    @classmethod
    def from_json(cls, raw) -> "Name":
        return cls(raw[0], tuple(tuple(r) for r in raw[1]))


NAME_LEVELS = ("same", "homophone", "sounds_alike", "given_only", "partial")


def _char_sim(a: str, b: str, ra: tuple[str, ...], rb: tuple[str, ...]) -> float:
    if a == b:
        return 1.0
    if set(ra) & set(rb):
        return 0.85  # a homophone: same syllable, any tone
    if _fuzzies(ra) & _fuzzies(rb):
        return 0.7  # sounds alike in a dialect
    return 0.0


@lru_cache(maxsize=8192)
def _fuzzies(readings: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fuzzy(s) for s in readings)


def _level(sims: list[float]) -> str | None:
    if all(s == 1.0 for s in sims):
        return "same"
    if all(s >= 0.85 for s in sims):
        return "homophone"
    if all(s >= 0.7 for s in sims):
        return "sounds_alike"
    return None


def compare_names(a: Name, b: Name) -> str | None:
    """How two names agree: same, homophone, sounds_alike, given_only (one side without the surname),
    partial (one character of three or more written wrong), or None."""
    if len(a.text) == len(b.text):
        sims = [_char_sim(x, y, rx, ry) for x, y, rx, ry in zip(a.text, b.text, a.readings, b.readings)]
        level = _level(sims)
        if level:
            return level
        if len(sims) >= 3 and sum(s == 0 for s in sims) == 1 and sims[0] > 0:
            return "partial"  # 王秀银 / 王秀根: the surname and all but one character
        return None
    short, long_ = (a, b) if len(a.text) < len(b.text) else (b, a)
    if len(long_.text) - len(short.text) == 1 and len(short.text) >= 2:
        tail = len(long_.text) - len(short.text)
        sims = [_char_sim(x, y, rx, ry) for x, y, rx, ry in
                zip(short.text, long_.text[tail:], short.readings, long_.readings[tail:])]
        if _level(sims):
            return "given_only"  # 秀英 / 王秀英: the given name without the surname
    return None


def best_name(ours: list[Name], theirs: list[Name]) -> tuple[str | None, Name | None, Name | None]:
    best = (None, None, None)
    for a in ours:
        for b in theirs:
            level = compare_names(a, b)
            if level and (best[0] is None or NAME_LEVELS.index(level) < NAME_LEVELS.index(best[0])):
                best = (level, a, b)
    return best


# Relatives named in free text: "父亲王德明", "弟弟叫王强", "母亲：李桂英".
RELATIONS = ("父亲", "母亲", "爸爸", "妈妈", "爸", "妈", "爹", "娘", "哥哥", "姐姐", "弟弟", "妹妹", "哥", "姐", "弟", "妹",
             "儿子", "女儿", "妻子", "丈夫", "老婆", "老公", "老伴", "爱人", "爷爷", "奶奶", "外公", "外婆", "姥姥", "姥爷",
             "叔叔", "伯伯", "舅舅", "姑姑", "阿姨", "姨", "叔", "舅", "姑", "侄子", "外甥", "孙子", "孙女", "儿媳", "女婿")
_RELATION_NAME = re.compile("(?:" + "|".join(sorted(RELATIONS, key=len, reverse=True)) +
                            r")(?:是|叫|名叫|姓名|名字叫)?[：:，, ]?([\u4e00-\u9fff]{2,3})")
_SPLIT = re.compile(r"[，,、；;。\s/|]+")


def names_in(text: str | None) -> list[str]:
    """Names in a list ("王德明、李桂英") or after a relation word ("父亲王德明")."""
    if not text:
        return []
    found = [m.group(1) for m in _RELATION_NAME.finditer(text)]
    for token in _SPLIT.split(text):
        token = token.strip()
        if 2 <= len(token) <= 3 and _HAN.fullmatch(token) and not any(token.startswith(r) for r in RELATIONS):
            found.append(token)
    seen, out = set(), []
    for name in found:
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


# ---------------------------------------------------------------- villages and towns

# A town or village: the characters before 村 / 镇 / 乡 / 街道, or a name ending in 庄 / 屯 / 寨. Keyed by its
# last two characters (李庄村 = 李庄), three for X家庄 / X家村 (李家庄 ≠ 王家庄), read in fuzzy pinyin.
_LOCALITY = re.compile(r"([\u4e00-\u9fff]{1,4}?)(街道|村|镇|乡)|([\u4e00-\u9fff]{1,3}?[庄屯寨])(?![村镇乡])")


def localities(*texts: str | None) -> list[tuple[str, str]]:
    """Towns and villages (the gazetteer stops at counties): (as written, fuzzy key), e.g. 李庄村 → li-zuan."""
    out: dict[str, str] = {}
    gaz = gazetteer()
    for text in texts:
        for piece in gaz.remainder(han_or_space(text)):
            for part in re.split(r"[省市县区旗盟\s]", piece):
                for match in _LOCALITY.finditer(part):
                    core = match.group(1) or match.group(3)
                    word = core[-4:] + (match.group(2) or "")
                    core = core[-3:] if len(core) >= 3 and core[-2] == "家" else core[-2:]
                    if len(core) < 2:
                        continue
                    key = "-".join(fuzzy(r[0]) for r in _pinyin(core))
                    out.setdefault(key, word)
    return [(word, key) for key, word in out.items()]


def han_or_space(text: str | None) -> str:
    return " ".join(_HAN.findall(text or ""))


# ---------------------------------------------------------------- marks

# Kinds and body parts said in different words: 刺青 is 纹身, 胳膊 is 臂, 瘸 is 跛.
MARK_KINDS = {
    "mole": ("痣",), "scar": ("疤", "伤痕", "疤痕"), "tattoo": ("纹身", "刺青", "文身", "纹"),
    "birthmark": ("胎记", "胎斑", "青记"), "missing_finger": ("缺指", "断指", "少一根手指", "少指", "缺一根手指", "没有手指", "少了一根"),
    "extra_finger": ("六指", "多指"), "limp": ("跛", "瘸", "拐"), "burn": ("烧伤", "烫伤"), "harelip": ("兔唇", "唇裂", "豁嘴"),
    "deaf": ("聋",), "mute": ("哑",), "blind": ("盲", "失明"), "squint": ("斜视", "斗鸡眼"), "hunchback": ("驼背", "罗锅"),
    "prosthesis": ("假肢",), "bald": ("秃", "光头"),
}
BODY_PARTS = {
    "brow": ("眉",), "forehead": ("额", "脑门"), "eye": ("眼",), "nose": ("鼻",), "mouth": ("嘴", "唇"), "ear": ("耳",),
    "cheek": ("脸", "颊", "面部"), "chin": ("下巴", "颏"), "neck": ("颈", "脖"), "chest": ("胸",), "back": ("背",),
    "waist": ("腰",), "belly": ("腹", "肚"), "shoulder": ("肩",), "arm": ("臂", "胳膊", "胳臂"), "hand": ("手", "指"),
    "leg": ("腿", "膝"), "foot": ("脚", "足"), "head": ("头",),
}
SIDES = {"left": ("左",), "right": ("右",)}


def marks_in(text: str | None) -> list[tuple[str, str | None, str | None]]:
    """(kind, body part, side) of each mark a text describes; clauses split on punctuation."""
    out = []
    for clause in re.split(r"[，,、；;。\n]+", text or ""):
        kind = next((k for k, words in MARK_KINDS.items() if any(w in clause for w in words)), None)
        if kind is None:
            continue
        part = next((p for p, words in BODY_PARTS.items() if any(w in clause for w in words)), None)
        if kind in ("missing_finger", "extra_finger") and part is None:
            part = "hand"
        side = next((s for s, words in SIDES.items() if any(w in clause for w in words)), None)
        out.append((kind, part, side))
    return out


def compare_marks(ours, theirs) -> str | None:
    best = None
    for k1, p1, s1 in ours:
        for k2, p2, s2 in theirs:
            if k1 != k2:
                continue
            if p1 and p2 and p1 == p2:
                if s1 and s2 and s1 != s2:
                    best = best or "contradicts"  # the same mark on the other side
                    continue
                return "same_place"
            if p1 and p2 and p1 != p2:
                best = best or "contradicts"
                continue
            best = "same_kind" if best in (None, "contradicts") else best
    return best


def names_in_relations(text: str | None) -> list[str]:
    """Only names after a relation word: a report's description is prose, not a list of names."""
    return [m.group(1) for m in _RELATION_NAME.finditer(text or "")]
