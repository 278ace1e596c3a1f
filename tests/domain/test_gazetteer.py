"""Places as people say them, resolved to GB/T 2260 divisions from the packaged data."""
from __future__ import annotations

import pytest

from service.domain.gazetteer import common_level, level_of, load, stem


@pytest.fixture(scope="module")
def gaz():
    return load()


@pytest.mark.parametrize("text, codes", [
    ("河南省周口市沈丘县", {"411624"}),
    ("周口 沈丘", {"411624"}),  # short names, as said
    ("沈丘", {"411624"}),
    ("周口", {"411600"}),
    ("襄樊", {"420600"}),  # a former name: now 襄阳
    ("蓟县", {"120119"}),  # a county recoded as a district (蓟州区) keeps its old name
    ("延边", {"222400"}),  # 延边朝鲜族自治州
    ("内蒙古赤峰", {"150400"}),
    ("天津市河北区", {"120105"}),  # a district named after a province is not that province
    ("豫", {"410000"}),  # a field that says only the province's abbreviation
    ("辽宁 朝阳", {"211300", "211321"}),  # 朝阳 settled by 辽宁: the city or its county, not Beijing's district
])
def test_resolve(gaz, text, codes):
    assert gaz.resolve(text) == codes


def test_an_ambiguous_short_name_alone_keeps_its_readings(gaz):
    assert {"110105", "211300"} <= gaz.resolve("朝阳")


def test_common_words_and_noise_are_not_places(gaz):
    assert gaz.resolve("和平") == set()  # 和平区 only with its suffix
    assert gaz.resolve("他说不记得了") == set()
    assert gaz.resolve(None, "") == set()


def test_stems_and_levels():
    assert stem("广西壮族自治区") == "广西" and stem("恩施土家族苗族自治州") == "恩施" and stem("沈丘县") == "沈丘"
    assert (level_of("410000"), level_of("411600"), level_of("411624")) == (1, 2, 3)
    assert common_level("411624", "411624") == 3
    assert common_level("411600", "411624") == 2  # known to the prefecture only
    assert common_level("411624", "411502") == 1
    assert common_level("411624", "130600") == 0


def test_what_lies_between_places(gaz):
    assert gaz.remainder("山东省临沂市兰陵县车辋镇李庄村") == ["车辋镇李庄村"]
