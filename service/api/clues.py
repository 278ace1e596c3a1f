"""API for going home safely: the family's verification before a handover, and follow-ups after it."""
from __future__ import annotations

from flask import jsonify, request

from ..domain.errors import InvalidValue
from ..services import followups, handover
from ..services.cases import get_case
from . import api_bp
from .auth import api_role, current_api_user
from .inputs import json_body
from .schemas import iso


def verification_json(row) -> dict:
    return {"id": row.id, "case_id": row.case_id, "evidence": row.evidence, "details": row.details or {},
            "family_name": row.family_name, "relation": row.relation, "checked_by_id": row.checked_by_id,
            "checked_at": iso(row.checked_at), "approved_by_id": row.approved_by_id, "approved_at": iso(row.approved_at),
            "withdrawn_at": iso(row.revoked_at)}


def follow_up_json(row) -> dict:
    return {"id": row.id, "case_id": row.case_id, "step": row.step, "due_on": row.due_on.isoformat(),
            "outcome": row.outcome, "note": row.note, "done_at": iso(row.done_at)}


@api_bp.get("/cases/<int:case_id>/verifications")
@api_role("staff")
def verifications_index(case_id: int):
    case = get_case(current_api_user(), case_id)
    return jsonify({"items": [verification_json(v) for v in handover.verifications(case.id)],
                    "verified": handover.status(case) is None, "missing": handover.status(case)})


@api_bp.post("/cases/<int:case_id>/verifications")
@api_role("staff")
def verification_create(case_id: int):
    body = json_body()
    if not isinstance(body.get("evidence"), list):
        raise InvalidValue("evidence must be a list", "evidence")
    details = body.get("details") or {}
    if not isinstance(details, dict):
        raise InvalidValue("details must be an object", "details")
    raw = {**{k: body.get(k) for k in ("family_name", "relation", "note")}, "evidence": body["evidence"],
           **{f"detail_{k}": v for k, v in details.items()}}
    row = handover.record(current_api_user(), case_id, raw, request.remote_addr)
    return jsonify(verification_json(row)), 201


@api_bp.post("/cases/<int:case_id>/verifications/<int:verification_id>/approve")
@api_role("supervisor")
def verification_approve(case_id: int, verification_id: int):
    row = handover.approve(current_api_user(), case_id, verification_id, request.remote_addr)
    return jsonify(verification_json(row))


@api_bp.get("/queues/followups")
@api_role("staff")
def followups_queue():
    rows = followups.worklist(current_api_user(), include_scheduled=request.args.get("all") == "true")
    return jsonify({"items": [{**follow_up_json(r), "state": state} for r, state in rows], "total": len(rows)})


@api_bp.post("/followups/<int:follow_up_id>")
@api_role("staff")
def followup_record(follow_up_id: int):
    body = json_body()
    row = followups.record_outcome(current_api_user(), follow_up_id, body.get("outcome"), body.get("note"),
                                   request.remote_addr)
    return jsonify(follow_up_json(row))
