"""Intake rules: categories, age, the automatic minor and elderly flags."""
from __future__ import annotations

from datetime import date

from .errors import InvalidValue

# API.md categories first, then DOMAIN.md's extra ones.
CATEGORIES = (
    "minor",
    "elderly",
    "disabled",
    "mental_illness",
    "intellectual_disability",
    "ill",
    "pregnant",
    "suspected_lost",
    "suspected_abandoned",
    "suspected_trafficked",
)
GENDERS = ("male", "female", "unknown")
REFERRALS = ("police", "urban_management", "patrol", "citizen", "hospital", "self", "other")

MINOR_AGE = 18
YOUNG_MINOR_AGE = 16  # no self-exit, family pickup only after verification
ELDERLY_AGE = 60
MAX_AGE = 120


def age_on(birth_date: date, on: date) -> int:
    years = on.year - birth_date.year
    return years - ((on.month, on.day) < (birth_date.month, birth_date.day))


def validate_age_range(age_min: int | None, age_max: int | None) -> tuple[int | None, int | None]:
    for field, value in (("age_min", age_min), ("age_max", age_max)):
        if value is not None and not 0 <= value <= MAX_AGE:
            raise InvalidValue(f"age must be between 0 and {MAX_AGE}", field)
    if age_min is not None and age_max is not None and age_min > age_max:
        raise InvalidValue("age_min is greater than age_max", "age_max")
    if age_min is None and age_max is not None:
        age_min = age_max
    if age_max is None and age_min is not None:
        age_max = age_min
    return age_min, age_max


def age_bounds(birth_date: date | None, age_min: int | None, age_max: int | None, on: date):
    """The (youngest, oldest) the person can be: a known birth date beats an estimate."""
    if birth_date is not None:
        age = age_on(birth_date, on)
        return age, age
    return age_min, age_max


def derived_categories(
    categories: list[str] | tuple[str, ...],
    birth_date: date | None,
    age_min: int | None,
    age_max: int | None,
    on: date,
) -> list[str]:
    """The categories entered plus the ones the age implies, in canonical order.

    Protective reading of an estimate: anyone who may be under 18 is treated as a minor
    until shown otherwise; elderly needs the youngest plausible age to be 60+.
    """
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise InvalidValue(f"unknown category: {', '.join(sorted(unknown))}", "categories")
    chosen = set(categories)
    youngest, _oldest = age_bounds(birth_date, age_min, age_max, on)
    if youngest is not None and youngest < MINOR_AGE:
        chosen.add("minor")
    if youngest is not None and youngest >= ELDERLY_AGE:
        chosen.add("elderly")
    return [c for c in CATEGORIES if c in chosen]
