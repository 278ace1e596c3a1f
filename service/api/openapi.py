"""The OpenAPI 3 description served at /api/v1/openapi.json."""
from __future__ import annotations

from ..domain.intake import CATEGORIES, GENDERS, REFERRALS

_ERROR = {"$ref": "#/components/responses/Error"}


def _errors(*codes: int) -> dict:
    return {str(c): _ERROR for c in codes}


def _case_fields() -> dict:
    s = {"type": "string"}
    return {
        "name": {**s, "maxLength": 80},
        "gender": {"type": "string", "enum": list(GENDERS)},
        "birth_date": {"type": "string", "format": "date"},
        "age_min": {"type": "integer", "minimum": 0, "maximum": 120},
        "age_max": {"type": "integer", "minimum": 0, "maximum": 120},
        "id_number": {**s, "description": "18-character resident ID (GB 11643 checksum)"},
        "found_at": {"type": "string", "format": "date-time"},
        "found_place": {**s, "maxLength": 200},
        "found_lat": {"type": "number", "minimum": -90, "maximum": 90},
        "found_lng": {"type": "number", "minimum": -180, "maximum": 180},
        "referral": {"type": "string", "enum": list(REFERRALS)},
        "referring_officer": {**s, "maxLength": 120},
        "categories": {"type": "array", "items": {"type": "string", "enum": list(CATEGORIES)}},
        "dialect": {**s, "maxLength": 80},
        "hometown_hint": {**s, "maxLength": 200},
        "household_place": {**s, "maxLength": 200},
        "marks": {**s, "maxLength": 2000},
        "clothing": {**s, "maxLength": 2000},
        "description": {**s, "maxLength": 4000},
        "health_notes": {**s, "maxLength": 4000},
        "mental_state": {**s, "maxLength": 2000},
        "height_cm": {"type": "integer", "minimum": 30, "maximum": 250},
        "state": {"type": "string", "enum": ["in_station", "in_hospital"]},
    }


def spec() -> dict:
    case_fields = _case_fields()
    bearer = [{"bearer": []}]
    case_resp = {"description": "the case", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}}
    id_param = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Huijia API", "version": "1"},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "error envelope",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                },
                "Photo": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "status": {
                            "type": "string",
                            "enum": ["pending", "processed", "no_face", "multiple_faces", "low_quality", "invalid"],
                        },
                        "faces": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Case": {
                    "type": "object",
                    "required": ["id", "case_no", "state", "identity_status", "photos"],
                    "properties": {
                        "id": {"type": "integer"},
                        "case_no": {"type": "string"},
                        "state": {"type": "string"},
                        "identity_status": {"type": "string", "enum": ["unknown", "self_reported", "confirmed"]},
                        "days_stranded": {"type": "integer"},
                        "matching_status": {"type": "string", "enum": ["pending", "done", "incomplete"]},
                        "photos": {"type": "array", "items": {"$ref": "#/components/schemas/Photo"}},
                        "channels": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "CaseInput": {"type": "object", "properties": case_fields, "additionalProperties": True},
            },
        },
        "paths": {
            "/healthz": {"get": {"security": [], "responses": {"200": {"description": "db and broker state"}, "503": {"description": "database down"}}}},
            "/api/v1/auth/token": {
                "post": {
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["username", "password"],
                                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "token"},
                        **_errors(400, 401, 422, 429),
                    },
                }
            },
            "/api/v1/auth/revoke": {"post": {"security": bearer, "responses": {"200": {"description": "revoked"}, **_errors(401)}}},
            "/api/v1/cases": {
                "get": {
                    "security": bearer,
                    "parameters": [
                        {"name": n, "in": "query", "schema": sch}
                        for n, sch in (
                            ("q", {"type": "string"}),
                            ("state", {"type": "string"}),
                            ("category", {"type": "string", "enum": list(CATEGORIES)}),
                            ("identity_status", {"type": "string"}),
                            ("minor", {"type": "boolean"}),
                            ("page", {"type": "integer", "minimum": 1}),
                            ("per_page", {"type": "integer", "minimum": 1, "maximum": 200}),
                        )
                    ],
                    "responses": {"200": {"description": "cases"}, **_errors(401, 403, 422)},
                },
                "post": {
                    "security": bearer,
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 64}}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        **{k: v for k, v in case_fields.items()},
                                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                                    },
                                }
                            },
                            "application/json": {"schema": {"$ref": "#/components/schemas/CaseInput"}},
                        },
                    },
                    "responses": {
                        "201": case_resp,
                        "200": {"description": "the case an earlier request with the same Idempotency-Key created"},
                        **_errors(400, 401, 403, 413, 415, 422, 507),
                    },
                },
            },
            "/api/v1/cases/{case_id}": {
                "get": {"security": bearer, "parameters": [id_param], "responses": {"200": case_resp, **_errors(401, 403, 404)}},
                "patch": {
                    "security": bearer,
                    "parameters": [id_param],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CaseInput"}}}},
                    "responses": {"200": case_resp, **_errors(400, 401, 403, 404, 409, 422)},
                },
            },
            **_gallery_paths(bearer),
            **_search_paths(bearer),
            **_supervisor_paths(bearer),
            **_lead_paths(bearer),
            "/api/v1/photos/{sha256}": {
                "get": {
                    "security": bearer,
                    "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the image", "content": {"image/jpeg": {}}}, **_errors(401, 403, 404)},
                }
            },
        },
    }


