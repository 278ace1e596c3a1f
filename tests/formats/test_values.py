"""Value converters (pure): one contract for forms, API bodies and files, and the schema each one states."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from service.domain.errors import InvalidValue
from service.formats.values import (AgeRange, Choice, Day, Flag, IdNumber, Number, Tags, Text, Timestamp, Whole,
                                    parse_fields, properties)

ID_NUMBER = "11010519491231002X"


@pytest.mark.parametrize("convert, raw, value", [
    (Text(5), "  abc ", "abc"),
    (Text(5), 12345, "12345"),  # a JSON number where text is expected is its text
    (Whole(0, 120), "35", 35),
    (Whole(0, 120), 35, 35),
    (Whole(0, 120), 35.0, 35),
    (Whole(0, 120), "35.0", 35),  # Excel's whole numbers
    (Whole(0, 120), "35岁", 35),  # units clerks type
    (Whole(30, 250), "170 cm", 170),
    (Number(-90, 90), "39.12", 39.12),
    (Number(-90, 90), -45, -45.0),
    (Choice(("male", "female"), {"男": "male"}), "female", "female"),
    (Choice(("male", "female"), {"男": "male"}), " Male ", "male"),
    (Choice(("male", "female"), {"男": "male"}), "男", "male"),
    (Tags(("a", "b", "c")), "c, a", ["a", "c"]),
    (Tags(("a", "b", "c")), ["b", "b", " a "], ["a", "b"]),
    (Day(), "2026-01-31", date(2026, 1, 31)),
    (Day(), "2026/1/31", date(2026, 1, 31)),
    (Day(), "2026年1月31日", date(2026, 1, 31)),
    (Day(), "20260131", date(2026, 1, 31)),
    (Day(), "2026-01-31 0:00", date(2026, 1, 31)),
    (Day(), date(2026, 1, 31), date(2026, 1, 31)),
    (Timestamp(), "2026-01-31T08:30:00+08:00", datetime(2026, 1, 31, 0, 30, tzinfo=timezone.utc)),
    (Timestamp(), "2026-01-31T08:30:00", datetime(2026, 1, 31, 0, 30, tzinfo=timezone.utc)),  # Beijing time
    (Timestamp(), "2026-01-31T00:30:00Z", datetime(2026, 1, 31, 0, 30, tzinfo=timezone.utc)),
    (Flag(), "yes", True),
    (Flag(), False, False),
    (Flag(), "0", False),
    (IdNumber(), ID_NUMBER.lower(), ID_NUMBER),
    (AgeRange(), "30-40", (30, 40)),
    (AgeRange(), "约40岁", (40, 40)),
])
def test_a_converter_returns_the_typed_value(convert, raw, value):
    assert convert(raw) == value


@pytest.mark.parametrize("convert, raw, reason", [
    (Text(5), "abcdef", "longer than 5 characters"),
    (Text(5), ["a"], "must be text"),
    (Whole(0, 120), "121", "must be a whole number from 0 to 120 (got '121')"),
    (Whole(0, 120), "-1", "must be a whole number from 0 to 120"),
    (Whole(0, 120), "3.5", "must be a whole number"),
    (Whole(0, 120), True, "must be a whole number"),
    (Whole(0, 1000), float("inf"), "must be a whole number"),
    (Number(-90, 90), "91", "must be a number from -90 to 90"),
    (Number(-90, 90), "nan", "must be a number"),
    (Number(-90, 90), True, "must be a number"),
    (Choice(("male", "female")), "robot", "must be one of male, female (got 'robot')"),
    (Tags(("a", "b")), "a, z", "unknown: z"),
    (Tags(("a", "b")), 7, "must be a list"),
    (Day(), "2026-13-45", "not a date like 2026-01-31"),
    (Day(), "01/12/2026", "not a date like 2026-01-31"),
    (Day(), "1879-12-31", "date is out of range"),
    (Day(), (date.today() + timedelta(days=1)).isoformat(), "date is out of range"),
    (Day(date(2000, 1, 1), date(2100, 12, 31)), "9999-12-01", "date is out of range"),
    (Timestamp(), "yesterday", "must be a time like"),
    (Timestamp(), "0001-01-01T00:00:00+08:00", "time is out of range"),
    (Flag(), "maybe", "must be true or false"),
    (IdNumber(), "110105194912310021", "resident ID number is not valid: checksum"),
    (AgeRange(), "50-40", "must be a range within 0-120"),
])
def test_a_refused_value_raises_value_error_with_the_reason(convert, raw, reason):
    with pytest.raises(ValueError) as refused:
        convert(raw)
    assert str(refused.value).startswith(reason)


def test_an_id_number_is_never_echoed_in_the_reason():
    with pytest.raises(ValueError) as refused:
        IdNumber()("110105194912310021")
    assert "110105194912310021" not in str(refused.value)


def test_parse_fields_names_the_field_and_keeps_blanks_apart():
    fields = {"name": Text(5), "age": Whole(0, 120), "tags": Tags(("a", "b"))}
    raw = {"name": " ", "age": None, "tags": "", "unknown": "ignored"}
    assert parse_fields(fields, raw) == {"name": None, "age": None, "tags": []}
    assert parse_fields(fields, {"tags": None}) == {"tags": None}
    with pytest.raises(InvalidValue) as refused:
        parse_fields(fields, {"age": "200"})
    assert refused.value.field == "age" and "from 0 to 120" in refused.value.message


def test_each_converter_states_its_schema():
    assert properties({"name": Text(80, "what they say"), "age": Whole(0, 120), "lat": Number(-90, 90),
                       "sex": Choice(("male", "female"), {"男": "male"}), "tags": Tags(("a",)), "on": Day(),
                       "at": Timestamp(), "ok": Flag()}) == {
        "name": {"type": "string", "maxLength": 80, "description": "what they say"},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "sex": {"type": "string", "enum": ["male", "female"]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a"]}},
        "on": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "ok": {"type": "boolean"},
    }
