"""The intake page (入站登记): one keyboard-friendly form for the person and the photos."""
from __future__ import annotations

import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain.errors import DomainError
from ..extensions import db
from ..services import leads
from ..domain.intake import CATEGORIES, GENDERS, REFERRALS
from ..services.intake import register_arrival
from .access import client_ip, role_required
from .forms import case_fields_from_form, uploads_from
from .leads import lead_or_404

bp = Blueprint("intake", __name__)


def render_form(values: dict, error: DomainError | None = None, status: int = 200, lead=None):
    return (
        render_template(
            "cases/intake.html",
            values=values,
            lead=lead,
            error=error,
            categories=CATEGORIES,
            genders=GENDERS,
            referrals=REFERRALS,
            idempotency_key=values.get("idempotency_key") or uuid.uuid4().hex,
        ),
        status,
    )


@bp.get("/intake")
@role_required("staff")
def new_arrival():
    lead_id = request.args.get("lead", type=int)
    if lead_id:  # a person brought in from a street lead: the form starts from what the reporter sent
        lead = lead_or_404(lead_id)
        return render_form({**leads.arrival_fields(lead), "lead_id": lead.id}, lead=lead)
    return render_form({})



@bp.post("/intake")
@role_required("staff")
def create_arrival():
    raw = case_fields_from_form(request)
    settings = current_app.config["HUIJIA"]
    lead_id = request.form.get("lead_id", type=int)
    if lead_id:
        return _arrival_from_lead(lead_or_404(lead_id), raw, settings)
    try:
        reg = register_arrival(
            current_user,
            raw,
            uploads_from(request),
            settings,
            idempotency_key=request.form.get("idempotency_key"),
            ip=client_ip(),
        )
    except DomainError as exc:
        values = dict(request.form)
        values["categories"] = request.form.getlist("categories")
        status = getattr(exc, "status", 422)
        return render_form(values, exc, status)
    if not reg.created:
        flash(_("This form was already saved; showing the case it created."), "info")
    elif not reg.queued:
        flash(_("Saved. Photo processing is queued and will start when the background service is back."), "warning")
    else:
        flash(_("Saved. Photos are being processed."), "success")
    return redirect(url_for("cases.show_case", case_id=reg.case.id))


def _arrival_from_lead(lead, raw: dict, settings):
    try:
        case, created = leads.convert_to_arrival(current_user, lead.id, raw, uploads_from(request), settings, client_ip())
    except DomainError as exc:
        db.session.rollback()
        values = {**dict(request.form), "categories": request.form.getlist("categories"), "lead_id": lead.id}
        return render_form(values, exc, getattr(exc, "status", 422), lead=lead)
    flash(_("Saved. The lead is closed as brought in; its photos and position are on the case.") if created
          else _("This lead was already registered; showing its case."), "success" if created else "info")
    return redirect(url_for("cases.show_case", case_id=case.id))
