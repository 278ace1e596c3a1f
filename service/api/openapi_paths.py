"""The paths of the OpenAPI description by area (openapi.py assembles them with the request schemas)."""
from __future__ import annotations

from ..domain import leads as lead_rules
from ..domain.channels import CHANNELS
from ..domain.intake import CATEGORIES

ERROR = {"$ref": "#/components/responses/Error"}
PHOTOS = {"type": "array", "items": {"type": "string", "format": "binary"}}


def errors(*codes: int) -> dict:
    return {str(c): ERROR for c in codes}


def ref(schema: str) -> dict:
    return {"$ref": f"#/components/schemas/{schema}"}


def json_ref(schema: str) -> dict:
    """A required JSON body of a schema of components (the ones built from the field specs)."""
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


def json_body(props: dict, required=()) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": props, **({"required": list(required)} if required else {})}}}}


def gallery_paths(bearer) -> dict:
    """Reports, candidates, review, face choice, jobs (API.md §gallery, §candidates)."""
    int_param = lambda name: {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}  # noqa: E731
    ok = lambda text: {"200": {"description": text}}  # noqa: E731
    return {
        "/api/v1/reports": {
            "get": {"security": bearer, "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "found", "closed"]}},
                {"name": "q", "in": "query", "schema": {"type": "string"}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                "responses": {**ok("reports"), **errors(401, 403, 422)}},
            "post": {"security": bearer, "requestBody": {"required": True, "content": {
                "application/json": {"schema": ref("ReportInput")},
                "multipart/form-data": {"schema": {"allOf": [ref("ReportInput"), {
                    "type": "object", "properties": {"photos": PHOTOS}}]}}}},
                "responses": {"201": {"description": "the report"}, **ok("an existing report with the same source and external_id"),
                              **errors(400, 401, 403, 413, 415, 422)}},
        },
        "/api/v1/reports/{report_id}": {"get": {"security": bearer, "parameters": [int_param("report_id")],
                                                "responses": {**ok("the report"), **errors(401, 403, 404)}}},
        "/api/v1/reports/{report_id}/candidates": {"get": {"security": bearer, "parameters": [int_param("report_id")],
                                                           "responses": {**ok("candidates"), **errors(401, 403, 404)}}},
        "/api/v1/reports/import": {"post": {"security": bearer, "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}, "photos": {"type": "string", "format": "binary"}}}}}},
            "responses": {"202": {"description": "job id"}, **errors(400, 401, 403, 413, 422)}}},
        "/api/v1/jobs/{job_id}": {"get": {"security": bearer, "parameters": [int_param("job_id")],
                                          "responses": {**ok("job state"), **errors(401, 403, 404)}}},
        "/api/v1/admin/rematch": {"post": {"security": bearer, "responses": {"202": {"description": "job id"}, **errors(401, 403)}}},
        "/api/v1/cases/{case_id}/candidates": {"get": {"security": bearer, "parameters": [int_param("case_id")],
                                                       "responses": {**ok("candidates, best first"), **errors(401, 403, 404)}}},
        "/api/v1/queues/review": {"get": {"security": bearer, "responses": {**ok("pending candidates"), **errors(401, 403)}}},
        "/api/v1/candidates/{candidate_id}/review": {"post": {
            "security": bearer, "parameters": [int_param("candidate_id")],
            "requestBody": json_ref("ReviewInput"),
            "responses": {**ok("the decided candidate"), **errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/candidates/{candidate_id}/undo": {"post": {
            "security": bearer, "parameters": [int_param("candidate_id")],
            "responses": {**ok("the link is undone"), **errors(401, 403, 404, 409)}}},
        "/api/v1/photos/{photo_id}/faces/{face_id}/select": {"post": {
            "security": bearer, "parameters": [int_param("photo_id"), int_param("face_id")],
            "responses": {**ok("the chosen face"), **errors(401, 403, 404, 409, 422)}}},
        "/api/v1/photos/waiting": {"get": {
            "security": bearer, "summary": "photos waiting for a face choice (several faces, none clearly the person's)",
            "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
                           {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
            "responses": {**ok("photos of this station waiting for a face choice"), **errors(401, 403, 422)}}},
        "/api/v1/crops/{sha256}": {"get": {"security": bearer, "parameters": [
            {"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "face crop", "content": {"image/jpeg": {}}}, **errors(401, 403, 404)}}},
    }


def search_paths(bearer) -> dict:
    """Channels, deadlines, family contacts, exits, supervisor queues (API.md §channels, §exit)."""
    case = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    channel = {"name": "channel", "in": "path", "required": True,
               "schema": {"type": "string", "enum": list(CHANNELS)}}
    body = json_body
    text = {"type": "string", "maxLength": 500}
    return {
        "/api/v1/cases/{case_id}/channels": {"get": {"security": bearer, "parameters": [case],
                                                     "responses": {"200": {"description": "the six channels"},
                                                                   **errors(401, 403, 404)}}},
        "/api/v1/cases/{case_id}/channels/{channel}/events": {"post": {
            "security": bearer, "parameters": [case, channel],
            "requestBody": json_ref("ChannelStepInput"),
            "responses": {"201": {"description": "the step"}, **errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/cases/{case_id}/deadlines": {"get": {"security": bearer, "parameters": [case],
                                                      "responses": {"200": {"description": "steps due"}, **errors(401, 403, 404)}}},
        "/api/v1/cases/{case_id}/steps": {"post": {
            "security": bearer, "parameters": [case],
            "requestBody": body({"kind": {"type": "string", "enum": ["extension_approved", "settlement_review",
                                                                      "notice_approved", "return_arranged"]}}, ["kind"]),
            "responses": {"201": {"description": "recorded"}, **errors(400, 401, 403, 404, 422)}}},
        "/api/v1/cases/{case_id}/family-contacts": {"post": {
            "security": bearer, "parameters": [case],
            "requestBody": body({"contact_name": text, "relation": text, "phone": text, "note": {"type": "string"},
                                 "method": {"type": "string", "enum": ["phone", "visit", "message", "police", "office"]},
                                 "outcome": {"type": "string", "enum": ["reached", "no_answer", "refused", "will_pick_up", "other"]}}),
            "responses": {"201": {"description": "recorded"}, **errors(400, 401, 403, 404, 422)}}},
        "/api/v1/cases/{case_id}/exit": {"post": {
            "security": bearer, "parameters": [case],
            "requestBody": json_ref("ExitInput"),
            "responses": {"200": {"description": "the case in its final state"}, **errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/queues/overdue": {"get": {"security": bearer, "responses": {"200": {"description": "cases with overdue steps"},
                                                                              **errors(401, 403)}}},
        "/api/v1/queues/approvals": {"get": {"security": bearer, "responses": {
            "200": {"description": "extensions and settlement reviews waiting for a supervisor"}, **errors(401, 403)}}},
        "/api/v1/cases/{case_id}/notice": {"get": {
            "security": bearer, "parameters": [case, {"name": "format", "in": "query", "schema": {
                "type": "string", "enum": ["json", "html", "png", "pdf"]}}],
            "responses": {"200": {"description": "the family-search notice (寻亲公告)"}, **errors(401, 403, 404, 409, 422)}}},
        "/api/v1/cases/{case_id}/notice/approve": {"post": {
            "security": bearer, "parameters": [case],
            "responses": {"200": {"description": "approved"}, **errors(401, 403, 404, 409)}}},
        "/api/v1/cases/{case_id}/notice/push": {"get": {
            "security": bearer, "parameters": [case],
            "responses": {"200": {"description": "short push text and target areas"}, **errors(401, 403, 404, 409)}}},
        "/api/v1/alerts": {"get": {"security": bearer, "responses": {"200": {"description": "open deadline alerts"},
                                                                      **errors(401, 403)}}},
    }


def supervisor_paths(bearer) -> dict:
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
            **errors(401, 403, 422)}}}

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
                          **errors(401, 403, 422)}}},
        "/api/v1/exports/cases": {"get": {"security": bearer, "parameters": [
            query("format", {"type": "string", "enum": ["pfif", "csv"]}), station],
            "responses": {"200": {"description": "open cases as PFIF 1.4 (kind case, hj: extensions) or CSV; "
                                                 "no ID numbers or diagnoses", "content": exchange},
                          **errors(401, 403, 422)}}},
        "/api/v1/exports/reports": {"get": {"security": bearer, "parameters": [
            query("format", {"type": "string", "enum": ["pfif", "csv"]}),
            query("status", {"type": "string", "enum": ["open", "found", "closed"]})],
            "responses": {"200": {"description": "missing-person reports as PFIF 1.4 or CSV", "content": exchange},
                          **errors(401, 403, 422)}}},
    }


def lead_paths(bearer) -> dict:
    """Street leads, patrols and campaigns (reporters: their own leads, and only whether a face is known)."""
    path_id = lambda name: {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}  # noqa: E731
    text = lambda n: {"type": "string", "maxLength": n}  # noqa: E731
    lead = [path_id("lead_id")]
    answer = lambda text_: {"200": {"description": text_}}  # noqa: E731
    return {
        "/api/v1/leads": {
            "post": {"security": bearer, "parameters": [
                {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 64}}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": ref("LeadInput")}}},
                "responses": {"201": {"description": "the lead (a reporter sees the reporter's view: face check "
                                                     "known / not_known, never who)"},
                              **answer("the lead already sent with this key"),
                              **errors(400, 401, 403, 409, 413, 415, 422, 429)}},
            "get": {"security": bearer, "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(lead_rules.STATUSES)}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                "responses": {**answer("reporters: their own leads; staff: their station's"), **errors(401, 403, 422)}},
        },
        "/api/v1/leads/{lead_id}": {"get": {"security": bearer, "parameters": lead,
                                            "responses": {**answer("the lead"), **errors(401, 403, 404)}}},
        "/api/v1/leads/{lead_id}/assign": {"post": {
            "security": bearer, "parameters": lead, "requestBody": json_body({"team": text(80)}, ["team"]),
            "responses": {**answer("dispatched"), **errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/leads/{lead_id}/on-site": {"post": {
            "security": bearer, "parameters": lead,
            "responses": {**answer("team on site"), **errors(401, 403, 404, 409, 422)}}},
        "/api/v1/leads/{lead_id}/close": {"post": {
            "security": bearer, "parameters": lead,
            "requestBody": json_body({"outcome": {"type": "string", "enum": [o for o in lead_rules.OUTCOMES if o != "brought_in"]},
                                      "note": text(2000)}, ["outcome"]),
            "responses": {**answer("closed"), **errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/leads/{lead_id}/arrival": {"post": {
            "security": bearer, "parameters": lead,
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CaseInput")}}},
            "responses": {"201": {"description": "the arrival (case) with the lead's photos and position"},
                          **answer("the arrival this lead already became"),
                          **errors(400, 401, 403, 404, 409, 413, 415, 422, 507)}}},
        "/api/v1/patrols": {"post": {
            "security": bearer,
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("PatrolInput")}}},
            "responses": {"201": {"description": "the patrol run"}, **errors(400, 401, 403, 422)}}},
        "/api/v1/campaigns": {
            "get": {"security": bearer, "responses": {**answer("campaigns of the station"), **errors(401, 403)}},
            "post": {"security": bearer, "requestBody": {"required": True, "content": {"application/json": {
                "schema": ref("CampaignInput")}}},
                "responses": {"201": {"description": "the campaign"}, **errors(400, 401, 403, 422)}},
        },
        "/api/v1/campaigns/{campaign_id}": {"get": {
            "security": bearer, "parameters": [path_id("campaign_id")],
            "responses": {**answer("leads, patrols and arrivals during the campaign"), **errors(401, 403, 404)}}},
    }


def clue_paths(bearer) -> dict:
    """Family verification before a handover, follow-ups after a return (service.api.clues)."""
    from ..domain.followups import OUTCOMES
    from ..domain.handover import EVIDENCE_KINDS

    int_param = lambda name: {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}  # noqa: E731
    ok = lambda text: {"200": {"description": text}}  # noqa: E731
    text = {"type": "string"}
    return {
        "/api/v1/cases/{case_id}/verifications": {
            "get": {"security": bearer, "parameters": [int_param("case_id")],
                    "responses": {**ok("verifications, and whether the family is verified for a handover"),
                                  **errors(401, 403, 404)}},
            "post": {"security": bearer, "parameters": [int_param("case_id")],
                     "requestBody": json_body({
                         "evidence": {"type": "array", "items": {"type": "string", "enum": list(EVIDENCE_KINDS)}},
                         "details": {"type": "object", "additionalProperties": text}, "family_name": text,
                         "relation": text, "note": text}, ["evidence"]),
                     "responses": {"201": {"description": "the verification; the checker is the caller"},
                                   **errors(400, 401, 403, 404, 409, 422)}},
        },
        "/api/v1/cases/{case_id}/verifications/{verification_id}/approve": {"post": {
            "security": bearer, "parameters": [int_param("case_id"), int_param("verification_id")],
            "responses": {**ok("approved (a minor's handover; a supervisor other than the checker)"),
                          **errors(401, 403, 404, 409)}}},
        "/api/v1/queues/followups": {"get": {
            "security": bearer, "parameters": [{"name": "all", "in": "query", "schema": {"type": "boolean"}}],
            "responses": {**ok("follow-ups due (1 week, 1 month, 3 months after a return)"), **errors(401, 403)}}},
        "/api/v1/followups/{follow_up_id}": {"post": {
            "security": bearer, "parameters": [int_param("follow_up_id")],
            "requestBody": json_body({"outcome": {"type": "string", "enum": list(OUTCOMES)}, "note": text}, ["outcome"]),
            "responses": {**ok("recorded"), **errors(400, 401, 403, 404, 409, 422)}}},
    }