def _gallery_paths(bearer) -> dict:
    """Reports, candidates, review, face choice, jobs (API.md §gallery, §candidates)."""
    int_param = lambda name: {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}  # noqa: E731
    ok = lambda text: {"200": {"description": text}}  # noqa: E731
    report_fields = {
        "name": {"type": "string", "maxLength": 80},
        "gender": {"type": "string", "enum": list(GENDERS)},
        "birth_date": {"type": "string", "format": "date"},
        "age_at_missing": {"type": "integer", "minimum": 0, "maximum": 120},
        "missing_since": {"type": "string", "format": "date"},
        "missing_place": {"type": "string", "maxLength": 200},
        "hometown": {"type": "string", "maxLength": 200},
        "marks": {"type": "string", "maxLength": 4000},
        "description": {"type": "string", "maxLength": 4000},
        "contact_name": {"type": "string", "maxLength": 80},
        "contact_phone": {"type": "string", "maxLength": 40},
        "source": {"type": "string", "enum": ["family", "police", "portal", "import"]},
        "external_id": {"type": "string", "maxLength": 120},
    }
    return {
        "/api/v1/reports": {
            "get": {"security": bearer, "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "found", "closed"]}},
                {"name": "q", "in": "query", "schema": {"type": "string"}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                "responses": {**ok("reports"), **_errors(401, 403, 422)}},
            "post": {"security": bearer, "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "object", "properties": report_fields}},
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    **report_fields, "photos": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
                "responses": {"201": {"description": "the report"}, **ok("an existing report with the same source and external_id"),
                              **_errors(400, 401, 403, 413, 415, 422)}},
        },
        "/api/v1/reports/{report_id}": {"get": {"security": bearer, "parameters": [int_param("report_id")],
                                                "responses": {**ok("the report"), **_errors(401, 403, 404)}}},
        "/api/v1/reports/{report_id}/candidates": {"get": {"security": bearer, "parameters": [int_param("report_id")],
                                                           "responses": {**ok("candidates"), **_errors(401, 403, 404)}}},
        "/api/v1/reports/import": {"post": {"security": bearer, "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}, "photos": {"type": "string", "format": "binary"}}}}}},
            "responses": {"202": {"description": "job id"}, **_errors(400, 401, 403, 413, 422)}}},
        "/api/v1/jobs/{job_id}": {"get": {"security": bearer, "parameters": [int_param("job_id")],
                                          "responses": {**ok("job state"), **_errors(401, 403, 404)}}},
        "/api/v1/admin/rematch": {"post": {"security": bearer, "responses": {"202": {"description": "job id"}, **_errors(401, 403)}}},
        "/api/v1/cases/{case_id}/candidates": {"get": {"security": bearer, "parameters": [int_param("case_id")],
                                                       "responses": {**ok("candidates, best first"), **_errors(401, 403, 404)}}},
        "/api/v1/queues/review": {"get": {"security": bearer, "responses": {**ok("pending candidates"), **_errors(401, 403)}}},
        "/api/v1/candidates/{candidate_id}/review": {"post": {
            "security": bearer, "parameters": [int_param("candidate_id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["decision"], "properties": {
                    "decision": {"type": "string", "enum": ["confirm", "reject"]}, "note": {"type": "string", "maxLength": 2000}}}}}},
            "responses": {**ok("the decided candidate"), **_errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/candidates/{candidate_id}/undo": {"post": {
            "security": bearer, "parameters": [int_param("candidate_id")],
            "responses": {**ok("the link is undone"), **_errors(401, 403, 404, 409)}}},
        "/api/v1/photos/{photo_id}/faces/{face_id}/select": {"post": {
            "security": bearer, "parameters": [int_param("photo_id"), int_param("face_id")],
            "responses": {**ok("the chosen face"), **_errors(401, 403, 404, 409, 422)}}},
        "/api/v1/crops/{sha256}": {"get": {"security": bearer, "parameters": [
            {"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "face crop", "content": {"image/jpeg": {}}}, **_errors(401, 403, 404)}}},
    }


def _search_paths(bearer) -> dict:
    """Channels, deadlines, family contacts, exits, supervisor queues (API.md §channels, §exit)."""
    case = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    channel = {"name": "channel", "in": "path", "required": True,
               "schema": {"type": "string", "enum": ["portal", "toutiao", "newspaper", "dna", "face", "interview"]}}
    body = lambda props, required=(): {"required": True, "content": {"application/json": {"schema": {  # noqa: E731
        "type": "object", "properties": props, **({"required": list(required)} if required else {})}}}}
    text = {"type": "string", "maxLength": 500}
    statuses = ["not_started", "in_progress", "lead", "confirmed", "no_result", "not_applicable"]
    exits = ["family_pickup", "escorted_home", "self_return", "transfer", "settlement", "left_voluntarily", "medical",
             "deceased"]
    return {
        "/api/v1/cases/{case_id}/channels": {"get": {"security": bearer, "parameters": [case],
                                                     "responses": {"200": {"description": "the six channels"},
                                                                   **_errors(401, 403, 404)}}},
        "/api/v1/cases/{case_id}/channels/{channel}/events": {"post": {
            "security": bearer, "parameters": [case, channel],
            "requestBody": body({"status": {"type": "string", "enum": statuses}, "note": {"type": "string"},
                                 "reference": {"type": "string"}, "fields": {"type": "object"}}),
            "responses": {"201": {"description": "the step"}, **_errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/cases/{case_id}/deadlines": {"get": {"security": bearer, "parameters": [case],
                                                      "responses": {"200": {"description": "steps due"}, **_errors(401, 403, 404)}}},
        "/api/v1/cases/{case_id}/steps": {"post": {
            "security": bearer, "parameters": [case],
            "requestBody": body({"kind": {"type": "string", "enum": ["extension_approved", "settlement_review",
                                                                      "notice_approved", "return_arranged"]}}, ["kind"]),
            "responses": {"201": {"description": "recorded"}, **_errors(400, 401, 403, 404, 422)}}},
        "/api/v1/cases/{case_id}/family-contacts": {"post": {
            "security": bearer, "parameters": [case],
            "requestBody": body({"contact_name": text, "relation": text, "phone": text, "note": {"type": "string"},
                                 "method": {"type": "string", "enum": ["phone", "visit", "message", "police", "office"]},
                                 "outcome": {"type": "string", "enum": ["reached", "no_answer", "refused", "will_pick_up", "other"]}}),
            "responses": {"201": {"description": "recorded"}, **_errors(400, 401, 403, 404, 422)}}},
        "/api/v1/cases/{case_id}/exit": {"post": {
            "security": bearer, "parameters": [case],
            "requestBody": body({"type": {"type": "string", "enum": exits}, "collector_name": text,
                                 "collector_id_number": text, "relation": text, "destination": text,
                                 "receiving_office": text, "handover_person": text, "note": text}, ["type"]),
            "responses": {"200": {"description": "the case in its final state"}, **_errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/queues/overdue": {"get": {"security": bearer, "responses": {"200": {"description": "cases with overdue steps"},
                                                                              **_errors(401, 403)}}},
        "/api/v1/queues/approvals": {"get": {"security": bearer, "responses": {
            "200": {"description": "extensions and settlement reviews waiting for a supervisor"}, **_errors(401, 403)}}},
        "/api/v1/cases/{case_id}/notice": {"get": {
            "security": bearer, "parameters": [case, {"name": "format", "in": "query", "schema": {
                "type": "string", "enum": ["json", "html", "png", "pdf"]}}],
            "responses": {"200": {"description": "the family-search notice (寻亲公告)"}, **_errors(401, 403, 404, 409, 422)}}},
        "/api/v1/cases/{case_id}/notice/approve": {"post": {
            "security": bearer, "parameters": [case],
            "responses": {"200": {"description": "approved"}, **_errors(401, 403, 404, 409)}}},
        "/api/v1/cases/{case_id}/notice/push": {"get": {
            "security": bearer, "parameters": [case],
            "responses": {"200": {"description": "short push text and target areas"}, **_errors(401, 403, 404, 409)}}},
        "/api/v1/alerts": {"get": {"security": bearer, "responses": {"200": {"description": "open deadline alerts"},
                                                                      **_errors(401, 403)}}},
    }


def _supervisor_paths(bearer) -> dict:
    """Supervisor queues with CSV/XLSX exports, statistics, PFIF/CSV data exchange (API.md §Supervisor views)."""
    query = lambda name, schema, text=None: {"name": name, "in": "query", "schema": schema,  # noqa: E731
                                             **({"description": text} if text else {})}
    whole = lambda lo, hi: {"type": "integer", "minimum": lo, "maximum": hi}  # noqa: E731
    station = query("station", {"type": "string"}, "station code (admins: any station; others: their own)")
    filters = [
        station,
        query("category", {"type": "string", "enum": list(CATEGORIES)}),
        query("min_age", whole(0, 120), "the person's plausible age range reaches this age or more"),
        query("max_age", whole(0, 120)),
        query("min_days", whole(0, 100000), "days stranded, at least"),
        query("max_days", whole(0, 100000)),
        query("format", {"type": "string", "enum": ["json", "csv", "xlsx"]}),
        query("page", whole(1, 1000000)),
        query("per_page", whole(1, 200)),
    ]
    files = {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}

    def queue(text: str) -> dict:
        return {"get": {"security": bearer, "parameters": filters, "responses": {
            "200": {"description": text + " (JSON {items, total}, or a CSV/XLSX file with ?format=)",
                    "content": {"application/json": {}, **files}},
            **_errors(401, 403, 422)}}}

    exchange = {"application/xml": {}, "text/csv": {}}
    return {
        "/api/v1/queues/stranded": queue("unidentified people in the station's care, longest stay first, "
                                         "with their overdue steps"),
        "/api/v1/queues/identified": queue("identity confirmed but not home yet (the KPI gap)"),
        "/api/v1/queues/minors": queue("minors in care or with an open search"),
        "/api/v1/stats": {"get": {"security": bearer, "parameters": [
            query("from", {"type": "string", "format": "date"}, "first Beijing day (default: 182 days before to)"),
            query("to", {"type": "string", "format": "date"}, "last Beijing day, included (default: today)"),
            station],
            "responses": {"200": {"description": "arrivals, identified, returned (of the identified), "
                                                 "return_rate_identified, median_days_to_identify, per-channel "
                                                 "outcomes, weekly series, stranded-days histogram, face-match "
                                                 "precision per band, gallery coverage by province"},
                          **_errors(401, 403, 422)}}},
        "/api/v1/exports/cases": {"get": {"security": bearer, "parameters": [
            query("format", {"type": "string", "enum": ["pfif", "csv"]}), station],
            "responses": {"200": {"description": "open cases as PFIF 1.4 (kind case, hj: extensions) or CSV; "
                                                 "no ID numbers or diagnoses", "content": exchange},
                          **_errors(401, 403, 422)}}},
        "/api/v1/exports/reports": {"get": {"security": bearer, "parameters": [
            query("format", {"type": "string", "enum": ["pfif", "csv"]}),
            query("status", {"type": "string", "enum": ["open", "found", "closed"]})],
            "responses": {"200": {"description": "missing-person reports as PFIF 1.4 or CSV", "content": exchange},
                          **_errors(401, 403, 422)}}},
    }


def _lead_paths(bearer) -> dict:
    """Street leads, patrols and campaigns (reporters: their own leads, and only whether a face is known)."""
    from ..domain import leads as rules

    path_id = lambda name: {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}  # noqa: E731
    json_body = lambda props, required=(): {"required": True, "content": {"application/json": {"schema": {  # noqa: E731
        "type": "object", "properties": props, **({"required": list(required)} if required else {})}}}}
    text = lambda n: {"type": "string", "maxLength": n}  # noqa: E731
    lead = [path_id("lead_id")]
    lead_fields = {
        "source": {"type": "string", "enum": list(rules.SOURCES)},
        "seen_at": {"type": "string", "format": "date-time"},
        "place": text(200), "description": text(2000),
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lng": {"type": "number", "minimum": -180, "maximum": 180},
        "accuracy_m": {"type": "number", "minimum": 0},
        "urgency": {"type": "array", "items": {"type": "string", "enum": list(rules.URGENCY_FLAGS)}},
        "idempotency_key": text(64),
        "photos": {"type": "array", "maxItems": 3, "items": {"type": "string", "format": "binary"}},
    }
    answer = lambda text_: {"200": {"description": text_}}  # noqa: E731
    return {
        "/api/v1/leads": {
            "post": {"security": bearer, "parameters": [
                {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 64}}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "properties": lead_fields}}}},
                "responses": {"201": {"description": "the lead (a reporter sees the reporter's view: face check "
                                                     "known / not_known, never who)"},
                              **answer("the lead already sent with this key"),
                              **_errors(400, 401, 403, 409, 413, 415, 422, 429)}},
            "get": {"security": bearer, "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(rules.STATUSES)}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                "responses": {**answer("reporters: their own leads; staff: their station's"), **_errors(401, 403, 422)}},
        },
        "/api/v1/leads/{lead_id}": {"get": {"security": bearer, "parameters": lead,
                                            "responses": {**answer("the lead"), **_errors(401, 403, 404)}}},
        "/api/v1/leads/{lead_id}/assign": {"post": {
            "security": bearer, "parameters": lead, "requestBody": json_body({"team": text(80)}, ["team"]),
            "responses": {**answer("dispatched"), **_errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/leads/{lead_id}/on-site": {"post": {
            "security": bearer, "parameters": lead,
            "responses": {**answer("team on site"), **_errors(401, 403, 404, 409, 422)}}},
        "/api/v1/leads/{lead_id}/close": {"post": {
            "security": bearer, "parameters": lead,
            "requestBody": json_body({"outcome": {"type": "string", "enum": [o for o in rules.OUTCOMES if o != "brought_in"]},
                                      "note": text(2000)}, ["outcome"]),
            "responses": {**answer("closed"), **_errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/leads/{lead_id}/arrival": {"post": {
            "security": bearer, "parameters": lead,
            "requestBody": json_body({k: v for k, v in _case_fields().items()}),
            "responses": {"201": {"description": "the arrival (case) with the lead's photos and position"},
                          **answer("the arrival this lead already became"),
                          **_errors(400, 401, 403, 404, 409, 413, 415, 422, 507)}}},
        "/api/v1/patrols": {"post": {
            "security": bearer,
            "requestBody": json_body({"team": text(80), "area": text(200), "started_at": {"type": "string", "format": "date-time"},
                                      "ended_at": {"type": "string", "format": "date-time"},
                                      "people_contacted": {"type": "integer", "minimum": 0, "maximum": 1000},
                                      "people_brought_in": {"type": "integer", "minimum": 0, "maximum": 1000},
                                      "note": text(2000)}, ["team"]),
            "responses": {"201": {"description": "the patrol run"}, **_errors(400, 401, 403, 422)}}},
        "/api/v1/campaigns": {
            "get": {"security": bearer, "responses": {**answer("campaigns of the station"), **_errors(401, 403)}},
            "post": {"security": bearer, "requestBody": json_body({
                "name": text(120), "kind": {"type": "string", "enum": list(rules.CAMPAIGN_KINDS)},
                "starts_on": {"type": "string", "format": "date"}, "ends_on": {"type": "string", "format": "date"},
                "area": text(200), "note": text(2000)}, ["name", "starts_on", "ends_on"]),
                "responses": {"201": {"description": "the campaign"}, **_errors(400, 401, 403, 422)}},
        },
        "/api/v1/campaigns/{campaign_id}": {"get": {
            "security": bearer, "parameters": [path_id("campaign_id")],
            "responses": {**answer("leads, patrols and arrivals during the campaign"), **_errors(401, 403, 404)}}},
    }
