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
from ..services import review
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
    return render_template("review/show.html", row=row, case_face=case_face, other_face=other_face,
                           other_photos=other_photos, next_row=next_row, free=mask_ids_in)


@bp.post("/review/<int:candidate_id>")
@role_required("staff")
def decide(candidate_id: int):
    decision = request.form.get("decision", "")
    try:
        review.decide(current_user, candidate_id, decision, request.form.get("note"), client_ip())
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("review.show", candidate_id=candidate_id))
    flash(_("Confirmed: identity linked.") if decision == "confirm" else _("Rejected: this pair will not be proposed again."),
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


@bp.post("/photos/<int:photo_id>/faces/<int:face_id>")
@role_required("staff")
def choose(photo_id: int, face_id: int):
    from ..services import audit
    from ..services.cases import get_case
    from ..matching.faces import choose_face
    from ..matching.candidates import queue_for_photo

    photo = db.session.get(Photo, photo_id)
    face = db.session.get(Face, face_id)
    if photo is None or face is None or photo.case_id is None:
        abort(404)
    try:
        get_case(current_user, photo.case_id)
        choose_face(photo, face_id, face.engine)
    except NotFound:
        abort(404)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("cases.show_case", case_id=photo.case_id))
    audit.record(current_user.id, "photo.face_choose", "photo", photo.id, {"face_id": face_id}, client_ip())
    db.session.commit()
    queue_for_photo(photo)
    flash(_("Face chosen; matching started."), "success")
    return redirect(url_for("cases.show_case", case_id=photo.case_id))
