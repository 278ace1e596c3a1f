"""Field specs (pure): what each field's schema says is what its converter accepts and refuses."""
from __future__ import annotations

import pytest

from service.domain.errors import InvalidValue
from service.formats.fields import (CAMPAIGN_FIELDS, CASE_FIELDS, CHANNEL_STEP_FIELDS, EXIT_FIELDS, LEAD_FIELDS,
                                    PATROL_FIELDS, REPORT_FIELDS, REVIEW_FIELDS, parse_case_fields,
                                    parse_report_fields)

FIELD_SETS = {"case": CASE_FIELDS, "report": REPORT_FIELDS, "lead": LEAD_FIELDS, "patrol": PATROL_FIELDS,
              "campaign": CAMPAIGN_FIELDS, "channel_step": CHANNEL_STEP_FIELDS, "exit": EXIT_FIELDS,
              "review": REVIEW_FIELDS}
EXAMPLES = {"date": "2020-02-29", "date-time": "2026-01-31T08:30:00+08:00"}


def _specs():
    for set_name, fields in FIELD_SETS.items():
        for name, convert in fields.items():
            yield pytest.param(convert, id=f"{set_name}.{name}")


@pytest.mark.parametrize("convert", _specs())
def test_the_schema_says_what_the_converter_accepts(convert):
    schema = convert.schema()
    kind = schema["type"]
    if kind == "string" and "maxLength" in schema:
        assert convert("字" * schema["maxLength"]) == "字" * schema["maxLength"]
        with pytest.raises(ValueError):
            convert("字" * (schema["maxLength"] + 1))
    if kind == "string" and "enum" in schema:
        assert [convert(v) for v in schema["enum"]] == schema["enum"]
        with pytest.raises(ValueError):
            convert("not-one-of-them")
    if kind == "string" and schema.get("format") in EXAMPLES:
        assert convert(EXAMPLES[schema["format"]]) is not None
    if kind in ("integer", "number"):
        assert convert(schema["minimum"]) == schema["minimum"] and convert(schema["maximum"]) == schema["maximum"]
        for outside in (schema["minimum"] - 1, schema["maximum"] + 1):
            with pytest.raises(ValueError):
                convert(outside)
    if kind == "array":
        options = schema["items"]["enum"]
        assert convert(list(reversed(options))) == options
        with pytest.raises(ValueError):
            convert(["not-one-of-them"])
    if kind == "boolean":
        assert convert("true") is True and convert("false") is False


def test_case_fields_from_a_form():
    values = parse_case_fields({"name": " 张三 ", "gender": "男", "age_min": "30岁", "categories": "elderly",
                                "can_communicate": "no", "belongings": "", "languages": "普通话", "other": "x"})
    assert values == {"name": "张三", "gender": "male", "age_min": 30, "categories": ["elderly"],
                      "can_communicate": False, "belongings": None, "languages": "普通话"}
    with pytest.raises(InvalidValue) as refused:
        parse_case_fields({"height_cm": "999"})
    assert refused.value.field == "height_cm"


def test_report_fields_check_the_dates_together():
    assert parse_report_fields({"source": "家属", "missing_since": "2024年10月1日"})["source"] == "family"
    with pytest.raises(InvalidValue) as refused:
        parse_report_fields({"birth_date": "2000-01-01", "missing_since": "1999-01-01"})
    assert refused.value.field == "missing_since"
