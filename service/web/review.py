"""Review of candidate matches: a queue, and a side-by-side page to confirm or reject."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..domain.errors import DomainError, NotFound
from ..domain.identity import mask_ids_in
from ..extensions import db
from ..models import CandidateMatch, Face, Photo
from ..services import face_choice, review
from .access import audit_view, client_ip, role_required

bp = Blueprint("review", __name__)


@bp.get("/review")
@role_required("staff")
def queue():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    items, total = review.pending_queue(current_user, page, 50)
    return render_template("review/queue.html", items=items, total=total, page=page)


def _faces(row: CandidateMatch):
    ids = [i for i in (row.case_face_id, row.other_face_id) if i]
    faces = {f.id: f for f in db.session.scalars(select(Face).where(Face.id.in_(ids)))} if ids else {}
    return faces.get(row.case_face_id), faces.get(row.other_face_id)


@bp.get("/review/<int:candidate_id>")
@role_required("staff")
def show(candidate_id: int):
    try:
        row = review.get_candidate(current_user, candidate_id)
    except NotFound:
        abort(404)
    case_face, other_face = _faces(row)
    audit_view("candidate.view", "candidate", row.id, {"case_id": row.case_id})
    other_photos = row.report.photos if row.report_id else row.other_case.photos
    next_row = db.session.scalar(
        review.visible_candidates(current_user)
        .where(CandidateMatch.status == "pending", CandidateMatch.id != row.id)
        .order_by(CandidateMatch.band.desc(), CandidateMatch.score.desc(), CandidateMatch.id).limit(1)
    )
    from ..matching import evidence

    case_age = evidence.photo_age(case_face.photo if case_face else None, row.case, "case")
    if row.kind == "gallery":
        other_age = evidence.photo_age(other_face.photo if other_face else None, row.report, "report")
    else:
        other_age = evidence.photo_age(other_face.photo if other_face else None, row.other_case, "case")
    ages = {"case": case_age, "other": other_age, "years": evidence.years_between(case_age, other_age)}
    return render_template("review/show.html", row=row, case_face=case_face, other_face=other_face,
                           other_photos=other_photos, next_row=next_row, free=mask_ids_in, ages=ages)


@bp.post("/review/<int:candidate_id>")
@role_required("staff")
def decide(candidate_id: int):
    decision = request.form.get("decision", "")
    try:
        decided = review.decide(current_user, candidate_id, decision, request.form.get("note"), client_ip())
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("review.show", candidate_id=candidate_id))
    flash(_("Confirmed: identity linked.") if decided.status == "confirmed" else _("Rejected: this pair will not be proposed again."),
          "success")
    target = request.form.get("next_id", type=int)
    return redirect(url_for("review.show", candidate_id=target) if target else url_for("review.queue"))


@bp.post("/review/<int:candidate_id>/undo")
@role_required("supervisor")
def undo(candidate_id: int):
    try:
        review.undo(current_user, candidate_id, request.form.get("note"), client_ip())
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Link undone."), "success")
    return redirect(url_for("review.show", candidate_id=candidate_id))


def _owner_page(photo: Photo) -> str:
    if photo.case_id is not None:
        return url_for("cases.show_case", case_id=photo.case_id)
    if photo.lead_id is not None:
        return url_for("leads.dispatch_lead", lead_id=photo.lead_id)
    return url_for("gallery.show_page", report_id=photo.report_id)


@bp.post("/photos/<int:photo_id>/faces/<int:face_id>")
@role_required("staff")
def choose(photo_id: int, face_id: int):
    """The face chooser of case, report and lead pages and of the waiting queue (one use case with the API)."""
    try:
        choice = face_choice.choose(current_user, photo_id, face_id, client_ip())
    except NotFound:
        abort(404)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        photo = db.session.get(Photo, photo_id)
        return redirect(_back(photo))
    flash(_("Face chosen; matching started."), "success")
    return redirect(_back(choice.photo))


def _back(photo: Photo) -> str:
    """Back to the waiting queue when the choice was made there, else to the photo's page."""
    if request.form.get("back") == "waiting":
        return url_for("review.waiting")
    return _owner_page(photo)


@bp.get("/photos/waiting")
@role_required("staff")
def waiting():
    """Photos waiting for a face choice: several faces, none clearly the person's."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    items, total = face_choice.waiting(current_user, page, 30)
    return render_template("review/waiting.html", items=items, total=total, page=page, owner_page=_owner_page)
