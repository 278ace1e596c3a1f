"""HTML pages, by who uses them."""
from __future__ import annotations

from flask import Flask, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..extensions import db, login_manager
from ..models import User
from .access import role_required


def register_web(app: Flask) -> None:
    from .auth import bp as auth_bp
    from .cases import bp as cases_bp
    from .intake import bp as intake_bp
    from .gallery import bp as gallery_bp
    from .media import bp as media_bp
    from .review import bp as review_bp
    from .notices import bp as notices_bp
    from .family_search import bp as family_search_bp
    from .supervisor import bp as supervisor_bp
    from .leads import bp as leads_bp
    from .clues import bp as clues_bp
    from .privacy import bp as privacy_bp
    from . import labels  # noqa: F401  (catalog entries for domain words)

    for bp in (auth_bp, intake_bp, cases_bp, media_bp, gallery_bp, review_bp, family_search_bp, notices_bp, supervisor_bp,
               leads_bp, privacy_bp, clues_bp):
        app.register_blueprint(bp)

    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(key: str):
        try:
            user_id, version = (int(x) for x in key.split(":", 1))
        except ValueError:
            return None
        user = db.session.get(User, user_id)
        return user if user is not None and user.session_version == version else None

    @login_manager.unauthorized_handler
    def unauthorized():
        # The phone page's script asks for JSON: it must learn "log in again", not follow a redirect to a
        # login page it would take for success (its report would be dropped from the outbox).
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            from ..api.errors import error_response

            return error_response(401, "unauthorized", "log in first")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))

    @app.context_processor
    def inject():
        from ..matching.scatter import missing_shards
        from ..models.types import utcnow
        from ..services.cases import days_stranded

        from .labels import photo_reason

        return {"current_locale": str(get_locale()), "user_has_role": _has_role, "event_label": event_label,
                "faces_of": faces_of, "case_days": days_stranded, "now_utc": utcnow, "photo_reason": photo_reason,
                "may_choose_face": _may_choose_face, "faces_waiting": _faces_waiting, "candidate_faces": candidate_faces,
                "search_gaps": missing_shards, "liveness_banner": liveness_banner}

    @app.get("/")
    @role_required("reporter")
    def index():
        if not current_user.has_role("staff"):  # reporters only send street leads
            return redirect(url_for("leads.report_form"))
        return redirect(url_for("cases.list_cases"))

    from ..domain.identity import mask_ids_in

    # Free text of reports and leads in pages: ID-shaped numbers masked (a case page reveals, with an audit row).
    app.jinja_env.filters["mask_ids"] = mask_ids_in
    for code in (400, 403, 404, 405, 413, 429, 500, 503):
        app.register_error_handler(code, _html_error)
    from sqlalchemy.exc import DataError, OperationalError
    from werkzeug import exceptions as werkzeug_exceptions

    from ..domain.errors import NotFound

    app.register_error_handler(OperationalError, _database_down)
    # A record this user may not see is a 404 page; the API blueprint answers its own envelope first.
    app.register_error_handler(NotFound, lambda exc: _html_error(werkzeug_exceptions.NotFound()))
    app.register_error_handler(DataError, _bad_value)


EVENT_LABELS = {
    "registered": _l("Arrival registered"),
    "updated": _l("Details corrected"),
    "photos_added": _l("Photos added"),
    "photo_processed": _l("Photo processed"),
    "photo_no_face": _l("Photo has no face"),
    "photo_multiple_faces": _l("Photo has several faces"),
    "photo_low_quality": _l("Photo quality too low"),
    "photo_invalid": _l("Photo could not be read"),
    "identity_confirmed": _l("Identity confirmed"),
    "repeat_arrival_confirmed": _l("Earlier stay at a station confirmed"),
    "candidate_rejected": _l("Candidate match rejected"),
    "link_undone": _l("Identity link undone by a supervisor"),
    "channel_step": _l("Family-search step"),
    "family_contacted": _l("Family contacted"),
    "return_arranged": _l("Return arranged"),
    "extension_approved": _l("Extended stay approved"),
    "settlement_review": _l("Settlement review"),
    "notice_approved": _l("Notice of a minor approved"),
    "exit": _l("Left the station"),
    "family_verified": _l("Family verified"),
    "handover_approved": _l("Handover approved by a supervisor"),
    "family_verification_withdrawn": _l("Family verification withdrawn"),
    "follow_up": _l("Follow-up call after the return"),
    "re_arrival": _l("Back at a station after going home"),
}


