"""The OpenAPI description is built from the field specs the services validate with."""
from __future__ import annotations

import pytest

from service.api.openapi import spec
from service.formats.fields import (CAMPAIGN_FIELDS, CASE_FIELDS, CHANNEL_STEP_FIELDS, EXIT_FIELDS, LEAD_FIELDS, PATROL_FIELDS,
                                    REPORT_FIELDS, REVIEW_FIELDS)
from service.services.leads import REPORT_FIELDS as LEAD_FORM_FIELDS


def _schema(doc: dict, path: str, method: str, content: str) -> dict:
    """The request schema of an operation, $refs and allOf resolved into one object schema."""
    return _resolve(doc, doc["paths"][path][method]["requestBody"]["content"][content]["schema"])


def _resolve(doc: dict, schema: dict) -> dict:
    if "$ref" in schema:
        node = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        return _resolve(doc, node)
    if "allOf" in schema:
        merged = {"type": "object", "properties": {}, "required": []}
        for part in map(lambda s: _resolve(doc, s), schema["allOf"]):
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return schema


BODIES = [
    ("/api/v1/cases", "post", "application/json", CASE_FIELDS),
    ("/api/v1/cases", "post", "multipart/form-data", CASE_FIELDS),
    ("/api/v1/cases/{case_id}", "patch", "application/json", CASE_FIELDS),
    ("/api/v1/leads/{lead_id}/arrival", "post", "application/json", CASE_FIELDS),
    ("/api/v1/reports", "post", "application/json", REPORT_FIELDS),
    ("/api/v1/reports", "post", "multipart/form-data", REPORT_FIELDS),
    ("/api/v1/leads", "post", "multipart/form-data", LEAD_FIELDS),
    ("/api/v1/patrols", "post", "application/json", PATROL_FIELDS),
    ("/api/v1/campaigns", "post", "application/json", CAMPAIGN_FIELDS),
    ("/api/v1/cases/{case_id}/channels/{channel}/events", "post", "application/json", CHANNEL_STEP_FIELDS),
    ("/api/v1/cases/{case_id}/exit", "post", "application/json", EXIT_FIELDS),
    ("/api/v1/candidates/{candidate_id}/review", "post", "application/json", REVIEW_FIELDS),
]


@pytest.mark.parametrize("path, method, content, fields", BODIES, ids=[f"{m} {p} {c}" for p, m, c, _ in BODIES])
def test_every_field_the_api_parses_is_described_as_its_converter_checks_it(path, method, content, fields):
    schema = _schema(spec(), path, method, content)
    assert set(fields) <= set(schema["properties"]), f"undocumented: {set(fields) - set(schema['properties'])}"
    for name, convert in fields.items():
        assert schema["properties"][name] == convert.schema(), name


def test_fields_once_missing_from_the_hand_written_description_are_there():
    case = _schema(spec(), "/api/v1/cases", "post", "application/json")["properties"]
    assert {"belongings", "languages", "can_communicate", "vagrancy_history", "relatives_named"} <= set(case)
    assert case["can_communicate"] == {"type": "boolean"}
    assert case["categories"]["type"] == "array" and case["state"]["enum"] == ["in_station", "in_hospital"]


def test_the_lead_spec_covers_what_the_lead_api_reads():
    assert set(LEAD_FORM_FIELDS) | {"urgency"} <= set(LEAD_FIELDS)


def test_required_fields_and_photos():
    doc = spec()
    assert set(_schema(doc, "/api/v1/campaigns", "post", "application/json")["required"]) == {"name", "starts_on", "ends_on"}
    assert _schema(doc, "/api/v1/patrols", "post", "application/json")["required"] == ["team"]
    assert _schema(doc, "/api/v1/leads", "post", "multipart/form-data")["properties"]["photos"]["maxItems"] == 3
    for path in ("/api/v1/cases", "/api/v1/reports"):
        photos = _schema(doc, path, "post", "multipart/form-data")["properties"]["photos"]
        assert photos["items"]["format"] == "binary"


def test_every_reference_resolves():
    doc = spec()

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in set(refs(doc)):
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
