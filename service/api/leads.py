"""API for street leads: reporters send and follow their own; staff dispatch; supervisors run campaigns."""
from __future__ import annotations

from flask import current_app, jsonify, request

from ..domain import leads as lead_rules
from ..domain.errors import InvalidValue
from ..domain.identity import mask_ids_in
from ..extensions import db, limiter
from ..formats.fields import CAMPAIGN_FIELDS
from ..models import Lead
from ..services import campaigns, leads
from ..services.intake import Upload
from . import api_bp
from .auth import api_role, current_api_user
from .inputs import int_arg, json_body
from .schemas import case_json, iso

MAX_PER_PAGE = 200


def _lead_limit() -> str:
    return current_app.config["HUIJIA"].lead_rate_limit


def _per_token_user() -> str:
    user = current_api_user()
    return f"user:{user.id}" if user is not None else request.remote_addr or "-"


def reporter_json(lead: Lead) -> dict:
    body = leads.reporter_view(lead)
    return {**body, "reported_at": iso(body["reported_at"]), "seen_at": iso(body["seen_at"])}


def staff_json(lead: Lead) -> dict:
    times = leads.response_times(lead)
    return {
        **reporter_json(lead),
        "station_id": lead.station_id, "source": lead.source, "reporter_id": lead.reporter_id,
        "description": lead.description, "accuracy_m": lead.accuracy_m, "team": lead.team,
        "assigned_at": iso(lead.assigned_at), "on_site_at": iso(lead.on_site_at), "closed_at": iso(lead.closed_at),
        "outcome": lead.outcome, "outcome_note": lead.outcome_note, "case_id": lead.case_id,
        "campaign_id": lead.campaign_id,
        "minutes_to_on_site": round(times.to_on_site.total_seconds() / 60, 1) if times.to_on_site else None,
        "face_candidates": [_candidate(c) for c in (lead.face_candidates or [])],
        "photos": [{"id": p.id, "status": p.status, "sha256": p.sha256} for p in lead.photos],
    }


def _candidate(c: dict) -> dict:
    """An earlier arrival at another station is named as such, without its case id (staff see their own)."""
    body = {k: c.get(k) for k in ("kind", "report_id", "case_id", "face_distance", "band")}
    if body["case_id"] is not None:
        from ..services.cases import visible_cases
        from ..models import Case

        if db.session.scalar(visible_cases(current_api_user()).with_only_columns(Case.id).where(Case.id == body["case_id"])) is None:
            body["case_id"], body["other_station"] = None, True
    return body


def _json(lead: Lead) -> dict:
    """Staff see the whole lead; a reporter sees the reporter's view, whatever the URL. ID-shaped numbers
    typed into the free text (place, description, notes) are masked for both."""
    return mask_ids_in(staff_json(lead) if current_api_user().has_role("staff") else reporter_json(lead))


@api_bp.post("/leads")
@api_role("reporter")
@limiter.shared_limit(_lead_limit, scope="lead-report", key_func=_per_token_user)
def lead_create():
    user = current_api_user()
    raw = {k: request.form.get(k) for k in leads.REPORT_FIELDS}
    raw["urgency"] = request.form.getlist("urgency")
    uploads = [Upload(f.filename, f.read()) for f in request.files.getlist("photos") if f and f.filename]
    result = leads.report_lead(user, raw, uploads, current_app.config["HUIJIA"],
                               idempotency_key=request.headers.get("Idempotency-Key") or request.form.get("idempotency_key"),
                               ip=request.remote_addr)
    return jsonify(_json(result.lead)), 201 if result.created else 200


@api_bp.get("/leads")
@api_role("reporter")
def lead_list():
    user = current_api_user()
    page, per_page = int_arg("page", 1), int_arg("per_page", 50)
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidValue(f"page ≥ 1 and per_page between 1 and {MAX_PER_PAGE}", "per_page")
    status = request.args.get("status")
    query = leads.visible_leads(user)
    if status:
        if status not in lead_rules.STATUSES:
            raise InvalidValue(f"status must be one of: {', '.join(lead_rules.STATUSES)}", "status")
        query = query.where(Lead.status == status)
    total = db.session.scalar(query.with_only_columns(db.func.count(Lead.id)).order_by(None))
    rows = db.session.scalars(leads.with_photos(query).order_by(Lead.reported_at.desc(), Lead.id.desc())
                              .offset((page - 1) * per_page).limit(per_page)).all()
    return jsonify({"items": [_json(lead) for lead in rows], "total": total})


@api_bp.get("/leads/<int:lead_id>")
@api_role("reporter")
def lead_detail(lead_id: int):
    return jsonify(_json(leads.get_lead(current_api_user(), lead_id)))


def _text_field(body: dict, name: str):
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidValue(f"{name} must be text", name)
    return value


@api_bp.post("/leads/<int:lead_id>/assign")
@api_role("staff")
def lead_assign(lead_id: int):
    body = json_body()
    lead = leads.assign(current_api_user(), lead_id, _text_field(body, "team"), request.remote_addr)
    return jsonify(_json(lead))


@api_bp.post("/leads/<int:lead_id>/on-site")
@api_role("staff")
def lead_on_site(lead_id: int):
    return jsonify(_json(leads.mark_on_site(current_api_user(), lead_id, request.remote_addr)))


@api_bp.post("/leads/<int:lead_id>/close")
@api_role("staff")
def lead_close(lead_id: int):
    body = json_body()
    lead = leads.close(current_api_user(), lead_id, _text_field(body, "outcome"), _text_field(body, "note"),
                       request.remote_addr)
    return jsonify(_json(lead))


@api_bp.post("/leads/<int:lead_id>/arrival")
@api_role("staff")
def lead_arrival(lead_id: int):
    """The person was brought in: the arrival is registered with the lead's photos and position."""
    body = json_body()
    case, created = leads.convert_to_arrival(current_api_user(), lead_id, body, [], current_app.config["HUIJIA"],
                                             request.remote_addr)
    return jsonify(case_json(case)), 201 if created else 200


@api_bp.post("/patrols")
@api_role("staff")
def patrol_create():
    run = campaigns.log_patrol(current_api_user(), json_body(), request.remote_addr)
    return jsonify({"id": run.id, "team": run.team, "started_at": iso(run.started_at), "campaign_id": run.campaign_id}), 201


@api_bp.get("/campaigns")
@api_role("supervisor")
def campaign_list():
    return jsonify({"items": [_campaign_json(c) for c in campaigns.list_campaigns(current_api_user())]})


@api_bp.post("/campaigns")
@api_role("supervisor")
def campaign_create():
    body = json_body()
    for name in CAMPAIGN_FIELDS:
        _text_field(body, name)
    return jsonify(_campaign_json(campaigns.open_campaign(current_api_user(), body, request.remote_addr))), 201


@api_bp.get("/campaigns/<int:campaign_id>")
@api_role("supervisor")
def campaign_detail(campaign_id: int):
    user = current_api_user()
    report = campaigns.campaign_report(user, campaigns.get_campaign(user, campaign_id))
    return jsonify({k: v for k, v in report.items() if k not in ("lead_rows", "patrol_rows")})


def _campaign_json(c) -> dict:
    return {"id": c.id, "station_id": c.station_id, "name": c.name, "kind": c.kind, "starts_on": iso(c.starts_on),
            "ends_on": iso(c.ends_on), "area": c.area}
