"""API endpoints: parse, call a service, shape the answer. No rules here."""
from __future__ import annotations

from flask import current_app, jsonify, request, send_file
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..domain.errors import DomainError, InvalidValue, NotFound
from ..domain.identity import has_id_in
from ..extensions import db, limiter
from ..models import Photo
from ..services import audit, liveness
from ..services.cases import CaseFilter, get_case, list_cases, update_case
from ..services.intake import Upload, photo_file, register_arrival
from ..services.users import authenticate, issue_token, revoke_token
from . import api_bp
from .auth import api_role, current_api_user
from .errors import domain_error, error_response, http_error, unexpected_error
from .inputs import int_arg, json_body
from .openapi import spec
from .schemas import case_json, iso

api_bp.register_error_handler(DomainError, domain_error)
api_bp.register_error_handler(HTTPException, http_error)
api_bp.register_error_handler(Exception, unexpected_error)


def _login_limit() -> str:
    return current_app.config["HUIJIA"].login_rate_limit


@api_bp.post("/auth/token")
@limiter.limit(_login_limit)
def token():
    body = json_body()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidValue("username and password are required strings", "username")
    user = authenticate(username, password)
    if user is None:
        audit.record_now(None, "login.failed", detail={"via": "api"}, ip=request.remote_addr)
        return error_response(401, "unauthorized", "wrong username or password")
    value, row = issue_token(user, current_app.config["HUIJIA"].token_ttl_hours)
    audit.record_now(user.id, "token.issue", "user", user.id, ip=request.remote_addr)
    return jsonify({"token": value, "expires_at": iso(row.expires_at), "role": user.role})


@api_bp.post("/auth/revoke")
@api_role("staff")
def revoke():
    _, _, value = request.headers.get("Authorization", "").partition(" ")
    revoke_token(value.strip())
    audit.record_now(current_api_user().id, "token.revoke", "user", current_api_user().id, ip=request.remote_addr)
    return jsonify({"revoked": True})


def _case_input() -> tuple[dict, list[Upload], str | None]:
    if request.mimetype == "multipart/form-data" or request.mimetype == "application/x-www-form-urlencoded":
        raw = {k: v for k, v in request.form.items() if k != "categories"}
        cats = request.form.getlist("categories")
        if cats:
            raw["categories"] = cats if len(cats) > 1 else cats[0]
        uploads = [Upload(f.filename, f.read()) for f in request.files.getlist("photos") if f]
    else:
        raw, uploads = json_body(), []
    key = request.headers.get("Idempotency-Key") or raw.pop("idempotency_key", None)
    return raw, uploads, key


@api_bp.post("/cases")
@api_role("staff")
def create_case():
    raw, uploads, key = _case_input()
    reg = register_arrival(
        current_api_user(), raw, uploads, current_app.config["HUIJIA"], idempotency_key=key, ip=request.remote_addr
    )
    body = case_json(reg.case)
    body["processing"] = "queued" if reg.queued else "queued_when_broker_returns"
    return jsonify(body), 201 if reg.created else 200


@api_bp.get("/cases")
@api_role("staff")
def cases_index():
    minor = request.args.get("minor")
    flt = CaseFilter(
        q=request.args.get("q") or None,
        state=request.args.get("state") or None,
        category=request.args.get("category") or None,
        identity_status=request.args.get("identity_status") or None,
        minor=None if minor in (None, "") else minor.lower() in ("1", "true", "yes"),
    )
    items, total = list_cases(current_api_user(), flt, int_arg("page", 1), int_arg("per_page", 50))
    return jsonify({"items": [case_json(c, brief=True) for c in items], "total": total})


@api_bp.get("/cases/<int:case_id>")
@api_role("staff")
def case_detail(case_id: int):
    user = current_api_user()
    case = get_case(user, case_id)
    asked = request.args.get("reveal") == "id_number"
    body = case_json(case, reveal_id=asked)
    # Revealed when the answer holds a full ID number: the structured one or one typed into free text.
    reveal = asked and (bool(case.id_number) or has_id_in(body))
    audit.record_now(user.id, "case.view", "case", case.id, {"via": "api", "id_number": "revealed" if reveal else "masked"}, request.remote_addr)
    return jsonify(body)


@api_bp.patch("/cases/<int:case_id>")
@api_role("staff")
def case_patch(case_id: int):
    case = update_case(current_api_user(), case_id, json_body(), request.remote_addr)
    return jsonify(case_json(case))


@api_bp.get("/photos/<string:sha256>")
@api_role("staff")
def photo_content(sha256: str):
    user = current_api_user()
    row = None
    for candidate in db.session.scalars(select(Photo).where(Photo.sha256 == sha256).order_by(Photo.id)):
        try:
            if candidate.case_id is not None:
                get_case(user, candidate.case_id)
            elif candidate.lead_id is not None:
                from ..services.leads import get_lead

                get_lead(user, candidate.lead_id)
            row = candidate
            break
        except NotFound:
            continue
    if row is None:
        raise NotFound("photo not found")
    path = photo_file(current_app.config["HUIJIA"].media_dir, row)
    if not path.exists():
        raise NotFound("photo file not found")
    audit.record_now(user.id, "photo.view", "photo", row.id, {"via": "api", "case_id": row.case_id, "report_id": row.report_id}, request.remote_addr)
    return send_file(path, mimetype="image/jpeg" if row.normalized_sha256 else row.mime, max_age=0)


@api_bp.get("/openapi.json")
def openapi():
    return jsonify(spec())


def healthz():
    """Liveness for load balancers: 200 while the database answers, else 503; the background signals beside it."""
    body, db_ok = liveness.report(current_app.config["HUIJIA"])
    liveness.check_soon(current_app._get_current_object())
    return jsonify(body), 200 if db_ok else 503


def readyz():
    """The whole system working: 200 only with no problem (database, broker, beat, sweeper, photos), else 503."""
    body, _db_ok = liveness.report(current_app.config["HUIJIA"])
    liveness.check_soon(current_app._get_current_object())
    return jsonify(body), 200 if body["status"] == "ok" else 503
