"""The notice page of a case: a print-ready family-search notice, its downloads, approval, push text."""
from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain.errors import DomainError, NotFound
from ..formats.notice_render import contact_line, notice_lines
from ..services import notices
from ..services.cases import get_case
from .access import client_ip, role_required

bp = Blueprint("notices", __name__)


def _load(case_id: int):
    try:
        return get_case(current_user, case_id)
    except NotFound:
        abort(404)


def _settings():
    return current_app.config["HUIJIA"]


@bp.get("/cases/<int:case_id>/notice")
@role_required("staff")
def show(case_id: int):
    case = _load(case_id)
    # The staff's preview: a minor's draft is shown (marked) so that a supervisor can judge it.
    served = notices.serve_notice(current_user, case, "page", _settings(), client_ip(), preview=True)
    needs_approval = notices.needs_approval(case)
    push = None if needs_approval or served.fields["withdrawn"] else notices.push_text(case)
    photo = notices.notice_photo(case) if served.fields.get("photo_id") else None
    return render_template(
        "notices/show.html",
        case=case,
        fields=served.fields,
        lines=notice_lines(served.fields),
        contact=contact_line(served.fields),
        state=served.state,
        needs_approval=needs_approval,
        photo=photo,
        push=push,
        approved_row=notices.notice_of(case),
    )


@bp.get("/cases/<int:case_id>/notice.<fmt>")
@role_required("staff")
def download(case_id: int, fmt: str):
    if fmt not in ("png", "pdf"):
        abort(404)
    case = _load(case_id)
    try:
        served = notices.serve_notice(current_user, case, fmt, _settings(), client_ip())
    except DomainError as exc:
        flash(_("The notice of a minor needs a supervisor's approval before it can be published.")
              if exc.code == "notice_needs_approval" else exc.message, "error")
        return redirect(url_for("notices.show", case_id=case.id)), 303
    return send_file(io.BytesIO(served.content), mimetype=served.mimetype, download_name=served.filename,
                     as_attachment=True, max_age=0)


@bp.post("/cases/<int:case_id>/notice/approve")
@role_required("supervisor")
def approve(case_id: int):
    case = _load(case_id)
    try:
        notices.approve(current_user, case, client_ip())
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Notice approved for publishing."), "success")
    return redirect(url_for("notices.show", case_id=case.id)), 303
