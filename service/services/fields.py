"""Parse the case fields of a form or JSON body into typed values (InvalidValue on error)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from ..domain.errors import InvalidValue
from ..domain.identity import InvalidIdNumber, parse_id_number
from ..domain.intake import CATEGORIES, GENDERS, REFERRALS

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def _text(limit):
    def parse(value, field):
        value = str(value).strip()
        if len(value) > limit:
            raise InvalidValue(f"at most {limit} characters", field)
        return value or None

    return parse


def _int(lo, hi):
    def parse(value, field):
        if isinstance(value, bool):
            raise InvalidValue("must be a whole number", field)
        try:
            number = int(str(value).strip())
        except ValueError as exc:
            raise InvalidValue("must be a whole number", field) from exc
        if not lo <= number <= hi:
            raise InvalidValue(f"must be between {lo} and {hi}", field)
        return number

    return parse


def _float(lo, hi):
    def parse(value, field):
        try:
            number = float(str(value).strip())
        except ValueError as exc:
            raise InvalidValue("must be a number", field) from exc
        if not lo <= number <= hi:
            raise InvalidValue(f"must be between {lo} and {hi}", field)
        return number

    return parse


def _choice(options):
    def parse(value, field):
        value = str(value).strip()
        if value not in options:
            raise InvalidValue(f"must be one of: {', '.join(options)}", field)
        return value

    return parse


def _date(value, field):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        parsed = date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InvalidValue("must be a date like 2026-11-23", field) from exc
    if parsed > date.today() or parsed.year < 1880:
        raise InvalidValue("date is out of range", field)
    return parsed


def parse_timestamp(value, field):
    """ISO 8601; a time without offset is Beijing time (what a clerk types in a form)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidValue("must be a time like 2026-11-23T08:30:00+08:00", field) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    try:
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError as exc:  # year 1 or 9999 with an offset falls off the calendar
        raise InvalidValue("time is out of range", field) from exc
    if parsed.year < 1900 or parsed > datetime.now(timezone.utc).replace(year=datetime.now().year + 1):
        raise InvalidValue("time is out of range", field)
    return parsed


def _bool(value, field):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on", "y"}:
        return True
    if text in {"0", "false", "no", "off", "n"}:
        return False
    raise InvalidValue("must be true or false", field)


def _categories(value, field):
    if isinstance(value, str):
        items = [v.strip() for v in value.replace(";", ",").split(",")]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise InvalidValue("must be a list of categories", field)
    items = [v for v in items if v]
    unknown = sorted(set(items) - set(CATEGORIES))
    if unknown:
        raise InvalidValue(f"unknown category: {', '.join(unknown)}", field)
    return [c for c in CATEGORIES if c in items]


def _id_number(value, field):
    text = str(value).strip()
    if not text:
        return None
    try:
        return parse_id_number(text).number
    except InvalidIdNumber as exc:
        raise InvalidValue(f"resident ID number is not valid: {exc}", field) from exc


# field name → parser. Everything a clerk may type at intake or correct later.
CASE_FIELDS = {
    "name": _text(80),
    "gender": _choice(GENDERS),
    "birth_date": _date,
    "age_min": _int(0, 120),
    "age_max": _int(0, 120),
    "id_number": _id_number,
    "household_place": _text(200),
    "hometown_hint": _text(200),
    "relatives_named": _text(2000),
    "height_cm": _int(30, 250),
    "build": _text(40),
    "found_at": parse_timestamp,
    "found_place": _text(200),
    "found_lat": _float(-90, 90),
    "found_lng": _float(-180, 180),
    "referral": _choice(REFERRALS),
    "referring_officer": _text(120),
    "referral_handover_no": _text(60),
    "marks": _text(2000),
    "clothing": _text(2000),
    "dialect": _text(80),
    "languages": _text(120),
    "can_communicate": _bool,
    "mental_state": _text(2000),
    "health_notes": _text(4000),
    "vagrancy_history": _text(4000),
    "description": _text(4000),
    "categories": _categories,
    "accommodation_zone": _text(60),
    "belongings": _text(4000),
}


def parse_case_fields(raw: dict) -> dict:
    """Typed values for the known fields present in `raw`; blank optional text becomes None."""
    values = {}
    for field, value in raw.items():
        parser = CASE_FIELDS.get(field)
        if parser is None:
            continue
        if value is None or (isinstance(value, str) and not value.strip() and field != "categories"):
            values[field] = None
            continue
        values[field] = parser(value, field)
    return values
