"""API for the gallery, candidate matches, review, face choice and jobs."""
from __future__ import annotations

from flask import current_app, jsonify, request, send_file
from sqlalchemy import select

from ..domain.errors import InvalidValue, NotFound
from ..extensions import db
from ..models import Face
from ..services import audit, face_choice, jobs, review
from ..services.cases import get_case
from ..services.intake import Upload
from ..media import media_path
from ..services.reports import create_report, get_report, list_reports
from . import api_bp
from .auth import api_role, current_api_user
from .inputs import int_arg, json_body
from .schemas import candidate_json, photo_json, report_json


def _settings():
    return current_app.config["HUIJIA"]


@api_bp.post("/reports")
@api_role("staff")
def reports_create():
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raw = dict(request.form.items())
        uploads = [Upload(f.filename, f.read()) for f in request.files.getlist("photos") if f]
    else:
        raw, uploads = json_body(), []
    result = create_report(current_api_user(), raw, uploads, _settings(), ip=request.remote_addr)
    return jsonify(report_json(result.report)), 201 if result.created else 200


@api_bp.get("/reports")
@api_role("staff")
def reports_index():
    items, total = list_reports(current_api_user(), request.args.get("status") or None, request.args.get("q") or None,
                                int_arg("page", 1), int_arg("per_page", 50))
    return jsonify({"items": [report_json(r, brief=True) for r in items], "total": total})


@api_bp.get("/reports/<int:report_id>")
@api_role("staff")
def reports_show(report_id: int):
    user = current_api_user()
    report = get_report(user, report_id)
    audit.record_now(user.id, "report.view", "report", report.id, {"via": "api"}, request.remote_addr)
    return jsonify(report_json(report))


@api_bp.get("/reports/<int:report_id>/candidates")
@api_role("staff")
def report_candidates(report_id: int):
    report = get_report(current_api_user(), report_id)
    return jsonify({"items": [candidate_json(c) for c in review.candidates_of_report(report)]})


@api_bp.post("/reports/import")
@api_role("supervisor")
def reports_import():
    upload = request.files.get("file")
    if upload is None:
        raise InvalidValue("send the CSV or PFIF XML file as `file`", "file")
    photos = request.files.get("photos")
    job = jobs.start_import(current_api_user(), upload.filename or "", upload.read(),
                            photos.read() if photos else None, _settings())
    audit.record_now(current_api_user().id, "reports.import", "job", job.id, None, request.remote_addr)
    return jsonify({"job_id": job.id}), 202


@api_bp.get("/jobs/<int:job_id>")
@api_role("staff")
def job_show(job_id: int):
    return jsonify(jobs.job_json(jobs.get_job(current_api_user(), job_id)))


@api_bp.post("/admin/rematch")
@api_role("admin")
def admin_rematch():
    job = jobs.start_rematch(current_api_user())
    audit.record_now(current_api_user().id, "rematch.start", "job", job.id, None, request.remote_addr)
    return jsonify({"job_id": job.id}), 202


@api_bp.get("/cases/<int:case_id>/candidates")
@api_role("staff")
def case_candidates(case_id: int):
    case = get_case(current_api_user(), case_id)
    return jsonify({"items": [candidate_json(c) for c in review.candidates_of_case(current_api_user(), case)]})


@api_bp.get("/queues/review")
@api_role("staff")
def review_queue():
    items, total = review.pending_queue(current_api_user(), int_arg("page", 1), min(int_arg("per_page", 50), 200))
    return jsonify({"items": [candidate_json(c) for c in items], "total": total})


@api_bp.post("/candidates/<int:candidate_id>/review")
@api_role("staff")
def candidate_review(candidate_id: int):
    body = json_body()
    row = review.decide(current_api_user(), candidate_id, body.get("decision"), body.get("note"), request.remote_addr)
    return jsonify(candidate_json(row))


@api_bp.post("/candidates/<int:candidate_id>/undo")
@api_role("supervisor")
def candidate_undo(candidate_id: int):
    body = request.get_json(silent=True) or {}
    note = body.get("note") if isinstance(body, dict) else None
    row = review.undo(current_api_user(), candidate_id, note if isinstance(note, str) else None, request.remote_addr)
    return jsonify(candidate_json(row))


@api_bp.post("/photos/<int:photo_id>/faces/<int:face_id>/select")
@api_role("staff")
def photo_choose_face(photo_id: int, face_id: int):
    choice = face_choice.choose(current_api_user(), photo_id, face_id, request.remote_addr)
    return jsonify({"photo_id": choice.photo.id, "face_id": choice.face.id, "status": choice.photo.status,
                    "choice": choice.face.choice})


@api_bp.get("/photos/waiting")
@api_role("staff")
def photos_waiting():
    """Photos waiting for a face choice (several faces, none clearly the person's)."""
    items, total = face_choice.waiting(current_api_user(), int_arg("page", 1), int_arg("per_page", 50))
    return jsonify({"items": [photo_json(p) for p in items], "total": total})


def _case_visible(user, case_id) -> bool:
    try:
        get_case(user, case_id)
        return True
    except NotFound:
        return False


@api_bp.get("/crops/<string:sha256>")
@api_role("staff")
def crop_content(sha256: str):
    """A face crop; audited like any view of a face."""
    user = current_api_user()
    face = db.session.scalar(select(Face).where(Face.crop_sha256 == sha256, Face.template_id.is_not(None)).limit(1))
    if face is None:
        raise NotFound("crop not found")
    if face.owner_kind == "case" and not _case_visible(user, face.owner_id):
        raise NotFound("crop not found")
    if face.owner_kind == "lead":
        from ..services.leads import get_lead

        get_lead(user, face.owner_id)  # NotFound for another station
    path = media_path(_settings().media_dir, sha256, "jpg")
    if not path.exists():
        raise NotFound("crop not found")
    audit.record_now(user.id, "face.view", "face", face.id, {"via": "api"}, request.remote_addr)
    return send_file(path, mimetype="image/jpeg", max_age=0)
