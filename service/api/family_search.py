"""API for the family search (API.md §channels, §exit, §supervisor): steps, deadlines, exits."""
from __future__ import annotations

from flask import jsonify, request

from ..domain.errors import InvalidValue
from ..domain.identity import mask_ids_in
from ..services import alerts, family_search
from ..services.cases import get_case
from ..services.exits import exit_case
from . import api_bp
from .auth import api_role, current_api_user
from .inputs import json_body
from .schemas import case_json, iso


def channel_json(view: dict) -> dict:
    channel, step = view["channel"], view["due"]
    return {
        "channel": channel.channel,
        "status": channel.status,
        "reason": channel.reason,
        "due_at": iso(step.due_at) if step else None,
        "due_step": step.rule_code if step else None,
        "overdue": bool(step and step.overdue),
        "events": [
            {"id": e.id, "at": iso(e.at), "status": e.status, "note": e.note, "reference": e.reference,
             "fields": e.fields or {}, "user_id": e.user_id}
            for e in channel.events
        ],
    }


@api_bp.get("/cases/<int:case_id>/channels")
@api_role("staff")
def channels_index(case_id: int):
    case = get_case(current_api_user(), case_id)
    # Step notes are free text: ID-shaped numbers in them are masked (the case detail can reveal them, audited).
    return jsonify({"items": mask_ids_in([channel_json(v) for v in family_search.channels_view(case)])})


@api_bp.post("/cases/<int:case_id>/channels/<channel>/events")
@api_role("staff")
def channel_event(case_id: int, channel: str):
    body = json_body()
    case = get_case(current_api_user(), case_id)
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise InvalidValue("fields must be an object", "fields")
    event = family_search.log_step(current_api_user(), case, channel, body.get("status"), fields, body.get("note"),
                                   body.get("reference"), request.remote_addr)
    return jsonify({"id": event.id, "status": event.status, "fields": event.fields or {}, "at": iso(event.at)}), 201


@api_bp.get("/cases/<int:case_id>/deadlines")
@api_role("staff")
def case_deadlines(case_id: int):
    case = get_case(current_api_user(), case_id)
    return jsonify({"items": [
        {"rule": s.rule_code, "channel": s.channel, "due_at": iso(s.due_at), "overdue": s.overdue, "done": s.done,
         "description": s.description} for s in family_search.due(case)]})


@api_bp.post("/cases/<int:case_id>/steps")
@api_role("staff")
def case_step(case_id: int):
    body = json_body()
    kind = body.get("kind")
    if not isinstance(kind, str):
        raise InvalidValue("kind is required", "kind")
    case = get_case(current_api_user(), case_id)
    family_search.record_case_step(current_api_user(), case, kind, None, request.remote_addr)
    return jsonify(case_json(case)), 201


@api_bp.post("/cases/<int:case_id>/family-contacts")
@api_role("staff")
def family_contact(case_id: int):
    case = get_case(current_api_user(), case_id)
    contact = family_search.add_family_contact(current_api_user(), case, json_body(), request.remote_addr)
    return jsonify({"id": contact.id, "method": contact.method, "outcome": contact.outcome, "at": iso(contact.at)}), 201


@api_bp.post("/cases/<int:case_id>/exit")
@api_role("staff")
def case_exit(case_id: int):
    body = json_body()
    case = exit_case(current_api_user(), case_id, body.get("type"), body, request.remote_addr)
    return jsonify(case_json(case))


@api_bp.get("/queues/overdue")
@api_role("staff")
def overdue_queue():
    now = family_search.utcnow()
    rows = [{"case_id": case.id, "case_no": case.case_no, "days_stranded": (now - case.arrived_at).days,
             "overdue": [{"rule": s.rule_code, "channel": s.channel, "due_at": iso(s.due_at), "description": s.description}
                         for s in steps]}
            for case, steps in family_search.overdue_queue(current_api_user(), now)]
    return jsonify({"items": rows, "total": len(rows)})


@api_bp.get("/queues/approvals")
@api_role("supervisor")
def approvals_queue():
    queues = family_search.approvals_queue(current_api_user())
    return jsonify({name: [{"case_id": c.id, "case_no": c.case_no, "arrived_at": iso(c.arrived_at)} for c in rows]
                    for name, rows in queues.items()})


@api_bp.get("/alerts")
@api_role("supervisor")
def alerts_index():
    items = alerts.open_alerts(current_api_user())
    return jsonify({"items": [{"id": a.id, "case_id": a.case_id, "rule": a.rule_code, "channel": a.channel,
                               "due_at": iso(a.due_at), "found_at": iso(a.found_at)} for a in items],
                    "total": len(items)})
