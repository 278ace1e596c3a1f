"""The OpenAPI 3 description served at /api/v1/openapi.json.

The request bodies of cases, reports, leads, patrols, campaigns, channel steps, exits and reviews are
derived from the field specs the
services validate with (formats/fields.py): a field added there is documented here with its type,
bounds and choices. Paths are listed here and in openapi_paths.py.
"""
from __future__ import annotations

from ..domain.intake import CATEGORIES
from ..domain.lifecycle import OPEN_STATES as START_STATES
from ..formats.fields import (CAMPAIGN_FIELDS, CASE_FIELDS, CHANNEL_STEP_FIELDS, EXIT_FIELDS, LEAD_FIELDS, PATROL_FIELDS,
                              REPORT_FIELDS, REVIEW_FIELDS)
from ..formats.values import properties
from .openapi_paths import (PHOTOS, clue_paths, errors, gallery_paths, json_body, lead_paths, ref, search_paths,
                            supervisor_paths)


def input_schema(specs, required=(), **extra) -> dict:
    """An object schema of these field specs (plus `extra` properties); unknown fields are ignored."""
    schema = {"type": "object", "properties": {**properties(specs), **extra}}
    return {**schema, "required": list(required)} if required else schema


def components() -> dict:
    state = {"type": "string", "enum": list(START_STATES), "description": "at intake: where the person is; "
             "later: moves an open case between these (exits have their own path)"}
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {"Error": {"description": "error envelope", "content": {"application/json": {"schema": ref("Error")}}}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}},
            "Photo": {"type": "object", "properties": {
                "id": {"type": "integer"},
                "status": {"type": "string",
                           "enum": ["pending", "processed", "no_face", "multiple_faces", "low_quality", "invalid"]},
                "faces": {"type": "array", "items": {"type": "object"}}}},
            "Case": {"type": "object", "required": ["id", "case_no", "state", "identity_status", "photos"], "properties": {
                "id": {"type": "integer"},
                "case_no": {"type": "string"},
                "state": {"type": "string"},
                "identity_status": {"type": "string", "enum": ["unknown", "self_reported", "confirmed"]},
                "days_stranded": {"type": "integer"},
                "matching_status": {"type": "string", "enum": ["pending", "done", "incomplete"]},
                "photos": {"type": "array", "items": ref("Photo")},
                "channels": {"type": "array", "items": {"type": "object"}}}},
            # Request bodies, from the field specs.
            "CaseInput": input_schema(CASE_FIELDS, state=state),
            "ReportInput": input_schema(REPORT_FIELDS),
            "LeadInput": input_schema(LEAD_FIELDS, idempotency_key={"type": "string", "maxLength": 64}, photos={
                **PHOTOS, "maxItems": 3}),
            "PatrolInput": input_schema(PATROL_FIELDS, ["team"]),
            "CampaignInput": input_schema(CAMPAIGN_FIELDS, ["name", "starts_on", "ends_on"]),
            "ChannelStepInput": input_schema(CHANNEL_STEP_FIELDS, fields={
                "type": "object", "description": "what the step records, by channel and kind (API.md §channels)"}),
            "ExitInput": input_schema(EXIT_FIELDS, ["type"]),
            "ReviewInput": input_schema(REVIEW_FIELDS, ["decision"]),
        },
    }


def spec() -> dict:
    bearer = [{"bearer": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Huijia API", "version": "1"},
        "servers": [{"url": "/"}],
        "components": components(),
        "paths": {
            "/healthz": {"get": {"security": [], "responses": {
                "200": {"description": "database up; broker, beat, sweeper, queue depths and pending photos beside it"},
                "503": {"description": "database down"}}}},
            "/readyz": {"get": {"security": [], "responses": {
                "200": {"description": "everything working: the same body as /healthz, no problem listed"},
                "503": {"description": "a problem listed: database, broker, beat, sweeper or stuck photos"}}}},
            "/api/v1/auth/token": {"post": {
                "security": [],
                "requestBody": json_body({"username": {"type": "string"}, "password": {"type": "string"}},
                                         ["username", "password"]),
                "responses": {"200": {"description": "token"}, **errors(400, 401, 422, 429)}}},
            "/api/v1/auth/revoke": {"post": {"security": bearer, "responses": {"200": {"description": "revoked"},
                                                                                **errors(401)}}},
            **_case_paths(bearer),
            **gallery_paths(bearer),
            **search_paths(bearer),
            **supervisor_paths(bearer),
            **lead_paths(bearer),
            **clue_paths(bearer),
            "/api/v1/photos/{sha256}": {"get": {
                "security": bearer,
                "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the image", "content": {"image/jpeg": {}}}, **errors(401, 403, 404)}}},
        },
    }


def _case_paths(bearer) -> dict:
    case_resp = {"description": "the case", "content": {"application/json": {"schema": ref("Case")}}}
    id_param = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    query = [{"name": n, "in": "query", "schema": schema} for n, schema in (
        ("q", {"type": "string"}),
        ("state", {"type": "string"}),
        ("category", {"type": "string", "enum": list(CATEGORIES)}),
        ("identity_status", {"type": "string"}),
        ("minor", {"type": "boolean"}),
        ("page", {"type": "integer", "minimum": 1}),
        ("per_page", {"type": "integer", "minimum": 1, "maximum": 200}),
    )]
    multipart = components()["schemas"]["CaseInput"]
    return {
        "/api/v1/cases": {
            "get": {"security": bearer, "parameters": query,
                    "responses": {"200": {"description": "cases"}, **errors(401, 403, 422)}},
            "post": {
                "security": bearer,
                "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 64}}],
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {**multipart, "properties": {**multipart["properties"],
                                                                                   "photos": PHOTOS}}},
                    "application/json": {"schema": ref("CaseInput")}}},
                "responses": {"201": case_resp,
                              "200": {"description": "the case an earlier request with the same Idempotency-Key created"},
                              **errors(400, 401, 403, 413, 415, 422, 507)}},
        },
        "/api/v1/cases/{case_id}": {
            "get": {"security": bearer, "parameters": [id_param], "responses": {"200": case_resp, **errors(401, 403, 404)}},
            "patch": {"security": bearer, "parameters": [id_param],
                      "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CaseInput")}}},
                      "responses": {"200": case_resp, **errors(400, 401, 403, 404, 409, 422)}},
        },
    }