def faces_of(photo) -> list:
    from ..matching.faces import shown_faces

    return shown_faces(photo.id)


def candidate_faces(candidates, from_report: bool = False) -> dict:
    """Candidate id → the face of the page's own photo it was found with (one query for the table)."""
    from sqlalchemy import select

    from ..models import Face

    side = {c.id: (c.other_face_id if from_report else c.case_face_id) for c in candidates}
    ids = {i for i in side.values() if i}
    faces = {f.id: f for f in db.session.scalars(select(Face).where(Face.id.in_(ids)))} if ids else {}
    return {cid: faces.get(fid) for cid, fid in side.items()}


def _may_choose_face(photo) -> bool:
    from ..services.face_choice import may_choose

    return bool(current_user.is_authenticated and may_choose(current_user, photo))


def _faces_waiting() -> int:
    """How many photos of the user's station wait for a face choice (the menu's badge)."""
    from ..services.face_choice import waiting_count

    return waiting_count(current_user) if current_user.is_authenticated else 0


def event_label(kind: str) -> str:
    return str(EVENT_LABELS.get(kind, kind))


def liveness_banner() -> list[tuple[str, str]]:
    """(code, sentence) for each background problem, shown on staff and supervisor pages."""
    from datetime import timedelta

    from flask import current_app
    from flask_babel import format_timedelta, gettext

    from ..services import liveness

    if not _has_role("staff"):
        return []
    lines = []
    for problem in liveness.banner(current_app.config["HUIJIA"]):
        code = problem["code"]
        if code == "beat_stopped":
            text = gettext("The background scheduler has stopped (last sign of life %(age)s ago): stuck photos are "
                           "not sent again, deadline alerts and data retention are paused. Tell the system "
                           "administrator.", age=format_timedelta(timedelta(seconds=problem["age_s"])))
        elif code == "sweep_late":
            text = gettext("The background workers are not taking work (last sweep %(age)s ago): photo processing "
                           "and matching wait. Tell the system administrator.",
                           age=format_timedelta(timedelta(seconds=problem["age_s"])))
        elif code == "photos_unsent":
            text = gettext("Photos waiting for the task queue, which does not answer: %(count)d. They are saved and "
                           "will be processed when it is back; registration works as usual.", count=problem["count"])
        else:  # photos_waiting
            text = gettext("Photos waiting more than %(minutes)d minutes for processing: %(count)d.",
                           minutes=max(1, problem["over_s"] // 60), count=problem["count"])
        lines.append((code, text))
    return lines


def _has_role(role: str) -> bool:
    return bool(current_user.is_authenticated and current_user.has_role(role))


def _database_down(exc):
    """The database is unreachable (restart, network): 503 with a page, never a stack trace."""
    import logging

    from flask import g

    logging.getLogger(__name__).error("event=database_unavailable path=%s error=%s", request.path, type(exc).__name__)
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the session is discarded at teardown anyway
        pass
    if request.path.startswith("/api/"):
        from ..api.errors import error_response

        return error_response(503, "database_unavailable", "the database is unavailable; try again shortly")
    # The page must not ask the database who is logged in (base.html reads current_user).
    g._login_user = login_manager.anonymous_user()
    return render_template("errors/error.html", code=503, description=""), 503


def _bad_value(exc):
    """A value the database cannot hold (a NUL character, a number out of range): the request is bad."""
    try:
        db.session.rollback()
    except Exception:
        pass
    if request.path.startswith("/api/"):
        from ..api.errors import error_response

        return error_response(422, "invalid_value", "a value is malformed or out of range")
    return render_template("errors/error.html", code=400, description=""), 400


def _html_error(exc):
    code = getattr(exc, "code", 500) or 500
    if request.path.startswith("/api/"):
        from ..api.errors import http_error

        return http_error(exc)
    return render_template("errors/error.html", code=code, description=getattr(exc, "description", "")), code
