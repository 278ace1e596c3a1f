"""The invented people of the demo station: names, homes, places, and the scripted stories."""
from __future__ import annotations

import random
from dataclasses import dataclass

from ..matching.engine.sface import SFaceEngine

DAYS = 150  # about five months of arrivals
ENGINE = SFaceEngine.version
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "建国", "建华", "玉兰", "德明", "小红", "小龙", "文", "海", "春梅", "国庆",
         "志强", "淑珍", "凤英", "宝山", "金花", "永福", "树林")
# Where people come from (weighted towards the provinces Tianjin's stations see most).
HOMES = (("河北", "保定", "河北话"), ("河北", "沧州", "河北话"), ("河南", "周口", "河南话"), ("河南", "信阳", "河南话"),
         ("山东", "德州", "山东话"), ("山东", "临沂", "山东话"), ("安徽", "阜阳", "安徽话"), ("黑龙江", "齐齐哈尔", "东北话"),
         ("吉林", "四平", "东北话"), ("辽宁", "锦州", "东北话"), ("四川", "南充", "四川话"), ("甘肃", "天水", "甘肃话"),
         ("内蒙古", "赤峰", "内蒙古话"), ("山西", "大同", "山西话"), ("湖北", "孝感", "湖北话"), ("江苏", "徐州", "南京话"),
         ("天津", "蓟州", "天津话"), ("贵州", "毕节", "贵州话"), ("广西", "玉林", "白话"), ("湖南", "邵阳", "湖南话"))
PLACES = ("河西区友谊路", "天津站后广场", "和平区滨江道", "南开区鞍山西道", "河东区大直沽", "天津西站", "红桥区西青道",
          "河北区中山路", "津南区咸水沽", "西青区杨柳青", "东丽区机场大道", "海河边大光明桥")
CLOTHING = ("深蓝色棉衣、黑裤", "灰色夹克、运动鞋", "红色羽绒服", "军绿色大衣", "黑色毛衣、牛仔裤", "白色短袖、拖鞋")
MARKS = ("左眉有痣", "右手缺指", "额头有疤", "左臂纹身", "右腿跛行", "耳后胎记", None, None, None)
# Which channel produced the decisive lead (national figures: interviews and the portal do most of the work).
DECISIVE = (("interview", 34), ("portal", 26), ("dna", 15), ("face", 13), ("toutiao", 8), ("newspaper", 4))
# A few arrivals with a set story, so that every state shows whatever the dice say:
# index → (unidentified outcome, days since arrival at least, who).
SCRIPTED = {
    3: ("settlement", 110, "adult"),
    7: ("transfer", 60, "minor"),
    11: ("deceased", 80, "elderly"),
    13: ("medical", 40, "adult"),
    17: ("left_voluntarily", 20, "adult"),
    19: ("in_hospital", 15, "adult"),
    23: ("in_hospital", 3, "elderly"),
    # identified: index → (how they went home, or "waiting" for the KPI gap, days since arrival at least, who)
    29: ("self_return", 20, "adult"),
    31: ("escorted_home", 30, "elderly"),
    37: ("family_pickup", 25, "minor"),
    41: ("waiting", 6, "adult"),
}
HOME_SCRIPTS = ("self_return", "escorted_home", "family_pickup", "waiting")


@dataclass
class Person:
    gender: str
    age_min: int | None
    age_max: int | None
    categories: list[str]
    name: str | None
    home: tuple[str, str, str]


def weighted(rng: random.Random, pairs):
    names, weights = zip(*pairs)
    return rng.choices(names, weights)[0]


def invent_person(rng: random.Random, kind: str | None = None) -> Person:
    gender = rng.choices(("male", "female"), (70, 30))[0]
    kind = kind or rng.choices(("adult", "elderly", "minor", "unknown"), (58, 22, 12, 8))[0]
    if kind == "adult":
        lo = rng.randint(20, 55)
    elif kind == "elderly":
        lo = rng.randint(60, 80)
    elif kind == "minor":
        lo = rng.randint(7, 16)
    else:
        lo = None
    hi = None if lo is None else lo + (rng.choice((0, 2, 5)) if kind == "minor" else rng.choice((5, 5, 10)))
    if kind == "minor":
        hi = min(hi, 17)
    cats = []
    if kind == "minor":
        cats.append("minor")
    if kind == "elderly":
        cats.append("elderly")
    roll = rng.random()
    if roll < 0.16:
        cats.append("mental_illness")
    elif roll < 0.26:
        cats.append("intellectual_disability")
    elif roll < 0.34:
        cats.append("ill")
    if kind in ("minor", "elderly") and rng.random() < 0.5:
        cats.append("suspected_lost")
    named = rng.random() < (0.35 if "mental_illness" in cats or "intellectual_disability" in cats else 0.7)
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) if named else None
    return Person(gender, lo, hi, cats, name, rng.choice(HOMES))
