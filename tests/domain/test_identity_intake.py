"""Resident-ID checksum and the intake rules (minor and elderly flags, age ranges)."""
from __future__ import annotations

from datetime import date

import pytest

from service.domain.errors import InvalidValue
from service.domain.identity import (InvalidIdNumber, check_digit, has_id_in, mask_id_number, mask_ids_in, parse_id_number,
                                     scrub_ids)
from service.domain.intake import age_on, derived_categories, validate_age_range


@pytest.mark.parametrize(
    "number, born, sex",
    [
        ("11010519491231002X", date(1949, 12, 31), "female"),
        ("440524188001010014", date(1880, 1, 1), "male"),
        ("110101201003071532", date(2010, 3, 7), "male"),  # check digit by hand: 131 mod 11 = 10 → "2"
    ],
)
def test_valid_numbers(number, born, sex):
    rid = parse_id_number(number.lower())
    assert (rid.number, rid.birth_date, rid.sex) == (number, born, sex)


@pytest.mark.parametrize(
    "number, reason",
    [
        ("110105194912310021", "checksum"),
        ("11010519491231002", "17 digits"),
        ("1101051949123100XX", "17 digits"),
        ("110105194902300028", "real date"),
        ("", "17 digits"),
    ],
)
def test_invalid_numbers(number, reason):
    if reason == "real date":  # make the checksum right so only the date is wrong
        number = number[:17] + check_digit(number[:17])
    with pytest.raises(InvalidIdNumber, match=reason):
        parse_id_number(number)


def test_mask_keeps_region_prefix_and_last_four():
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_id_number(None) == ""


def test_id_numbers_typed_into_free_text_are_masked_like_the_id_number_or_scrubbed():
    text = "左臂有字11010519491231002X，旧证 110105491231002；电话 13800138000，编号 A110105194912310021"
    assert mask_ids_in(text) == "左臂有字110***********002X，旧证 110********1002；电话 13800138000，编号 A110105194912310021"
    assert scrub_ids(text) == "左臂有字[ID removed]，旧证 [ID removed]；电话 13800138000，编号 A110105194912310021"
    nested = {"marks": text, "n": 3, "items": [{"note": "x 320102199003071239"}, None], "pair": ("11010519491231002x",)}
    assert mask_ids_in(nested) == {"marks": mask_ids_in(text), "n": 3, "items": [{"note": "x 320***********1239"}, None],
                                   "pair": ("110***********002x",)}
    assert has_id_in(nested) and has_id_in(text) and not has_id_in(mask_ids_in(nested))
    assert not has_id_in({"phone": "13800138000", "n": 110105194912310021, "none": None})


@pytest.mark.parametrize(
    "born, on, age",
    [(date(2010, 3, 7), date(2026, 3, 6), 15), (date(2010, 3, 7), date(2026, 3, 7), 16), (date(2008, 2, 29), date(2026, 2, 28), 17)],
)
def test_age_on(born, on, age):
    assert age_on(born, on) == age


TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    "given, birth, lo, hi, expected",
    [
        ([], None, 12, 14, ["minor"]),
        ([], None, 16, 22, ["minor"]),  # may be under 18: protected as a minor
        ([], None, 18, 25, []),
        ([], date(2008, 11, 24), None, None, ["minor"]),  # 17 until tomorrow
        ([], date(2008, 11, 23), None, None, []),  # 18 today
        ([], None, 60, 70, ["elderly"]),
        ([], None, 55, 65, []),
        (["disabled", "ill"], None, 70, 80, ["elderly", "disabled", "ill"]),
        (["minor"], None, None, None, ["minor"]),  # staff may flag by judgement
    ],
)
def test_derived_categories(given, birth, lo, hi, expected):
    assert derived_categories(given, birth, lo, hi, TODAY) == expected


def test_unknown_category_refused():
    with pytest.raises(InvalidValue) as err:
        derived_categories(["astronaut"], None, None, None, TODAY)
    assert err.value.field == "categories"


@pytest.mark.parametrize(
    "lo, hi, expected",
    [(None, None, (None, None)), (30, None, (30, 30)), (None, 40, (40, 40)), (30, 40, (30, 40))],
)
def test_age_range_fills_missing_bound(lo, hi, expected):
    assert validate_age_range(lo, hi) == expected


@pytest.mark.parametrize("lo, hi, field", [(40, 30, "age_max"), (-1, 5, "age_min"), (5, 121, "age_max")])
def test_age_range_errors(lo, hi, field):
    with pytest.raises(InvalidValue) as err:
        validate_age_range(lo, hi)
    assert err.value.field == field
