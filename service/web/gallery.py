"""Gallery pages: missing-person reports, bulk import with progress, jobs."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain.errors import DomainError, NotFound
from ..formats.fields import REPORT_SOURCES
from ..services import jobs, review
from ..services.reports import create_report, get_report, list_reports
from .access import audit_view, client_ip, role_required
from .forms import uploads_from

bp = Blueprint("gallery", __name__)
PER_PAGE = 25


@bp.get("/reports")
@role_required("staff")
def list_page():
    status = request.args.get("status") or None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    try:
        items, total = list_reports(current_user, status, request.args.get("q") or None, page, PER_PAGE)
    except DomainError:
        items, total = [], 0
    return render_template("gallery/list.html", items=items, total=total, page=page,
                           pages=max(1, (total + PER_PAGE - 1) // PER_PAGE), args=request.args)


@bp.get("/reports/new")
@role_required("staff")
def new_page():
    return render_template("gallery/new.html", values={}, error=None, sources=REPORT_SOURCES)


@bp.post("/reports/new")
@role_required("staff")
def create_page():
    raw = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        result = create_report(current_user, raw, uploads_from(request), current_app.config["HUIJIA"], ip=client_ip())
    except DomainError as exc:
        return render_template("gallery/new.html", values=raw, error=exc, sources=REPORT_SOURCES), getattr(exc, "status", 422)
    flash(_("Report saved. Its photos are compared with every arrival."), "success")
    return redirect(url_for("gallery.show_page", report_id=result.report.id))


@bp.get("/reports/<int:report_id>")
@role_required("staff")
def show_page(report_id: int):
    try:
        report = get_report(current_user, report_id)
    except NotFound:
        abort(404)
    audit_view("report.view", "report", report.id)
    from ..domain.clues import long_missing_child
    from ..services.followups import local_date
    from ..models.types import utcnow

    missing_years = long_missing_child(report.age_at_missing, report.birth_date, report.missing_since,
                                       local_date(utcnow()))
    return render_template("gallery/show.html", report=report, candidates=review.candidates_of_report(report),
                           missing_years=missing_years)


@bp.route("/reports/import", methods=["GET", "POST"])
@role_required("supervisor")
def import_page():
    if request.method == "GET":
        return render_template("gallery/import.html", error=None)
    upload, photos = request.files.get("file"), request.files.get("photos")
    try:
        if upload is None or not upload.filename:
            raise DomainError(_("Choose a CSV or PFIF XML file."), "file")
        job = jobs.start_import(current_user, upload.filename, upload.read(),
                                photos.read() if photos and photos.filename else None, current_app.config["HUIJIA"])
    except DomainError as exc:
        return render_template("gallery/import.html", error=exc), 422
    audit_view("reports.import", "job", job.id)
    return redirect(url_for("gallery.job_page", job_id=job.id))


@bp.get("/jobs/<int:job_id>")
@role_required("staff")
def job_page(job_id: int):
    try:
        job = jobs.get_job(current_user, job_id)
    except NotFound:
        abort(404)
    return render_template("gallery/job.html", job=job)


@bp.get("/jobs/<int:job_id>.json")
@role_required("staff")
def job_json(job_id: int):
    try:
        return jsonify(jobs.job_json(jobs.get_job(current_user, job_id)))
    except NotFound:
        abort(404)


@bp.post("/admin/rematch")
@role_required("admin")
def rematch():
    job = jobs.start_rematch(current_user)
    audit_view("rematch.start", "job", job.id)
    return redirect(url_for("gallery.job_page", job_id=job.id))
