"""Case list, case page, more photos, photo status for live refresh."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import channels as channel_rules
from ..domain import lifecycle
from ..domain.errors import DomainError, NotFound
from ..domain.identity import has_id_in, mask_id_number, mask_ids_in
from ..domain.intake import CATEGORIES
from ..services import family_search, review
from ..services.cases import CaseFilter, days_stranded, get_case, list_cases as list_cases_service
from ..services.intake import add_photos
from .access import audit_view, client_ip, role_required
from .clues import handover_context
from .forms import uploads_from

bp = Blueprint("cases", __name__)
PER_PAGE = 25
STATES = ("open", *lifecycle.STATES)  # "open": either open state


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


@bp.get("/cases")
@role_required("staff")
def list_cases():
    flt = CaseFilter(
        q=request.args.get("q", "").strip() or None,
        state=request.args.get("state") or None,
        category=request.args.get("category") or None,
        identity_status=request.args.get("identity_status") or None,
        arrived_from=_date_arg("from"),
        arrived_to=_date_arg("to"),
    )
    page = max(1, request.args.get("page", 1, type=int) or 1)
    items, total = list_cases_service(current_user, flt, page, PER_PAGE)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return render_template(
        "cases/list.html",
        items=items,
        total=total,
        page=page,
        pages=pages,
        flt=flt,
        args=request.args,
        states=STATES,
        categories=CATEGORIES,
        days_stranded=days_stranded,
    )


def _load(case_id: int):
    try:
        return get_case(current_user, case_id)
    except NotFound:
        abort(404)


class FreeText:
    """Free text as a page shows it (`free(value)` in templates): ID-shaped numbers a clerk typed are masked
    like the ID number, or shown as typed when the user asked to reveal; it notes what it masked or showed."""

    def __init__(self, reveal: bool = False):
        self.reveal, self.masked_any, self.revealed_any = reveal, False, False

    def __call__(self, value):
        if not has_id_in(value):
            return value
        if self.reveal:
            self.revealed_any = True
            return value
        self.masked_any = True
        return mask_ids_in(value)


@bp.get("/cases/<int:case_id>")
@role_required("staff")
def show_case(case_id: int):
    case = _load(case_id)
    asked = request.args.get("reveal") == "id"
    free = FreeText(reveal=asked)
    page = render_template(
        "cases/show.html",
        case=case,
        days=days_stranded(case),
        id_display=case.id_number if asked else mask_id_number(case.id_number),
        revealed=asked,
        free=free,
        candidates=review.candidates_of_case(current_user, case),
        channel_views=family_search.channels_view(case),
        contacts=family_search.family_contacts(case),
        due_steps=family_search.due(case),
        step_kinds={c: list(k) for c, k in channel_rules.STEP_KINDS.items()},
        step_fields=channel_rules.STEP_FIELDS,
        channel_statuses=channel_rules.STATUSES,
        searching_states=lifecycle.SEARCHING,
        open_states=lifecycle.OPEN_STATES,
        **handover_context(case),
    )
    # Audited after rendering, so "revealed" means the page holds a full ID number (structured or typed in free text).
    reveal = asked and (bool(case.id_number) or free.revealed_any)
    audit_view("case.view", "case", case.id, {"id_number": "revealed" if reveal else "masked"})
    return page


@bp.post("/cases/<int:case_id>/photos")
@role_required("staff")
def upload_photos(case_id: int):
    case = _load(case_id)
    try:
        photos, queued = add_photos(current_user, case, uploads_from(request), current_app.config["HUIJIA"], client_ip())
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("cases.show_case", case_id=case.id)), 303
    if photos:
        flash(_("Photos added.") if queued else _("Photos saved; processing is queued."), "success")
    return redirect(url_for("cases.show_case", case_id=case.id))


@bp.get("/cases/<int:case_id>/photos.json")
@role_required("staff")
def photo_status(case_id: int):
    case = _load(case_id)
    return jsonify(
        {
            "matching_status": case.matching_status,
            "photos": [{"id": p.id, "status": p.status, "reason": p.status_reason} for p in case.photos],
        }
    )
